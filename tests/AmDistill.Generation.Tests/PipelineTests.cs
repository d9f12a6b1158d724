using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Scoring;
using AmDistill.Scoring.Core;
using AmDistill.Scoring.Scores;
using AmDistill.Verification;
using AmDistill.Verification.Verifying;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using static AmDistill.Generation.Tests.TestData;
using AmDistill.LocalRedis;

namespace AmDistill.Generation.Tests;

/// <summary>Generation → verification → scoring, each service's real composition, over real HTTP and a real redis-server.</summary>
public sealed class PipelineTests
{
    [Fact]
    public async Task The_teacher_ladder_comes_out_as_pass_rates_and_difficulty_levels()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(
            SimModel(0, "weak-sim", 0.35, 5).Concat(SimModel(1, "mid-sim", 0.6, 5)).Concat(SimModel(2, "strong-sim", 0.85, 5))));
        var ladder = DifficultyLadder.Paper;
        await using var workers = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
                Teacher(ladder.Weak, sim.V1, "weak-sim").Concat(Teacher(ladder.Middle, sim.V1, "mid-sim")).Concat(Teacher(ladder.Strong, sim.V1, "strong-sim"))),
            builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices());

        var math = Queries.Where(q => q.Category == "math").ToArray();
        await PublishAsync(redis, math.SelectMany(q => new[] { ladder.Weak, ladder.Middle, ladder.Strong }.Select(t => NewTask("run1", q, t, 0, 1, 2, 3) with { ExpectedSamples = 12 })));

        var store = workers.Services.GetRequiredService<ScoreStore>();
        var records = new List<QueryRecord>();
        await WaitUntilAsync(async () =>
        {
            records = [.. (await Task.WhenAll(math.Select(q => store.ReadAsync("run1", q.Id)))).OfType<QueryRecord>()];
            return records.Count == math.Length && records.All(r => r.Responses.Count == 3 && r.Responses.Values.All(v => v.Count == 4));
        }, TimeSpan.FromSeconds(120), $"{math.Length * 12} verdicts scored");

        double Mean(string teacher) => records.Average(r => r.PassRate(teacher, Thresholds.Paper));
        Assert.True(Mean(ladder.Weak) < Mean(ladder.Middle) && Mean(ladder.Middle) < Mean(ladder.Strong),
            $"pass rates {Mean(ladder.Weak):P0} / {Mean(ladder.Middle):P0} / {Mean(ladder.Strong):P0}");

        // AIME is harder than MATH-500 for the ladder: it grades to higher levels more often.
        var levels = records.ToDictionary(r => r.QueryId, r => ladder.Grade(r, Thresholds.Paper));
        double HardShare(Func<string, bool> which) => levels.Where(l => which(l.Key)).Average(l => l.Value is DifficultyLevel.L3 or DifficultyLevel.Unsolved ? 1.0 : 0.0);
        Assert.True(HardShare(id => id.StartsWith("aime", StringComparison.Ordinal)) > HardShare(id => id.StartsWith("math500", StringComparison.Ordinal)));

        // The run's counters: each sample counted once when generated and once when verified.
        var stats = (await redis.GetDatabase().HashGetAllAsync(RunKeys.Stats("run1"))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal(math.Length * 4L, stats[$"{ladder.Strong}:samples"]);
        Assert.Equal(math.Length * 4L, stats.GetValueOrDefault($"{ladder.Strong}:passed") + stats.GetValueOrDefault($"{ladder.Strong}:failed") + stats.GetValueOrDefault($"{ladder.Strong}:unscored"));

        // Every final query record is in the dataset store, as the select command reads it.
        var datasetStore = workers.Services.GetRequiredService<IDatasetStore>();
        List<QueryRecord> written = [];
        await WaitUntilAsync(async () =>
        {
            written = [];
            await foreach (var line in DatasetLines.ReadAsync(datasetStore, "run1", DatasetKinds.Queries)) written.Add(QueryRecordFormat.Parse(line));
            return written.Count == math.Length;
        }, TimeSpan.FromSeconds(30), "every final query record written");
        foreach (var record in records)
            Assert.Equal(record.Scores(ladder.Strong), written.Single(w => w.QueryId == record.QueryId).Scores(ladder.Strong));

        // Every verified sample is in the dataset store with its text, and the export's pass rates are the score store's.
        foreach (var writers in workers.Services.GetServices<DatasetWriters>()) await writers.DisposeAsync(); // finish the open parts
        var exported = new ListSink();
        var report = await new DatasetExporter(workers.Services.GetRequiredService<IDatasetStore>(), "run1", new DatasetExportOptions()).ExportAsync(exported);
        Assert.Equal(math.Length * 12, report.Exported);
        Assert.All(exported.Rows, row => Assert.False(string.IsNullOrEmpty(row.Sample.Prompt)));
        foreach (var record in records)
        {
            var row = exported.Rows.First(r => r.Sample.QueryId == record.QueryId);
            Assert.Equal((float)record.PassRate(ladder.Strong, Thresholds.Paper), row.Annotation.PassRateStrong);
            Assert.Equal((float)record.PassRate(ladder.Weak, Thresholds.Paper), row.Annotation.PassRateWeak);
        }
    }

    [Fact]
    public async Task Code_answers_are_run_against_their_tests_in_the_sandbox()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "weak-sim", 0.25, 5).Concat(SimModel(1, "strong-sim", 0.9, 5))));
        var (weak, strong) = ("weak", "strong");
        await using var workers = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
                Teacher(weak, sim.V1, "weak-sim").Concat(Teacher(strong, sim.V1, "strong-sim"))),
            builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices());

        var code = Queries.Where(q => q.Category == "code" && q.TestCases is not null).ToArray();
        Assert.True(code.Length >= 20);
        await PublishAsync(redis, code.SelectMany(q => new[] { weak, strong }.Select(t => NewTask("code", q, t, 0, 1, 2, 3))));

        var store = workers.Services.GetRequiredService<ScoreStore>();
        var records = new List<QueryRecord>();
        await WaitUntilAsync(async () =>
        {
            records = [.. (await Task.WhenAll(code.Select(q => store.ReadAsync("code", q.Id)))).OfType<QueryRecord>()];
            return records.Count == code.Length && records.All(r => r.Responses.Count == 2 && r.Responses.Values.All(v => v.Count == 4));
        }, TimeSpan.FromSeconds(180), $"{code.Length * 8} code verdicts scored");

        // Every code sample got a score from the sandbox (none unscored), and skill shows in the pass rates.
        double Mean(string teacher) => records.Average(r => r.PassRate(teacher, Thresholds.Paper));
        Assert.True(Mean(weak) < Mean(strong), $"pass rates {Mean(weak):P0} / {Mean(strong):P0}");
        Assert.True(Mean(strong) > 0.6, $"the strong simulated teacher passed only {Mean(strong):P0} of code answers");
        await workers.Services.GetRequiredService<DatasetWriters>().DisposeAsync();
        var samples = new List<StoredSample>();
        await foreach (var s in new SampleReader(workers.Services.GetRequiredService<IDatasetStore>(), "code").ReadAsync()) samples.Add(s);
        Assert.Equal(code.Length * 8, samples.Count);
        Assert.All(samples, s => Assert.True(s.Scored, s.Verdict));
        Assert.Contains(samples, s => s.Verdict.StartsWith("code: ", StringComparison.Ordinal) && s.VerifyScore == 1);
    }

    [Theory]
    [InlineData(false)] // "other" through the judge prompt
    [InlineData(true)]  // "other" through a reward model served like vLLM's POST /pooling
    public async Task Free_form_science_and_other_samples_are_graded_by_the_judge_through_the_simulator(bool rewardEndpoint)
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "teacher-sim", 0.8, 5).Concat(SimModel(1, "judge-sim", 0.9, 5))));
        await using var workers = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
                Teacher("teacher", sim.V1, "teacher-sim").Concat([
                    new("Verification:Judge:Endpoint", sim.V1), new("Verification:Judge:Model", "judge-sim"),
                    new("Verification:RewardModel:Endpoint", rewardEndpoint ? sim.BaseUrl : "")])),
            builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices());

        DemoQuery[] queries =
        [
            new("sci-1", "science", "Which gas do plants take in for photosynthesis?", "carbon dioxide"),
            new("sci-2", "science", "What is the chemical symbol of sodium?", "Na"),
            new("other-1", "general", "Write a short note thanking a colleague for their help.", null),
            new("other-2", "general", "Give three tips for sleeping better.", null),
        ];
        await PublishAsync(redis, queries.Select(q => NewTask("judged", q, "teacher", 0, 1, 2, 3)));

        var samples = new List<StoredSample>(); // each sample is flushed before its verdict goes on: readable while its part is open
        await WaitUntilAsync(async () =>
        {
            samples = [];
            await foreach (var s in new SampleReader(workers.Services.GetRequiredService<IDatasetStore>(), "judged").ReadAsync()) samples.Add(s);
            return samples.Count == 16;
        }, TimeSpan.FromSeconds(60), "16 judged samples in the store");

        Assert.All(samples.Where(s => s.Category == QueryCategory.Science), s =>
        {
            Assert.True(s.Scored, s.Verdict);
            Assert.StartsWith("judge: ", s.Verdict);
            Assert.InRange(s.VerifyScore, 0, 5);
            Assert.Contains("raw: ", s.Verdict); // the judge's reply is kept for audit
        });
        Assert.All(samples.Where(s => s.Category == QueryCategory.Other), s =>
        {
            Assert.True(s.Scored, s.Verdict);
            Assert.StartsWith("reward: coherence", s.Verdict);
            Assert.Equal(rewardEndpoint, s.Verdict.Contains("(Decision-Tree-Reward-Llama-3.1-8B)", StringComparison.Ordinal));
            Assert.InRange(s.VerifyScore, 0, 1);
        });
    }

    [Fact]
    public async Task The_judge_is_paced_to_its_requests_per_minute()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var teacherSim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "teacher-sim", 0.8, 5)));
        await using var judgeSim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "judge-sim", 0.9, 5)));
        await using var workers = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
                Teacher("teacher", teacherSim.V1, "teacher-sim").Concat([
                    new("Verification:Judge:Endpoint", judgeSim.V1), new("Verification:Judge:Model", "judge-sim"),
                    new("Verification:Judge:RequestsPerMinute", "120")])),
            builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices());

        DemoQuery[] queries = [.. Enumerable.Range(1, 3).Select(i => new DemoQuery($"sci-{i}", "science", $"Name the gas number {i} that plants take in.", "carbon dioxide"))];
        await PublishAsync(redis, queries.Select(q => NewTask("paced", q, "teacher", 0, 1, 2, 3)));
        await WaitUntilAsync(() => Task.FromResult(judgeSim.RequestTimes.Count >= 12), TimeSpan.FromSeconds(60), "12 judge requests");

        // 120/min with a burst of 2: 12 requests need at least 5 s, however fast verification asks.
        var times = judgeSim.RequestTimes.Order().ToArray();
        Assert.True(times[^1] - times[0] >= TimeSpan.FromSeconds(4.5), $"12 judge requests at 120/min took {(times[^1] - times[0]).TotalSeconds:F2} s");
    }

    private sealed class ListSink : IExportSink
    {
        public List<(StoredSample Sample, Annotation Annotation)> Rows { get; } = [];

        public Task WriteAsync(StoredSample sample, Annotation annotation, CancellationToken cancellationToken)
        {
            Rows.Add((sample, annotation));
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

public sealed class SampleVerifierTests
{
    private static GeneratedResponse Sample(QueryCategory category, string answer, string? reference, string? thinking = "thinking", bool truncated = false) =>
        new("s1", "run", "q", category, "t", "m", 0, thinking, answer, truncated ? "length" : "stop", truncated, 10, 10, 1, 0, reference);

    [Fact]
    public void Instruction_following_is_the_fraction_of_instructions_followed()
    {
        const string tests = """{"type":"ifeval","instruction_id_list":["punctuation:no_comma","startend:quotation"],"kwargs":[{},{}]}""";
        var both = SampleVerifier.Verify(Sample(QueryCategory.InstructionFollowing, "\"No commas here\"", null) with { TestCases = tests });
        Assert.Equal((1.0, true), (both.VerifyScore, both.Scored));
        var half = SampleVerifier.Verify(Sample(QueryCategory.InstructionFollowing, "Commas, but no quotes", null) with { TestCases = tests });
        Assert.Equal(0.0, half.VerifyScore);
        Assert.Contains("not: punctuation:no_comma, startend:quotation", half.Reason);
        Assert.False(SampleVerifier.Verify(Sample(QueryCategory.InstructionFollowing, "x", null)).Scored); // no instructions: unscored
    }

    [Fact]
    public void Instruction_arguments_are_read_as_the_demo_queries_carry_them()
    {
        // IFEval's own record (ifeval/2195 of the demo): an instruction with an argument.
        const string tests = """{"type": "ifeval", "instruction_id_list": ["detectable_format:number_bullet_lists"], "kwargs": [{"num_bullets": 3}]}""";
        var three = SampleVerifier.Verify(Sample(QueryCategory.InstructionFollowing, "* Sit\n* Stay\n* Fetch", null) with { TestCases = tests });
        Assert.Equal((1.0, true), (three.VerifyScore, three.Scored));
        var two = SampleVerifier.Verify(Sample(QueryCategory.InstructionFollowing, "* Sit\n* Stay", null) with { TestCases = tests });
        Assert.Equal((0.0, true), (two.VerifyScore, two.Scored));
    }

    [Fact]
    public void Math_is_scored_by_answer_equivalence()
    {
        Assert.Equal(1, SampleVerifier.Verify(Sample(QueryCategory.Math, "so \\boxed{\\frac{1}{2}}", "0.5")).VerifyScore);
        Assert.Equal(0, SampleVerifier.Verify(Sample(QueryCategory.Math, "so \\boxed{3}", "0.5")).VerifyScore);
    }

    [Fact]
    public void Science_multiple_choice_is_scored_on_the_0_to_5_scale()
    {
        Assert.Equal(5, SampleVerifier.Verify(Sample(QueryCategory.Science, "The answer is (C).", "C")).VerifyScore);
        Assert.Equal(0, SampleVerifier.Verify(Sample(QueryCategory.Science, "The answer is (A).", "C")).VerifyScore);
    }

    [Theory]
    [InlineData(true, "thinking", "\\boxed{1}", "truncated")]
    [InlineData(false, null, "\\boxed{1}", "no think content")]
    [InlineData(false, "thinking", "", "no final answer")]
    public void Quality_checks_fail_a_sample_with_their_reason(bool truncated, string? thinking, string answer, string reason)
    {
        var verdict = SampleVerifier.Verify(Sample(QueryCategory.Math, answer, "1", thinking, truncated));
        Assert.Equal(0, verdict.VerifyScore);
        Assert.True(verdict.Scored);
        Assert.Contains(reason, verdict.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(QueryCategory.Code)]
    [InlineData(QueryCategory.InstructionFollowing)]
    [InlineData(QueryCategory.Other)]
    public void Categories_without_a_verifier_are_unscored_never_passed(QueryCategory category)
    {
        var verdict = SampleVerifier.Verify(Sample(category, "anything", null));
        Assert.False(verdict.Scored);
        Assert.StartsWith("unscored", verdict.Reason, StringComparison.Ordinal);
    }
}

public sealed class ScoreStoreTests
{
    [Fact]
    public async Task Redelivered_and_concurrent_verdicts_are_counted_once()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        var store = new ScoreStore(redis);
        var verdicts = Enumerable.Range(0, 4).Select(pass =>
            new VerifiedResponse($"s{pass}", "run", "q1", QueryCategory.Math, "deepseek-r1", pass, pass % 2, pass % 2 == 1, true, "math")).ToArray();

        // Every verdict delivered three times, by concurrent workers, in any order.
        await Task.WhenAll(verdicts.Concat(verdicts).Concat(verdicts).OrderBy(_ => Guid.NewGuid()).Select(v => Task.Run(() => store.RecordAsync(v))));

        var record = await store.ReadAsync("run", "q1");
        Assert.NotNull(record);
        Assert.Equal([0, 1, 0, 1], record.Scores("deepseek-r1"));
        Assert.Equal(0.5, record.PassRate("deepseek-r1", Thresholds.Paper));
        Assert.Equal((1L, 4L, 0L), await store.CountAsync("run")); // no expected count: never final
    }

    [Fact]
    public async Task The_record_is_final_exactly_once_when_its_last_sample_arrives()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        var store = new ScoreStore(redis);
        var verdicts = Enumerable.Range(0, 6).Select(i => new VerifiedResponse($"s{i}", "run", "q1", QueryCategory.Math, i < 3 ? "weak" : "strong",
            i % 3, i % 2, i % 2 == 1, true, "math", ExpectedSamples: 6)).ToArray();

        foreach (var v in verdicts.Take(5)) Assert.False(await store.RecordAsync(v));
        Assert.False(await store.RecordAsync(verdicts[2])); // a redelivery is not the last sample
        Assert.False(await store.IsFinalAsync("run", "q1"));
        Assert.True(await store.RecordAsync(verdicts[5]));
        Assert.True(await store.IsFinalAsync("run", "q1"));
        // Redelivered after it was final: it stays final and is not finalised again.
        var again = await Task.WhenAll(verdicts.Select(v => Task.Run(() => store.RecordAsync(v))));
        Assert.DoesNotContain(true, again);
        Assert.Equal((1L, 6L, 1L), await store.CountAsync("run"));
        Assert.Equal(3, (await store.ReadAsync("run", "q1"))!.Scores("strong").Count);
    }

    [Fact]
    public async Task A_cascade_query_is_final_with_its_first_teacher_alone_when_it_always_passes_and_escalated_otherwise()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        var store = new ScoreStore(redis);
        var db = redis.GetDatabase();
        await db.HashSetAsync(RunKeys.Stats("run"), "expected_samples", 24); // 2 queries × (2 + 2 + 2)
        VerifiedResponse Verdict(string query, string teacher, int pass, bool passed) => new($"{query}-{teacher}-{pass}", "run", query, QueryCategory.Math,
            teacher, pass, passed ? 1 : 0, passed, true, "math", ExpectedSamples: 6, CascadeSamples: 2);

        // Solved: both first passes pass. A redelivered pass is not counted twice.
        Assert.False(await store.RecordAsync(Verdict("easy", "weak", 0, true)));
        Assert.False(await store.RecordAsync(Verdict("easy", "weak", 0, true)));
        Assert.Null((string?)await db.HashGetAsync(RunKeys.Cascade("run"), "easy"));
        Assert.True(await store.RecordAsync(Verdict("easy", "weak", 1, true)));
        Assert.Equal("solved", (string?)await db.HashGetAsync(RunKeys.Cascade("run"), "easy"));
        Assert.Equal(20, (long)await db.HashGetAsync(RunKeys.Stats("run"), "expected_samples")); // 4 samples fewer to wait for
        Assert.False(await store.RecordAsync(Verdict("easy", "weak", 1, true))); // final once

        // Escalated: one first pass fails; final only with the other teachers' samples.
        Assert.False(await store.RecordAsync(Verdict("hard", "weak", 0, true)));
        Assert.False(await store.RecordAsync(Verdict("hard", "weak", 1, false)));
        Assert.Equal("escalated", (string?)await db.HashGetAsync(RunKeys.Cascade("run"), "hard"));
        foreach (var (teacher, pass) in new[] { ("middle", 0), ("middle", 1), ("strong", 0) })
            Assert.False(await store.RecordAsync(Verdict("hard", teacher, pass, true)));
        Assert.True(await store.RecordAsync(Verdict("hard", "strong", 1, true)));
        Assert.Equal(20, (long)await db.HashGetAsync(RunKeys.Stats("run"), "expected_samples"));
        Assert.Equal((2L, 8L, 2L), await store.CountAsync("run"));
        Assert.Equal(2, (await store.ReadAsync("run", "hard"))!.Scores("strong").Count);
    }

    [Fact]
    public async Task Unscored_samples_are_kept_apart_from_scores()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        var store = new ScoreStore(redis);
        await store.RecordAsync(new VerifiedResponse("s0", "run", "c1", QueryCategory.Code, "deepseek-r1", 0, 0, false, false, "unscored: no verifier for Code yet"));
        await store.RecordAsync(new VerifiedResponse("s1", "run", "c1", QueryCategory.Code, "deepseek-r1", 1, 1, true, true, "code"));

        var record = await store.ReadAsync("run", "c1");
        Assert.Equal([1.0], record!.Scores("deepseek-r1"));
        Assert.Equal(AmDistill.Scoring.Core.QueryCategory.Code, record.Category);
    }

    /// <summary>
    /// Redis holds the backlog, not the history: a query made final leaves Redis (its score hash, its samples'
    /// generation and verification done-markers, its store marker) once its final record is in the dataset store, and late
    /// duplicates of its generation tasks, samples and verdicts, recognised by the run's final set, change nothing: no
    /// teacher is asked again, no counter moves, no record is written twice.
    /// </summary>
    [Fact]
    public async Task A_final_query_leaves_redis_and_its_late_duplicates_change_nothing()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "sim", 0.6, 1)));
        await using var workers = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(Teacher("t", sim.V1, "sim")),
            builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices());
        var db = redis.GetDatabase();
        var math = Queries.Where(q => q.Category == "math").Take(6).ToArray();
        var tasks = math.Select(q => NewTask("run", q, "t", 0, 1, 2, 3) with { ExpectedSamples = 4 }).ToArray();
        await PublishAsync(redis, tasks);
        await WaitUntilAsync(async () => await db.SetLengthAsync(RunKeys.Final("run")) == math.Length, TimeSpan.FromSeconds(60), "every query final");
        await SettledAsync(db);

        async Task<long> KeysAsync(string pattern)
        {
            long count = 0;
            await foreach (var _ in redis.GetServer(redis.GetEndPoints()[0]).KeysAsync(pattern: pattern)) count++;
            return count;
        }
        Assert.Equal(0, await KeysAsync($"{ProcessOnce.MarkerPrefix}*"));
        Assert.Equal(0, await KeysAsync(RunKeys.QueryRecord("run", "*")));
        // The record is read from the store now, whole.
        var store = workers.Services.GetRequiredService<ScoreStore>();
        Assert.All(await Task.WhenAll(math.Select(q => store.ReadAsync("run", q.Id))), r => Assert.Equal(4, r!.Responses["t"].Count));

        var stats = await db.HashGetAllAsync(RunKeys.Stats("run"));
        var requests = sim.Completed;
        var samples = await db.StreamRangeAsync(Streams.Verification.Name);
        var verdicts = await db.StreamRangeAsync(Streams.Scoring.Name);
        // Late duplicates of everything: the tasks (a feeder's batch published twice), the samples and the verdicts (redeliveries).
        await PublishAsync(redis, tasks);
        foreach (var entry in samples) await db.StreamAddAsync(Streams.Verification.Name, entry.Values);
        foreach (var entry in verdicts) await db.StreamAddAsync(Streams.Scoring.Name, entry.Values);
        await SettledAsync(db);

        Assert.Equal(requests, sim.Completed);
        Assert.Equal(stats.OrderBy(e => e.Name.ToString()).Select(e => e.ToString()), (await db.HashGetAllAsync(RunKeys.Stats("run"))).OrderBy(e => e.Name.ToString()).Select(e => e.ToString()));
        Assert.Equal(samples.Length * 2, await db.StreamLengthAsync(Streams.Verification.Name)); // only the ones added by hand
        Assert.Equal(verdicts.Length * 2, await db.StreamLengthAsync(Streams.Scoring.Name));
        var lines = new List<string>();
        await foreach (var line in DatasetLines.ReadAsync(workers.Services.GetRequiredService<IDatasetStore>(), "run", DatasetKinds.Queries)) lines.Add(line);
        Assert.Equal(math.Length, lines.Count);
        Assert.Equal(0, await KeysAsync($"{ProcessOnce.MarkerPrefix}*"));
        Assert.Equal(0, await KeysAsync(RunKeys.QueryRecord("run", "*")));
    }

    /// <summary>Until every stage's group has taken and acknowledged all it was given.</summary>
    private static Task SettledAsync(IDatabase db) => WaitUntilAsync(async () =>
    {
        foreach (var (stream, group) in new[] { (Streams.Generation.Name, "generation"), (Streams.Verification.Name, "verification"), (Streams.Scoring.Name, "scoring") })
        {
            var info = (await db.StreamGroupInfoAsync(stream)).SingleOrDefault(g => g.Name == group);
            if (info.Name is null || info.Lag != 0 || info.PendingMessageCount != 0) return false;
        }
        return true;
    }, TimeSpan.FromSeconds(60), "every stage settled");
}
