using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AmDistill.Messaging;

/// <summary>What a consumer does beside consuming, so that Redis holds the backlog and not the history.</summary>
internal static class StreamHousekeeping
{
    /// <summary>Deletes entries older than anything any group still needs, so the stream holds only the backlog.</summary>
    public static async Task TrimAcknowledgedAsync(IDatabase db, string stream)
    {
        StreamId? keepFrom = null;
        foreach (var group in await db.StreamGroupInfoAsync(stream).ConfigureAwait(false))
        {
            StreamId needed;
            if (group.PendingMessageCount > 0)
            {
                var pending = await db.StreamPendingAsync(stream, group.Name).ConfigureAwait(false);
                needed = StreamId.Parse(pending.LowestPendingMessageId);
            }
            else
            {
                needed = StreamId.Parse(group.LastDeliveredId);
            }
            if (keepFrom is null || needed < keepFrom) keepFrom = needed;
        }
        if (keepFrom is not { } id || id <= StreamId.Zero) return;
        // An approximate trim removes at most 10,000 entries per call (Redis' default LIMIT): more than that arrive between
        // two passes at a few thousand samples/s, so trim again until a call removes nothing (each call stays short).
        for (var call = 0; call < 100; call++)
            if ((long)await db.ExecuteAsync("XTRIM", stream, "MINID", "~", id.ToString()).ConfigureAwait(false) == 0) return;
    }

    /// <summary>Forgets consumers of dead processes once they hold nothing, so XINFO stays readable.</summary>
    public static async Task RemoveGoneConsumersAsync(IDatabase db, string stream, StreamConsumerOptions options)
    {
        var goneAfter = Math.Max(TimeSpan.FromMinutes(10).TotalMilliseconds, 20 * options.VisibilityTimeout.TotalMilliseconds);
        foreach (var consumer in await db.StreamConsumerInfoAsync(stream, options.Group).ConfigureAwait(false))
        {
            if (consumer.Name != options.ConsumerName && consumer.PendingMessageCount == 0 && consumer.IdleTimeInMilliseconds > goneAfter)
                await db.StreamDeleteConsumerAsync(stream, options.Group, consumer.Name).ConfigureAwait(false);
        }
    }
}

/// <summary>Keeps a consumer's entries its own while they wait or run: every third of the visibility timeout, XCLAIM JUSTID
/// resets their idle time without counting a delivery.</summary>
internal static class LeaseRenewal
{
    public static async Task RunAsync(IConnectionMultiplexer redis, string stream, StreamConsumerOptions options,
        ConcurrentDictionary<RedisValue, byte> owned, ILogger logger, CancellationToken cancellationToken)
    {
        var period = options.VisibilityTimeout / 3;
        while (!cancellationToken.IsCancellationRequested)
        {
            await Task.Delay(period, cancellationToken).ConfigureAwait(false);
            foreach (var chunk in owned.Keys.Chunk(256))
            {
                try
                {
                    await redis.GetDatabase().StreamClaimIdsOnlyAsync(stream, options.Group, options.ConsumerName, 0, chunk).ConfigureAwait(false);
                }
                catch (Exception e) when (RedisErrors.IsRedisFailure(e))
                {
                    logger.LogWarning("Renewing entries of {Stream} failed: {Error}", stream, e.Message);
                }
            }
        }
    }
}
