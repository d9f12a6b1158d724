using System.Globalization;
using AmDistill.Contracts;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Scoring.Core;
using StackExchange.Redis;

namespace AmDistill.Scoring.Scores;

/// <summary>
/// Per-query verify_scores in Redis: one hash per (run, query), one field per (teacher, pass). Writing a field twice
/// writes the same value, so a redelivered verdict never double-counts and concurrent workers need no lock. When the
/// query's expected number of samples is known, the write that completes it adds the query to the run's final set,
/// in the same script, so a record is final exactly once whatever the order or repetition of verdicts. Once the final
/// record is in the dataset store, <see cref="ReleaseAsync"/> takes the query's state out of Redis: Redis holds the
/// queries being scored, the store the history.
/// </summary>
public sealed class ScoreStore(IConnectionMultiplexer redis, IDatasetStore? dataset = null)
{
    private const string CategoryField = "category";
    private const string ExpectedField = "expected";
    private const string Unscored = "unscored";

    // In a cascade run (cascade > 0) the record waits for the first teacher's samples; then it is decided once:
    // all passed → solved, final with those alone (and the run expects fewer samples); else escalated, final when the
    // other teachers' samples (which carry the full expected count) are in.
    private static readonly LuaScript Record = LuaScript.Prepare("""
        -- A verdict for a query already final is a late duplicate (its record may be gone already): nothing to add.
        if redis.call('SISMEMBER', @final, @query) == 1 then return 0 end
        redis.call('HSET', @key, 'category', @category)
        local added = redis.call('HSET', @key, @field, @value)
        redis.call('SADD', @queries, @query)
        local expected = tonumber(@expected)
        local cascade = tonumber(@cascade)
        if cascade > 0 then
          local decision = redis.call('HGET', @decisions, @query)
          if not decision then
            if added == 1 and tonumber(@passed) == 1 then redis.call('HINCRBY', @decisions, @query .. '#passed', 1) end
            if redis.call('HLEN', @key) - 1 - redis.call('HEXISTS', @key, 'expected') < cascade then return 0 end
            local passed = tonumber(redis.call('HGET', @decisions, @query .. '#passed') or '0')
            redis.call('HDEL', @decisions, @query .. '#passed')
            if passed >= cascade then
              decision = 'solved'
              if expected > cascade then redis.call('HINCRBY', @stats, 'expected_samples', cascade - expected) end
            else
              decision = 'escalated'
            end
            redis.call('HSET', @decisions, @query, decision)
          end
          if decision == 'solved' then expected = cascade end
        end
        if expected > 0 then
          redis.call('HSET', @key, 'expected', expected)
          if redis.call('HLEN', @key) - 2 >= expected then
            return redis.call('SADD', @final, @query)
          end
        end
        return 0
        """);

    // A final query's record, its samples' generation and verification done-markers and its own store marker, unless an
    // outcome is unscored (a dead letter): a redrive reads that record and takes the outcome back.
    private static readonly LuaScript Release = LuaScript.Prepare("""
        local fields = redis.call('HGETALL', @key)
        for i = 2, #fields, 2 do
          if fields[i] == 'unscored' then return 0 end
        end
        for i = 1, #fields, 2 do
          local sample = string.match(fields[i], '^[^#]*#[^#]*#(.+)$')
          if sample then redis.call('DEL', @generation .. sample, @verification .. sample) end
        end
        redis.call('DEL', @key, @marker)
        return 1
        """);

    public static string FinalKey(string run) => RunKeys.Final(run);

    public static string QueriesKey(string run) => RunKeys.ScoredQueries(run);

    /// <returns>True when this verdict made the query's record final.</returns>
    public async Task<bool> RecordAsync(VerifiedResponse verdict)
    {
        var result = await redis.GetDatabase().ScriptEvaluateAsync(Record, new
        {
            key = (RedisKey)RunKeys.QueryRecord(verdict.RunId, verdict.QueryId),
            queries = (RedisKey)QueriesKey(verdict.RunId),
            final = (RedisKey)FinalKey(verdict.RunId),
            query = verdict.QueryId,
            category = verdict.Category.ToString(),
            field = RunKeys.QueryRecordField(verdict.Teacher, verdict.Pass, verdict.SampleId),
            value = verdict.Scored ? verdict.VerifyScore.ToString("R", CultureInfo.InvariantCulture) : Unscored,
            expected = verdict.ExpectedSamples,
            cascade = verdict.CascadeSamples,
            passed = verdict.Passed ? 1 : 0,
            decisions = (RedisKey)RunKeys.Cascade(verdict.RunId),
            stats = (RedisKey)RunKeys.Stats(verdict.RunId),
        });
        return (long)result == 1;
    }

