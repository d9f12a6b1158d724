using System.Text.Json.Serialization;
using AmDistill.Messaging;
using StackExchange.Redis;

namespace AmDistill.Messaging.CrashWorker;

/// <summary>The contract the reliability tests send through a stream.</summary>
public sealed record TestMessage(int Number, string Text);

[JsonSerializable(typeof(TestMessage))]
public sealed partial class TestJsonContext : JsonSerializerContext;

/// <summary>
/// The idempotent handler of the reliability tests: counts each key in a hash, once, through
/// <see cref="ProcessOnce"/>; <c>Invocations</c> counts every call, duplicates included.
/// </summary>
public sealed class CountingHandler(IConnectionMultiplexer redis, string resultsKey, TimeSpan delay) : IMessageHandler<TestMessage>
{
    private int _invocations;
    private int _duplicates;

    public int Invocations => _invocations;

    /// <summary>Deliveries whose effect was already applied (redelivered after a crash or a duplicate publish).</summary>
    public int Duplicates => _duplicates;

    public async Task HandleAsync(MessageContext<TestMessage> context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _invocations);
        if (delay > TimeSpan.Zero) await Task.Delay(delay, cancellationToken);
        var applied = await ProcessOnce.ExecuteAsync(redis.GetDatabase(), resultsKey, context.Key,
            writes => writes.HashIncrement(resultsKey, context.Key));
        if (!applied) Interlocked.Increment(ref _duplicates);
    }
}
