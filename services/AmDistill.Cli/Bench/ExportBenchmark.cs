using System.Diagnostics;
using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;

namespace AmDistill.Cli.Bench;

/// <summary>
/// <c>amdistill bench export</c>: writes N synthetic verified samples (3 teachers × 4 passes per query, the paper's
/// ladder, skill-dependent scores) into a fresh dataset store, then exports them — Stage I to AM Parquet, everything to
/// AM JSONL — printing throughput and the peak resident memory of each phase (VmHWM, reset between phases).
/// </summary>
internal static class ExportBenchmark
{
    public sealed record Settings(int Samples, int TextChars, string? Directory);

    public static async Task<int> RunAsync(Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var root = settings.Directory ?? System.IO.Directory.CreateTempSubdirectory("amdistill-bench-export-").FullName;
        var store = new LocalDatasetStore(Path.Combine(root, "store"));
        try
        {
            await output.WriteLineAsync($"{settings.Samples:N0} samples, {settings.TextChars:N0} characters of thinking + answer each, store in {root}");
            await output.WriteLineAsync("| phase | samples/s | MB/s | seconds | peak RSS |");
            await output.WriteLineAsync("|---|---|---|---|---|");
            await MeasureAsync("write to the store (zstd JSONL, flushed per sample)", settings.Samples, output, () => WriteAsync(store, settings, cancellationToken), () => StoreBytes(store));
            var parquet = Path.Combine(root, "stage1.parquet");
            await MeasureAsync("export Stage I → AM Parquet", settings.Samples, output,
                () => DatasetExport.ToFileAsync(store, "bench", new DatasetExportOptions { Policy = ExportPolicy.StageOne }, ExportFormat.Am, parquet, cancellationToken),
                () => StoreBytes(store));
            var jsonl = Path.Combine(root, "all.jsonl");
            await MeasureAsync("export all → AM JSONL", settings.Samples, output,
                () => DatasetExport.ToFileAsync(store, "bench", new DatasetExportOptions(), ExportFormat.Am, jsonl, cancellationToken),
                () => StoreBytes(store));
            await output.WriteLineAsync($"store {StoreBytes(store) / 1e6:0} MB, Stage I Parquet {new FileInfo(parquet).Length / 1e6:0} MB, all JSONL {new FileInfo(jsonl).Length / 1e6:0} MB");
            return 0;
        }
        finally
        {
            if (settings.Directory is null) System.IO.Directory.Delete(root, recursive: true);
        }
    }

    private static long StoreBytes(LocalDatasetStore store) => store.Parts("bench").Sum(p => new FileInfo(p).Length);

    private static async Task MeasureAsync(string phase, int samples, TextWriter output, Func<Task> run, Func<long> bytes)
    {
        GC.Collect();
        ResetPeakRss();
        var started = Stopwatch.GetTimestamp();
        await run();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await output.WriteLineAsync($"| {phase} | {samples / seconds:N0} | {bytes() / 1e6 / seconds:N0} (compressed) | {seconds:0.0} | {PeakRssMegabytes():N0} MB |");
    }

    private static async Task WriteAsync(IDatasetStore store, Settings settings, CancellationToken cancellationToken)
    {
        var ladder = DifficultyLadder.Paper;
        string[] teachers = [ladder.Weak, ladder.Middle, ladder.Strong];
        double[] skill = [0.3, 0.55, 0.8];
        QueryCategory[] categories = [QueryCategory.Math, QueryCategory.Math, QueryCategory.Code, QueryCategory.Other, QueryCategory.Science];
        var random = new Random(1);
        var words = "let me check the derivative again carefully so that the sign is right and the bound holds for every n ".Split(' ');
        string Text(int chars)
        {
            var text = new System.Text.StringBuilder(chars + 16);
            while (text.Length < chars) text.Append(words[random.Next(words.Length)]).Append(' ');
            return text.ToString();
        }

        await using var writer = store.OpenWriter("bench", "bench");
        for (var i = 0; i < settings.Samples; i++)
        {
            var (query, slot) = Math.DivRem(i, 12);
            var (teacher, pass) = Math.DivRem(slot, 4);
            var difficulty = (query * 7919 % 100) / 100.0;
            var category = categories[query % categories.Length];
            var solved = random.NextDouble() < skill[teacher] * (1.2 - difficulty);
            var score = category == QueryCategory.Science ? (solved ? 5 : 0) : solved ? 1 : 0;
            var sample = new StoredSample($"bench/q{query}/{teachers[teacher]}/{pass}", "bench", $"q{query}", category, teachers[teacher], teachers[teacher],
                pass + 1, $"Question {query}: {Text(200)}", Text(settings.TextChars * 5 / 6), Text(settings.TextChars / 6), "stop", false, 60,
                settings.TextChars / 4, 0.001m, "42", score, solved, true, "bench");
            await writer.AppendAsync(sample, cancellationToken);
        }
    }

    private static void ResetPeakRss()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } // resets VmHWM (Linux)
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static double PeakRssMegabytes()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
    }
}
