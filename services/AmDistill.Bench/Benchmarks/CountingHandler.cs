using AmDistill.Messaging;

namespace AmDistill.Bench.Benchmarks;

/// <summary>The cheapest handler there is: counts what it is given, so a benchmark measures the transport.</summary>
internal sealed class CountingHandler<T> : IMessageHandler<T>
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public Task HandleAsync(MessageContext<T> context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _count);
        return Task.CompletedTask;
    }
}
