// Usage: CrashWorker <redis> <stream> <group> <resultsKey> <handlerDelayMs>
// Consumes until killed. Prints "ready" once it reads the stream.
using AmDistill.Messaging;
using AmDistill.Messaging.CrashWorker;
using StackExchange.Redis;

var (connection, streamName, group, resultsKey, delayMs) = (args[0], args[1], args[2], args[3], int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture));
using var redis = await ConnectionMultiplexer.ConnectAsync(connection);
var stream = new MessageStream<TestMessage>(streamName, TestJsonContext.Default.TestMessage);
var consumer = new StreamConsumer<TestMessage>(redis, stream, new CountingHandler(redis, resultsKey, TimeSpan.FromMilliseconds(delayMs)),
    new StreamConsumerOptions { Group = group, ConsumerName = "crash-worker", Concurrency = 8, BatchSize = 16 });
Console.WriteLine("ready");
await consumer.RunAsync(CancellationToken.None);
