using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AmDistill.Messaging;

/// <summary>A consumer's acknowledgements, sent in batches of up to 512 ids per XACK: one round trip for many handled
/// entries. Retried while Redis is away; what cannot be acknowledged stays pending and is redelivered (handlers are idempotent).</summary>
internal sealed class AckBatcher(IConnectionMultiplexer redis, string stream, string errors, string group, ILogger logger)
{
    private readonly Channel<RedisValue> _ids = Channel.CreateUnbounded<RedisValue>(new() { SingleReader = true });
    private readonly KeyValuePair<string, object?> _streamTag = MessagingTelemetry.StreamTag(stream);

    public void Add(RedisValue id) => _ids.Writer.TryWrite(id);

    /// <summary>No more ids: <see cref="RunAsync"/> sends what is left and returns.</summary>
    public void Complete() => _ids.Writer.TryComplete();

    public async Task RunAsync()
    {
        var batch = new List<RedisValue>(512);
        while (await _ids.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            while (batch.Count < 512 && _ids.Reader.TryRead(out var id)) batch.Add(id);
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var ids = batch.ToArray();
                    var db = redis.GetDatabase();
                    var acked = db.StreamAcknowledgeAsync(stream, group, ids);
                    // Failure notes of retried entries; a no-op for the usual first-delivery success.
                    _ = db.HashDeleteAsync(errors, ids, CommandFlags.FireAndForget);
                    await acked.ConfigureAwait(false);
                    MessagingTelemetry.Consumed.Add(batch.Count, _streamTag);
                    break;
                }
                catch (Exception e) when (RedisErrors.IsRedisFailure(e) && attempt < 10)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt)).ConfigureAwait(false);
                }
                catch (Exception e) when (RedisErrors.IsRedisFailure(e))
                {
                    logger.LogWarning("Could not acknowledge {Count} entries of {Stream}: {Error}", batch.Count, stream, e.Message);
                    break;
                }
            }
        }
    }
}
