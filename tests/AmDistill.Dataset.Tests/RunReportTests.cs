using AmDistill.Dataset.Report;
using AmDistill.Runs;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Tests;

public sealed class RunReportTests
{
    private static readonly RunConfiguration Run = RunConfiguration.Parse("""
        { "run": "r", "teachers": [ { "name": "weak" }, { "name": "middle" }, { "name": "strong" } ] }
        """).Configuration!;

    private static QueryRecord Query(string id, QueryCategory category, double[] weak, double[] middle, double[] strong) =>
        new(id, category, new Dictionary<string, IReadOnlyList<ScoredResponse>>
        {
            ["weak"] = [.. weak.Select((s, i) => new ScoredResponse($"{id}-w{i}", s))],
            ["middle"] = [.. middle.Select((s, i) => new ScoredResponse($"{id}-m{i}", s))],
            ["strong"] = [.. strong.Select((s, i) => new ScoredResponse($"{id}-s{i}", s))],
        });

    private static RunReportData Report()
    {
        var data = new RunReportData("r", ["weak", "middle", "strong"], Run.SelectionTeacher, Run.ExportOptions(Export.ExportPolicy.StageOne).Selection, Run.Ladder)
        {
            Costs = [new("weak", 12, 100, 1000, 0.5), new("middle", 12, 100, 1000, 1), new("strong", 12, 100, 1000, 2.5)],
        };
        data.Add(Query("easy", QueryCategory.Math, [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]));       // Easy; CV 0: not selected
        data.Add(Query("l2", QueryCategory.Math, [0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 1]));         // L2; strong 3/4: CV > 0.05, 3 selected
        data.Add(Query("unsolved", QueryCategory.Code, [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]));   // Unsolved
        return data;
    }

    [Fact]
    public void The_figures_are_counted_query_by_query()
    {
        var data = Report();
        Assert.Equal(3, data.Queries);
        Assert.Equal([1L, 0, 0, 0, 0, 1], data.PassRates[("weak", QueryCategory.Math)]);     // 0 and 1
        Assert.Equal([0L, 1, 0, 0, 0, 1], data.PassRates[("middle", QueryCategory.Math)]);   // ¼ and 1
        Assert.Equal([0L, 0, 0, 1, 0, 1], data.PassRates[("strong", QueryCategory.Math)]);   // ¾ and 1
        Assert.Equal((7L, 8L), data.Passes[("strong", QueryCategory.Math)]);
        Assert.Equal((1L, 2L), data.Solved[("weak", QueryCategory.Math)]);   // pass@4: the easy query only
        Assert.Equal((0L, 1L), data.Solved[("strong", QueryCategory.Code)]);
        Assert.Equal([1L, 0, 1, 0, 0, 0], data.Cv[QueryCategory.Math]);                      // CV 0, then ⅔ (sample std ½ of 1,1,0,1 / mean ¾)
        Assert.Equal(1, data.Difficulty[(QueryCategory.Math, DifficultyLevel.Easy)]);
        Assert.Equal(1, data.Difficulty[(QueryCategory.Math, DifficultyLevel.L2)]);
        Assert.Equal(1, data.Difficulty[(QueryCategory.Code, DifficultyLevel.Unsolved)]);
        Assert.Equal((1L, 3L), data.Selected[(QueryCategory.Math, DifficultyLevel.L2)]);
        Assert.Equal(3, data.SelectedSamples);
        Assert.Equal(4.0 / 3, data.CostPerSelectedSample!.Value, 9);
        // Hardest first: Unsolved, then L2, then Easy; each with every teacher's pass rate.
        Assert.Equal(["unsolved", "l2", "easy"], data.Hardest.Select(h => h.QueryId));
        Assert.Equal((0.0, 0.25, 0.75), (data.Hardest[1].PassRates["weak"], data.Hardest[1].PassRates["middle"], data.Hardest[1].PassRates["strong"]));
    }

