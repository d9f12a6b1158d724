using AmDistill.Dataset.Samples;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Report;

/// <summary>A query of the report's explorer: its difficulty, each teacher's pass rate, and the CV of the selection
/// teacher's scores (null without them).</summary>
public sealed record HardQuery(string QueryId, QueryCategory Category, DifficultyLevel Level, IReadOnlyDictionary<string, double> PassRates, double MeanPassRate, double? Cv = null);

/// <summary>What a hard query asks and one answer to it, cut to <see cref="RunReportData.ExcerptChars"/> characters each.</summary>
public sealed record QueryExample(string Question, string Teacher, bool Passed, string Answer);

/// <summary>A teacher's cost so far (from the run's counters), for cost per selected sample.</summary>
/// <param name="Batches">Batches the teacher answered the run through (Batch API, at the batch price); 0 for synchronous teachers.</param>
/// <summary>One training step as the trainer reported it.</summary>
public sealed record TrainingPoint(int Step, double? Loss, double? LearningRate, double? TokensPerSecond, double? Mfu);

public sealed record TeacherCost(string Teacher, long Samples, long PromptTokens, long CompletionTokens, double CostUsd, long Batches = 0);

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

    /// <summary>Samples whose teacher could not know the query (the simulator's guesses), by "teacher|reason".</summary>
    public IReadOnlyDictionary<string, long> UnknownQueries { get; set; } = new Dictionary<string, long>();

    /// <summary>An evaluation run: its query ids are <c>{benchmark}/{id}</c>, and <see cref="Benchmarks"/> is filled.</summary>
    public bool Evaluation { get; init; }

    /// <summary>Per benchmark and teacher: samples passed and answered (avg@k), problems solved at least once and answered (pass@k).</summary>
    public SortedDictionary<string, Dictionary<string, (long Passed, long Samples, long Solved, long Queries)>> Benchmarks { get; } = new(StringComparer.Ordinal);

    /// <summary>The evaluated training job (<c>run/job</c>) and its curve, one point per step, when the run evaluates one.</summary>
    public string? TrainingJob { get; set; }

    public IReadOnlyList<TrainingPoint> TrainingCurve { get; set; } = [];

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
            if (Evaluation)
            {
                var benchmark = query.QueryId.Split('/', 2)[0];
                if (!Benchmarks.TryGetValue(benchmark, out var byTeacher)) Benchmarks[benchmark] = byTeacher = new(StringComparer.Ordinal);
                var b = byTeacher.GetValueOrDefault(teacher);
                byTeacher[teacher] = (b.Passed + scores.Count(s => s > threshold), b.Samples + scores.Count, b.Solved + (rate > 0 ? 1 : 0), b.Queries + 1);
            }
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

    /// <summary>The queries whose selection-teacher scores vary most (highest CV first): the ones Stage I keeps as
    /// informative. At most <see cref="HardestCount"/> are kept.</summary>
    public List<HardQuery> HighestCv { get; } = [];

    /// <summary>The queries the explorer shows: the hardest, then those of the highest CV not among them.</summary>
    public IReadOnlyList<HardQuery> Explored => [.. Hardest.Concat(HighestCv).DistinctBy(q => q.QueryId)];

    /// <summary>The explored queries' question and an answer: the selection teacher's passing one where there is one, else
    /// any passing one, else the selection teacher's (so a user sees what "hard" looks like before choosing data).</summary>
    public Dictionary<string, QueryExample> Examples { get; } = new(StringComparer.Ordinal);

    /// <summary>Per explored query, the verdicts of its samples that did not pass, and how many samples got each.</summary>
    public Dictionary<string, Dictionary<string, int>> FailureVerdicts { get; } = new(StringComparer.Ordinal);

    private readonly HashSet<string> _verdictsSeen = new(StringComparer.Ordinal);

    public const int ExcerptChars = 600;
    private const int VerdictChars = 160;

    /// <summary>Offers a sample of an explored query: its verdict is counted if it did not pass (once per sample, whatever
    /// copies the store holds), and it becomes the query's example if it beats the one held.</summary>
    public void OfferExample(StoredSample sample)
    {
        if (!Hardest.Concat(HighestCv).Any(h => h.QueryId == sample.QueryId)) return;
        if (!sample.Passed && _verdictsSeen.Add(sample.SampleId))
        {
            if (!FailureVerdicts.TryGetValue(sample.QueryId, out var verdicts)) FailureVerdicts[sample.QueryId] = verdicts = new(StringComparer.Ordinal);
            var verdict = sample.Verdict.Length <= VerdictChars ? sample.Verdict : sample.Verdict[..VerdictChars] + " …";
            verdicts[verdict] = verdicts.GetValueOrDefault(verdict) + 1;
        }
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
        var selection = query.Scores(SelectionTeacher);
        var hard = new HardQuery(query.QueryId, query.Category, level, rates, rates.Count > 0 ? rates.Values.Average() : 0,
            selection.Count > 0 ? Statistics.CoefficientOfVariation(selection, _selection.Std) : null);
        KeepTop(Hardest, hard, HardestFirst);
        if (hard.Cv > 0) KeepTop(HighestCv, hard, HighestCvFirst);
    }

    /// <summary>Unsolved, then L3 … Easy; within a level the lowest mean pass rate; then by id.</summary>
    public static int HardestFirst(HardQuery a, HardQuery b) => Hardness(b.Level) != Hardness(a.Level) ? Hardness(b.Level).CompareTo(Hardness(a.Level))
        : a.MeanPassRate != b.MeanPassRate ? a.MeanPassRate.CompareTo(b.MeanPassRate) : string.CompareOrdinal(a.QueryId, b.QueryId);

    public static int HighestCvFirst(HardQuery a, HardQuery b) =>
        (b.Cv ?? -1) != (a.Cv ?? -1) ? (b.Cv ?? -1).CompareTo(a.Cv ?? -1) : string.CompareOrdinal(a.QueryId, b.QueryId);

    private static void KeepTop(List<HardQuery> list, HardQuery query, Comparison<HardQuery> order)
    {
        list.Add(query);
        list.Sort(order);
        if (list.Count > HardestCount) list.RemoveAt(HardestCount);
    }

    public static int PassRateBin(double rate) => rate <= 0 ? 0 : rate >= 1 ? 5 : rate <= 0.25 ? 1 : rate <= 0.5 ? 2 : rate <= 0.75 ? 3 : 4;

    public static int CvBin(double cv) => cv <= 0.05 ? 0 : cv <= 0.5 ? 1 : cv <= 1 ? 2 : cv <= 1.5 ? 3 : cv <= 2 ? 4 : 5;
}
