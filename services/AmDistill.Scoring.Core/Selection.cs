using System.Security.Cryptography;
using System.Text;

namespace AmDistill.Scoring.Core;

/// <summary>Settings shared by the selection policies.</summary>
public sealed record SelectionOptions
{
    /// <summary>Whose responses are scored and selected (the paper: DeepSeek-R1's).</summary>
    public string Teacher { get; init; } = "deepseek-r1";

    public Thresholds Thresholds { get; init; } = Thresholds.Paper;

    public StdConvention Std { get; init; } = StdConvention.Sample;

    /// <summary>CV_t for every category (the paper's v1/v2 value, 0.05) unless <see cref="CvThresholds"/> names one.</summary>
    public double CvThreshold { get; init; } = 0.05;

    /// <summary>Per-category CV_t (the paper's v3 has per-category values it does not publish).</summary>
    public IReadOnlyDictionary<QueryCategory, double> CvThresholds { get; init; } = new Dictionary<QueryCategory, double>();

    /// <summary>Seed of every random choice (the 50% draw of easy "other" queries, Stage II's response): same seed, same set.</summary>
    public int Seed { get; init; }

    public double EasyOtherKeepProbability { get; init; } = 0.5;

    public double CvThresholdFor(QueryCategory category) => CvThresholds.TryGetValue(category, out var value) ? value : CvThreshold;
}

/// <summary>What a policy decided for one query, and why.</summary>
public sealed record Selection(QueryRecord Query, bool Kept, IReadOnlyList<ScoredResponse> Responses, double Cv, double PassRate, string Reason);

public static class SelectionPolicies
{
    /// <summary>
    /// Stage I, the paper's Algorithm 1: drop the query when its best verify_score is below the category threshold;
    /// if CV &gt; CV_t keep its passing responses; otherwise keep an "other" query with probability 0.5 (its passing
    /// responses) and drop the rest.
    /// </summary>
    public static Selection StageOne(QueryRecord query, SelectionOptions options)
    {
        var scores = query.Scores(options.Teacher);
        var threshold = options.Thresholds.For(query.Category);
        var passRate = Statistics.PassRate(scores, threshold);
        if (scores.Count == 0) return Drop(query, 0, passRate, $"no responses from {options.Teacher}");
        var cv = Statistics.CoefficientOfVariation(scores, options.Std);
        var max = scores.Max();
        if (max < threshold) return Drop(query, cv, passRate, $"best verify_score {max:0.###} < threshold {threshold}");

        var cvThreshold = options.CvThresholdFor(query.Category);
        var passing = Passing(query, options);
        if (cv > cvThreshold)
            return Keep(query, passing, cv, passRate, $"challenging: CV {cv:0.###} > {cvThreshold}");
        if (query.Category == QueryCategory.Other && Draw(options.Seed, query.QueryId) < options.EasyOtherKeepProbability)
            return Keep(query, passing, cv, passRate, $"easy other: CV {cv:0.###} ≤ {cvThreshold}, kept by the 50% draw");
        return Drop(query, cv, passRate, query.Category == QueryCategory.Other
            ? $"easy other: CV {cv:0.###} ≤ {cvThreshold}, dropped by the 50% draw"
            : $"easy: CV {cv:0.###} ≤ {cvThreshold}");
    }

    /// <summary>RL-style band: keep the query (all its responses) when the teacher's pass rate lies strictly inside (min, max).</summary>
    public static Selection Band(QueryRecord query, SelectionOptions options, double min = 0, double max = 1)
    {
        var scores = query.Scores(options.Teacher);
        var passRate = Statistics.PassRate(scores, options.Thresholds.For(query.Category));
        var cv = Statistics.CoefficientOfVariation(scores, options.Std);
        return passRate > min && passRate < max
            ? Keep(query, query.Responses.GetValueOrDefault(options.Teacher) ?? [], cv, passRate, $"pass rate {passRate:0.##} in ({min}, {max})")
            : Drop(query, cv, passRate, $"pass rate {passRate:0.##} outside ({min}, {max})");
    }

    internal static IReadOnlyList<ScoredResponse> Passing(QueryRecord query, SelectionOptions options) =>
        query.Responses.TryGetValue(options.Teacher, out var responses)
            ? [.. responses.Where(r => options.Thresholds.Passes(query.Category, r.VerifyScore))]
            : [];

    private static Selection Keep(QueryRecord query, IReadOnlyList<ScoredResponse> responses, double cv, double passRate, string reason) =>
        responses.Count == 0
            ? Drop(query, cv, passRate, "no response passes its threshold")
            : new Selection(query, true, responses, cv, passRate, reason);

    private static Selection Drop(QueryRecord query, double cv, double passRate, string reason) => new(query, false, [], cv, passRate, reason);

    /// <summary>A uniform draw in [0, 1) fixed by the seed and the key: reruns select the same set.</summary>
    internal static double Draw(int seed, string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\n{key}"));
        return (BitConverter.ToUInt64(hash) >> 11) * (1.0 / (1UL << 53));
    }
}

/// <summary>
/// Stage II (annealing, paper §4.4): among queries with CV &gt; CV_t, the highest-CV ones, one random passing response
/// each, at most <c>caps[category]</c> per category (the paper's figures look capped: science 20,000, IF 10,000).
/// Streams: it holds only the current best per category (a bounded heap), never the input.
/// </summary>
public sealed class StageTwoSelector(SelectionOptions options, IReadOnlyDictionary<QueryCategory, int>? caps = null)
{
    private readonly Dictionary<QueryCategory, PriorityQueue<Selection, (double Cv, string Id)>> _best = [];
    private readonly IReadOnlyDictionary<QueryCategory, int> _caps = caps ?? new Dictionary<QueryCategory, int>();

    public Selection Offer(QueryRecord query)
    {
        var stageOne = SelectionPolicies.StageOne(query, options);
        var cvThreshold = options.CvThresholdFor(query.Category);
        if (!stageOne.Kept || stageOne.Cv <= cvThreshold)
            return stageOne with { Kept = false, Responses = [], Reason = stageOne.Kept ? $"CV {stageOne.Cv:0.###} ≤ {cvThreshold}" : stageOne.Reason };

        var passing = stageOne.Responses;
        var pick = passing[(int)(SelectionPolicies.Draw(options.Seed, query.QueryId + "\nstage2") * passing.Count)];
        var selection = stageOne with { Responses = [pick], Reason = $"CV {stageOne.Cv:0.###} > {cvThreshold}: one random passing response" };
        if (!_best.TryGetValue(query.Category, out var heap)) _best[query.Category] = heap = new();
        heap.Enqueue(selection, (selection.Cv, query.QueryId));
        if (_caps.TryGetValue(query.Category, out var cap) && heap.Count > cap) heap.Dequeue(); // drops the lowest CV
        return selection;
    }

    /// <summary>The selection, highest CV first within each category.</summary>
    public IEnumerable<Selection> Results() =>
        _best.OrderBy(kv => kv.Key).SelectMany(kv => kv.Value.UnorderedItems.Select(i => i.Element).OrderByDescending(s => s.Cv).ThenBy(s => s.Query.QueryId, StringComparer.Ordinal));
}
