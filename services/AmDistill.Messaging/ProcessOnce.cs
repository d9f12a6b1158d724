using StackExchange.Redis;

namespace AmDistill.Messaging;

/// <summary>
/// Makes a handler's Redis writes exactly-once per key under at-least-once delivery: the writes and a "done" marker
/// are applied by one Lua script that first checks the marker's absence, so a redelivered entry (crash between the
/// writes and the ack, a duplicate publish) changes nothing. One round trip and no WATCH: concurrent duplicates and
/// other writers never abort each other.
/// </summary>
public static class ProcessOnce
{
    public const string MarkerPrefix = "amdistill:once:";

    // KEYS: the markers, then the settling set (when given), then the writes' keys. ARGV: marker count, whether a
    // settling set is given, its member, the marker's value, its time to live in ms (0: none), then each write as
    // argument count, command, index of its key in KEYS, arguments.
    private const string Script = """
        local markers = tonumber(ARGV[1])
        for i = 1, markers do
          if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
        end
        if ARGV[2] == '1' and redis.call('SISMEMBER', KEYS[markers + 1], ARGV[3]) == 1 then return -1 end
        local i = 6
        while i <= #ARGV do
          local count = tonumber(ARGV[i])
          redis.call(ARGV[i + 1], KEYS[tonumber(ARGV[i + 2])], unpack(ARGV, i + 3, i + 2 + count))
          i = i + 3 + count
        end
        local ttl = tonumber(ARGV[5])
        for m = 1, markers do
          if ttl > 0 then redis.call('SET', KEYS[m], ARGV[4], 'PX', ttl) else redis.call('SET', KEYS[m], ARGV[4]) end
        end
        return 1
        """;

    /// <summary>
    /// Applies <paramref name="writes"/> only if <paramref name="key"/> was never processed in <paramref name="scope"/>,
    /// and marks it processed, atomically.
    /// </summary>
    /// <returns>True when the writes were applied now; false when the key had been processed before.</returns>
    public static Task<bool> ExecuteAsync(IDatabase db, string scope, string key, Action<OnceWrites> writes, TimeSpan? retention = null,
        SetMember? settled = null) =>
        ExecuteAllAsync(db, scope, [key], writes, retention, settled);

    /// <summary>
    /// Like <see cref="ExecuteAsync"/> for several keys at once: the writes apply only if none of the keys was processed,
    /// and then every key is marked. All or nothing, so work that produced several results at one price (a teacher's
    /// answer with n choices) is never half recorded.
    /// </summary>
    /// <param name="settled">A set membership that makes the keys done whatever their markers say: markers are removed once
    /// their effect is settled downstream (a query made final), so a late duplicate is recognised by that instead.</param>
    /// <returns>True when applied now; false when some key had been processed before, or the work is settled (nothing was written).</returns>
    public static async Task<bool> ExecuteAllAsync(IDatabase db, string scope, IReadOnlyList<string> keys, Action<OnceWrites> writes, TimeSpan? retention = null,
        SetMember? settled = null)
    {
        var recorded = new OnceWrites(keys.Count + (settled is null ? 0 : 1));
        foreach (var key in keys) recorded.Keys.Add(MarkerKey(scope, key));
        if (settled is { } s) recorded.Keys.Add(s.Set);
        recorded.Args.AddRange([keys.Count, settled is null ? 0 : 1, settled?.Member ?? RedisValue.EmptyString,
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), (long)(retention?.TotalMilliseconds ?? 0)]);
        writes(recorded);
        var result = await db.ScriptEvaluateAsync(Script, [.. recorded.Keys], [.. recorded.Args]).ConfigureAwait(false);
        return (long)result == 1;
    }

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

/// <summary>The writes a <see cref="ProcessOnce"/> call applies with its marker, recorded to run in its script.</summary>
public sealed class OnceWrites
{
    internal OnceWrites(int reservedKeys) => Keys = new List<RedisKey>(reservedKeys + 4);

    internal List<RedisKey> Keys { get; }

    internal List<RedisValue> Args { get; } = new(32);

    /// <summary>XADD <paramref name="stream"/> * with <paramref name="fields"/>.</summary>
    public void StreamAdd(RedisKey stream, NameValueEntry[] fields)
    {
        Command("XADD", stream, fields.Length * 2 + 1);
        Args.Add("*");
        foreach (var field in fields)
        {
            Args.Add(field.Name);
            Args.Add(field.Value);
        }
    }

    /// <summary>HINCRBY <paramref name="key"/> <paramref name="field"/> <paramref name="by"/>.</summary>
    public void HashIncrement(RedisKey key, RedisValue field, long by = 1)
    {
        Command("HINCRBY", key, 2);
        Args.Add(field);
        Args.Add(by);
    }

    /// <summary>INCRBY <paramref name="key"/> <paramref name="by"/>.</summary>
    public void StringIncrement(RedisKey key, long by = 1)
    {
        Command("INCRBY", key, 1);
        Args.Add(by);
    }

    private void Command(string name, RedisKey key, int arguments)
    {
        Keys.Add(key);
        Args.Add(arguments);
        Args.Add(name);
        Args.Add(Keys.Count);
    }
}

/// <summary>A member of a set whose presence settles work for good (a query in its run's final set).</summary>
public readonly record struct SetMember(RedisKey Set, RedisValue Member)
{
    public Task<bool> IsSettledAsync(IDatabase db) => db.SetContainsAsync(Set, Member);
}