    /// <summary>
    /// Takes a final query's state out of Redis once its record is in the dataset store: its score hash and the
    /// done-markers of its samples (late duplicates are then recognised by the query's place in the run's final set).
    /// Kept while the record holds a dead-lettered outcome, which a redrive takes back.
    /// </summary>
    public async Task<bool> ReleaseAsync(string run, string query) => (long)await redis.GetDatabase().ScriptEvaluateAsync(Release, new
    {
        key = (RedisKey)RunKeys.QueryRecord(run, query),
        marker = (RedisKey)ProcessOnce.MarkerKey(RunKeys.OnceScope("query-record", run), query),
        generation = ProcessOnce.MarkerKey(RunKeys.OnceScope("generation", run), ""),
        verification = ProcessOnce.MarkerKey(RunKeys.OnceScope("verification", run), ""),
    }) == 1;

    public Task<bool> IsFinalAsync(string run, string query) => redis.GetDatabase().SetContainsAsync(FinalKey(run), query);

    /// <summary>A run's queries with at least one verdict, its verdicts (the verification counters: released records
    /// hold none) and its final queries; constant time.</summary>
    public async Task<(long Queries, long Verdicts, long Final)> TotalsAsync(string run)
    {
        var db = redis.GetDatabase();
        var (queries, stats, final) = (db.SetLengthAsync(QueriesKey(run)), db.HashGetAllAsync(RunKeys.Stats(run)), db.SetLengthAsync(FinalKey(run)));
        var verdicts = (await stats).Where(e => e.Name.ToString() is var name && name.Contains(':')
                && (name.EndsWith(":passed", StringComparison.Ordinal) || name.EndsWith(":failed", StringComparison.Ordinal) || name.EndsWith(":unscored", StringComparison.Ordinal)))
            .Sum(e => (long)e.Value);
        return (await queries, verdicts, await final);
    }

    /// <summary>Queries with at least one verdict, verdicts held in Redis records (not those released), and queries whose record is final, in a run.</summary>
    public async Task<(long Queries, long Verdicts, long Final)> CountAsync(string run)
    {
        var db = redis.GetDatabase();
        var queries = await db.SetMembersAsync(QueriesKey(run));
        var counts = await Task.WhenAll(queries.Select(async q =>
        {
            var key = RunKeys.QueryRecord(run, q.ToString());
            var (length, hasExpected) = (db.HashLengthAsync(key), db.HashExistsAsync(key, ExpectedField));
            return await length - 1 - (await hasExpected ? 1 : 0); // minus the category and expected fields
        }));
        return (queries.Length, counts.Sum(), await db.SetLengthAsync(FinalKey(run)));
    }

    /// <summary>The query's scored responses per teacher, in pass order: from Redis while it is scored, from its final
    /// record in the dataset store once released (a scan of the run's records); null when nothing was recorded.</summary>
    public async Task<QueryRecord?> ReadAsync(string run, string query) =>
        await ReadLiveAsync(run, query)
        ?? (dataset is not null && await QueryRecordLines.FindLatestAsync(dataset, run, query) is { } line ? QueryRecordFormat.Parse(line) : null);

    /// <summary>The query's record in Redis (while it is scored, and until released); null when there is none.</summary>
    public async Task<QueryRecord?> ReadLiveAsync(string run, string query)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(RunKeys.QueryRecord(run, query));
        if (entries.Length == 0) return null;
        var category = QueryCategory.Other;
        var responses = new Dictionary<string, List<(int Pass, ScoredResponse Response)>>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var name = entry.Name.ToString();
            if (name == ExpectedField) continue;
            if (name == CategoryField)
            {
                category = Enum.Parse<QueryCategory>(entry.Value.ToString());
                continue;
            }
            if (entry.Value == Unscored) continue; // never counted as passed, nor as a score
            var parts = name.Split('#', 3);
            var list = responses.TryGetValue(parts[0], out var existing) ? existing : responses[parts[0]] = [];
            list.Add((int.Parse(parts[1], CultureInfo.InvariantCulture), new ScoredResponse(parts[2], double.Parse(entry.Value.ToString(), CultureInfo.InvariantCulture))));
        }
        return new QueryRecord(query, category, responses.ToDictionary(r => r.Key,
            r => (IReadOnlyList<ScoredResponse>)[.. r.Value.OrderBy(x => x.Pass).Select(x => x.Response)], StringComparer.Ordinal));
    }
}
