using StackExchange.Redis;

namespace AmDistill.Messaging;

/// <summary>How far the consumer groups of one stream are behind.</summary>
public sealed record StreamStatus(string Stream, long Length, long DeadLetters, IReadOnlyList<GroupStatus> Groups)
{
    /// <summary>
    /// Entries not yet acknowledged by the slowest group; the whole stream when no group exists yet,
    /// because then nobody has consumed anything.
    /// </summary>
    public long Backlog => Groups.Count == 0 ? Length : Groups.Max(g => g.Backlog);

    public static async Task<StreamStatus> ReadAsync(IDatabase db, string stream)
    {
        var length = db.StreamLengthAsync(stream);
        var dead = db.StreamLengthAsync(stream + ":dead");
        StreamGroupInfo[] groups;
        try
        {
            groups = await db.StreamGroupInfoAsync(stream).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.Contains("no such key", StringComparison.OrdinalIgnoreCase))
        {
            groups = [];
        }
        var len = await length.ConfigureAwait(false);
        return new StreamStatus(stream, len, await dead.ConfigureAwait(false),
            [.. groups.Select(g => new GroupStatus(g.Name, g.ConsumerCount, g.PendingMessageCount, g.Lag,
                // Redis reports no lag when entries were deleted out of order; the stream length bounds it.
                (g.Lag ?? len) + g.PendingMessageCount))]);
    }
}

/// <param name="Lag">Entries not yet delivered to the group (Redis 7 <c>lag</c>); null when Redis cannot tell.</param>
/// <param name="Pending">Delivered but not acknowledged.</param>
/// <param name="Backlog">Lag plus pending: the work still to do.</param>
public sealed record GroupStatus(string Name, int Consumers, long Pending, long? Lag, long Backlog);
