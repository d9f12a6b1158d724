using System.Diagnostics;
using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Messaging;
using StackExchange.Redis;
using Xunit.Abstractions;
using static AmDistill.Generation.Tests.TestData;
using AmDistill.LocalRedis;

namespace AmDistill.Generation.Tests;

/// <summary>The generation service as its own process, killed with SIGKILL again and again while it works.</summary>
public sealed class GenerationCrashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Under_repeated_kill_9_every_sample_is_published_once_from_one_paid_answer_and_counted_exactly()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        var db = redis.GetDatabase();
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "strong-sim", 0.8, 30)));
        const int Passes = 4;
        string[] runs = ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"];
        var tasks = runs.SelectMany(run => Queries.Select(q => NewTask(run, q, "t", 0, 1, 2, 3))).ToList();
        await PublishAsync(redis, tasks);
        var expected = tasks.Count * Passes;

        var kills = 0;
        for (var attempt = 0; attempt < 6; attempt++)
        {
            using var generation = StartGeneration(redisServer.ConnectionString, sim.V1);
            try
            {
                var before = await db.StreamLengthAsync(Streams.Verification.Name);
                try
                {
                    // Some progress to kill in the middle of, or the end (a fast process finishes what the last kill left).
                    await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) is var now && (now > before + 40 || now >= expected) || generation.HasExited,
                        TimeSpan.FromSeconds(60), "the generation process publishes");
                }
                catch (TimeoutException)
                {
                    output.WriteLine($"after {kills} kills: {before} samples; pending {(await db.StreamPendingAsync(Streams.Generation.Name, "generation")).PendingMessageCount}, dead {await db.StreamLengthAsync(Streams.Generation.DeadLetterName)}");
                    foreach (var line in Log.TakeLast(40)) output.WriteLine(line);
                    throw;
                }
                Assert.False(generation.HasExited, "the generation process exited by itself");
                if (await db.StreamLengthAsync(Streams.Verification.Name) >= expected - 200) break;
                await Task.Delay(Random.Shared.Next(50, 300));
                generation.Kill(); // SIGKILL: mid-request, mid-commit, wherever it is
                await generation.WaitForExitAsync();
                kills++;
            }
            finally
            {
                // Also when the loop ends early or fails: a process left running would outlive the test run.
                if (!generation.HasExited) generation.Kill();
            }
        }
        using (var last = StartGeneration(redisServer.ConnectionString, sim.V1))
        {
            try
            {
                await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= expected, TimeSpan.FromSeconds(120), "every sample published");
            }
            finally
            {
                last.Kill();
            }
        }

        // Every sample published once, and the samples of each task come from one answer (one request, one latency):
        // no pass whose answer was received was asked for, and paid, again.
        var samples = await SamplesAsync(db);
        Assert.Equal(expected, samples.Count);
        Assert.Equal(expected, samples.Select(s => s.SampleId).Distinct().Count());
        var split = samples.GroupBy(s => (s.RunId, s.QueryId)).Where(g => g.Select(s => s.LatencyMs).Distinct().Count() > 1).ToList();
        Assert.True(split.Count == 0, $"{split.Count} tasks got their passes from more than one answer, e.g. {split.FirstOrDefault()?.Key}");

        // The run's counters are the sum over its samples, exactly.
        foreach (var run in runs)
        {
            var stats = (await db.HashGetAllAsync(RunKeys.Stats(run))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
            var mine = samples.Where(s => s.RunId == run).ToList();
            Assert.Equal((mine.Count, mine.Sum(s => (long)s.PromptTokens), mine.Sum(s => (long)s.CompletionTokens), mine.Sum(s => (long)Math.Round(s.CostUsd * 1_000_000m))),
                (stats["t:samples"], stats["t:prompt_tokens"], stats["t:completion_tokens"], stats["t:cost_micro_usd"]));
        }
        // What the teacher served beyond that was paid for requests in flight when the process was killed.
        output.WriteLine($"{kills} kills; the teacher answered {sim.Completed} requests for {tasks.Count} tasks");
        Assert.True(kills >= 3, $"only {kills} kills happened before the work was done");
    }

    private static readonly System.Collections.Concurrent.ConcurrentQueue<string> Log = new();

    private static Process StartGeneration(string redis, string teacherEndpoint)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name; // bin/{Debug|Release}/net10.0
        var directory = Path.Combine(RepoFiles.Root, "services", "AmDistill.Generation", "bin", configuration, "net10.0");
        var info = new ProcessStartInfo("dotnet", [Path.Combine(directory, "AmDistill.Generation.dll"), "--urls", "http://127.0.0.1:0"])
        {
            WorkingDirectory = directory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in new Dictionary<string, string>
                 {
                     ["ConnectionStrings__redis"] = redis,
                     ["Generation__Teachers__t__Endpoint"] = teacherEndpoint,
                     ["Generation__Teachers__t__Model"] = "strong-sim",
                     ["Logging__LogLevel__Default"] = "Warning",
                     ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
                 })
            info.Environment[key] = value;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) Log.Enqueue(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) Log.Enqueue(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
