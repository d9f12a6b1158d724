using System.Globalization;
using System.Net;
using System.Text;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Report;

/// <summary>
/// The run report as one self-contained HTML page: charts are inline SVG drawn here (no script, no network), so it
/// opens the same from the Api, from disk next to the export, or attached to a mail.
/// </summary>
public static class RunReportHtml
{
    private static readonly string[] Palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#9c755f"];
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Render(RunReportData data)
    {
        var html = new StringBuilder();
        var categories = RunReportData.Categories.Where(c => data.QueriesByCategory.GetValueOrDefault(c) > 0).ToList();
        html.Append($$"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>AmDistill run {{E(data.Run)}}</title>
            <style>
            body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
            h1{margin-bottom:.2rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
            table{border-collapse:collapse;margin:.6rem 0} td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}
            th:first-child,td:first-child{text-align:left} .charts{display:flex;flex-wrap:wrap;gap:1rem}
            figure{margin:0} figcaption{font-weight:600;margin:.3rem 0} .muted{color:#666}
            svg text{font-size:11px;fill:#333} tr.example td{text-align:left;background:#fafafa}
            .answers pre{white-space:pre-wrap;margin:.3rem 0;font-size:12px;background:#fafafa}
            .explorer>input{position:absolute;opacity:0} .explorer>table{display:none}
            .explorer>label{display:inline-block;border:1px solid #ccc;border-radius:3px;padding:.1rem .5rem;margin:0 .3rem .3rem 0;cursor:pointer}
            td.verdicts{text-align:left;font-size:12px;max-width:22rem}
            </style></head><body>
            <h1>Run <code>{{E(data.Run)}}</code></h1>
            <p class="muted">{{data.Queries}} final queries · teachers {{E(string.Join(" → ", data.Teachers))}} (weakest first) ·
            selection on {{E(data.SelectionTeacher)}} · generated {{data.Generated.ToString("u", Invariant)}}</p>
            """);

        html.Append("<h2>Cost</h2><table id=\"cost\"><tr><th>teacher</th><th>samples</th><th>prompt tokens</th><th>completion tokens</th><th>cost (USD)</th></tr>");
        foreach (var c in data.Costs)
            html.Append($"<tr><td>{E(c.Teacher)}{(c.Batches > 0 ? $" <span class=\"muted\">(Batch API, {c.Batches} batches)</span>" : "")}</td><td>{c.Samples}</td><td>{c.PromptTokens}</td><td>{c.CompletionTokens}</td><td>{c.CostUsd.ToString("0.####", Invariant)}</td></tr>");
        html.Append($"<tr><th>all</th><th>{data.Costs.Sum(c => c.Samples)}</th><th>{data.Costs.Sum(c => c.PromptTokens)}</th><th>{data.Costs.Sum(c => c.CompletionTokens)}</th><th>{data.CostUsd.ToString("0.####", Invariant)}</th></tr></table>");
        html.Append($"<p id=\"cost-per-selected\">Cost per selected (Stage I) sample: <b>{(data.CostPerSelectedSample is { } cps ? "$" + cps.ToString("0.######", Invariant) : "n/a (nothing selected)")}</b> " +
            $"({data.SelectedSamples} samples selected).</p>");

        html.Append("<p id=\"judge-decided\">Verdicts decided by the judge or reward model, not a rule: ");
        html.Append(data.JudgeDecided.Count == 0 ? "none" : string.Join(", ", data.JudgeDecided.Select(j => $"{E(j.Key)} {j.Value}")));
        html.Append(" <span class=\"muted\">(math only where no rule could decide; science and other always).</span></p>");

        html.Append("<p id=\"dead-lettered\">Samples dead-lettered, counted as unscored (<code>amdistill run redrive</code> after fixing the cause): ");
        html.Append(data.DeadLettered.Count == 0 ? "none</p>"
            : "</p><table><tr><th>stage</th><th>reason</th><th>samples</th></tr>" + string.Concat(data.DeadLettered.Select(d =>
                $"<tr><td>{E(d.Key.Split('|', 2)[0])}</td><td>{E(d.Key.Split('|', 2)[^1])}</td><td>{d.Value}</td></tr>")) + "</table>");

        if (data.UnknownQueries.Count > 0)
            html.Append("<p id=\"unknown-queries\">Samples whose teacher could not know the query, so their pass rates say nothing of the teacher " +
                "(the teacher simulator guesses where it has not seen a question, in no query file or ingested run it reads, or where a query has no " +
                "reference answer or solution; see docs/query-schema.md):</p><table><tr><th>teacher</th><th>why</th><th>samples</th></tr>" +
                string.Concat(data.UnknownQueries.OrderBy(u => u.Key, StringComparer.Ordinal).Select(u =>
                    $"<tr><td>{E(u.Key.Split('|', 2)[0])}</td><td>{E(UnknownReason(u.Key.Split('|', 2)[^1]))}</td><td>{u.Value}</td></tr>")) + "</table>");

        if (data.Evaluation) Benchmarks(html, data);
        if (data.TrainingCurve.Count > 0) Training(html, data);

        html.Append("<h2>Pass rates per teacher and category</h2><p class=\"muted\">Queries by the share of a teacher's passes that pass the category's threshold. " +
            "In the table: samples passed (avg@k over the queries, with k passes each) · queries passed at least once (pass@k).</p><div class=\"charts\">");
        foreach (var category in categories)
            html.Append(Chart($"pass-rate-{Name(category)}", $"{Label(category)}: queries by pass rate", "queries", RunReportData.PassRateBins,
                data.Teachers.Select(t => (t, data.PassRates[(t, category)].Select(v => (double)v).ToArray())).ToList()));
        html.Append("</div><table id=\"pass-rates\"><tr><th>teacher</th>");
        foreach (var category in categories) html.Append($"<th>{Label(category)}</th>");
        html.Append("</tr>");
        foreach (var teacher in data.Teachers)
        {
            html.Append($"<tr><td>{E(teacher)}</td>");
            foreach (var category in categories)
            {
                var (passed, samples) = data.Passes.GetValueOrDefault((teacher, category));
                var (solved, answered) = data.Solved.GetValueOrDefault((teacher, category));
                html.Append(samples == 0 ? "<td>–</td>" : $"<td>{(100.0 * passed / samples).ToString("0.0", Invariant)} % <span class=\"muted\">({passed}/{samples})</span>" +
                    $" · {(100.0 * solved / answered).ToString("0.0", Invariant)} % <span class=\"muted\">({solved}/{answered})</span></td>");
            }
            html.Append("</tr>");
        }
        html.Append("</table>");

        html.Append($"<h2>CV distribution</h2><p class=\"muted\">Coefficient of variation of {E(data.SelectionTeacher)}'s scores per query; Stage I keeps a query above CV_t (first bin: at or below 0.05).</p>");
        html.Append(Chart("cv", "Queries by CV", "queries", RunReportData.CvBins, categories.Select(c => (Label(c), data.Cv[c].Select(v => (double)v).ToArray())).ToList()));

        var levels = Enum.GetValues<DifficultyLevel>();
        var levelNames = levels.Select(l => l.ToString()).ToArray();
        html.Append("<h2>Difficulty mix</h2><p class=\"muted\">Easy: the weakest teacher always passes; L1: it sometimes does; L2: only the middle and strongest do; L3: only the strongest; Unsolved: none.</p>");
        html.Append(Chart("difficulty", "Queries by difficulty", "queries", levelNames,
            categories.Select(c => (Label(c), levels.Select(l => (double)data.Difficulty.GetValueOrDefault((c, l))).ToArray())).ToList()));

        Explorer(html, data);

        html.Append("<h2>Selected set (Stage I)</h2>");
        html.Append("<div class=\"charts\">");
        html.Append(Chart("selected-category", "Selected samples by category", "samples", categories.Select(Label).ToArray(),
            [("samples", categories.Select(c => (double)levels.Sum(l => data.Selected.GetValueOrDefault((c, l)).Samples)).ToArray()),
             ("queries", categories.Select(c => (double)levels.Sum(l => data.Selected.GetValueOrDefault((c, l)).Queries)).ToArray())]));
        html.Append(Chart("selected-difficulty", "Selected samples by difficulty", "samples", levelNames,
            [("samples", levels.Select(l => (double)categories.Sum(c => data.Selected.GetValueOrDefault((c, l)).Samples)).ToArray())]));
        html.Append("</div><table id=\"selected\"><tr><th>category</th><th>queries</th><th>selected queries</th><th>selected samples</th></tr>");
        foreach (var category in categories)
            html.Append($"<tr><td>{Label(category)}</td><td>{data.QueriesByCategory[category]}</td><td>{levels.Sum(l => data.Selected.GetValueOrDefault((category, l)).Queries)}</td><td>{levels.Sum(l => data.Selected.GetValueOrDefault((category, l)).Samples)}</td></tr>");
        html.Append("</table></body></html>\n");
        return html.ToString();
    }

    /// <summary>The paper's table: a row per benchmark, per model avg@k (the mean pass rate of its k answers — the paper's
    /// pass@1 — over the problems) and pass@k (problems solved by any of the k).</summary>
    private static void Benchmarks(StringBuilder html, RunReportData data)
    {
        html.Append("<h2>Benchmarks</h2><p class=\"muted\">Per benchmark and model: avg@k, the share of its k answers per problem that pass " +
            "(the paper's pass@1, averaged over k), and pass@k, the share of problems at least one answer solves; verified like the training data.</p>");
        html.Append("<table id=\"benchmarks\"><tr><th>benchmark</th><th>problems</th>");
        foreach (var teacher in data.Teachers) html.Append($"<th>{E(teacher)} avg@k</th><th>{E(teacher)} pass@k</th>");
        html.Append("</tr>");
        foreach (var (benchmark, byTeacher) in data.Benchmarks)
        {
            html.Append($"<tr><td>{E(benchmark)}</td><td>{byTeacher.Values.Max(b => b.Queries)}</td>");
            foreach (var teacher in data.Teachers)
                html.Append(byTeacher.TryGetValue(teacher, out var b) && b.Samples > 0
                    ? $"<td>{Percent(b.Passed, b.Samples)} <span class=\"muted\">(k={F((double)b.Samples / b.Queries)})</span></td><td>{Percent(b.Solved, b.Queries)}</td>"
                    : "<td>–</td><td>–</td>");
            html.Append("</tr>");
        }
        html.Append("</table>");
    }

    /// <summary>The evaluated training job's curve: loss per step, with its throughput and MFU.</summary>
    private static void Training(StringBuilder html, RunReportData data)
    {
        var curve = data.TrainingCurve;
        static string Mean(IEnumerable<double?> values, string format) =>
            values.OfType<double>().DefaultIfEmpty(double.NaN).Average() is var mean && double.IsNaN(mean) ? "n/a" : mean.ToString(format, Invariant);
        var mfu = Mean(curve.Select(p => p.Mfu * 100), "0.0");
        html.Append($"<h2>Training</h2><p id=\"training-summary\">Job <code>{E(data.TrainingJob ?? "")}</code>: {curve.Count} steps, loss " +
            $"{(curve[0].Loss is { } first ? first.ToString("0.###", Invariant) : "n/a")} → {(curve[^1].Loss is { } last ? last.ToString("0.###", Invariant) : "n/a")}, " +
            $"mean {Mean(curve.Select(p => p.TokensPerSecond), "0")} tokens/s, mean MFU {(mfu == "n/a" ? "n/a (no GPU peak known)" : mfu + " %")}.</p>");
        html.Append(LineChart("training-curve", "Training loss per step", "step", "loss", [.. curve.Where(p => p.Loss is not null).Select(p => ((double)p.Step, p.Loss!.Value))]));
    }

    private static string LineChart(string id, string title, string xUnit, string yUnit, IReadOnlyList<(double X, double Y)> points)
    {
        const int width = 520, height = 250, left = 56, right = 14, top = 18, bottom = 40;
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;
        var (xMin, xMax) = (points.Min(p => p.X), Math.Max(points.Max(p => p.X), points.Min(p => p.X) + 1));
        var yMax = 4 * TickStep(points.Max(p => p.Y) * 1000) / 1000; // ticks for losses below 1 too
        double X(double x) => left + plotWidth * (x - xMin) / (xMax - xMin);
        double Y(double y) => top + plotHeight - (yMax > 0 ? plotHeight * y / yMax : 0);
        var svg = new StringBuilder($"<figure class=\"chart\" id=\"{id}\"><figcaption>{E(title)}</figcaption>");
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{E(title)}\">");
        svg.Append($"<text transform=\"translate(12,{F(top + plotHeight / 2.0)}) rotate(-90)\" text-anchor=\"middle\">{E(yUnit)}</text>");
        for (var tick = 0; tick <= 4; tick++)
        {
            var y = top + plotHeight - plotHeight * tick / 4.0;
            svg.Append($"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{F(y)}\" y2=\"{F(y)}\" stroke=\"#e5e5e5\"/><text x=\"{left - 4}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{F(yMax * tick / 4)}</text>");
            var x = xMin + (xMax - xMin) * tick / 4;
            svg.Append($"<text x=\"{F(X(x))}\" y=\"{height - bottom + 14}\" text-anchor=\"middle\">{F(Math.Round(x))}</text>");
        }
        svg.Append($"<text x=\"{F(left + plotWidth / 2.0)}\" y=\"{height - 6}\" text-anchor=\"middle\">{E(xUnit)}</text>");
        svg.Append($"<polyline class=\"line\" fill=\"none\" stroke=\"{Palette[0]}\" stroke-width=\"1.5\" points=\"{string.Join(' ', points.Select(p => $"{F(X(p.X))},{F(Y(p.Y))}"))}\"/>");
        svg.Append("</svg></figure>");
        return svg.ToString();
    }

    private static string Percent(long part, long whole) => (100.0 * part / whole).ToString("0.0", Invariant) + " %";

    /// <summary>
    /// The query explorer: the hardest queries and those of the highest CV, in one table per order (difficulty, CV, mean
    /// pass rate, each teacher's pass rate, id) of which the checked radio button shows one (CSS only: the page stays
    /// without script), each query linked to its question, an answer and the verdicts of the samples that failed.
    /// </summary>
    private static void Explorer(StringBuilder html, RunReportData data)
    {
        var queries = data.Explored;
        var anchors = queries.Select((q, i) => (q.QueryId, i)).ToDictionary(q => q.QueryId, q => $"q-{q.i}", StringComparer.Ordinal);
        var orders = new List<(string Name, Comparison<HardQuery> Order)>
        {
            ("difficulty", RunReportData.HardestFirst),
            ("CV", RunReportData.HighestCvFirst),
            ("mean pass rate", (a, b) => a.MeanPassRate != b.MeanPassRate ? a.MeanPassRate.CompareTo(b.MeanPassRate) : string.CompareOrdinal(a.QueryId, b.QueryId)),
        };
        foreach (var teacher in data.Teachers)
            orders.Add(($"{teacher}'s pass rate", (a, b) => Rate(a, teacher) != Rate(b, teacher) ? Rate(a, teacher).CompareTo(Rate(b, teacher)) : string.CompareOrdinal(a.QueryId, b.QueryId)));
        orders.Add(("query id", (a, b) => string.CompareOrdinal(a.QueryId, b.QueryId)));

        html.Append($"<h2>Query explorer</h2><p class=\"muted\">The {data.Hardest.Count} hardest queries (Unsolved first, then L3 … Easy) and the " +
            $"{data.HighestCv.Count} whose scores from {E(data.SelectionTeacher)} vary most (highest CV, the ones Stage I keeps), {queries.Count} in all. " +
            "Per teacher the share of its passes that pass; the verdicts of the samples that failed; each query links to its question and an answer " +
            "(<code>GET /api/runs/{run}/export?policy=all</code> has every answer).</p><style>");
        for (var o = 0; o < orders.Count; o++)
            html.Append($"#sort-{o}:checked~#{TableId(o)}{{display:table}} #sort-{o}:checked+label{{background:#4e79a7;color:#fff;border-color:#4e79a7}}");
        html.Append("</style><div class=\"explorer\">Sort by: ");
        for (var o = 0; o < orders.Count; o++)
            html.Append($"<input type=\"radio\" name=\"explorer-order\" id=\"sort-{o}\"{(o == 0 ? " checked" : "")}><label for=\"sort-{o}\">{E(orders[o].Name)}</label>");
        for (var o = 0; o < orders.Count; o++)
        {
            var sorted = queries.ToList();
            sorted.Sort(orders[o].Order);
            html.Append($"<table id=\"{TableId(o)}\"><tr><th>query</th><th>category</th><th>difficulty</th><th>CV</th>" +
                string.Concat(data.Teachers.Select(t => $"<th>{E(t)}</th>")) + "<th>why samples failed</th></tr>");
            foreach (var query in sorted)
            {
                var verdicts = data.FailureVerdicts.TryGetValue(query.QueryId, out var found)
                    ? string.Join("<br>", found.OrderByDescending(v => v.Value).ThenBy(v => v.Key, StringComparer.Ordinal).Take(3).Select(v => $"{v.Value} × {E(v.Key)}"))
                    : "";
                html.Append($"<tr><td><a href=\"#{anchors[query.QueryId]}\"><code>{E(query.QueryId)}</code></a></td><td>{Label(query.Category)}</td><td>{query.Level}</td>" +
                    $"<td>{(query.Cv is { } cv ? cv.ToString("0.00", Invariant) : "–")}</td>" +
                    string.Concat(data.Teachers.Select(t => $"<td>{(query.PassRates.TryGetValue(t, out var rate) ? rate.ToString("0.00", Invariant) : "–")}</td>")) +
                    $"<td class=\"verdicts\">{verdicts}</td></tr>");
            }
            html.Append("</table>");
        }
        html.Append("</div><div class=\"answers\" id=\"answers\">");
        foreach (var query in queries)
        {
            html.Append($"<details id=\"{anchors[query.QueryId]}\"><summary><code>{E(query.QueryId)}</code>");
            if (data.Examples.TryGetValue(query.QueryId, out var example))
                html.Append($": question and {E(example.Teacher)}'s answer ({(example.Passed ? "passed" : "failed")})</summary><pre>{E(example.Question)}</pre><pre>{E(example.Answer)}</pre>");
            else
                html.Append("</summary><p class=\"muted\">no sample in the store</p>");
            html.Append("</details>");
        }
        html.Append("</div>");

        static double Rate(HardQuery query, string teacher) => query.PassRates.TryGetValue(teacher, out var rate) ? rate : double.MaxValue;
        // The default order keeps the id the hardest list always had.
        static string TableId(int order) => order == 0 ? "hardest" : $"explorer-{order}";
    }

    /// <summary>A grouped bar chart of counts (<paramref name="unit"/>, the y axis's label), one colour per series, each bar
    /// with its value as a tooltip; the axis ticks are whole counts.</summary>
    private static string Chart(string id, string title, string unit, IReadOnlyList<string> labels, IReadOnlyList<(string Name, double[] Values)> series)
    {
        const int width = 520, height = 250, left = 56, right = 10, top = 28, bottom = 40;
        var max = 4 * TickStep(series.SelectMany(s => s.Values).DefaultIfEmpty(0).Max());
        var plotWidth = width - left - right;
        var plotHeight = height - top - bottom;
        var group = plotWidth / (double)Math.Max(1, labels.Count);
        var bar = group * 0.8 / Math.Max(1, series.Count);
        var svg = new StringBuilder();
        svg.Append($"<figure class=\"chart\" id=\"{id}\"><figcaption>{E(title)}</figcaption>");
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{E(title)}\">");
        svg.Append($"<text class=\"axis\" transform=\"translate(12,{F(top + plotHeight / 2.0)}) rotate(-90)\" text-anchor=\"middle\">{E(unit)}</text>");
        for (var tick = 0; tick <= 4; tick++)
        {
            var y = top + plotHeight - plotHeight * tick / 4.0;
            svg.Append($"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{F(y)}\" y2=\"{F(y)}\" stroke=\"#e5e5e5\"/>");
            svg.Append($"<text x=\"{left - 4}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{F(max * tick / 4)}</text>");
        }
        for (var i = 0; i < labels.Count; i++)
        {
            var x0 = left + group * i + group * 0.1;
            for (var s = 0; s < series.Count; s++)
            {
                var value = series[s].Values[i];
                var h = max > 0 ? plotHeight * value / max : 0;
                svg.Append($"<rect class=\"bar\" x=\"{F(x0 + bar * s)}\" y=\"{F(top + plotHeight - h)}\" width=\"{F(Math.Max(1, bar - 1))}\" height=\"{F(h)}\" fill=\"{Palette[s % Palette.Length]}\">" +
                    $"<title>{E(series[s].Name)} · {E(labels[i])}: {F(value)}</title></rect>");
            }
            svg.Append($"<text x=\"{F(left + group * (i + 0.5))}\" y=\"{height - bottom + 14}\" text-anchor=\"middle\">{E(labels[i])}</text>");
        }
        var legendX = (double)left;
        for (var s = 0; s < series.Count; s++)
        {
            svg.Append($"<rect x=\"{F(legendX)}\" y=\"{height - 14}\" width=\"10\" height=\"10\" fill=\"{Palette[s % Palette.Length]}\"/>");
            svg.Append($"<text x=\"{F(legendX + 14)}\" y=\"{height - 5}\">{E(series[s].Name)}</text>");
            legendX += 24 + series[s].Name.Length * 6.5;
        }
        svg.Append("</svg></figure>");
        return svg.ToString();
    }

    /// <summary>The y axis's step for 4 steps up to at least <paramref name="max"/>: a whole 1, 2 or 5 × 10ⁿ, so a count
    /// axis never shows 37.5 queries.</summary>
    private static double TickStep(double max)
    {
        var raw = Math.Max(1, max / 4);
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        foreach (var step in new[] { 1, 2, 5, 10 })
            if (step * magnitude >= raw) return step * magnitude;
        return 10 * magnitude;
    }

    /// <summary>The simulator's reasons in words.</summary>
    public static string UnknownReason(string reason) => reason switch
    {
        "not-seen" => "the question is in no query file or ingested run the simulator reads",
        "no-reference-answer" => "the query has no reference_answer",
        "no-solution" => "the code query has no reference solution (meta.canonical_solution)",
        _ => reason,
    };

    private static string Label(QueryCategory category) => category == QueryCategory.InstructionFollowing ? "instruction following" : Name(category);

    private static string Name(QueryCategory category) => category.Name();

    private static string F(double value) => Math.Round(value, 2).ToString(Invariant);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
