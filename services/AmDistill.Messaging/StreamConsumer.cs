using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace AmDistill.Messaging;

/// <summary>
/// Reads one stream as a member of a consumer group and runs a handler per entry, at least once (acknowledgements in
/// <see cref="AckBatcher"/>, lease renewal in <see cref="LeaseRenewal"/>, trimming in <see cref="StreamHousekeeping"/>):
/// an entry is acknowledged only after its handler returned; an entry whose consumer died is taken over
/// after <see cref="StreamConsumerOptions.VisibilityTimeout"/>; an entry that keeps failing is moved to the
/// dead-letter stream with its error. Handlers that must not apply an effect twice use <see cref="ProcessOnce"/>.
/// </summary>
public sealed class StreamConsumer<T>
{
    private readonly IConnectionMultiplexer _redis;
    private readonly MessageStream<T> _stream;
    private readonly IMessageHandler<T> _handler;
    private readonly StreamConsumerOptions _options;
    private readonly ILogger _logger;
    private readonly RedisKey _key;
    private readonly KeyValuePair<string, object?> _streamTag;

    // Entries this consumer holds in Redis' pending list and must keep renewing: buffered or in a handler.
    private readonly ConcurrentDictionary<RedisValue, byte> _owned = new();
    private readonly ConcurrentQueue<RedisValue> _cancelledByShutdown = new();
    private readonly Channel<Delivery> _work = Channel.CreateUnbounded<Delivery>(new() { SingleWriter = false });
    private readonly AckBatcher _acks;
    // Bounds owned entries to twice the concurrency: enough to keep handlers busy, few to hand back on shutdown.
    private readonly SemaphoreSlim _slots;
    private RedisValue _claimCursor = "0-0";

    private readonly record struct Delivery(StreamEntry Entry, int DeliveryCount);

    public StreamConsumer(IConnectionMultiplexer redis, MessageStream<T> stream, IMessageHandler<T> handler,
        StreamConsumerOptions? options = null, ILogger<StreamConsumer<T>>? logger = null)
    {
        _redis = redis;
        _stream = stream;
        _handler = handler;
        _options = options ?? new StreamConsumerOptions();
        _options.Validate();
        _logger = logger ?? NullLogger<StreamConsumer<T>>.Instance;
        _key = stream.Name;
        _streamTag = MessagingTelemetry.StreamTag(stream.Name);
        _slots = new SemaphoreSlim(_options.Concurrency * 2, _options.Concurrency * 2);
        _acks = new AckBatcher(redis, stream.Name, stream.ErrorsName, _options.Group, _logger);
    }

    public StreamConsumerOptions Options => _options;

    private IDatabase Db => _redis.GetDatabase();

    /// <summary>
    /// Consumes until <paramref name="stoppingToken"/> fires, then shuts down gracefully: stops reading,
    /// lets in-flight handlers finish (cancelling them after the shutdown timeout), acknowledges what
    /// succeeded and hands unstarted entries back so another consumer takes them at once.
    /// </summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await RetryTransientAsync(EnsureGroupAsync, stoppingToken).ConfigureAwait(false);
        _logger.LogInformation("Consumer {Consumer} of group {Group} reading {Stream}", _options.ConsumerName, _options.Group, _stream.Name);

        using var handlerStop = new CancellationTokenSource();
        using var renewStop = new CancellationTokenSource();
        using var registration = stoppingToken.Register(() => handlerStop.CancelAfter(_options.ShutdownTimeout));

