using System.Globalization;
using AmDistill.Contracts;
using AmDistill.Dataset.Samples;
using AmDistill.Scoring.Core;
using StackExchange.Redis;

namespace AmDistill.Scoring.Scores;

/// <summary>
/// Per-query verify_scores in Redis: one hash per (run, query), one field per (teacher, pass). Writing a field twice
/// writes the same value, so a redelivered verdict never double-counts and concurrent workers need no lock. When the
/// query's expected number of samples is known, the write that completes it adds the query to the run's final set,
/// in the same script, so a record is final exactly once whatever the order or repetition of verdicts.
/// </summary>
public sealed class ScoreStore(IConnectionMultiplexer redis)
{
    private const string CategoryField = "category";
    private const string ExpectedField = "expected";
    private const string Unscored = "unscored";

    private static readonly LuaScript Record = LuaScript.Prepare("""
        redis.call('HSET', @key, 'category', @category, @field, @value)
        redis.call('SADD', @queries, @query)
        local expected = tonumber(@expected)
        if expected > 0 then
          redis.call('HSET', @key, 'expected', expected)
          if redis.call('HLEN', @key) - 2 >= expected then
            return redis.call('SADD', @final, @query)
          end
        end
        return 0
        """);

    public static string FinalKey(string run) => RunKeys.Final(run);

    public static string QueryKey(string run, string query) => $"amdistill:run:{run}:query:{query}";

    public static string QueriesKey(string run) => $"amdistill:run:{run}:queries";

    /// <returns>True when this verdict made the query's record final.</returns>
    public async Task<bool> RecordAsync(VerifiedResponse verdict)
    {
        var result = await redis.GetDatabase().ScriptEvaluateAsync(Record, new
        {
            key = (RedisKey)QueryKey(verdict.RunId, verdict.QueryId),
            queries = (RedisKey)QueriesKey(verdict.RunId),
            final = (RedisKey)FinalKey(verdict.RunId),
            query = verdict.QueryId,
            category = verdict.Category.ToString(),
            field = $"{verdict.Teacher}#{verdict.Pass.ToString(CultureInfo.InvariantCulture)}#{verdict.SampleId}",
            value = verdict.Scored ? verdict.VerifyScore.ToString("R", CultureInfo.InvariantCulture) : Unscored,
            expected = verdict.ExpectedSamples,
        });
        return (long)result == 1;
    }

    public Task<bool> IsFinalAsync(string run, string query) => redis.GetDatabase().SetContainsAsync(FinalKey(run), query);

    /// <summary>Queries with at least one verdict, verdicts recorded, and queries whose record is final, in a run.</summary>
    public async Task<(long Queries, long Verdicts, long Final)> CountAsync(string run)
    {
        var db = redis.GetDatabase();
        var queries = await db.SetMembersAsync(QueriesKey(run));
        var counts = await Task.WhenAll(queries.Select(async q =>
        {
            var key = QueryKey(run, q.ToString());
            var (length, hasExpected) = (db.HashLengthAsync(key), db.HashExistsAsync(key, ExpectedField));
            return await length - 1 - (await hasExpected ? 1 : 0); // minus the category and expected fields
        }));
        return (queries.Length, counts.Sum(), await db.SetLengthAsync(FinalKey(run)));
    }

    /// <summary>The query's scored responses per teacher, in pass order; null when nothing was recorded.</summary>
    public async Task<QueryRecord?> ReadAsync(string run, string query)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(QueryKey(run, query));
        if (entries.Length == 0) return null;
        var category = Category.Other;
        var responses = new Dictionary<string, List<(int Pass, ScoredResponse Response)>>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var name = entry.Name.ToString();
            if (name == ExpectedField) continue;
            if (name == CategoryField)
            {
                category = Enum.Parse<QueryCategory>(entry.Value.ToString()).ToScoring();
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
