using AmDistill.Messaging;
using AmDistill.Messaging.CrashWorker;
using StackExchange.Redis;
using AmDistill.LocalRedis;

namespace AmDistill.Messaging.Tests;

/// <summary>A real redis-server on a free port for the whole test class.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public LocalRedisServer Server { get; private set; } = null!;
    public ConnectionMultiplexer Redis { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await LocalRedisServer.StartAsync();
        Redis = await ConnectionMultiplexer.ConnectAsync(Server.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await Redis.DisposeAsync();
        await Server.DisposeAsync();
    }
}

internal static class TestStreams
{
    public static MessageStream<TestMessage> New() => new($"test:{Guid.NewGuid():N}", TestJsonContext.Default.TestMessage);

    /// <summary>Short timeouts so that reclaim and retry happen within a test's patience.</summary>
    public static StreamConsumerOptions FastOptions(string consumer, int concurrency = 4) => new()
    {
        Group = "g",
        ConsumerName = consumer,
        Concurrency = concurrency,
        VisibilityTimeout = TimeSpan.FromSeconds(1),
        MaintenanceInterval = TimeSpan.FromMilliseconds(100),
        MaxIdleDelay = TimeSpan.FromMilliseconds(20),
        ShutdownTimeout = TimeSpan.FromSeconds(10),
        HandlerTimeout = TimeSpan.FromSeconds(10),
    };

    public static async Task PublishAsync(StreamProducer<TestMessage> producer, int count, string prefix = "m")
    {
        foreach (var chunk in Enumerable.Range(0, count).Chunk(100))
            await producer.PublishBatchAsync([.. chunk.Select(i => (new TestMessage(i, $"message {i}"), $"{prefix}{i}"))]);
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting until {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Every key of the results hash must have been counted exactly once.</summary>
    public static async Task AssertEachCountedOnceAsync(IDatabase db, string resultsKey, int expected)
    {
        var counts = await db.HashGetAllAsync(resultsKey);
        Assert.Equal(expected, counts.Length);
        Assert.All(counts, entry => Assert.Equal(1, (int)entry.Value));
    }

    public static async Task<long> PendingAsync(IDatabase db, string stream, string group = "g") =>
        (await db.StreamPendingAsync(stream, group)).PendingMessageCount;
}
