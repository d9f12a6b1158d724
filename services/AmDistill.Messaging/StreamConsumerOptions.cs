using StackExchange.Redis;

namespace AmDistill.Messaging;

public sealed class StreamConsumerOptions
{
    /// <summary>The consumer group; every replica of one service shares it.</summary>
    public string Group { get; set; } = "workers";

    /// <summary>Unique per process by default, so a restarted process never inherits a dead one's entries by name.</summary>
    public string ConsumerName { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Handlers running at once in this process.</summary>
    public int Concurrency { get; set; } = Environment.ProcessorCount;

    /// <summary>Entries asked for per XREADGROUP.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>
    /// An entry whose owner has not renewed it for this long is taken over (XAUTOCLAIM) by another consumer.
    /// Owners renew their entries every third of it, so long handlers (minutes of LLM generation) are safe, and the work
    /// of a crashed consumer is taken over within seconds. A failed entry is retried after this delay.
    /// </summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often abandoned entries are looked for, the lag is read and the stream is trimmed. Every second: what
    /// a stream holds beyond its backlog is what arrived since the last trim (at 5,000 samples/s and 5 s, 125 MB of Redis).</summary>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>After this many deliveries without success an entry goes to the dead-letter stream.</summary>
    public int MaxDeliveries { get; set; } = 5;

    /// <summary>Longest sleep between reads of an empty stream (the sleep grows from 1 ms while idle).</summary>
    public TimeSpan MaxIdleDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// A handler still running after this long is abandoned and its entry retried: a call that never completes (seen with
    /// Redis transactions cut by a server restart) must not hold an entry for ever while its lease keeps being renewed.
    /// </summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// On shutdown, in-flight handlers get this long to finish before their token is cancelled and their entries are
    /// handed back; short, because the orchestrator kills a process a few seconds after asking it to stop (Aspire's
    /// DCP, a container's grace period).
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Trim entries every group has acknowledged, so memory stays flat however long a run is.</summary>
    public bool TrimAcknowledged { get; set; } = true;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Group);
        ArgumentException.ThrowIfNullOrWhiteSpace(ConsumerName);
        ArgumentOutOfRangeException.ThrowIfLessThan(Concurrency, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDeliveries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(VisibilityTimeout, TimeSpan.FromMilliseconds(100));
    }
}

/// <summary>One delivered entry, as a handler sees it.</summary>
public sealed record MessageContext<T>(string Stream, string Id, string Key, T Message, int DeliveryCount);

/// <summary>Handles the entries of one stream. Throwing means "retry later"; see <see cref="StreamConsumerOptions.MaxDeliveries"/>.</summary>
public interface IMessageHandler<T>
{
    Task HandleAsync(MessageContext<T> context, CancellationToken cancellationToken);

    /// <summary>
    /// The entry is being dead-lettered (after its last delivery, or at once for a permanent failure): queue on
    /// <paramref name="transaction"/> the writes that settle its effect, so that nothing waits for it for ever. They commit
    /// with the move to the dead-letter stream, or not at all. Not called for a payload that does not parse.
    /// </summary>
    Task OnDeadLetterAsync(T message, string reason, ITransaction transaction) => Task.CompletedTask;
}
