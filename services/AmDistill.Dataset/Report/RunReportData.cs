using AmDistill.Dataset.Samples;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Report;

/// <summary>A query of the report's hardest list: its difficulty and each teacher's pass rate.</summary>
public sealed record HardQuery(string QueryId, QueryCategory Category, DifficultyLevel Level, IReadOnlyDictionary<string, double> PassRates, double MeanPassRate);

/// <summary>What a hard query asks and one answer to it, cut to <see cref="RunReportData.ExcerptChars"/> characters each.</summary>
public sealed record QueryExample(string Question, string Teacher, bool Passed, string Answer);

/// <summary>A teacher's cost so far (from the run's counters), for cost per selected sample.</summary>
public sealed record TeacherCost(string Teacher, long Samples, long PromptTokens, long CompletionTokens, double CostUsd);

/// <summary>
/// What the run report shows, aggregated query by query in one pass over the final query records, so its memory does
/// not grow with the run: per teacher and category a histogram of per-query pass rates, the CV distribution of the
/// selection teacher, the difficulty mix, and Stage I's selection by category and difficulty.
/// </summary>
public sealed class RunReportData
{
    /// <summary>Pass-rate bins: 0, then quarters, then exactly 1 (with 4 passes each rate has a bin of its own).</summary>
    public static readonly string[] PassRateBins = ["0", "(0, ¼]", "(¼, ½]", "(½, ¾]", "(¾, 1)", "1"];

    /// <summary>CV bins: the first ends at the paper's CV_t (0.05) — left of it Stage I calls a query easy.</summary>
    public static readonly string[] CvBins = ["≤ 0.05", "(0.05, 0.5]", "(0.5, 1]", "(1, 1.5]", "(1.5, 2]", "> 2"];

    public static readonly QueryCategory[] Categories = QueryCategories.All;

    public RunReportData(string run, IReadOnlyList<string> teachers, string selectionTeacher, SelectionOptions selection, DifficultyLadder ladder)
    {
        Run = run;
        Teachers = teachers;
        SelectionTeacher = selectionTeacher;
        _selection = selection;
        _ladder = ladder;
        foreach (var teacher in teachers)
            foreach (var category in Categories)
                PassRates[(teacher, category)] = new long[PassRateBins.Length];
        foreach (var category in Categories) Cv[category] = new long[CvBins.Length];
    }

    private readonly SelectionOptions _selection;
    private readonly DifficultyLadder _ladder;

    public string Run { get; }
    public IReadOnlyList<string> Teachers { get; }
    public string SelectionTeacher { get; }
    public DateTimeOffset Generated { get; init; } = DateTimeOffset.UtcNow;

    public long Queries { get; private set; }
    public Dictionary<QueryCategory, long> QueriesByCategory { get; } = [];
    public Dictionary<(string Teacher, QueryCategory Category), long[]> PassRates { get; } = [];
    public Dictionary<(string Teacher, QueryCategory Category), (long Passed, long Samples)> Passes { get; } = [];

    /// <summary>Per teacher and category: queries answered, and those it passed at least once (pass@k, k = its passes).</summary>
    public Dictionary<(string Teacher, QueryCategory Category), (long Solved, long Queries)> Solved { get; } = [];
    public Dictionary<QueryCategory, long[]> Cv { get; } = [];
    public Dictionary<(QueryCategory Category, DifficultyLevel Level), long> Difficulty { get; } = [];
    public Dictionary<(QueryCategory Category, DifficultyLevel Level), (long Queries, long Samples)> Selected { get; } = [];
    public IReadOnlyList<TeacherCost> Costs { get; set; } = [];

    /// <summary>Verdicts decided by the judge or the reward model instead of a rule, per category (AM names).</summary>
    public IReadOnlyDictionary<string, long> JudgeDecided { get; set; } = new Dictionary<string, long>();

    /// <summary>Samples settled as unscored because their task or verification was dead-lettered, by "stage|reason".</summary>
    public IReadOnlyDictionary<string, long> DeadLettered { get; set; } = new Dictionary<string, long>();

    public long SelectedSamples => Selected.Values.Sum(v => v.Samples);
    public double CostUsd => Costs.Sum(c => c.CostUsd);
    public double? CostPerSelectedSample => SelectedSamples > 0 ? CostUsd / SelectedSamples : null;

