using AmDistill.Scoring.Core;

namespace AmDistill.Scoring.Tests;

public sealed class StatisticsTests
{
    // DeepDistill §3.1: the worked examples, which use the sample standard deviation.
    [Theory]
    [InlineData(new[] { 0.5, 0.5, 0.5, 0.5, 0.5 }, 0.0, 0.0)]
    [InlineData(new[] { 0.9, 0.1, 0.7, 0.3, 0.5 }, 0.63, 0.566)]
    [InlineData(new[] { 0.6, 0.8, 0.7, 0.7, 0.7 }, 0.10, 0.090)]
    [InlineData(new[] { 0.3, 0.5, 0.4, 0.4, 0.4 }, 0.18, 0.158)]
    public void The_papers_CV_examples_come_back_with_the_sample_std(double[] scores, double paperCv, double populationCv)
    {
        Assert.Equal(paperCv, Statistics.CoefficientOfVariation(scores, StdConvention.Sample), 2);
        Assert.Equal(populationCv, Statistics.CoefficientOfVariation(scores, StdConvention.Population), 3);
    }

    [Fact]
    public void CV_is_zero_when_the_mean_is_zero_and_for_a_single_sample()
    {
        Assert.Equal(0, Statistics.CoefficientOfVariation([0, 0, 0, 0], StdConvention.Sample));
        Assert.Equal(0, Statistics.CoefficientOfVariation([0.7], StdConvention.Sample));
        Assert.Equal(0, Statistics.CoefficientOfVariation([], StdConvention.Population));
    }

    [Fact]
    public void Pass_rate_counts_scores_strictly_above_the_threshold()
    {
        Assert.Equal(0.5, Statistics.PassRate([1, 0.99, 1, 0], 0.99));
        Assert.Equal(0.25, Statistics.PassRate([5, 4.99, 3, 0], Thresholds.Paper.Science));
        Assert.Equal(0.75, Statistics.PassRate([0.8, 0.71, 0.7, 0.9], Thresholds.Paper.Other));
        Assert.Equal(0, Statistics.PassRate([], 0.99));
    }
}

public sealed class SelectionTests
{
    private static readonly SelectionOptions Options = new() { Teacher = "r1" };

    private static QueryRecord Query(string id, QueryCategory category, params double[] r1) =>
        new(id, category, new Dictionary<string, IReadOnlyList<ScoredResponse>>
        {
            ["r1"] = [.. r1.Select((s, i) => new ScoredResponse($"{id}-{i}", s))],
        });

