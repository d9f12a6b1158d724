using StackExchange.Redis;

namespace AmDistill.Messaging;

/// <summary>
/// Makes a handler's Redis writes exactly-once per key under at-least-once delivery: the writes and a
/// "done" marker commit in one MULTI/EXEC guarded by the marker's absence, so a redelivered entry
/// (crash between the writes and the ack, a duplicate publish) changes nothing.
/// </summary>
public static class ProcessOnce
{
    public const string MarkerPrefix = "amdistill:once:";

    /// <summary>
    /// Queues <paramref name="writes"/> on a transaction that commits only if <paramref name="key"/> was never
    /// processed in <paramref name="scope"/>. The writes must not be awaited inside the delegate.
    /// </summary>
    /// <returns>True when the writes were applied now; false when the key had been processed before.</returns>
    /// <exception cref="RedisException">The transaction was aborted without the key being processed (e.g. Redis restarted
    /// between WATCH and EXEC): nothing was written, and the caller must retry rather than treat the key as done.</exception>
    public static Task<bool> ExecuteAsync(IDatabase db, string scope, string key, Action<ITransaction> writes, TimeSpan? retention = null,
        SetMember? settled = null) =>
        ExecuteAllAsync(db, scope, [key], writes, retention, settled);

    /// <summary>
    /// Like <see cref="ExecuteAsync"/> for several keys at once: the writes commit only if none of the keys was processed,
    /// and then every key is marked. All or nothing, so work that produced several results at one price (a teacher's
    /// answer with n choices) is never half recorded.
    /// </summary>
    /// <param name="settled">A set membership that makes the keys done whatever their markers say: markers are removed once
    /// their effect is settled downstream (a query made final), so a late duplicate is recognised by that instead.</param>
    /// <returns>True when applied now; false when some key had been processed before, or the work is settled (nothing was written).</returns>
    /// <exception cref="RedisException">Aborted without any key processed (e.g. Redis restarted between WATCH and EXEC):
    /// nothing was written, and the caller must retry rather than treat the keys as done.</exception>
    public static async Task<bool> ExecuteAllAsync(IDatabase db, string scope, IReadOnlyList<string> keys, Action<ITransaction> writes, TimeSpan? retention = null,
        SetMember? settled = null)
    {
        var markers = keys.Select(key => (RedisKey)MarkerKey(scope, key)).ToArray();
        // The settling set is shared (every query of a run turns final in it), so a transaction watching it is aborted
        // whenever another member arrives meanwhile: that is asked again at once, not failed.
        for (var attempt = 1; ; attempt++)
        {
            var transaction = db.CreateTransaction();
            foreach (var marker in markers) transaction.AddCondition(Condition.KeyNotExists(marker));
            if (settled is { } s) transaction.AddCondition(Condition.SetNotContains(s.Set, s.Member));
            writes(transaction);
            var doneAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            foreach (var marker in markers) _ = retention is { } ttl ? transaction.StringSetAsync(marker, doneAt, ttl) : transaction.StringSetAsync(marker, doneAt);
            if (await transaction.ExecuteAsync().ConfigureAwait(false)) return true;
            // "Not committed" means "done before" only if a marker is there; an aborted EXEC must not be taken for it.
            if (await db.KeyExistsAsync(markers).ConfigureAwait(false) > 0) return false;
            if (settled is { } member && await member.IsSettledAsync(db).ConfigureAwait(false)) return false;
            if (settled is null || attempt == MaxAttempts)
                throw new RedisException($"transaction for {markers.Length} keys of {scope} was aborted before it applied; retry");
        }
    }

    private const int MaxAttempts = 10;

    /// <summary>Whether <paramref name="key"/> was processed in <paramref name="scope"/>, or its work is <paramref name="settled"/>.</summary>
    public static async Task<bool> IsDoneAsync(IDatabase db, string scope, string key, SetMember settled)
    {
        // Both asked at once: one round trip.
        var (marker, isSettled) = (db.KeyExistsAsync(MarkerKey(scope, key)), settled.IsSettledAsync(db));
        return await marker.ConfigureAwait(false) | await isSettled.ConfigureAwait(false);
    }

    /// <summary>Whether <paramref name="key"/> was processed in <paramref name="scope"/>.</summary>
    public static Task<bool> IsDoneAsync(IDatabase db, string scope, string key) => db.KeyExistsAsync(MarkerKey(scope, key));

    public static string MarkerKey(string scope, string key) => $"{MarkerPrefix}{scope}:{key}";
}

/// <summary>A member of a set whose presence settles work for good (a query in its run's final set).</summary>
public readonly record struct SetMember(RedisKey Set, RedisValue Member)
{
    public Task<bool> IsSettledAsync(IDatabase db) => db.SetContainsAsync(Set, Member);
}
