using System.Text;
using System.Text.Json;
using AmDistill.Api.Runs;
using AmDistill.Contracts;
using AmDistill.Runs;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using AmDistill.LocalRedis;

namespace AmDistill.Api.Tests;

/// <summary>The control plane's runs against a real redis-server: state changes, the teacher check, the feeder's
/// backpressure, pause, restart without refeeding, cancel, and completion with the run's outputs.</summary>
public sealed class RunLifecycleTests : IAsyncLifetime
{
    private LocalRedisServer _server = null!;
    private ConnectionMultiplexer _redis = null!;
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-api-").FullName;
    private LocalDatasetStore _store = null!;
    private RunRegistry _runs = null!;

    public async Task InitializeAsync()
    {
        _server = await LocalRedisServer.StartAsync();
        _redis = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString);
        _store = new LocalDatasetStore(_root);
        _runs = new RunRegistry(_redis, _store);
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private IDatabase Db => _redis.GetDatabase();

    private static RunConfiguration Config(string run, string teachers = """[{"name": "weak", "passes": 2}, {"name": "strong", "passes": 2}]""",
        string feeder = """{"batchQueries": 5, "maxQueuedTasks": 10}""") =>
        RunConfiguration.Parse($$$"""
            {"run": "{{{run}}}", "teachers": {{{teachers}}}, "ingestion": {"decontaminateAgainst": []}, "feeder": {{{feeder}}}}
            """).Configuration!;

    /// <summary>20 distinct math questions, one bad line.</summary>
    private static MemoryStream Queries()
    {
        var lines = Enumerable.Range(1, 20).Select(i => JsonSerializer.Serialize(new
        {
            id = $"q{i}",
            category = "math",
            question = $"Problem {i}: compute the sum of the first {i * 7} odd numbers and then divide it by {i + 2}, giving an exact fraction.",
            reference_answer = $"{i}",
        })).Append("{ not json").ToList();
        return new MemoryStream(Encoding.UTF8.GetBytes(string.Join('\n', lines)));
    }

    private Task RegisterTeachersAsync() => Db.HashSetAsync(RunKeys.Teachers,
        [new("weak", """{"model": "weak-model"}"""), new("strong", """{"model": "strong-model"}""")]);

