using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace AmDistill.Messaging;

public sealed class StreamProducerOptions
{
    /// <summary>
    /// The producer waits while the slowest consumer group has this many unacknowledged entries,
    /// so a run of millions of tasks never sits in Redis at once. 0 disables backpressure.
    /// </summary>
    public long HighWaterMark { get; set; } = 10_000;

    /// <summary>How often a waiting producer looks at the backlog again.</summary>
    public TimeSpan BackpressurePollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a publish keeps retrying through a Redis outage before it throws.</summary>
    public TimeSpan RetryTimeout { get; set; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Adds typed entries to one stream. At-least-once: a publish retried after a connection drop may add the
/// entry twice, so every entry carries a key that idempotent handlers use (<see cref="ProcessOnce"/>).
/// </summary>
public sealed class StreamProducer<T>
{
    private readonly IConnectionMultiplexer _redis;
    private readonly StreamProducerOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _backpressureGate = new(1, 1);
    private long _budget; // entries this producer may add before it must look at the backlog again

    public StreamProducer(IConnectionMultiplexer redis, MessageStream<T> stream, StreamProducerOptions? options = null,
        ILogger<StreamProducer<T>>? logger = null)
    {
        _redis = redis;
        Stream = stream;
        _options = options ?? new StreamProducerOptions();
        _logger = logger ?? NullLogger<StreamProducer<T>>.Instance;
    }

    public MessageStream<T> Stream { get; }

    /// <summary>Adds one entry; waits first while the consumers are behind by more than the high-water mark.</summary>
    /// <param name="key">The entry's idempotency key (e.g. run/query/teacher/pass).</param>
    /// <returns>The stream entry id.</returns>
    public async Task<string> PublishAsync(T message, string key, CancellationToken cancellationToken = default)
    {
        await WaitForCapacityAsync(1, cancellationToken).ConfigureAwait(false);
        using var activity = StartActivity();
        var fields = BuildFields(message, key, activity);
        var id = await WithRetryAsync(db => db.StreamAddAsync(Stream.Name, fields), cancellationToken).ConfigureAwait(false);
        MessagingTelemetry.Produced.Add(1, MessagingTelemetry.StreamTag(Stream.Name));
        return id.ToString();
    }

    /// <summary>Adds many entries pipelined in one round trip per batch.</summary>
    public async Task PublishBatchAsync(IReadOnlyList<(T Message, string Key)> messages, CancellationToken cancellationToken = default)
    {
        if (messages.Count == 0) return;
        await WaitForCapacityAsync(messages.Count, cancellationToken).ConfigureAwait(false);
        // A span per message, each a sibling under the caller's (a root where there is none, as in the feeder): every
        // task is its own trace through the services, not one trace of a whole batch.
        var parent = Activity.Current;
        var spans = new Activity?[messages.Count];
        var batch = new NameValueEntry[messages.Count][];
        for (var i = 0; i < messages.Count; i++)
        {
            spans[i] = StartActivity();
            batch[i] = BuildFields(messages[i].Message, messages[i].Key, spans[i]);
            Activity.Current = parent;
        }
        try
        {
            await WithRetryAsync(async db =>
            {
                var redisBatch = db.CreateBatch();
                var adds = batch.Select(fields => redisBatch.StreamAddAsync(Stream.Name, fields)).ToArray();
                redisBatch.Execute();
                await Task.WhenAll(adds).ConfigureAwait(false);
                return RedisValue.Null;
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var span in spans) span?.Dispose();
            Activity.Current = parent;
        }
        MessagingTelemetry.Produced.Add(messages.Count, MessagingTelemetry.StreamTag(Stream.Name));
    }

    /// <summary>
    /// Queues the entry on <paramref name="transaction"/>, so that it is added if and only if the transaction commits:
    /// the way a handler publishes its result exactly once together with its <see cref="ProcessOnce"/> marker.
    /// Call <see cref="WaitForCapacityAsync"/> first to respect backpressure.
    /// </summary>
    public void AddTo(ITransaction transaction, T message, string key)
    {
        using var activity = StartActivity();
        _ = transaction.StreamAddAsync(Stream.Name, BuildFields(message, key, activity));
    }

    /// <summary>
    /// Records the entry on <paramref name="writes"/>, so that it is added if and only if they apply: the way a handler
    /// publishes its result exactly once together with its <see cref="ProcessOnce"/> marker.
    /// Call <see cref="WaitForCapacityAsync"/> first to respect backpressure.
    /// </summary>
    public void AddTo(OnceWrites writes, T message, string key)
    {
        using var activity = StartActivity();
        writes.StreamAdd(Stream.Name, BuildFields(message, key, activity));
    }

    private Activity? StartActivity()
    {
        var activity = MessagingTelemetry.Source.StartActivity($"publish {Stream.Name}", ActivityKind.Producer);
        activity?.SetTag("messaging.system", "redis");
        activity?.SetTag("messaging.destination.name", Stream.Name);
        return activity;
    }

    private NameValueEntry[] BuildFields(T message, string key, Activity? activity)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(message, Stream.TypeInfo);
        // The current span (ours, or the caller's when nobody listens to ours) is the parent of the consumer's span.
        var context = activity ?? Activity.Current;
        if (context is null || context.IdFormat != ActivityIdFormat.W3C)
            return [new(EntryFields.Key, key), new(EntryFields.Payload, payload)];
        return context.TraceStateString is { Length: > 0 } state
            ? [new(EntryFields.Key, key), new(EntryFields.Payload, payload), new(EntryFields.TraceParent, context.Id), new(EntryFields.TraceState, state)]
            : [new(EntryFields.Key, key), new(EntryFields.Payload, payload), new(EntryFields.TraceParent, context.Id)];
    }

    /// <summary>
    /// Looks at the backlog only when this producer's budget is spent, so a fast producer costs one
    /// XINFO per (high-water mark − backlog) entries instead of one per entry.
    /// </summary>
    public async Task WaitForCapacityAsync(int count, CancellationToken cancellationToken)
    {
        if (_options.HighWaterMark <= 0) return;
        if (Interlocked.Add(ref _budget, -count) >= 0) return;

        await _backpressureGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _budget) >= 0) return; // another caller refilled it
            var started = Stopwatch.GetTimestamp();
            var logged = false;
            while (true)
            {
                var status = await WithRetryAsync(db => StreamStatus.ReadAsync(db, Stream.Name), cancellationToken).ConfigureAwait(false);
                var room = _options.HighWaterMark - status.Backlog;
                if (room >= count)
                {
                    Volatile.Write(ref _budget, room - count);
                    break;
                }
                if (!logged)
                {
                    _logger.LogInformation("Backpressure on {Stream}: backlog {Backlog} ≥ high-water mark {HighWaterMark}; waiting", Stream.Name, status.Backlog, _options.HighWaterMark);
                    logged = true;
                }
                await Task.Delay(_options.BackpressurePollInterval, cancellationToken).ConfigureAwait(false);
            }
            var waited = Stopwatch.GetElapsedTime(started).TotalSeconds;
            if (logged) MessagingTelemetry.BackpressureWait.Add(waited, MessagingTelemetry.StreamTag(Stream.Name));
        }
        finally
        {
            _backpressureGate.Release();
        }
    }

    private async Task<TResult> WithRetryAsync<TResult>(Func<IDatabase, Task<TResult>> operation, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(_options.RetryTimeout.TotalSeconds * Stopwatch.Frequency);
        var delay = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return await operation(_redis.GetDatabase()).ConfigureAwait(false);
            }
            catch (Exception e) when (RedisErrors.IsTransient(e) && Stopwatch.GetTimestamp() < deadline)
            {
                _logger.LogWarning("Publishing to {Stream} failed ({Error}); retrying in {Delay} ms", Stream.Name, e.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }
}

public static class RedisErrors
{
    /// <summary>
    /// A failure of a Redis call, as StackExchange.Redis reports them: RedisException, RedisTimeoutException, and, when a
    /// connection is torn down under a command, a cancelled task or an InvalidOperationException raised by the client's
    /// own stack ("Writing is not allowed after writer was completed", "Connection is being disposed"). An
    /// InvalidOperationException of anyone else's (a handler's bug) is not one: it must surface, not be retried as Redis.
    /// </summary>
    public static bool IsRedisFailure(Exception e) => e switch
    {
        RedisException or RedisTimeoutException or OperationCanceledException => true,
        InvalidOperationException => e.Source is "StackExchange.Redis" or "System.IO.Pipelines" or "Pipelines.Sockets.Unofficial",
        _ => false,
    };

    /// <summary>Failures that go away when Redis comes back: all but the server's own errors, LOADING and BUSY excepted.</summary>
    public static bool IsTransient(Exception e) => e switch
    {
        RedisServerException s => s.Message.StartsWith("LOADING", StringComparison.Ordinal) || s.Message.StartsWith("BUSY ", StringComparison.Ordinal),
        _ => IsRedisFailure(e),
    };
}
