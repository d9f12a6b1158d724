using System.Diagnostics;
using System.Text.Json.Serialization;
using AmDistill.Messaging;
using StackExchange.Redis;
using AmDistill.LocalRedis;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// Produce → consume → ack throughput of the messaging library against a real Redis, in three phases:
/// producing alone, consuming a filled stream, and both at once with backpressure on (the pipeline's steady state).
/// </summary>
internal static class QueueBenchmark
{
    public sealed record Settings(int Messages, int PayloadBytes, int Concurrency, int Consumers, string? Redis);

    public static async Task<int> RunAsync(Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        await using var local = settings.Redis is null ? await LocalRedisServer.StartAsync(cancellationToken: cancellationToken) : null;
        var connection = settings.Redis ?? local!.ConnectionString;
        await using var producerConnection = await ConnectionMultiplexer.ConnectAsync(connection);
        var body = new string('x', Math.Max(0, settings.PayloadBytes - 40)); // JSON framing brings it to the payload size
        var stream = new MessageStream<BenchMessage>($"bench:{Guid.NewGuid():N}", BenchJsonContext.Default.BenchMessage);

        output.WriteLine($"amdistill-bench queue: {settings.Messages:N0} entries of {settings.PayloadBytes} B, {settings.Consumers} consumer(s) × {settings.Concurrency} handlers, {Environment.ProcessorCount} cores, Redis {(local is null ? connection : "local redis-server")}");

        // Phase 1: producing alone (pipelined batches, backpressure off).
        var producer = new StreamProducer<BenchMessage>(producerConnection, stream, new StreamProducerOptions { HighWaterMark = 0 });
        var produced = await TimeAsync(() => ProduceAsync(producer, 0, settings.Messages, body, cancellationToken));
        Report(output, "produce", settings.Messages, produced);

        // Phase 2: consuming the filled stream.
        var consumed = await TimeAsync(() => ConsumeAsync(connection, stream, settings, producing: null, cancellationToken));
        Report(output, "consume+ack", settings.Messages, consumed);

        // Phase 3: both at once, the producer held by backpressure at 10,000 unacknowledged entries.
        var steadyProducer = new StreamProducer<BenchMessage>(producerConnection, stream, new StreamProducerOptions { HighWaterMark = 10_000 });
        var both = await TimeAsync(() => ConsumeAsync(connection, stream, settings,
            producing: () => ProduceAsync(steadyProducer, settings.Messages, settings.Messages, body, cancellationToken), cancellationToken));
        Report(output, "produce → consume → ack", settings.Messages, both);

        await producerConnection.GetDatabase().KeyDeleteAsync([stream.Name, stream.DeadLetterName]);
        return 0;
    }

    private static async Task ProduceAsync(StreamProducer<BenchMessage> producer, int from, int count, string body, CancellationToken cancellationToken)
    {
        const int batch = 500;
        for (var start = from; start < from + count; start += batch)
        {
            var size = Math.Min(batch, from + count - start);
            await producer.PublishBatchAsync([.. Enumerable.Range(start, size).Select(i => (new BenchMessage(i, body), i.ToString(System.Globalization.CultureInfo.InvariantCulture)))], cancellationToken);
        }
    }

    /// <summary>Runs the consumers (while <paramref name="producing"/> runs, if given) until the group has acknowledged every entry.</summary>
    private static async Task ConsumeAsync(string connection, MessageStream<BenchMessage> stream, Settings settings,
        Func<Task>? producing, CancellationToken cancellationToken)
    {
        var handler = new CountingHandler<BenchMessage>();
        var connections = await Task.WhenAll(Enumerable.Range(0, settings.Consumers).Select(_ => ConnectionMultiplexer.ConnectAsync(connection)));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consumers = connections.Select((redis, i) => new StreamConsumer<BenchMessage>(redis, stream, handler, new StreamConsumerOptions
        {
            Group = "bench",
            ConsumerName = $"bench-{i}",
            Concurrency = settings.Concurrency,
            BatchSize = 128,
            MaxIdleDelay = TimeSpan.FromMilliseconds(5),
        }).RunAsync(stop.Token)).ToArray();
        var producer = producing?.Invoke() ?? Task.CompletedTask;

        var db = connections[0].GetDatabase();
        while (true)
        {
            await Task.Delay(20, cancellationToken);
            var group = (await StreamStatus.ReadAsync(db, stream.Name)).Groups.FirstOrDefault(g => g.Name == "bench");
            if (producer.IsCompleted && group is { Backlog: 0 }) break; // everything produced is acknowledged

        }
        await producer;
        await stop.CancelAsync();
        await Task.WhenAll(consumers);
        if (handler.Count < settings.Messages) throw new InvalidOperationException($"only {handler.Count} of {settings.Messages} entries were handled");
        foreach (var redis in connections) await redis.DisposeAsync();
    }

    private static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var stopwatch = Stopwatch.StartNew();
        await action();
        return stopwatch.Elapsed;
    }

    private static void Report(TextWriter output, string phase, int messages, TimeSpan elapsed) =>
        output.WriteLine($"  {phase,-24} {messages / elapsed.TotalSeconds,10:N0} msg/s  ({messages:N0} in {elapsed.TotalSeconds:F2} s)");
}

internal sealed record BenchMessage(long Sequence, string Body);

[JsonSerializable(typeof(BenchMessage))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
