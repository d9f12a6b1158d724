using System.Globalization;
using AmDistill.Contracts;
using AmDistill.Scoring.Core;
using StackExchange.Redis;

namespace AmDistill.Scoring.Scores;

/// <summary>
/// Per-query verify_scores in Redis: one hash per (run, query), one field per (teacher, pass). Writing a field twice
/// writes the same value, so a redelivered verdict never double-counts and concurrent workers need no lock.
/// </summary>
public sealed class ScoreStore(IConnectionMultiplexer redis)
{
    private const string CategoryField = "category";
    private const string Unscored = "unscored";

    public static string QueryKey(string run, string query) => $"amdistill:run:{run}:query:{query}";

    public static string QueriesKey(string run) => $"amdistill:run:{run}:queries";

    public async Task RecordAsync(VerifiedResponse verdict)
    {
        var batch = redis.GetDatabase().CreateBatch();
        var key = QueryKey(verdict.RunId, verdict.QueryId);
        var writes = new[]
        {
            batch.HashSetAsync(key, [
                new HashEntry(CategoryField, verdict.Category.ToString()),
                new HashEntry($"{verdict.Teacher}#{verdict.Pass.ToString(CultureInfo.InvariantCulture)}#{verdict.SampleId}",
                    verdict.Scored ? verdict.VerifyScore.ToString("R", CultureInfo.InvariantCulture) : Unscored),
            ]),
            batch.SetAddAsync(QueriesKey(verdict.RunId), verdict.QueryId),
        };
        batch.Execute();
        await Task.WhenAll(writes);
    }

    /// <summary>Queries with at least one verdict, and verdicts recorded, in a run.</summary>
    public async Task<(long Queries, long Verdicts)> CountAsync(string run)
    {
        var db = redis.GetDatabase();
        var queries = await db.SetMembersAsync(QueriesKey(run));
        var lengths = await Task.WhenAll(queries.Select(q => db.HashLengthAsync(QueryKey(run, q.ToString()))));
        return (queries.Length, lengths.Sum(l => l - 1)); // minus the category field
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
            if (name == CategoryField)
            {
                category = Enum.Parse<QueryCategory>(entry.Value.ToString()) switch
                {
                    QueryCategory.Math => Category.Math,
                    QueryCategory.Code => Category.Code,
                    QueryCategory.Science => Category.Science,
                    QueryCategory.InstructionFollowing => Category.InstructionFollowing,
                    _ => Category.Other,
                };
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
