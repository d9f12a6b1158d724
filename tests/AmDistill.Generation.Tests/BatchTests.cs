using System.Text;
using AmDistill.Api;
using AmDistill.Api.Runs;
using AmDistill.Contracts;
using AmDistill.Generation.Batches;
using AmDistill.LocalRedis;
using AmDistill.Runs;
using AmDistill.Scoring;
using AmDistill.Verification;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using static AmDistill.Generation.Tests.TestData;

namespace AmDistill.Generation.Tests;

/// <summary>
/// Batch teachers against the simulator's Files and Batch APIs over real HTTP with the official client, and a real
/// redis-server: every pass answered once, at the batch price, through failures, lost responses and a killed service.
/// </summary>
public sealed class BatchTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly (string, string)[] Prices = [("PricePerMillionInputTokens", "2"), ("PricePerMillionOutputTokens", "8")];

    private static (string, string)[] BatchSettings(int maxRequests = 50_000, string window = "00:00:00.3") =>
        [("Batch", "true"), ("BatchWindow", window), ("BatchPollInterval", "00:00:00.1"), ("BatchMaxRequests", maxRequests.ToString(System.Globalization.CultureInfo.InvariantCulture)), .. Prices];

    [Fact]
    public async Task A_batch_teacher_answers_each_pass_once_like_the_synchronous_api_at_half_the_price()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "sim", 0.6, 1)) { ["Batch:CompletionDelay"] = "00:00:00.4" });
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
            Teacher("bulk", sim.V1, "sim", BatchSettings(maxRequests: 15)).Concat(Teacher("direct", sim.V1, "sim", [("SupportsN", "false"), .. Prices]))));

        var queries = Queries.Where(q => q.Category == "math").Take(8).Concat(Queries.Where(q => q.Category == "code").Take(2)).ToArray();
        await PublishAsync(redis, queries.SelectMany(q => new[] { NewTask("run1", q, "bulk", 0, 1, 2, 3), NewTask("run1", q, "direct", 0, 1, 2, 3) }));
        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 80, TimeSpan.FromSeconds(60), "80 samples");
        await WaitUntilAsync(async () => await db.HashLengthAsync(BatchQueue.Batches("bulk")) == 0, TimeSpan.FromSeconds(10), "every batch collected");

        var samples = await SamplesAsync(db);
        Assert.Equal(80, samples.Count);
        Assert.Equal(80, samples.Select(s => s.SampleId).Distinct().Count());
        var bulk = samples.Where(s => s.Teacher == "bulk").ToDictionary(s => (s.QueryId, s.Pass));
        var direct = samples.Where(s => s.Teacher == "direct").ToDictionary(s => (s.QueryId, s.Pass));
        Assert.Equal(40, bulk.Count);
        // The same request body as the synchronous call of one pass (prompt, sampling, the pass's seed): the same answer, at half the price.
        foreach (var (key, sample) in bulk)
        {
            Assert.Equal(direct[key].Answer, sample.Answer);
            Assert.Equal(direct[key].Thinking, sample.Thinking);
            Assert.Equal("sim", sample.Model);
            Assert.True(sample.CostUsd > 0);
        }
        var stats = (await db.HashGetAllAsync(RunKeys.Stats("run1"))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal(stats["direct:completion_tokens"], stats["bulk:completion_tokens"]);
        Assert.InRange(stats["bulk:cost_micro_usd"] * 2 - stats["direct:cost_micro_usd"], -40, 40); // per-sample rounding to micro-USD

        // At most 15 requests per file: at least three batches, each counted submitted and completed; nothing left queued.
        output.WriteLine($"{sim.Batches.BatchesCreated} batches");
        Assert.InRange(sim.Batches.BatchesCreated, 3, 40);
        Assert.Equal(sim.Batches.BatchesCreated, stats[RunKeys.BatchStat("bulk", "submitted")]);
        Assert.Equal(sim.Batches.BatchesCreated, stats[RunKeys.BatchStat("bulk", "completed")]);
        Assert.Equal(0, stats[RunKeys.BatchStat("bulk", "queued")]);
        Assert.Equal(40, sim.Completed); // the direct teacher's requests; the batch teacher made no chat request
        Assert.Equal(0, await db.HashLengthAsync(BatchQueue.Tasks("bulk")));
        Assert.Equal(0, await db.ListLengthAsync(BatchQueue.Queue("bulk")));
    }

    [Fact]
    public async Task Failed_requests_and_failed_batches_are_asked_again_until_each_pass_is_a_sample_or_a_dead_letter()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "sim", 0.6, 1))
        {
            ["Batch:CompletionDelay"] = "00:00:00.2",
            ["Batch:RequestFailureRate"] = "0.3",
            ["Batch:BatchFailureRate"] = "0.25",
        });
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
            Teacher("bulk", sim.V1, "sim", BatchSettings(maxRequests: 8))) { ["Generation:MaxDeliveries"] = "3" });

        var queries = Queries.Where(q => q.Category == "math").Take(10).ToArray();
        await PublishAsync(redis, queries.Select(q => NewTask("run1", q, "bulk", 0, 1, 2, 3)));
        var db = redis.GetDatabase();
        async Task<(List<GeneratedResponse> Samples, List<VerifiedResponse> DeadLetters)> OutcomesAsync() =>
            (await SamplesAsync(db), [.. (await db.StreamRangeAsync(Streams.Scoring.Name)).Select(e =>
                System.Text.Json.JsonSerializer.Deserialize((byte[])e["d"]!, ContractsJsonContext.Default.VerifiedResponse)!)]);
        await WaitUntilAsync(async () => (await OutcomesAsync()) is var o && o.Samples.Count + o.DeadLetters.Count >= 40, TimeSpan.FromSeconds(60), "40 outcomes");
        await WaitUntilAsync(async () => await db.HashLengthAsync(BatchQueue.Tasks("bulk")) == 0, TimeSpan.FromSeconds(10), "no task left");

        var (samples, deadLetters) = await OutcomesAsync();
        output.WriteLine($"{samples.Count} samples, {deadLetters.Count} dead-lettered, {sim.Batches.BatchesCreated} batches");
        // Each pass exactly once: a sample, or (after three failed batches) a dead letter saying why.
        var outcomes = samples.Select(s => (s.QueryId, s.Pass)).Concat(deadLetters.Select(d => (d.QueryId, d.Pass))).ToList();
        Assert.Equal(40, outcomes.Count);
        Assert.Equal(40, outcomes.Distinct().Count());
        Assert.All(deadLetters, d => Assert.Contains("batch", d.Verdict, StringComparison.Ordinal));
        var stats = (await db.HashGetAllAsync(RunKeys.Stats("run1"))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.True(stats.GetValueOrDefault(RunKeys.BatchStat("bulk", "requests_failed")) > 0, "some requests failed and were asked again");
        Assert.Equal(sim.Batches.BatchesCreated, stats[RunKeys.BatchStat("bulk", "submitted")]);
        Assert.Equal(stats[RunKeys.BatchStat("bulk", "submitted")], stats[RunKeys.BatchStat("bulk", "completed")] + stats.GetValueOrDefault(RunKeys.BatchStat("bulk", "failed")));
        Assert.Equal(samples.Count, stats["bulk:samples"]);
    }

    [Fact]
    public async Task A_batch_whose_creation_answer_is_lost_is_found_again_not_submitted_twice()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "sim", 0.6, 1))
        {
            ["Batch:CompletionDelay"] = "00:00:00.2",
            ["Batch:LoseCreateResponses"] = "1",
        });
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(Teacher("bulk", sim.V1, "sim", BatchSettings())));

        await PublishAsync(redis, Queries.Take(3).Select(q => NewTask("run1", q, "bulk", 0, 1)));
        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 6, TimeSpan.FromSeconds(30), "6 samples");
        await WaitUntilAsync(async () => await db.HashLengthAsync(BatchQueue.Batches("bulk")) == 0, TimeSpan.FromSeconds(10), "the batch collected");

        Assert.Equal(1, sim.Batches.BatchesCreated);
        Assert.Equal(6, (await SamplesAsync(db)).Select(s => s.SampleId).Distinct().Count());
        Assert.Equal(6, await db.StreamLengthAsync(Streams.Verification.Name));
    }

    [Fact]
    public async Task Killing_the_service_while_its_batch_is_in_flight_neither_loses_nor_resubmits_the_batch()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "sim", 0.6, 1)) { ["Batch:CompletionDelay"] = "00:00:04" });
        var settings = new Dictionary<string, string?>(Teacher("bulk", sim.V1, "sim", BatchSettings(window: "00:00:01")));
        await PublishAsync(redis, Queries.Take(10).Select(q => NewTask("run1", q, "bulk", 0, 1, 2, 3)));
        var db = redis.GetDatabase();

        using (var first = WorkerProcess.Start(redisServer.ConnectionString, settings))
        {
            await WaitUntilAsync(() => Task.FromResult(sim.Batches.BatchesCreated >= 1), TimeSpan.FromSeconds(30), "a batch submitted");
            await WaitUntilAsync(async () => (await db.HashGetAllAsync(BatchQueue.Batches("bulk"))).All(b => BatchQueue.Record(b.Value).BatchId is not null),
                TimeSpan.FromSeconds(10), "the batch recorded as created");
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }
        var inFlight = sim.Batches.BatchesCreated;
        Assert.Equal(0, await db.StreamLengthAsync(Streams.Verification.Name)); // killed while the batch was in flight

        using var second = WorkerProcess.Start(redisServer.ConnectionString, settings);
        try
        {
            await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 40, TimeSpan.FromSeconds(60), "40 samples");
            await WaitUntilAsync(async () => await db.HashLengthAsync(BatchQueue.Batches("bulk")) == 0, TimeSpan.FromSeconds(10), "the batch collected");
            var samples = await SamplesAsync(db);
            Assert.Equal(40, samples.Count);
            Assert.Equal(40, samples.Select(s => s.SampleId).Distinct().Count());
            Assert.Equal(inFlight, sim.Batches.BatchesCreated);
            Assert.Equal(0, sim.Completed);
        }
        finally
        {
            second.Kill(entireProcessTree: true);
        }
    }

    /// <summary>The paper's ladder with its strong teacher through the Batch API and the weak one asked directly: one run,
    /// fed, verified and scored like any other, with the batches in its status.</summary>
    [Fact]
    public async Task A_run_with_a_batch_teacher_and_a_direct_one_completes_with_both_pass_rates_and_its_batches_in_the_status()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        // A user's own questions (the demo's are benchmark problems, which decontamination takes out), known to the simulator.
        var queries = Path.Combine(Repo.EmptyDirectory(), "queries.jsonl");
        await File.WriteAllLinesAsync(queries, Enumerable.Range(1, 12).Select(i => System.Text.Json.JsonSerializer.Serialize(new
        {
            id = $"sum-{i}", category = "math", question = $"A crate holds {i * 7} apples and another holds {i * 11 + 3}. How many apples are there in all?", reference_answer = $"{i * 18 + 3}",
        })));
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "weak-sim", 0.3, 1).Concat(SimModel(1, "strong-sim", 0.9, 1)))
        {
            ["Batch:CompletionDelay"] = "00:00:00.5",
            ["QueryFiles:1"] = queries,
        });
        await using var host = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
                Teacher("weak", sim.V1, "weak-sim").Concat(Teacher("strong", sim.V1, "strong-sim", BatchSettings(maxRequests: 30)))),
            builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices(),
            builder => builder.AddApiServices());
        var runs = host.Services.GetRequiredService<RunRegistry>();
        Assert.Null(await runs.CreateAsync(RunConfiguration.Parse("""{"run": "mixed", "teachers": [{"name": "weak"}, {"name": "strong"}]}""").Configuration!));
        var (upload, problem) = await runs.UploadAsync("mixed", File.OpenRead(queries), parquet: false, CancellationToken.None);
        Assert.Null(problem);
        Assert.True(upload!.Kept == 12, string.Join(", ", upload.Dropped.Select(d => $"{d.Key}={d.Value}")));
        var started = await runs.StartAsync("mixed");
        Assert.True(started is null, started?.ToString());
        await WaitUntilAsync(async () => (await runs.GetAsync("mixed"))!.State == RunStates.Completed, TimeSpan.FromSeconds(90), "the run completed");

        var status = (await runs.StatusAsync("mixed"))!;
        var weak = status.Models.Single(m => m.Model == "weak");
        var strong = status.Models.Single(m => m.Model == "strong");
        Assert.Equal((48L, 48L), (weak.Samples, strong.Samples));
        Assert.Equal(48, strong.Passed + strong.Failed);
        Assert.True(strong.Passed > weak.Passed, $"strong {strong.Passed} vs weak {weak.Passed} passed");
        var batches = Assert.Single(status.Batches!);
        Assert.Equal("strong", batches.Key);
        Assert.Equal((0L, 0L, 0L), (batches.Value.Queued, batches.Value.InProgress, batches.Value.Failed));
        Assert.Equal(sim.Batches.BatchesCreated, batches.Value.Submitted);
        Assert.Equal(batches.Value.Submitted, batches.Value.Completed);
        Assert.InRange(batches.Value.Submitted, 2, 48); // 48 requests, at most 30 per file
    }
}