    [Fact]
    public void Algorithm1_drops_a_query_whose_best_score_is_below_the_threshold()
    {
        var selection = SelectionPolicies.StageOne(Query("q", QueryCategory.Math, 0, 0, 0.5, 0), Options);
        Assert.False(selection.Kept);
        Assert.Contains("best verify_score", selection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Algorithm1_keeps_only_the_passing_responses_of_a_challenging_query()
    {
        var selection = SelectionPolicies.StageOne(Query("q", QueryCategory.Code, 1, 0.5, 1, 0), Options);
        Assert.True(selection.Kept);
        Assert.Equal(["q-0", "q-2"], selection.Responses.Select(r => r.SampleId));
        Assert.StartsWith("challenging", selection.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(QueryCategory.Math)]
    [InlineData(QueryCategory.Code)]
    [InlineData(QueryCategory.Science)]
    [InlineData(QueryCategory.InstructionFollowing)]
    public void Algorithm1_drops_an_easy_query_outside_other(QueryCategory category)
    {
        var top = category == QueryCategory.Science ? 5.0 : 1.0;
        var selection = SelectionPolicies.StageOne(Query("q", category, top, top, top, top), Options);
        Assert.False(selection.Kept);
        Assert.StartsWith("easy", selection.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Algorithm1_keeps_about_half_of_the_easy_other_queries_and_the_same_half_for_the_same_seed()
    {
        var queries = Enumerable.Range(0, 2000).Select(i => Query($"q{i}", QueryCategory.Other, 0.9, 0.9, 0.9, 0.9)).ToArray();
        var kept = queries.Where(q => SelectionPolicies.StageOne(q, Options).Kept).Select(q => q.QueryId).ToArray();
        Assert.InRange(kept.Length, 900, 1100);
        Assert.Equal(kept, queries.Where(q => SelectionPolicies.StageOne(q, Options).Kept).Select(q => q.QueryId));
        var otherSeed = queries.Where(q => SelectionPolicies.StageOne(q, Options with { Seed = 1 }).Kept).Select(q => q.QueryId);
        Assert.NotEqual(kept, otherSeed);
    }

    [Fact]
    public void A_best_score_exactly_at_the_threshold_survives_step_one_but_nothing_passes()
    {
        // The paper drops on max < threshold but passes on score > threshold: at equality nothing is kept.
        var selection = SelectionPolicies.StageOne(Query("q", QueryCategory.Math, 0.99, 0, 0, 0), Options);
        Assert.False(selection.Kept);
        Assert.Equal("no response passes its threshold", selection.Reason);
    }

    [Fact]
    public void Science_uses_its_0_to_5_scale_and_per_category_CV_thresholds_apply()
    {
        var query = Query("q", QueryCategory.Science, 5, 4.5, 5, 5);
        Assert.True(SelectionPolicies.StageOne(query, Options).Kept); // CV 0.051 > 0.05
        var strict = Options with { CvThresholds = new Dictionary<QueryCategory, double> { [QueryCategory.Science] = 0.2 } };
        Assert.False(SelectionPolicies.StageOne(query, strict).Kept);
    }

    [Fact]
    public void Stage2_keeps_the_highest_CV_queries_per_category_with_one_passing_response_each()
    {
        var selector = new StageTwoSelector(Options, new Dictionary<QueryCategory, int> { [QueryCategory.Math] = 2 });
        selector.Offer(Query("low", QueryCategory.Math, 1, 1, 1, 0.5));
        selector.Offer(Query("high", QueryCategory.Math, 1, 0, 0, 0));
        selector.Offer(Query("mid", QueryCategory.Math, 1, 1, 0, 0));
        selector.Offer(Query("easy", QueryCategory.Math, 1, 1, 1, 1));
        selector.Offer(Query("code", QueryCategory.Code, 1, 0, 1, 0));

        var results = selector.Results().ToArray();
        Assert.Equal(["code", "high", "mid"], results.Select(r => r.Query.QueryId).Order());
        Assert.Equal(["high", "mid"], results.Where(r => r.Query.Category == QueryCategory.Math).Select(r => r.Query.QueryId));
        Assert.All(results, r => Assert.Single(r.Responses));
        Assert.All(results, r => Assert.True(r.Responses[0].VerifyScore > 0.99));
    }

    [Fact]
    public void The_band_policy_keeps_queries_the_teacher_sometimes_solves()
    {
        Assert.True(SelectionPolicies.Band(Query("q", QueryCategory.Math, 1, 0, 0, 0), Options).Kept);
        Assert.False(SelectionPolicies.Band(Query("q", QueryCategory.Math, 1, 1, 1, 1), Options).Kept);
        Assert.False(SelectionPolicies.Band(Query("q", QueryCategory.Math, 0, 0, 0, 0), Options).Kept);
        Assert.False(SelectionPolicies.Band(Query("q", QueryCategory.Math, 1, 0, 0, 0), Options, 0.3, 1).Kept);
    }
}

public sealed class DifficultyTests
{
    private static readonly DifficultyLadder Ladder = new("weak", "mid", "strong");

    private static QueryRecord Query(double[] weak, double[] mid, double[] strong) =>
        new("q", QueryCategory.Math, new Dictionary<string, IReadOnlyList<ScoredResponse>>
        {
            ["weak"] = [.. weak.Select(s => new ScoredResponse("w", s))],
            ["mid"] = [.. mid.Select(s => new ScoredResponse("m", s))],
            ["strong"] = [.. strong.Select(s => new ScoredResponse("s", s))],
        });

    [Theory]
    [InlineData(new[] { 1.0, 1, 1, 1 }, new[] { 1.0, 1, 1, 1 }, new[] { 1.0, 1, 1, 1 }, DifficultyLevel.Easy)]
    [InlineData(new[] { 1.0, 0, 0, 0 }, new[] { 1.0, 1, 1, 1 }, new[] { 1.0, 1, 1, 1 }, DifficultyLevel.L1)]
    [InlineData(new[] { 0.0, 0, 0, 0 }, new[] { 1.0, 1, 1, 1 }, new[] { 1.0, 1, 1, 1 }, DifficultyLevel.L2)]
    [InlineData(new[] { 0.0, 0, 0, 0 }, new[] { 0.0, 1, 0, 0 }, new[] { 1.0, 1, 1, 1 }, DifficultyLevel.L2)]
    [InlineData(new[] { 0.0, 0, 0, 0 }, new[] { 0.0, 0, 0, 0 }, new[] { 0.0, 1, 0, 0 }, DifficultyLevel.L3)]
    [InlineData(new[] { 0.0, 0, 0, 0 }, new[] { 0.0, 0, 0, 0 }, new[] { 0.0, 0, 0, 0 }, DifficultyLevel.Unsolved)]
    public void Levels_follow_which_teachers_can_solve_the_query(double[] weak, double[] mid, double[] strong, DifficultyLevel level) =>
        Assert.Equal(level, Ladder.Grade(Query(weak, mid, strong), Thresholds.Paper));
}