    public void Add(QueryRecord query)
    {
        Queries++;
        QueriesByCategory[query.Category] = QueriesByCategory.GetValueOrDefault(query.Category) + 1;
        var threshold = _selection.Thresholds.For(query.Category);
        foreach (var teacher in Teachers)
        {
            var scores = query.Scores(teacher);
            if (scores.Count == 0) continue;
            var rate = Statistics.PassRate(scores, threshold);
            PassRates[(teacher, query.Category)][PassRateBin(rate)]++;
            var (passed, samples) = Passes.GetValueOrDefault((teacher, query.Category));
            Passes[(teacher, query.Category)] = (passed + scores.Count(s => s > threshold), samples + scores.Count);
            var (solved, answered) = Solved.GetValueOrDefault((teacher, query.Category));
            Solved[(teacher, query.Category)] = (solved + (rate > 0 ? 1 : 0), answered + 1);
        }
        var selectionScores = query.Scores(SelectionTeacher);
        if (selectionScores.Count > 0)
            Cv[query.Category][CvBin(Statistics.CoefficientOfVariation(selectionScores, _selection.Std))]++;
        var level = _ladder.Grade(query, _selection.Thresholds);
        Difficulty[(query.Category, level)] = Difficulty.GetValueOrDefault((query.Category, level)) + 1;
        KeepIfHardest(query, level);
        var stageOne = SelectionPolicies.StageOne(query, _selection);
        if (!stageOne.Kept) return;
        var (q, s) = Selected.GetValueOrDefault((query.Category, level));
        Selected[(query.Category, level)] = (q + 1, s + stageOne.Responses.Count);
    }

    /// <summary>The hardest queries seen, hardest first (Unsolved, then L3 … Easy; within a level the lowest mean pass
    /// rate): where a user looks first when choosing training data. At most <see cref="HardestCount"/> are kept.</summary>
    public List<HardQuery> Hardest { get; } = [];

    public const int HardestCount = 20;

    /// <summary>The hardest queries' question and an answer: the selection teacher's passing one where there is one, else
    /// any passing one, else the selection teacher's (so a user sees what "hard" looks like before choosing data).</summary>
    public Dictionary<string, QueryExample> Examples { get; } = new(StringComparer.Ordinal);

    public const int ExcerptChars = 600;

    /// <summary>Offers a sample as its query's example; it is taken if the query is among the hardest and it beats the one held.</summary>
    public void OfferExample(StoredSample sample)
    {
        if (!Hardest.Any(h => h.QueryId == sample.QueryId)) return;
        int Rank(bool passed, string teacher) => (passed ? 2 : 0) + (teacher == SelectionTeacher ? 1 : 0);
        if (Examples.TryGetValue(sample.QueryId, out var held) && Rank(held.Passed, held.Teacher) >= Rank(sample.Passed, sample.Teacher)) return;
        Examples[sample.QueryId] = new QueryExample(Excerpt(sample.Prompt ?? ""), sample.Teacher, sample.Passed, Excerpt(sample.Answer));
    }

    private static string Excerpt(string text) => text.Length <= ExcerptChars ? text : text[..ExcerptChars] + " …";

    private static int Hardness(DifficultyLevel level) => level switch
    {
        DifficultyLevel.Unsolved => 4,
        DifficultyLevel.L3 => 3,
        DifficultyLevel.L2 => 2,
        DifficultyLevel.L1 => 1,
        _ => 0,
    };

    private void KeepIfHardest(QueryRecord query, DifficultyLevel level)
    {
        var rates = Teachers.Where(t => query.Scores(t).Count > 0)
            .ToDictionary(t => t, t => Statistics.PassRate(query.Scores(t), _selection.Thresholds.For(query.Category)));
        var hard = new HardQuery(query.QueryId, query.Category, level, rates, rates.Count > 0 ? rates.Values.Average() : 0);
        Hardest.Add(hard);
        Hardest.Sort((a, b) => Hardness(b.Level) != Hardness(a.Level) ? Hardness(b.Level).CompareTo(Hardness(a.Level))
            : a.MeanPassRate != b.MeanPassRate ? a.MeanPassRate.CompareTo(b.MeanPassRate) : string.CompareOrdinal(a.QueryId, b.QueryId));
        if (Hardest.Count > HardestCount) Hardest.RemoveAt(HardestCount);
    }

    public static int PassRateBin(double rate) => rate <= 0 ? 0 : rate >= 1 ? 5 : rate <= 0.25 ? 1 : rate <= 0.5 ? 2 : rate <= 0.75 ? 3 : 4;

    public static int CvBin(double cv) => cv <= 0.05 ? 0 : cv <= 0.5 ? 1 : cv <= 1 ? 2 : cv <= 1.5 ? 3 : cv <= 2 ? 4 : 5;
}