    private RunFeeder Feeder(TimeProvider? time = null)
    {
        var services = new ServiceCollection().AddMetrics().AddHttpClient().BuildServiceProvider();
        return new RunFeeder(_runs, new RunOutputs(_runs, _store, services.GetRequiredService<IHttpClientFactory>(), NullLogger<RunOutputs>.Instance),
                new TrainingEvaluation(_runs, services.GetRequiredService<IHttpClientFactory>(), _redis, NullLogger<TrainingEvaluation>.Instance),
            new StreamProducer<GenerationTask>(_redis, Streams.Generation), new StreamProducer<GeneratedResponse>(_redis, Streams.Verification), _redis,
            services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), time ?? TimeProvider.System, NullLogger<RunFeeder>.Instance);
    }

    /// <summary>Until the feeder has looked at its runs <paramref name="passes"/> more times: whatever it would feed, it has.</summary>
    private static Task PassesAsync(RunFeeder feeder, int passes = 3)
    {
        var target = feeder.Passes + passes;
        return WaitUntilAsync(() => Task.FromResult(feeder.Passes >= target), $"{passes} passes of the feeder");
    }

    private async Task<long> CursorAsync(string run) => (await _runs.GetAsync(run))!.Cursor;

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>What a generation worker does to the backlog: takes every task and acknowledges it.</summary>
    private async Task<List<GenerationTask>> ConsumeAllAsync()
    {
        try { await Db.StreamCreateConsumerGroupAsync(Streams.Generation.Name, "generation", "0"); }
        catch (RedisServerException) { } // exists
        var entries = await Db.StreamReadGroupAsync(Streams.Generation.Name, "generation", "test", ">", 1000);
        if (entries.Length > 0) await Db.StreamAcknowledgeAsync(Streams.Generation.Name, "generation", [.. entries.Select(e => e.Id)]);
        return [.. entries.Select(e => JsonSerializer.Deserialize(e["d"].ToString() /* the payload field */, ContractsJsonContext.Default.GenerationTask)!)];
    }

    /// <summary>A body that stops as Kestrel stops one past the upload limit.</summary>
    private sealed class OversizedBody() : MemoryStream(new byte[1 << 20])
    {
        public override Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken) =>
            throw new Microsoft.AspNetCore.Http.BadHttpRequestException("Request body too large.", 413);
    }

    [Fact]
    public async Task An_upload_past_the_limit_is_a_413_and_leaves_nothing_on_disk()
    {
        Assert.Null(await _runs.CreateAsync(Config("big")));
        var (report, problem) = await _runs.UploadAsync("big", new OversizedBody(), parquet: false, CancellationToken.None);
        Assert.Null(report);
        Assert.Equal(413, problem!.Status);
        Assert.Empty(Directory.EnumerateFiles(_root, "upload.*", SearchOption.AllDirectories));

        // An accepted upload is ingested and its raw copy removed too.
        Assert.Null((await _runs.UploadAsync("big", Queries(), parquet: false, CancellationToken.None)).Problem);
        Assert.Empty(Directory.EnumerateFiles(_root, "upload.*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_run_is_created_once_ingested_and_started_only_with_known_teachers()
    {
        Assert.Null(await _runs.CreateAsync(Config("r")));
        Assert.Equal(409, (await _runs.CreateAsync(Config("r")))!.Status);
        Assert.Equal(409, (await _runs.StartAsync("r"))!.Status); // no queries yet

        var (report, problem) = await _runs.UploadAsync("r", Queries(), parquet: false, CancellationToken.None);
        Assert.Null(problem);
        Assert.Equal((21L, 20L, 1L), (report!.Read, report.Kept, report.BadLines));
        Assert.StartsWith("line 21: invalid JSON", report.Errors.Single(), StringComparison.Ordinal);
        Assert.Equal(80, (long)await Db.HashGetAsync(RunKeys.Stats("r"), "expected_samples")); // 20 queries × (2 + 2) passes

        Assert.Equal(503, (await _runs.StartAsync("r"))!.Status); // no generation service has registered its teachers
        await RegisterTeachersAsync();
        Assert.Null(await _runs.CreateAsync(Config("ghost", """[{"name": "ghost"}, {"name": "strong", "model": "other-model"}]""")));
        await _runs.UploadAsync("ghost", Queries(), false, CancellationToken.None);
        var refused = await _runs.StartAsync("ghost");
        Assert.Equal(400, refused!.Status);
        Assert.Equal("teachers[0].name: 'ghost' is not a teacher of the generation service nor a served model (known: strong, weak); " +
            "teachers[1].model: the run asks for 'other-model', teacher 'strong' serves 'strong-model'", refused.Message);

        Assert.Null(await _runs.StartAsync("r"));
        Assert.Equal(409, (await _runs.UploadAsync("r", Queries(), false, CancellationToken.None)).Problem!.Status); // started: no more uploads
        Assert.Equal(409, (await _runs.MoveAsync("r", RunStates.Running, RunStates.Paused))!.Status);                // resume what is not paused
        Assert.False(await Db.HashExistsAsync(RunKeys.Stats("r"), "ended"));
        Assert.Null(await _runs.MoveAsync("r", RunStates.Cancelled, RunStates.Created, RunStates.Running, RunStates.Paused));
        Assert.Equal(RunStates.Cancelled, (await _runs.GetAsync("r"))!.State);
        Assert.True(await Db.HashExistsAsync(RunKeys.Stats("r"), "ended")); // its clock stops: elapsed and throughput hold
    }

    [Fact]
    public async Task A_deleted_run_leaves_no_state_markers_or_files_and_its_id_can_be_used_again()
    {
        await RegisterTeachersAsync();
        Assert.Equal(404, (await _runs.DeleteAsync("d"))!.Status);
        await _runs.CreateAsync(Config("d"));
        await _runs.UploadAsync("d", Queries(), false, CancellationToken.None);
        await _runs.StartAsync("d");
        Assert.Equal(409, (await _runs.DeleteAsync("d"))!.Status); // running: cancel it first

        // What the pipeline leaves of a run: counters, finals, score records, done-markers of each stage, stored samples.
        string[] runKeys = [RunKeys.Final("d"), ScoreKey("d"), .. RunKeys.OnceStages.Select(stage => ProcessOnce.MarkerKey(RunKeys.OnceScope(stage, "d"), "s1"))];
        foreach (var key in runKeys) await Db.StringSetAsync(key, "1");
        string[] otherRun = [ScoreKey("dd"), ProcessOnce.MarkerKey(RunKeys.OnceScope("generation", "dd"), "s1")];
        foreach (var key in otherRun) await Db.StringSetAsync(key, "1");
        await using (var writers = new DatasetWriters(_store, "test"))
            await writers.AppendLineAsync("d", DatasetKinds.Queries, "{}"u8.ToArray(), CancellationToken.None);

        Assert.Null(await _runs.MoveAsync("d", RunStates.Cancelled, RunStates.Running));
        Assert.Null(await _runs.DeleteAsync("d"));
        Assert.Null(await _runs.GetAsync("d"));
        Assert.DoesNotContain("d", await _runs.ListAsync());
        Assert.DoesNotContain("d", await _runs.ListActiveAsync());
        foreach (var key in runKeys.Append(RunKeys.Stats("d"))) Assert.False(await Db.KeyExistsAsync(key), key);
        foreach (var key in otherRun) Assert.True(await Db.KeyExistsAsync(key), key);
        Assert.False(Directory.Exists(_runs.RunDirectory("d")));

        // The id is free: a new run of it starts from nothing.
        Assert.Null(await _runs.CreateAsync(Config("d")));
        Assert.Equal(0, (await _runs.GetAsync("d"))!.Queries);

        static string ScoreKey(string run) => $"{RunKeys.Run(run)}:query:q1";
    }

    [Fact]
    public async Task The_feeder_waits_on_the_backlog_pauses_resumes_after_a_restart_without_refeeding_and_completes_the_run()
    {
        await RegisterTeachersAsync();
        await _runs.CreateAsync(Config("r"));
        await _runs.UploadAsync("r", Queries(), false, CancellationToken.None);
        Assert.Null(await _runs.StartAsync("r"));

        var tasks = new List<GenerationTask>();
        var feeder = Feeder();
        await feeder.StartAsync(CancellationToken.None);
        // 5 queries × 2 teachers = 10 tasks fill the allowed backlog: nothing more until a worker takes them.
        await WaitUntilAsync(async () => await CursorAsync("r") == 5, "the first batch");
        await PassesAsync(feeder);
        Assert.Equal((5L, 10L), (await CursorAsync("r"), await Db.StreamLengthAsync(Streams.Generation.Name)));
        tasks.AddRange(await ConsumeAllAsync());
        await WaitUntilAsync(async () => await CursorAsync("r") == 10, "the second batch");

        // Paused: the backlog empties, yet nothing is fed.
        Assert.Null(await _runs.MoveAsync("r", RunStates.Paused, RunStates.Running));
        tasks.AddRange(await ConsumeAllAsync());
        await PassesAsync(feeder);
        Assert.Equal(10, await CursorAsync("r"));

        // A restart (another feeder, the lease handed over) resumes at the cursor.
        await feeder.StopAsync(CancellationToken.None);
        feeder.Dispose();
        feeder = Feeder();
        await feeder.StartAsync(CancellationToken.None);
        Assert.Null(await _runs.MoveAsync("r", RunStates.Running, RunStates.Paused));
        while (await CursorAsync("r") < 20 || await Db.StreamLengthAsync(Streams.Generation.Name) > tasks.Count)
        {
            tasks.AddRange(await ConsumeAllAsync());
            await Task.Delay(50);
        }
        tasks.AddRange(await ConsumeAllAsync());
        Assert.Equal(40, tasks.Count); // 20 queries × 2 teachers, none fed twice
        Assert.Equal(40, tasks.Select(t => t.Key).Distinct().Count());
        Assert.All(tasks, t => Assert.Equal((2, 4), (t.Passes.Count, t.ExpectedSamples)));

        // Every query final: the run's exports and report are written and the run completes.
        await Db.SetAddAsync(RunKeys.Final("r"), [.. Enumerable.Range(1, 20).Select(i => (RedisValue)$"q{i}")]);
        await WaitUntilAsync(async () => (await _runs.GetAsync("r"))!.State == RunStates.Completed, "completion");
        Assert.Equal(["all.jsonl", "report.html", "stage1-messages.jsonl", "stage1.parquet"],
            Directory.GetFiles(_runs.ExportDirectory("r")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        await feeder.StopAsync(CancellationToken.None);
        feeder.Dispose();
    }

    [Fact]
    public async Task Imports_at_once_keep_each_files_rows_and_a_run_of_imports_starts_without_registered_teachers()
    {
        Assert.Null(await _runs.CreateAsync(Config("imp", teachers: """[{"name": "r1", "imported": true}]""")));
        MemoryStream Rows(string prefix, int count) => new(Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(0, count).Select(i =>
            JsonSerializer.Serialize(new { question = $"{prefix} question {i}", answer = "42", category = "math", ground_truth = "42", model_name = "r1" })))));
        var results = await Task.WhenAll(_runs.ImportAsync("imp", Rows("a", 30), false, CancellationToken.None), _runs.ImportAsync("imp", Rows("b", 20), false, CancellationToken.None));
        // One may have to be sent again (409: the other changed the run meanwhile); none loses the other's rows.
        if (results[0].Problem is { Status: 409 }) Assert.Null((await _runs.ImportAsync("imp", Rows("a", 30), false, CancellationToken.None)).Problem);
        if (results[1].Problem is { Status: 409 }) Assert.Null((await _runs.ImportAsync("imp", Rows("b", 20), false, CancellationToken.None)).Problem);
        Assert.Equal(409, (await _runs.UploadAsync("imp", Queries(), false, CancellationToken.None)).Problem!.Status); // one source of queries

        Assert.Null(await _runs.StartAsync("imp")); // no generation service registered: none is asked
        var info = (await _runs.GetAsync("imp"))!;
        Assert.Equal((50L, 50L, 2), (info.Queries, info.Samples, info.Imports!.Count));
    }

    [Fact]
    public async Task A_completed_runs_history_leaves_redis_but_what_a_redrive_needs_stays()
    {
        await _runs.CreateAsync(Config("h"));
        // What the pipeline leaves: a done-marker per sample and stage, a score record per query, one of them holding a
        // dead-lettered placeholder; and another run's state, which is not touched.
        foreach (var run in new[] { "h", "other" })
            for (var q = 0; q < 50; q++)
            {
                foreach (var stage in new[] { "generation", "verification" })
                    await Db.StringSetAsync(ProcessOnce.MarkerKey(RunKeys.OnceScope(stage, run), $"{run}/q{q}/t/0"), "1");
                await Db.HashSetAsync(RunKeys.QueryRecord(run, $"q{q}"), [new("category", "math"), new("expected", 1),
                    new(RunKeys.QueryRecordField("t", 0, q == 7 ? VerifiedResponse.DeadLetteredSampleId("t", 0) : $"s{q}"), q == 7 ? "unscored" : "1")]);
                await Db.StringSetAsync(ProcessOnce.MarkerKey(RunKeys.OnceScope("query-record", run), $"q{q}"), "1");
                await Db.SetAddAsync(RunKeys.Final(run), $"q{q}");
                await Db.SetAddAsync(RunKeys.ScoredQueries(run), $"q{q}");
            }

        Assert.Equal(1 + 50 * 3 + 49, await _runs.CompactAsync("h"));
        var server = _redis.GetServers()[0];
        var left = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: "*:h:*")) left.Add(key.ToString());
        await foreach (var key in server.KeysAsync(pattern: "amdistill:run:h:*")) left.Add(key.ToString());
        Assert.Equal([RunKeys.Final("h"), RunKeys.QueryRecord("h", "q7")], left.Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(50, await Db.SetLengthAsync(RunKeys.Final("h")));
        Assert.Equal(50 * 3, (await server.KeysAsync(pattern: "amdistill:once:*:other:*").ToListAsync()).Count); // every stage of the other run
        Assert.Equal(50, (await server.KeysAsync(pattern: RunKeys.QueryRecord("other", "*")).ToListAsync()).Count);
    }

    [Fact]
    public async Task A_run_whose_training_cannot_be_submitted_keeps_its_outputs_and_retries_only_the_submission()
    {
        await RegisterTeachersAsync();
        var config = Config("t", feeder: """{"batchQueries": 50, "maxQueuedTasks": 1000}""") with { Training = new RunTraining { BaseModel = "/models/base" } };
        await _runs.CreateAsync(config);
        await _runs.UploadAsync("t", Queries(), false, CancellationToken.None);
        await _runs.StartAsync("t");
        await Db.SetAddAsync(RunKeys.Final("t"), [.. Enumerable.Range(1, 20).Select(i => (RedisValue)$"q{i}")]);
        // A clock 20 times as fast: the feeder's 5 s retry interval passes in a quarter of a second.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var ticking = new CancellationTokenSource();
        var ticks = Task.Run(async () =>
        {
            while (!ticking.IsCancellationRequested)
            {
                await Task.Delay(5);
                clock.Advance(TimeSpan.FromMilliseconds(100));
            }
        });
        var feeder = Feeder(clock); // no trainer service here: the submission fails
        await feeder.StartAsync(CancellationToken.None);
        await WaitUntilAsync(async () => (await _runs.GetAsync("t"))!.Finished.Contains("outputs"), "the outputs");
        var report = new FileInfo(Path.Combine(_runs.ExportDirectory("t"), RunOutputs.ReportFile));
        var written = report.LastWriteTimeUtc;
        await PassesAsync(feeder); // each after a failed submission and its retry interval
        var info = await _runs.GetAsync("t");
        Assert.Equal((RunStates.Running, false), (info!.State, info.Finished.Contains("training")));
        Assert.Equal(written, new FileInfo(report.FullName).LastWriteTimeUtc); // not exported again
        await feeder.StopAsync(CancellationToken.None);
        feeder.Dispose();
        await ticking.CancelAsync();
        await ticks;
    }

    [Fact]
    public async Task A_cancelled_run_is_fed_no_further()
    {
        await RegisterTeachersAsync();
        await _runs.CreateAsync(Config("c"));
        await _runs.UploadAsync("c", Queries(), false, CancellationToken.None);
        await _runs.StartAsync("c");
        var feeder = Feeder();
        await feeder.StartAsync(CancellationToken.None);
        await WaitUntilAsync(async () => await CursorAsync("c") == 5, "the first batch");
        Assert.Null(await _runs.MoveAsync("c", RunStates.Cancelled, RunStates.Running));
        await ConsumeAllAsync();
        await PassesAsync(feeder);
        Assert.Equal((5L, 10L), (await CursorAsync("c"), await Db.StreamLengthAsync(Streams.Generation.Name)));
        await feeder.StopAsync(CancellationToken.None);
        feeder.Dispose();
    }

    [Fact]
    public async Task A_cascade_run_asks_the_other_teachers_only_for_the_queries_scoring_escalated_in_file_order()
    {
        await RegisterTeachersAsync();
        await _runs.CreateAsync(Config("k", feeder: """{"batchQueries": 5, "maxQueuedTasks": 1000, "cascade": true}"""));
        await _runs.UploadAsync("k", Queries(), false, CancellationToken.None);
        await _runs.StartAsync("k");
        var feeder = Feeder();
        await feeder.StartAsync(CancellationToken.None);

        // First the cheapest teacher alone, for every query; the task says how many of its answers decide.
        await WaitUntilAsync(async () => await CursorAsync("k") == 20, "the first teacher's tasks");
        var first = await ConsumeAllAsync();
        Assert.Equal(20, first.Count);
        Assert.All(first, t => Assert.Equal(("weak", 2, 4), (t.Teacher, t.CascadeSamples, t.ExpectedSamples)));

        // Scoring's decisions: q1 solved, q2 escalated, q3 not yet decided: q2 goes on, and the feeder waits at q3.
        await Db.HashSetAsync(RunKeys.Cascade("k"), [new("q1", "solved"), new("q2", "escalated")]);
        await WaitUntilAsync(async () => (await _runs.GetAsync("k"))!.Escalation == 2, "the first decisions");
        await PassesAsync(feeder);
        Assert.Equal(2, (await _runs.GetAsync("k"))!.Escalation);
        var second = await ConsumeAllAsync();
        Assert.Equal([("q2", "strong", 2, 4)], second.Select(t => (t.QueryId, t.Teacher, t.CascadeSamples, t.ExpectedSamples)));

        // The rest decided: every other odd query escalated.
        await Db.HashSetAsync(RunKeys.Cascade("k"), [.. Enumerable.Range(3, 18).Select(i => new HashEntry($"q{i}", i % 2 == 1 ? "escalated" : "solved"))]);
        await WaitUntilAsync(async () => (await _runs.GetAsync("k"))!.Fed, "every decision acted on");
        var rest = await ConsumeAllAsync();
        Assert.Equal(Enumerable.Range(3, 18).Where(i => i % 2 == 1).Select(i => $"q{i}"), rest.Select(t => t.QueryId));
        Assert.All(rest, t => Assert.Equal("strong", t.Teacher));
        await feeder.StopAsync(CancellationToken.None);
        feeder.Dispose();
    }
}