    [Fact]
    public void The_hardest_list_keeps_only_the_hardest_twenty()
    {
        var data = Report();
        for (var i = 0; i < 30; i++)
            data.Add(Query($"l3-{i:D2}", QueryCategory.Math, [0, 0, 0, 0], [0, 0, 0, 0], [.. Enumerable.Range(0, 4).Select(p => p <= i % 3 ? 1.0 : 0)]));
        Assert.Equal(RunReportData.HardestCount, data.Hardest.Count);
        Assert.Equal("unsolved", data.Hardest[0].QueryId);
        Assert.All(data.Hardest.Skip(1), h => Assert.Equal(DifficultyLevel.L3, h.Level));
        Assert.Equal(0.25 / 3, data.Hardest[1].MeanPassRate, 9); // the L3 queries the strongest passes least
    }

    /// <summary>An evaluation's table: per benchmark (the id's first segment) and model, avg@k over the answers and pass@k
    /// over the problems; the evaluated job's curve beside it.</summary>
    [Fact]
    public void An_evaluation_reports_avg_and_pass_at_k_per_benchmark_and_model_with_the_training_curve()
    {
        var data = new RunReportData("r-eval", ["base", "sft"], "sft", Run.ExportOptions(Export.ExportPolicy.StageOne).Selection, Run.Ladder) { Evaluation = true };
        QueryRecord Problem(string id, double[] @base, double[] sft) => new(id, QueryCategory.Math, new Dictionary<string, IReadOnlyList<ScoredResponse>>
        {
            ["base"] = [.. @base.Select((s, i) => new ScoredResponse($"{id}-b{i}", s))],
            ["sft"] = [.. sft.Select((s, i) => new ScoredResponse($"{id}-s{i}", s))],
        });
        data.Add(Problem("aime24/aime2024-I-01", [0, 0, 0, 0], [1, 0, 1, 0]));
        data.Add(Problem("aime24/aime2024-I-02", [1, 0, 0, 0], [1, 1, 1, 1]));
        data.Add(Problem("math500/test/algebra/1.json", [1, 1, 1, 1], [1, 1, 1, 0]));
        Assert.Equal((1L, 8L, 1L, 2L), data.Benchmarks["aime24"]["base"]);  // avg@4 1/8, pass@4 1/2
        Assert.Equal((6L, 8L, 2L, 2L), data.Benchmarks["aime24"]["sft"]);   // avg@4 6/8, pass@4 2/2
        Assert.Equal((3L, 4L, 1L, 1L), data.Benchmarks["math500"]["sft"]);
        data.TrainingJob = "r/sft";
        data.TrainingCurve = [new(1, 2.5, 1e-5, 900, 0.31), new(2, 1.25, 8e-5, 1100, 0.35)];

        var html = RunReportHtml.Render(data);
        var table = html[html.IndexOf("id=\"benchmarks\"", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("</table>", StringComparison.Ordinal)];
        Assert.Contains("<th>base avg@k</th><th>base pass@k</th><th>sft avg@k</th><th>sft pass@k</th>", table, StringComparison.Ordinal);
        Assert.Contains("<tr><td>aime24</td><td>2</td><td>12.5 % <span class=\"muted\">(k=4)</span></td><td>50.0 %</td><td>75.0 % <span class=\"muted\">(k=4)</span></td><td>100.0 %</td></tr>", table, StringComparison.Ordinal);
        Assert.Contains("<tr><td>math500</td><td>1</td>", table, StringComparison.Ordinal);
        Assert.Contains("Job <code>r/sft</code>: 2 steps, loss 2.5 → 1.25, mean 1000 tokens/s, mean MFU 33.0 %.", html, StringComparison.Ordinal);
        Assert.Contains("id=\"training-curve\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"benchmarks\"", RunReportHtml.Render(Report()), StringComparison.Ordinal); // a distillation run has none
    }

    [Fact]
    public void The_page_holds_every_chart_and_table()
    {
        var html = RunReportHtml.Render(Report());
        foreach (var id in new[] { "cost", "cost-per-selected", "pass-rate-math", "pass-rate-code", "pass-rates", "cv", "difficulty", "hardest", "selected-category", "selected-difficulty", "selected" })
            Assert.Contains($"id=\"{id}\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("pass-rate-science", html, StringComparison.Ordinal); // no science queries, no empty chart
        Assert.Contains("$1.333333", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.Ordinal);
        Assert.Contains("Samples dead-lettered, counted as unscored (<code>amdistill run redrive</code> after fixing the cause): none", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_hard_query_shows_its_question_and_the_best_answer_there_is_escaped()
    {
        var data = Report();
        Samples.StoredSample Sample(string query, string teacher, bool passed, string answer) => new(
            $"{query}-{teacher}-{answer.Length}", "r", query, QueryCategory.Math, teacher, teacher, 0, "Is <b>x</b> > 1?", "think", answer, "stop", false,
            0, 0, 0, null, passed ? 1 : 0, passed, true, "rule");
        data.OfferExample(Sample("l2", "weak", false, "no idea"));
        data.OfferExample(Sample("l2", "middle", true, "x = 2, <script>"));
        data.OfferExample(Sample("l2", "strong", false, "wrong"));           // a failing answer never replaces a passing one
        data.OfferExample(Sample("unsolved", "weak", false, new string('a', 1000)));
        data.OfferExample(Sample("unsolved", "strong", false, "the strongest tried"));
        data.OfferExample(Sample("not-hard", "strong", true, "ignored"));
        Assert.Equal(("middle", true), (data.Examples["l2"].Teacher, data.Examples["l2"].Passed));
        Assert.Equal("the strongest tried", data.Examples["unsolved"].Answer);
        Assert.False(data.Examples.ContainsKey("not-hard"));

        data.OfferExample(Sample("easy", "weak", true, new string('a', 1000)));
        Assert.Equal(RunReportData.ExcerptChars + 2, data.Examples["easy"].Answer.Length); // cut, with " …"
        var html = RunReportHtml.Render(data);
        Assert.Contains("<summary><code>l2</code>: question and middle's answer (passed)</summary><pre>Is &lt;b&gt;x&lt;/b&gt; &gt; 1?</pre><pre>x = 2, &lt;script&gt;</pre>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_explorer_holds_the_hardest_and_the_highest_cv_queries_in_every_order_without_script()
    {
        var data = Report();
        for (var i = 0; i < 25; i++) // 25 unsolved queries fill the hardest list; the varied ones below come in by their CV
            data.Add(Query($"unsolved-{i:D2}", QueryCategory.Math, [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]));
        data.Add(Query("varied", QueryCategory.Math, [1, 1, 1, 1], [1, 1, 1, 1], [1, 0, 0, 0]));   // strong ¼: CV 2
        data.Add(Query("steady", QueryCategory.Math, [1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1]));   // CV 0: in neither list
        Assert.All(data.Hardest, h => Assert.Equal(DifficultyLevel.Unsolved, h.Level));
        Assert.Equal(["varied", "l2"], data.HighestCv.Select(q => q.QueryId));
        Assert.Equal(2.0, data.HighestCv[0].Cv!.Value, 9);
        Assert.Equal(RunReportData.HardestCount + 2, data.Explored.Count);
        Assert.DoesNotContain(data.Explored, q => q.QueryId == "steady");

        Samples.StoredSample Failed(string id, string verdict) => new(id, "r", "varied", QueryCategory.Math, "strong", "strong", 0, "q", null, "a", "stop", false,
            0, 0, 0, null, 0, false, true, verdict);
        data.OfferExample(Failed("s1", "math: not equivalent; expected 3, got 4"));
        data.OfferExample(Failed("s1", "math: not equivalent; expected 3, got 4"));   // a second copy of the same sample
        data.OfferExample(Failed("s2", "math: not equivalent; expected 3, got 4"));
        data.OfferExample(Failed("s3", "truncated <answer>"));
        Assert.Equal(new Dictionary<string, int> { ["math: not equivalent; expected 3, got 4"] = 2, ["truncated <answer>"] = 1 }, data.FailureVerdicts["varied"]);

        var html = RunReportHtml.Render(data);
        Assert.DoesNotContain("<script", html, StringComparison.Ordinal);
        // One table per order (difficulty, CV, mean, 3 teachers, id), one radio button each; the checked one is shown by CSS.
        for (var order = 0; order < 7; order++)
        {
            Assert.Contains($"id=\"sort-{order}\"", html, StringComparison.Ordinal);
            Assert.Contains($"#sort-{order}:checked~#{(order == 0 ? "hardest" : $"explorer-{order}")}{{display:table}}", html, StringComparison.Ordinal);
        }
        string Table(string id)
        {
            var start = html.IndexOf($"<table id=\"{id}\">", StringComparison.Ordinal);
            return html[start..html.IndexOf("</table>", start, StringComparison.Ordinal)];
        }
        IEnumerable<string> Rows(string id) => System.Text.RegularExpressions.Regex.Matches(Table(id), "<code>([^<]+)</code>").Select(m => m.Groups[1].Value);
        Assert.Equal("unsolved", Rows("hardest").First());
        Assert.Equal(["varied", "l2"], Rows("explorer-1").Take(2));                 // by CV
        Assert.Equal(["varied", "l2"], Rows("explorer-5").TakeLast(2));            // by the strongest teacher's pass rate: 0 (unsolved), ¼, ¾
        Assert.Equal(Rows("hardest").Order(StringComparer.Ordinal), Rows("explorer-6")); // by id
        Assert.Contains("2 × math: not equivalent; expected 3, got 4<br>1 × truncated &lt;answer&gt;", Table("explorer-1"), StringComparison.Ordinal);
        Assert.Contains("<a href=\"#q-", Table("hardest"), StringComparison.Ordinal);
    }

    [Fact]
    public void Count_axes_are_labelled_and_tick_in_whole_counts()
    {
        var html = RunReportHtml.Render(Report());
        Assert.Contains("rotate(-90)\" text-anchor=\"middle\">queries</text>", html, StringComparison.Ordinal);
        Assert.Contains("rotate(-90)\" text-anchor=\"middle\">samples</text>", html, StringComparison.Ordinal);
        var ticks = System.Text.RegularExpressions.Regex.Matches(html, "text-anchor=\"end\">([^<]+)</text>").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(ticks);
        Assert.All(ticks, tick => Assert.True(int.TryParse(tick, System.Globalization.CultureInfo.InvariantCulture, out _), $"tick {tick}"));
    }

    [Fact]
    public void Dead_lettered_samples_are_listed_by_stage_and_reason_escaped()
    {
        var report = Report();
        report.DeadLettered = new Dictionary<string, long> { ["generation|TeacherRequestException: t: 404 <model> does not exist"] = 8 };
        var html = RunReportHtml.Render(report);
        Assert.Contains("<tr><td>generation</td><td>TeacherRequestException: t: 404 &lt;model&gt; does not exist</td><td>8</td></tr>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Samples_whose_teacher_could_not_know_the_query_are_listed_with_why()
    {
        var report = Report();
        Assert.DoesNotContain("id=\"unknown-queries\"", RunReportHtml.Render(report), StringComparison.Ordinal); // none: no paragraph
        report.UnknownQueries = new Dictionary<string, long> { ["strong|not-seen"] = 8, ["weak|no-reference-answer"] = 4 };
        var html = RunReportHtml.Render(report);
        Assert.Contains("id=\"unknown-queries\"", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>strong</td><td>the question is in no query file or ingested run the simulator reads</td><td>8</td></tr>", html, StringComparison.Ordinal);
        Assert.Contains("<tr><td>weak</td><td>the query has no reference_answer</td><td>4</td></tr>", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0.25, 1)]
    [InlineData(0.5, 2)]
    [InlineData(0.75, 3)]
    [InlineData(0.9, 4)]
    [InlineData(1, 5)]
    public void Four_passes_give_each_rate_its_own_bin(double rate, int bin) => Assert.Equal(bin, RunReportData.PassRateBin(rate));
}
