using System.Diagnostics;
using AmDistill.Contracts;
using AmDistill.Messaging;
using AmDistill.Scoring.Scores;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;
using StackExchange.Redis;
using AmDistill.LocalRedis;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// <c>amdistill-bench export</c>: scores N synthetic verdicts (3 teachers × 4 passes per query, the paper's ladder,
/// skill-dependent scores) into a throwaway Redis as the scoring service does, writes the samples into a fresh dataset
/// store, then exports them — Stage I to AM Parquet, everything to
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
            await using (var redisServer = await LocalRedisServer.StartAsync(cancellationToken: cancellationToken))
            await using (var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString + ",allowAdmin=true"))
                await MeasureAsync("score every verdict (Redis, idempotent script, final records)", settings.Samples, output,
                    () => ScoreAsync(redis, settings, output, cancellationToken), () => 0);
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

    internal static async Task MeasureAsync(string phase, int samples, TextWriter output, Func<Task> run, Func<long> bytes, string bytesAre = " (compressed)")
    {
        GC.Collect();
        ResetPeakRss();
        var started = Stopwatch.GetTimestamp();
        await run();
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var rate = bytes() is > 0 and var b ? $"{b / 1e6 / seconds:N0}{bytesAre}" : "–";
        await output.WriteLineAsync($"| {phase} | {samples / seconds:N0} | {rate} | {seconds:0.0} | {PeakRssMegabytes():N0} MB |");
    }

    private static async Task WriteAsync(IDatasetStore store, Settings settings, CancellationToken cancellationToken)
    {
        await using var writer = store.OpenWriter("bench", "bench");
        foreach (var sample in Samples(settings))
            await writer.AppendAsync(sample, cancellationToken);
    }

    /// <summary>Every verdict into the scoring service's store (the Lua script per verdict, 64 in flight), as its
    /// consumer does; the run's records must all end final.</summary>
    private static async Task ScoreAsync(IConnectionMultiplexer redis, Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var store = new ScoreStore(redis);
        var inFlight = new SemaphoreSlim(64);
        var pending = new List<Task>();
        foreach (var s in Samples(settings, textChars: 0))
        {
            await inFlight.WaitAsync(cancellationToken);
            pending.Add(store.RecordAsync(new VerifiedResponse(s.SampleId, s.RunId, s.QueryId, s.Category, s.Teacher, s.Pass, s.VerifyScore,
                s.Passed, s.Scored, s.Verdict, ExpectedSamples: 12)).ContinueWith(_ => inFlight.Release(), TaskScheduler.Default));
            if (pending.Count >= 10_000)
            {
                await Task.WhenAll(pending);
                pending.Clear();
            }
        }
        await Task.WhenAll(pending);
        var (queries, verdicts, final) = await store.CountAsync("bench");
        var memory = (await redis.GetServers()[0].InfoAsync("memory")).SelectMany(g => g).First(kv => kv.Key == "used_memory").Value;
        await output.WriteLineAsync($"scored: {verdicts:N0} verdicts in {queries:N0} query records, {final:N0} final; Redis used_memory {long.Parse(memory) / 1e6:0} MB");
    }

    private static IEnumerable<StoredSample> Samples(Settings settings, int? textChars = null)
    {
        var chars = textChars ?? settings.TextChars;
        var ladder = DifficultyLadder.Paper;
        string[] teachers = [ladder.Weak, ladder.Middle, ladder.Strong];
        double[] skill = [0.3, 0.55, 0.8];
        QueryCategory[] categories = [QueryCategory.Math, QueryCategory.Math, QueryCategory.Code, QueryCategory.Other, QueryCategory.Science];
        var random = new Random(1);
        var words = "let me check the derivative again carefully so that the sign is right and the bound holds for every n ".Split(' ');
        string Text(int length)
        {
            var text = new System.Text.StringBuilder(length + 16);
            while (text.Length < length) text.Append(words[random.Next(words.Length)]).Append(' ');
            return text.ToString();
        }

        for (var i = 0; i < settings.Samples; i++)
        {
            var (query, slot) = Math.DivRem(i, 12);
            var (teacher, pass) = Math.DivRem(slot, 4);
            var difficulty = (query * 7919 % 100) / 100.0;
            var category = categories[query % categories.Length];
            var solved = random.NextDouble() < skill[teacher] * (1.2 - difficulty);
            var score = category == QueryCategory.Science ? (solved ? 5 : 0) : solved ? 1 : 0;
            yield return new StoredSample($"bench/q{query}/{teachers[teacher]}/{pass}", "bench", $"q{query}", category, teachers[teacher], teachers[teacher],
                pass + 1, chars == 0 ? "" : $"Question {query}: {Text(200)}", Text(chars * 5 / 6), Text(chars / 6), "stop", false, 60,
                chars / 4, 0.001m, "42", score, solved, true, "bench");
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
