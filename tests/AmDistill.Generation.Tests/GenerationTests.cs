using System.Diagnostics;
using AmDistill.Contracts;
using AmDistill.Messaging;
using StackExchange.Redis;
using static AmDistill.Generation.Tests.TestData;
using AmDistill.Scoring.Core;
using AmDistill.LocalRedis;

namespace AmDistill.Generation.Tests;

/// <summary>The generation service against the teacher simulator over real HTTP and a real redis-server.</summary>
public sealed class GenerationTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Every_pass_becomes_one_sample_with_thinking_and_answer_apart()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        // weak: reasoning_content and n; strong: inline <think> and no n (the worker must notice and split the passes).
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(
            SimModel(0, "weak-sim", 0.3, 20).Concat(SimModel(1, "strong-sim", 0.9, 20, ("ThinkFormat", "Inline"), ("SupportsN", "false")))));
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
            Teacher("weak", sim.V1, "weak-sim").Concat(Teacher("strong", sim.V1, "strong-sim", ("PricePerMillionInputTokens", "0.55"), ("PricePerMillionOutputTokens", "2.19")))));

        var queries = Queries.Where(q => q.Category == "math").Take(10).Concat(Queries.Where(q => q.Category == "code").Take(3)).ToArray();
        await PublishAsync(redis, queries.SelectMany(q => new[] { NewTask("run1", q, "weak", 0, 1, 2, 3), NewTask("run1", q, "strong", 0, 1, 2, 3) }));

        var db = redis.GetDatabase();
        var expected = queries.Length * 2 * 4;
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= expected, TimeSpan.FromSeconds(60), $"{expected} samples");
        var samples = await SamplesAsync(db);

        Assert.Equal(expected, samples.Count);
        Assert.Equal(expected, samples.Select(s => s.SampleId).Distinct().Count());
        foreach (var group in samples.GroupBy(s => (s.QueryId, s.Teacher)))
            Assert.Equal([0, 1, 2, 3], group.Select(s => s.Pass).Order());
        Assert.All(samples, s =>
        {
            Assert.False(string.IsNullOrWhiteSpace(s.Thinking));
            Assert.DoesNotContain("<think>", s.Answer, StringComparison.Ordinal);
            Assert.DoesNotContain("</think>", s.Thinking!, StringComparison.Ordinal);
            Assert.Equal("stop", s.FinishReason);
            Assert.False(s.Truncated);
            Assert.True(s.CompletionTokens > 0 && s.PromptTokens > 0);
        });
        Assert.All(samples.Where(s => s.Category == QueryCategory.Math), s => Assert.Contains("\\boxed{", s.Answer, StringComparison.Ordinal));
        Assert.All(samples.Where(s => s.Category == QueryCategory.Code), s => Assert.Contains("```python", s.Answer, StringComparison.Ordinal));
        Assert.All(samples.Where(s => s.Teacher == "strong"), s => Assert.True(s.CostUsd > 0));
        Assert.All(samples.Where(s => s.Teacher == "weak"), s => Assert.Equal(0, s.CostUsd));
        Assert.Equal("strong-sim", samples.First(s => s.Teacher == "strong").Model);
    }

    /// <summary>The simulator guesses where it cannot know a query and says why; the run counts those samples per teacher
    /// and reason (status and report show them), and counts nothing for the queries it knows.</summary>
    [Fact]
    public async Task Samples_of_queries_the_simulator_could_not_know_are_counted_with_why()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "sim", 0.6, 1)));
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(Teacher("t", sim.V1, "sim")));

        var known = Queries.First(q => q.Category == "math");
        var unseen = new DemoQuery("mine-1", "math", "What is the sum of the first 12 positive odd integers?", "144");
        await PublishAsync(redis, [NewTask("guess", known, "t", 0, 1), NewTask("guess", unseen, "t", 0, 1, 2)]);
        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 5, TimeSpan.FromSeconds(30), "5 samples");

        var stats = (await db.HashGetAllAsync(RunKeys.Stats("guess"))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal(3, stats.GetValueOrDefault(RunKeys.UnknownQueryStat("t", "not-seen")));
        Assert.Single(stats, s => s.Key.StartsWith(RunKeys.UnknownQueryPrefix, StringComparison.Ordinal));
        Assert.Equal(5, stats["t:samples"]);
    }

    [Fact]
    public async Task A_teachers_in_flight_and_requests_per_minute_limits_hold()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var slowSim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "slow-sim", 0.5, 150)));
        await using var paceSim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "pace-sim", 0.5, 1)));
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
            Teacher("narrow", slowSim.V1, "slow-sim", ("MaxInFlight", "3"))
                .Concat(Teacher("paced", paceSim.V1, "pace-sim", ("RequestsPerMinute", "600")))));

        var math = Queries.Where(q => q.Category == "math").Take(30).ToArray();
        await PublishAsync(redis, math.Take(24).Select(q => NewTask("run1", q, "narrow", 0)).Concat(math.Select(q => NewTask("run1", q, "paced", 0))));
        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 54, TimeSpan.FromSeconds(60), "54 samples");

        Assert.Equal(3, slowSim.MaxInFlight); // reached, never exceeded
        // 600/min = 10/s with a burst of one second's worth: 30 requests span at least ~2 s.
        var times = paceSim.RequestTimes.Order().ToArray();
        Assert.Equal(30, times.Length);
        Assert.True(times[^1] - times[0] >= TimeSpan.FromSeconds(1.5), $"30 requests at 600/min took only {(times[^1] - times[0]).TotalSeconds:F2} s");
    }

    [Fact]
    public async Task With_20_percent_injected_faults_every_task_ends_as_a_sample_or_a_dead_letter_with_a_reason()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "flaky-sim", 0.5, 30,
            ("Faults:RateLimited", "0.08"), ("Faults:ServerError", "0.04"), ("Faults:Unavailable", "0.03"), ("Faults:Drop", "0.02"),
            ("Faults:Timeout", "0.01"), ("Faults:Length", "0.02"), ("RetryAfterSeconds", "1"))
            .Append(new("TimeoutFaultDuration", "00:00:30"))));
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
            Teacher("flaky", sim.V1, "flaky-sim", ("RequestTimeout", "00:00:02"), ("MaxRetries", "2"), ("MaxInFlight", "16"))
                .Append(new("Generation:MaxDeliveries", "3"))
                .Append(new("Generation:VisibilityTimeout", "00:00:03"))
                .Append(new("Generation:TransientRetryBudget", "00:00:20"))));

        var queries = Queries.Take(80).ToArray();
        var tasks = queries.Select(q => NewTask("run1", q, "flaky", 0)).Append(NewTask("run1", queries[0], "no-such-teacher", 0)).ToArray();
        await PublishAsync(redis, tasks);

        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) + await db.StreamLengthAsync(Streams.Generation.DeadLetterName) >= tasks.Length,
            TimeSpan.FromSeconds(120), "every task is a sample or a dead letter");
        await TasksSettledAsync(db);

        var samples = await SamplesAsync(db);
        var dead = await db.StreamRangeAsync(Streams.Generation.DeadLetterName);
        Assert.Equal(tasks.Length, samples.Count + dead.Length); // nothing lost, nothing twice
        Assert.Equal(samples.Count, samples.Select(s => s.SampleId).Distinct().Count());
        Assert.Contains(dead, d => d["error"].ToString().Contains("no-such-teacher", StringComparison.Ordinal));
        Assert.All(dead, d => Assert.False(d["error"].IsNullOrEmpty));
        var deadKeys = dead.Select(d => d["k"].ToString()).ToHashSet();
        Assert.DoesNotContain(samples, s => deadKeys.Contains($"{s.RunId}/{s.QueryId}/{s.Teacher}"));
        Assert.All(samples.Where(s => s.FinishReason == "length"), s => Assert.True(s.Truncated));
        output.WriteLine($"{samples.Count} samples, {dead.Length} dead letters; responses by status: " +
            string.Join(", ", sim.Responses.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}: {g.Count()}")));
        foreach (var reason in dead.GroupBy(d => d["error"].ToString()).Take(5)) output.WriteLine($"dead letter ×{reason.Count()}: {reason.Key}");
        Assert.Contains(sim.Responses, r => r.Status == 429);
        Assert.True(samples.Count >= queries.Length * 0.9, $"only {samples.Count} of {queries.Length} tasks produced a sample");

        // A 429 pauses the whole model: nothing is sent to it for its Retry-After (1 s), give or take the time the
        // client takes to see the 429 on a loaded machine.
        foreach (var limited in sim.Responses.Where(r => r.Status == 429))
        {
            var early = sim.Responses.Where(r => r.Started > limited.Ended.AddMilliseconds(300) && r.Started < limited.Ended.AddMilliseconds(800)).ToArray();
            Assert.True(early.Length == 0, $"{early.Length} requests sent during the pause after a 429 at {limited.Ended:HH:mm:ss.fff}");
        }
    }

    [Fact]
    public async Task The_worker_registers_its_teachers_without_keys_and_skips_the_tasks_of_a_cancelled_run()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "weak-sim", 0.3, 20)));
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
            Teacher("weak", sim.V1, "weak-sim", ("ApiKey", "sk-secret"), ("PricePerMillionOutputTokens", "2.19"))));
        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.HashExistsAsync(RunKeys.Teachers, "weak"), TimeSpan.FromSeconds(30), "the teachers' registration");
        var registered = (string)(await db.HashGetAsync(RunKeys.Teachers, "weak"))!;
        Assert.Contains("\"model\":\"weak-sim\"", registered, StringComparison.Ordinal);
        Assert.Contains("\"pricePerMillionOutputTokens\":2.19", registered, StringComparison.Ordinal);
        Assert.DoesNotContain("sk-secret", registered, StringComparison.Ordinal);

        await db.HashSetAsync(RunKeys.Run("stopped"), "state", RunStates.Cancelled);
        var queries = Queries.Where(q => q.Category == "math").Take(3).ToArray();
        await PublishAsync(redis, queries.SelectMany(q => new[] { NewTask("stopped", q, "weak", 0, 1), NewTask("live", q, "weak", 0, 1) }));
        await WaitUntilAsync(async () => (await StreamStatus.ReadAsync(db, Streams.Generation.Name)).Backlog == 0, TimeSpan.FromSeconds(60), "every task handled");
        var samples = await SamplesAsync(db);
        Assert.Equal(6, samples.Count);
        Assert.All(samples, s => Assert.Equal("live", s.RunId));
        Assert.Equal(3, sim.Completed); // one request (n = 2) per live task, none for the cancelled run
    }

    [Fact]
    public async Task A_runs_sampling_and_prices_override_the_teachers_and_make_other_samples()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "weak-sim", 0.3, 20)));
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(Teacher("weak", sim.V1, "weak-sim")));

        var query = Queries.First(q => q.Category == "math");
        await PublishAsync(redis, [NewTask("run1", query, "weak", 0, 1),
            NewTask("run1", query, "weak", 0, 1) with { Settings = new TeacherSettings(MaxTokens: 8, PricePerMillionOutputTokens: 1000) }]);
        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 4, TimeSpan.FromSeconds(60), "4 samples");
        var samples = await SamplesAsync(db);

        Assert.Equal(4, samples.Select(s => s.SampleId).Distinct().Count()); // same run, query, teacher and passes: other settings, other samples
        var (own, overridden) = (samples.Where(s => s.CostUsd == 0).ToList(), samples.Where(s => s.CostUsd > 0).ToList());
        Assert.Equal(2, own.Count);
        Assert.All(own, s => Assert.Equal(("stop", false), (s.FinishReason, s.Truncated)));
        Assert.Equal(2, overridden.Count);
        Assert.All(overridden, s => Assert.Equal(("length", true), (s.FinishReason, s.Truncated))); // max_tokens 8 reached the teacher
        Assert.All(overridden, s => Assert.Equal(s.CompletionTokens * 1000m / 1_000_000m, s.CostUsd));
    }

    [Fact]
    public async Task A_teacher_that_keeps_failing_or_rejects_the_request_dead_letters_the_task_with_the_reason()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "down-sim", 0.5, 1, ("Faults:ServerError", "1"))));
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
            Teacher("down", sim.V1, "down-sim", ("MaxRetries", "1"))
                .Concat(Teacher("misnamed", sim.V1, "no-such-model"))
                .Append(new("Generation:MaxDeliveries", "2"))
                .Append(new("Generation:VisibilityTimeout", "00:00:01"))
                .Append(new("Generation:TransientRetryBudget", "00:00:01"))));

        var query = Queries[0];
        await PublishAsync(redis, [NewTask("run1", query, "down", 0), NewTask("run1", query, "misnamed", 0)]);
        var db = redis.GetDatabase();
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Generation.DeadLetterName) == 2, TimeSpan.FromSeconds(60), "both tasks dead-lettered");

        var dead = (await db.StreamRangeAsync(Streams.Generation.DeadLetterName)).ToDictionary(d => d["k"].ToString());
        Assert.Contains("down answered 500", dead[$"run1/{query.Id}/down"]["error"].ToString(), StringComparison.Ordinal);
        Assert.Equal("2", dead[$"run1/{query.Id}/down"]["deliveries"]);
        Assert.Contains("misnamed answered 404", dead[$"run1/{query.Id}/misnamed"]["error"].ToString(), StringComparison.Ordinal);
        Assert.Equal("1", dead[$"run1/{query.Id}/misnamed"]["deliveries"]); // permanent: no retry
        Assert.Equal(0, await db.StreamLengthAsync(Streams.Verification.Name));
    }

    [Fact]
    public async Task Killing_the_worker_mid_run_and_restarting_it_yields_each_sample_exactly_once()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "steady-sim", 0.5, 100)));
        var queries = Queries.Take(100).ToArray();
        await PublishAsync(redis, queries.Select(q => NewTask("run1", q, "steady", 0, 1)));
        var db = redis.GetDatabase();

        using (var first = StartWorker(redisServer.ConnectionString, sim.V1))
        {
            await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 60, TimeSpan.FromSeconds(60), "60 samples");
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }
        var atKill = await db.StreamLengthAsync(Streams.Verification.Name);
        output.WriteLine($"{atKill} samples when the worker was killed");
        Assert.True(atKill < 200, "killed mid-run");

        using var second = StartWorker(redisServer.ConnectionString, sim.V1);
        try
        {
            await WaitUntilAsync(async () => (await SamplesAsync(db)).Select(s => s.SampleId).Distinct().Count() == 200, TimeSpan.FromSeconds(60), "all 200 samples");
            await TasksSettledAsync(db);
            var samples = await SamplesAsync(db);
            Assert.Equal(200, samples.Count);
            Assert.Equal(200, samples.Select(s => s.SampleId).Distinct().Count());
            // The restarted worker paid only for what was missing, plus what the killed one had in flight.
            output.WriteLine($"{sim.Completed} teacher requests for 200 samples");
            Assert.True(sim.Completed <= 200 + 16 + 8, $"{sim.Completed} requests for 200 samples");
        }
        finally
        {
            second.Kill(entireProcessTree: true);
        }
    }

    private static Process StartWorker(string redis, string endpoint) => WorkerProcess.Start(redis, new Dictionary<string, string?>(
        Teacher("steady", endpoint, "steady-sim", ("MaxInFlight", "8"))));
}
