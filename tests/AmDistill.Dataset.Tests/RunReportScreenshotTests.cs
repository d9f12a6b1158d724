using AmDistill.Dataset.Report;
using AmDistill.Runs;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Tests;

/// <summary>The report as a person sees it: rendered by Debian's headless chromium and read back from its screenshot.</summary>
public sealed class RunReportScreenshotTests
{
    private static readonly (byte R, byte G, byte B)[] SeriesColours = [(0x4e, 0x79, 0xa7), (0xf2, 0x8e, 0x2b), (0x59, 0xa1, 0x4f)];

    [Fact]
    public async Task Every_chart_paints_its_bars_and_labels()
    {
        var (configuration, _) = RunConfiguration.Parse("""{ "run": "shot", "teachers": [ { "name": "weak" }, { "name": "middle" }, { "name": "strong" } ] }""");
        var data = new RunReportData("shot", ["weak", "middle", "strong"], configuration!.SelectionTeacher,
            configuration.ExportOptions(Export.ExportPolicy.StageOne).Selection, configuration.Ladder)
        {
            Costs = [new("weak", 160, 1000, 10000, 0.5), new("middle", 160, 1000, 10000, 1), new("strong", 160, 1000, 10000, 2.5)],
        };
        var random = new Random(7);
        double[] Passes(double skill) => [.. Enumerable.Range(0, 4).Select(_ => random.NextDouble() < skill ? 1.0 : 0)];
        for (var i = 0; i < 40; i++)
        {
            var difficulty = random.NextDouble();
            data.Add(new QueryRecord($"q{i:D2}", i % 3 == 0 ? QueryCategory.Code : QueryCategory.Math, new Dictionary<string, IReadOnlyList<ScoredResponse>>
            {
                ["weak"] = [.. Passes(0.9 - difficulty).Select((s, p) => new ScoredResponse($"q{i}-w{p}", s))],
                ["middle"] = [.. Passes(1.1 - difficulty).Select((s, p) => new ScoredResponse($"q{i}-m{p}", s))],
                ["strong"] = [.. Passes(1.4 - difficulty).Select((s, p) => new ScoredResponse($"q{i}-s{p}", s))],
            }));
        }
        var directory = Directory.CreateTempSubdirectory("amdistill-report-shot-").FullName;
        try
        {
            var page = Path.Combine(directory, "report.html");
            await RunReport.WriteAsync(data, page);

            var dom = await HeadlessChromium.LoadAsync(page, CancellationToken.None);
            foreach (var part in new[] { "pass-rate-math", "pass-rate-code", "cv", "difficulty", "hardest", "answers", "selected-category", "selected-difficulty" })
                Assert.Contains($"id=\"{part}\"", dom, StringComparison.Ordinal);

            var shot = Png.Decode(await HeadlessChromium.ScreenshotAsync(page, 1200, 7000, CancellationToken.None));
            // Each series colour is painted as bars, not only as legend swatches (10 × 10 pixels each) and the explorer's
            // checked button: the teachers' bars in the pass-rate charts, one colour per category in the others.
            foreach (var colour in SeriesColours)
                Assert.True(Count(shot, p => p == colour) is var painted && painted > 3000, $"{painted} pixels of colour {colour}");
            // The charts sit in separate bands down the page: pass rates, CV, difficulty, the selection (and the explorer's
            // checked order, in the first colour); each band has its bars.
            Assert.True(Bands(shot, y => Enumerable.Range(0, shot.Width).Any(x => SeriesColours.Contains(shot[x, y]))) >= 5, "every chart row painted");
            // Labels: axis ticks, titles, legends and tables are dark text on white.
            Assert.True(Count(shot, p => p.R < 90 && p.G < 90 && p.B < 90) > 20_000, "text painted");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static int Count(Png png, Func<(byte R, byte G, byte B), bool> match)
    {
        var count = 0;
        for (var y = 0; y < png.Height; y++)
            for (var x = 0; x < png.Width; x++)
                if (match(png[x, y])) count++;
        return count;
    }

    /// <summary>Runs of rows that hold a match, separated by at least 30 rows without one.</summary>
    private static int Bands(Png png, Func<int, bool> row)
    {
        int bands = 0, gap = int.MaxValue;
        for (var y = 0; y < png.Height; y++)
        {
            if (row(y))
            {
                if (gap >= 30) bands++;
                gap = 0;
            }
            else if (gap < int.MaxValue) gap++;
        }
        return bands;
    }
}