        var workers = Enumerable.Range(0, _options.Concurrency).Select(_ => WorkAsync(stoppingToken, handlerStop.Token)).ToArray();
        var acker = _acks.RunAsync();
        var renewer = LeaseRenewal.RunAsync(_redis, _stream.Name, _options, _owned, _logger, renewStop.Token);
        var maintenance = MaintenanceLoopAsync(stoppingToken);
        try
        {
            await ReadLoopAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            await IgnoreCancellation(maintenance).ConfigureAwait(false);
            _work.Writer.TryComplete();
            await Task.WhenAll(workers).ConfigureAwait(false);
            _acks.Complete();
            await acker.ConfigureAwait(false);
            await HandBackAsync().ConfigureAwait(false);
            await renewStop.CancelAsync().ConfigureAwait(false);
            await IgnoreCancellation(renewer).ConfigureAwait(false);
            _logger.LogInformation("Consumer {Consumer} of {Stream} stopped", _options.ConsumerName, _stream.Name);
        }
    }

    private async Task EnsureGroupAsync()
    {
        try
        {
            // From the beginning: entries produced before the first consumer started are not skipped.
            await Db.StreamCreateConsumerGroupAsync(_key, _options.Group, StreamPosition.Beginning, createStream: true).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("BUSYGROUP", StringComparison.Ordinal))
        {
        }
    }

    private async Task ReadLoopAsync(CancellationToken stoppingToken)
    {
        var idleDelay = TimeSpan.FromMilliseconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            int slots;
            try
            {
                slots = await AcquireSlotsAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            StreamEntry[] entries;
            try
            {
                // StackExchange.Redis multiplexes one connection, so XREADGROUP cannot BLOCK: poll with a growing idle delay.
                entries = await Db.StreamReadGroupAsync(_key, _options.Group, _options.ConsumerName, StreamPosition.NewMessages, slots).ConfigureAwait(false);
            }
            catch (Exception e) when (RedisErrors.IsRedisFailure(e))
            {
                _slots.Release(slots);
                await HandleReadErrorAsync(e, stoppingToken).ConfigureAwait(false);
                continue;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Whatever it is, a reader that stops reading silently would stall the whole group's share of work.
                _slots.Release(slots);
                _logger.LogError(e, "Reading {Stream} failed unexpectedly; retrying", _stream.Name);
                await DelayOrStop(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                continue;
            }

            if (entries.Length < slots) _slots.Release(slots - entries.Length);
            if (entries.Length == 0)
            {
                await DelayOrStop(idleDelay, stoppingToken).ConfigureAwait(false);
                idleDelay = TimeSpan.FromTicks(Math.Min(idleDelay.Ticks * 2, _options.MaxIdleDelay.Ticks));
                continue;
            }
            idleDelay = TimeSpan.FromMilliseconds(1);
            foreach (var entry in entries) Dispatch(entry, 1);
        }
    }

    private async Task HandleReadErrorAsync(Exception e, CancellationToken stoppingToken)
    {
        if (IsMissingGroup(e))
        {
            _logger.LogWarning("Group {Group} of {Stream} is gone (stream deleted?); creating it again", _options.Group, _stream.Name);
            await RetryTransientAsync(EnsureGroupAsync, stoppingToken).ConfigureAwait(false);
            return;
        }
        _logger.LogWarning("Reading {Stream} failed: {Error}; retrying", _stream.Name, e.Message);
        await DelayOrStop(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
    }

    private static bool IsMissingGroup(Exception e) => e is RedisServerException s && s.Message.StartsWith("NOGROUP", StringComparison.Ordinal);

    private async Task<int> AcquireSlotsAsync(CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        var count = 1;
        while (count < _options.BatchSize && _slots.Wait(0)) count++;
        return count;
    }

    private int TryAcquireSlots()
    {
        var count = 0;
        while (count < _options.BatchSize && _slots.Wait(0)) count++;
        return count;
    }

    private void Dispatch(StreamEntry entry, int deliveryCount)
    {
        _owned[entry.Id] = 0;
        _work.Writer.TryWrite(new Delivery(entry, deliveryCount));
    }

    private async Task WorkAsync(CancellationToken stoppingToken, CancellationToken handlerToken)
    {
        while (await _work.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            // Once stopping, start nothing new: the rest is handed back by HandBackAsync.
            if (stoppingToken.IsCancellationRequested) return;
            if (!_work.Reader.TryRead(out var delivery)) continue;
            try
            {
                await HandleAsync(delivery, handlerToken).ConfigureAwait(false);
            }
            catch (Exception e) when (RedisErrors.IsRedisFailure(e))
            {
                // Dead-lettering failed: the entry stays pending and is reclaimed after the visibility timeout.
                _logger.LogWarning("Could not settle {Stream} entry {Id}: {Error}", _stream.Name, delivery.Entry.Id.ToString(), e.Message);
            }
            finally
            {
                _owned.TryRemove(delivery.Entry.Id, out _);
                _slots.Release();
            }
        }
    }

    private async Task HandleAsync(Delivery delivery, CancellationToken handlerToken)
    {
        var entry = delivery.Entry;
        var id = entry.Id.ToString();
        T message;
        try
        {
            message = StreamPayload.Parse(entry, _stream);
        }
        catch (Exception e) when (StreamPayload.IsUnparseable(e))
        {
            // No retry can fix a payload that does not parse.
            await DeadLetterAsync(entry, delivery.DeliveryCount, $"invalid payload: {e.Message}").ConfigureAwait(false);
            return;
        }

        using var activity = StartActivity(entry, delivery.DeliveryCount);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var context = new MessageContext<T>(_stream.Name, id, entry[EntryFields.Key].ToString(), message, delivery.DeliveryCount);
            await _handler.HandleAsync(context, handlerToken).WaitAsync(_options.HandlerTimeout, handlerToken).ConfigureAwait(false);
            MessagingTelemetry.HandlerDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _streamTag);
            _acks.Add(entry.Id);
        }
        catch (Exception e)
        {
            MessagingTelemetry.HandlerDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _streamTag);
            MessagingTelemetry.Failed.Add(1, _streamTag);
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            if (e is OperationCanceledException && handlerToken.IsCancellationRequested)
            {
                _cancelledByShutdown.Enqueue(entry.Id); // handed back with the unstarted ones
                return;
            }
            await RecordFailureAsync(entry, delivery.DeliveryCount, e).ConfigureAwait(false);
        }
    }

    private Activity? StartActivity(StreamEntry entry, int deliveryCount)
    {
        var traceParent = entry[EntryFields.TraceParent];
        ActivityContext.TryParse(traceParent.IsNull ? null : traceParent.ToString(), entry[EntryFields.TraceState].ToString(), out var parent);
        var activity = MessagingTelemetry.Source.StartActivity($"process {_stream.Name}", ActivityKind.Consumer, parent);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "redis");
            activity.SetTag("messaging.destination.name", _stream.Name);
            activity.SetTag("messaging.consumer.group.name", _options.Group);
            activity.SetTag("messaging.message.id", entry.Id.ToString());
            activity.SetTag("messaging.message.delivery_count", deliveryCount);
        }
        return activity;
    }

    private async Task RecordFailureAsync(StreamEntry entry, int deliveryCount, Exception error)
    {
        var reason = SecretRedactor.Redact($"{error.GetType().Name}: {error.Message}");
        try
        {
            if (deliveryCount >= _options.MaxDeliveries || error is PermanentMessageException)
            {
                await DeadLetterAsync(entry, deliveryCount, reason).ConfigureAwait(false);
                return;
            }
            _logger.LogWarning("Handler failed for {Stream} entry {Id} (delivery {Delivery} of {Max}); retrying after {Timeout}: {Reason}",
                _stream.Name, entry.Id.ToString(), deliveryCount, _options.MaxDeliveries, _options.VisibilityTimeout, reason);
            // Kept pending and no longer renewed: it becomes claimable after the visibility timeout.
            await Db.HashSetAsync(_stream.ErrorsName, entry.Id, reason).ConfigureAwait(false);
        }
        catch (Exception e) when (RedisErrors.IsRedisFailure(e))
        {
            _logger.LogWarning("Could not record the failure of {Id}: {Error}; the entry stays pending", entry.Id.ToString(), e.Message);
        }
    }

    /// <summary>Moves an entry to the dead-letter stream and acknowledges it in one transaction: never both, never neither.</summary>
    private async Task DeadLetterAsync(StreamEntry entry, int deliveryCount, string reason)
    {
        var fields = entry.Values
            .Where(v => v.Name != EntryFields.TraceParent && v.Name != EntryFields.TraceState)
            .Append(new NameValueEntry(EntryFields.Error, reason))
            .Append(new NameValueEntry(EntryFields.Deliveries, deliveryCount))
            .Append(new NameValueEntry(EntryFields.SourceId, entry.Id))
            .Append(new NameValueEntry(EntryFields.Group, _options.Group))
            .Append(new NameValueEntry(EntryFields.FailedAt, DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)))
            .ToArray();
        var transaction = Db.CreateTransaction();
        if (StreamPayload.TryParse(entry, _stream) is { } message) await _handler.OnDeadLetterAsync(message, reason, transaction).ConfigureAwait(false);
        _ = transaction.StreamAddAsync(_stream.DeadLetterName, fields);
        _ = transaction.StreamAcknowledgeAsync(_key, _options.Group, entry.Id);
        _ = transaction.HashDeleteAsync(_stream.ErrorsName, entry.Id);
        await transaction.ExecuteAsync().ConfigureAwait(false);
        MessagingTelemetry.DeadLettered.Add(1, _streamTag);
        _logger.LogError("Dead-lettered {Stream} entry {Id} after {Deliveries} deliveries: {Reason}", _stream.Name, entry.Id.ToString(), deliveryCount, reason);
    }

    private async Task MaintenanceLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ReclaimAbandonedAsync().ConfigureAwait(false);
                var status = await StreamStatus.ReadAsync(Db, _stream.Name).ConfigureAwait(false);
                var group = status.Groups.FirstOrDefault(g => g.Name == _options.Group);
                if (group is not null && StreamStatus.LagIsStale(group.Lag, status.Length))
                {
                    var undelivered = await StreamLagRepair.RepairAsync(Db, _stream.Name, _options.Group).ConfigureAwait(false);
                    _logger.LogInformation("Redis reported a lag of {Lag} for {Stream} over {Length} entries (stale after a restart); recounted {Undelivered} undelivered",
                        group.Lag?.ToString(CultureInfo.InvariantCulture) ?? "none", _stream.Name, status.Length, undelivered);
                }
                if (group is not null) MessagingTelemetry.ReportBacklog(_stream.Name, _options.Group, group.Backlog);
                if (_options.TrimAcknowledged) await StreamHousekeeping.TrimAcknowledgedAsync(Db, _stream.Name).ConfigureAwait(false);
                await StreamHousekeeping.RemoveGoneConsumersAsync(Db, _stream.Name, _options).ConfigureAwait(false);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                _logger.LogWarning("Maintenance of {Stream} failed: {Error}", _stream.Name, e.Message);
            }
            await Task.Delay(_options.MaintenanceInterval, stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>Takes over entries whose owner stopped renewing them (a crashed or killed consumer, or a failed handler).</summary>
    private async Task ReclaimAbandonedAsync()
    {
        while (true)
        {
            var slots = TryAcquireSlots();
            if (slots == 0) return;
            var dispatched = 0; // each dispatched entry takes its slot along to the worker
            try
            {
                var db = Db;
                var result = await db.StreamAutoClaimAsync(_key, _options.Group, _options.ConsumerName,
                    (long)_options.VisibilityTimeout.TotalMilliseconds, _claimCursor, slots).ConfigureAwait(false);
                _claimCursor = result.NextStartId;

                if (result.DeletedIds.Length > 0) // trimmed or deleted while pending: nothing left to handle
                    await db.StreamAcknowledgeAsync(_key, _options.Group, result.DeletedIds).ConfigureAwait(false);

                var claimed = result.ClaimedEntries.Where(e => !e.IsNull).ToArray();
                if (claimed.Length > 0)
                {
                    var deliveries = await DeliveryCountsAsync(db, claimed).ConfigureAwait(false);
                    foreach (var entry in claimed)
                    {
                        // Our own entry, still in a handler whose renewals were delayed (e.g. by a Redis restart).
                        if (_owned.ContainsKey(entry.Id)) continue;
                        var count = deliveries.GetValueOrDefault(entry.Id, 2); // acknowledged meanwhile: a harmless redelivery
                        if (count > _options.MaxDeliveries)
                        {
                            var lastError = await db.HashGetAsync(_stream.ErrorsName, entry.Id).ConfigureAwait(false);
                            await DeadLetterAsync(entry, count - 1, lastError.IsNull
                                ? $"delivered {count - 1} times and never acknowledged: its consumer crashed or was killed while handling it"
                                : lastError.ToString()).ConfigureAwait(false);
                            continue;
                        }
                        MessagingTelemetry.Reclaimed.Add(1, _streamTag);
                        Dispatch(entry, count);
                        dispatched++;
                    }
                    _logger.LogInformation("Reclaimed {Count} abandoned entries of {Stream}", claimed.Length, _stream.Name);
                }
            }
            finally
            {
                if (slots > dispatched) _slots.Release(slots - dispatched);
            }
            if (_claimCursor == "0-0") return; // scanned the whole pending list
        }
    }

    /// <summary>Delivery counts of just-claimed entries: one XPENDING per id, pipelined (claims are rare).</summary>
    private async Task<Dictionary<RedisValue, int>> DeliveryCountsAsync(IDatabase db, StreamEntry[] claimed)
    {
        var lookups = claimed.Select(e => db.StreamPendingMessagesAsync(_key, _options.Group, 1, _options.ConsumerName, e.Id, e.Id)).ToArray();
        var counts = new Dictionary<RedisValue, int>(claimed.Length);
        foreach (var info in (await Task.WhenAll(lookups).ConfigureAwait(false)).SelectMany(x => x))
            counts[info.MessageId] = info.DeliveryCount;
        return counts;
    }

    /// <summary>
    /// On shutdown, marks unstarted entries and those whose handler the shutdown cancelled as long idle, so another
    /// consumer (or this service's next start) claims them at its next scan instead of after the visibility timeout.
    /// </summary>
    private async Task HandBackAsync()
    {
        var ids = new List<RedisValue>(_cancelledByShutdown);
        while (_work.Reader.TryRead(out var delivery)) ids.Add(delivery.Entry.Id);
        if (ids.Count == 0) return;
        var args = new List<object> { _stream.Name, _options.Group, _options.ConsumerName, 0 };
        args.AddRange(ids.Select(id => (object)id.ToString()));
        args.AddRange(["IDLE", (long)_options.VisibilityTimeout.TotalMilliseconds + 1, "JUSTID"]);
        try
        {
            await Db.ExecuteAsync("XCLAIM", args).ConfigureAwait(false);
            _logger.LogInformation("Handed back {Count} unfinished entries of {Stream}", ids.Count, _stream.Name);
        }
        catch (Exception e) when (RedisErrors.IsTransient(e))
        {
            _logger.LogWarning("Could not hand back {Count} entries of {Stream}: {Error}; they are reclaimed after the visibility timeout", ids.Count, _stream.Name, e.Message);
        }
    }

    private async Task RetryTransientAsync(Func<Task> operation, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await operation().ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (RedisErrors.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                _logger.LogWarning("Redis not reachable for {Stream}: {Error}; retrying", _stream.Name, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task DelayOrStop(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task IgnoreCancellation(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
