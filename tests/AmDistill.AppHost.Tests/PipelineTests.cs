using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AmDistill.Contracts;
using Microsoft.Extensions.DependencyInjection;
using static AmDistill.AppHost.Tests.RunningPipeline;
using AmDistill.Scoring.Core;

namespace AmDistill.AppHost.Tests;

/// <summary>One behaviour per test, on one started system (<see cref="RunningPipeline"/>).</summary>
[Collection(AppHostCollection.Name)]
public sealed class PipelineTests(RunningPipeline pipeline) : IClassFixture<RunningPipeline>
{
    private HttpClient Api => pipeline.Api;
    private CancellationToken Token => pipeline.Token;

    [Fact]
    public async Task The_control_plane_reads_every_pipeline_stream_from_redis()
    {
        var queues = await Api.GetFromJsonAsync<JsonElement[]>("/api/queues", Token);
        Assert.Equal(["amdistill:generation", "amdistill:verification", "amdistill:scoring", "amdistill:training"],
            queues!.Select(q => q.GetProperty("stream").GetString()));
    }

    [Fact]
    public async Task An_invalid_run_configuration_is_refused_field_by_field()
    {
        using var invalid = await Api.PostAsync("/api/runs", ApiCalls.Json("""{"run": "Bad Id", "teachers": [{"name": "deepseek-r1", "passes": 0}]}"""), Token);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var problems = (await invalid.Content.ReadFromJsonAsync<ConfigurationErrors>(ApiJson.Options, Token))!.Errors;
        Assert.Contains(problems, p => p.StartsWith("run: 'Bad Id' is not a run id", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("teachers[0].passes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_demo_run_completes_with_every_sample_once_and_its_clock_stops()
    {
        var demo = await pipeline.CompletedAsync("demo");
        Assert.Equal((DemoSamples, DemoSamples, DemoSamples, DemoQueries, DemoQueries), ApiCalls.Counts(demo));
        Assert.All(demo.Models, m => Assert.Equal(DemoQueries * 4, m.Samples));
        Assert.Equal(0, demo.EtaSeconds);
        Assert.Equal("demo/export", demo.Outputs); // within the store: no server path
        Assert.Equal("figure 1, url 1", string.Join(", ", demo.Ingest!.Queries!.Dropped.Select(d => $"{d.Key} {d.Value}")));
        await Task.Delay(1100, Token);
        var later = await ApiCalls.StatusAsync(Api, "demo", Token); // an ended run's clock has stopped: its throughput holds
        Assert.Equal((demo.ElapsedSeconds, demo.SamplesPerSecond), (later.ElapsedSeconds, later.SamplesPerSecond));
    }

    [Fact]
    public async Task An_aime_run_through_the_api_completes_and_its_teachers_pass_rates_follow_their_size()
    {
        Assert.Equal((30L, 30L, 0L), (pipeline.AimeUpload.Read, pipeline.AimeUpload.Kept, pipeline.AimeUpload.BadLines));
        var aime = await pipeline.CompletedAsync("aime24");
        Assert.Equal((360L, 360L, 360L, 30L, 30L), ApiCalls.Counts(aime));
        Assert.All(aime.Models, m => Assert.Equal(120, m.Samples));
        Assert.True(aime.Throughput is { GeneratedPerSecond: > 0, VerifiedPerSecond: > 0, FinalQueriesPerSecond: > 0 }, aime.Throughput.ToString());
        var passRates = aime.Models.ToDictionary(m => m.Model, m => m.Passed / (double)(m.Passed + m.Failed));
        Assert.True(passRates["r1-distill-qwen-1.5b"] < passRates["r1-distill-qwen-7b"] && passRates["r1-distill-qwen-7b"] < passRates["deepseek-r1"],
            string.Join(", ", passRates.Select(p => $"{p.Key} {p.Value:0.00}")));

        // The scoring service's view of a query: a pass rate per teacher.
        using var scoring = pipeline.App.CreateHttpClient("scoring");
        using var query = JsonDocument.Parse(await scoring.GetStringAsync("/api/runs/aime24/queries/aime2024-II-13", Token));
        Assert.Equal(3, query.RootElement.GetProperty("passRates").EnumerateObject().Count());
    }

    /// <summary>Every query answered by the first teacher; the others answered exactly the queries it did not always
    /// solve; the run expected (and got) that many samples.</summary>
    [Fact]
    public async Task A_cascade_run_asks_the_larger_teachers_only_where_the_smallest_missed()
    {
        var cascaded = await pipeline.CompletedAsync("cascade");
        var math = cascaded.Queries; // 59: the figure problem is dropped
        var samplesBy = cascaded.Models.ToDictionary(m => m.Model, m => m.Samples);
        var solved = (math * 12 - cascaded.ExpectedSamples) / 8;
        Assert.InRange(solved, 1, math - 1);
        Assert.Equal((math * 4, (math - solved) * 4, (math - solved) * 4), (samplesBy["r1-distill-qwen-1.5b"], samplesBy["r1-distill-qwen-7b"], samplesBy["deepseek-r1"]));
        var counts = ApiCalls.Counts(cascaded);
        Assert.Equal((counts.Expected, counts.Expected, math, math), (counts.Generated, counts.Verified, counts.Fed, counts.Final));
    }

    [Fact]
    public async Task Every_sample_is_stored_with_its_verdict_and_exported_as_whole_am_rows()
    {
        await pipeline.CompletedAsync("demo");
        await pipeline.CompletedAsync("aime24");
        var store = new AmDistill.Dataset.Store.LocalDatasetStore(pipeline.Dataset);
        var samples = new List<AmDistill.Dataset.Samples.StoredSample>();
        await foreach (var sample in new AmDistill.Dataset.Store.SampleReader(store, "demo").ReadAsync(cancellationToken: Token))
            samples.Add(sample);
        Assert.Equal(DemoSamples, samples.Count); // each written and flushed before its verdict was published
        Assert.Contains(samples, s => s.Verdict.StartsWith("code: ", StringComparison.Ordinal)); // from the sandbox

        // No math sample passes with a boxed integer other than its integer reference, whatever the judge said.
        await foreach (var sample in new AmDistill.Dataset.Store.SampleReader(store, "aime24").ReadAsync(cancellationToken: Token))
            samples.Add(sample);
        var wrongButPassed = samples.Where(s => s is { Category: QueryCategory.Math, Passed: true }
                                                && long.TryParse(s.ReferenceAnswer, out var gold)
                                                && AmDistill.Verifiers.Math.AnswerExtractor.Boxed(s.Answer) is [.., var last]
                                                && long.TryParse(last.Trim(), out var boxed) && boxed != gold).ToList();
        Assert.True(wrongButPassed.Count == 0, string.Join("\n", wrongButPassed.Select(s => $"{s.QueryId} {s.Teacher}: gold {s.ReferenceAnswer}, {s.Verdict}")));

        foreach (var (run, queries) in new[] { ("demo", DemoQueries), ("aime24", 30) })
        {
            var export = Path.Combine(pipeline.Dataset, run, "export");
            Assert.Equal(queries * 3 * 4, File.ReadLines(Path.Combine(export, "all.jsonl")).Count());
            Assert.InRange(File.ReadLines(Path.Combine(export, "stage1-messages.jsonl")).Count(), 1, queries * 4);
            Assert.True(new FileInfo(Path.Combine(export, "stage1.parquet")).Length > 0);
        }
        // Whole AM rows: every row says where its question came from; code and IF rows carry their tests.
        var rows = File.ReadLines(Path.Combine(pipeline.Dataset, "demo", "export", "all.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(rows, r => Assert.NotEqual("", r.GetProperty("question_source").GetString()));
        Assert.All(rows.Where(r => r.GetProperty("category").GetString() == "code"), r => Assert.NotEqual("", r.GetProperty("test_case").GetString()));
        Assert.All(rows.Where(r => r.GetProperty("category").GetString() == "if"), r => Assert.NotEqual("", r.GetProperty("instruction_constrain").GetString()));
    }

    /// <summary>
    /// The paper's loop closed on the CPU: the completed run submitted its training job; the trainer took the run's
    /// Stage I selection from the store with the run's settings (the 7B's answers, as in the run's export; the paper's
    /// default would take R1's) and trained the tiny base model; the trainer service then served the base and the trained
    /// model as teachers, and the evaluation run asked both on the benchmark slices, verified their answers like any
    /// teacher's, reported the benchmark × model table beside the training curve, and stopped the models.
    /// </summary>
    [Fact]
    public async Task A_run_with_training_and_evaluation_trains_serves_and_evaluates_the_model()
    {
        await pipeline.CompletedAsync("aime24");
        using var trainerApi = pipeline.App.CreateHttpClient("trainer");
        JsonElement training;
        do
        {
            await Task.Delay(500, Token);
            using var response = await trainerApi.GetAsync("/api/training/aime24/sft", Token);
            training = response.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(await response.Content.ReadAsStringAsync(Token)).RootElement.Clone() : default;
        }
        while (training.ValueKind != JsonValueKind.Object || training.GetProperty("state").GetString() is not ("Succeeded" or "Failed" or "Cancelled"));
        Assert.True(training.GetProperty("state").GetString() == "Succeeded", training.GetRawText());
        var stageOneSamples = File.ReadLines(Path.Combine(pipeline.Dataset, "aime24", "export", "stage1-messages.jsonl")).Count();
        Assert.Equal(stageOneSamples.ToString(System.Globalization.CultureInfo.InvariantCulture), training.GetProperty("fields").GetProperty("trainingSamples").GetString());

        var evaluation = await pipeline.CompletedAsync("aime24-eval");
        const int problems = 2 * RunningPipeline.EvaluationLimit;
        Assert.Equal((problems, problems * 2 * RunningPipeline.EvaluationPasses), (evaluation.Queries, evaluation.ExpectedSamples));
        Assert.Equal(evaluation.ExpectedSamples, evaluation.Generated); // every answer came from the served models, none dead-lettered
        // Both models answered (every sample generated) and, the evaluation over, no longer hold their memory.
        Assert.Empty((await trainerApi.GetFromJsonAsync<List<ServedTeacher>>("/api/serving", ApiJson.Options, Token))!);

        var dom = await HeadlessChromium.LoadAsync(Path.Combine(pipeline.Dataset, "aime24-eval", "export", "report.html"), Token);
        var table = dom[dom.IndexOf("id=\"benchmarks\"", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("</table>", StringComparison.Ordinal)];
        foreach (var cell in new[] { ">aime24<", ">math500<", "aime24-base avg@k", "aime24-sft avg@k", "aime24-base pass@k", "aime24-sft pass@k" })
            Assert.Contains(cell, table, StringComparison.Ordinal);
        Assert.Contains("id=\"training-curve\"", dom, StringComparison.Ordinal);
        Assert.Contains("<polyline class=\"line\"", dom, StringComparison.Ordinal);
        Assert.Contains("Job <code>aime24/sft</code>:", dom, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_exports_on_demand_and_serves_a_report_that_renders_in_chromium()
    {
        await pipeline.CompletedAsync("aime24");
        using var stageOne = await Api.GetAsync("/api/runs/aime24/export?policy=stage1&format=messages", Token);
        Assert.Equal(HttpStatusCode.OK, stageOne.StatusCode);
        Assert.Equal(File.ReadLines(Path.Combine(pipeline.Dataset, "aime24", "export", "stage1-messages.jsonl")).Count(),
            (await stageOne.Content.ReadAsStringAsync(Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var served = await Api.GetStringAsync("/api/runs/aime24/report", Token);
        Assert.Contains("id=\"pass-rate-math\"", served, StringComparison.Ordinal);
        var dom = await HeadlessChromium.LoadAsync(Path.Combine(pipeline.Dataset, "aime24", "export", "report.html"), Token);
        foreach (var part in new[] { "pass-rate-math", "cv", "difficulty", "selected-category", "selected-difficulty", "hardest", "explorer-1", "answers" })
            Assert.Contains($"id=\"{part}\"", dom, StringComparison.Ordinal);
        Assert.True(dom.Split("<rect class=\"bar\"").Length > 20, "the charts have their bars");
    }

    /// <summary>A completed run can no longer be paused: 409 through the dashboard's command, not 404 or 405.</summary>
    [Fact]
    public async Task The_dashboards_run_commands_reach_the_api()
    {
        await pipeline.CompletedAsync("demo");
        var pause = await pipeline.App.ResourceCommands.ExecuteCommandAsync("api", "pause-run-demo", Token);
        Assert.False(pause.Success);
        Assert.Equal("Request failed with status code Conflict", pause.Message);
    }

    /// <summary>The GPU trainer is declared where a container runtime answers, and waits for an explicit start; without
    /// one (this machine) it is left out, so nothing in the model reports the runtime unhealthy.</summary>
    [Fact]
    public void The_gpu_trainer_is_declared_only_where_a_container_runtime_answers()
    {
        var notifications = pipeline.App.ResourceNotifications;
        if (ContainerRuntime.IsAvailable(pipeline.App.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()))
        {
            Assert.True(notifications.TryGetCurrentState("trainer-gpu", out var trainer));
            Assert.Equal(KnownResourceStates.NotStarted, trainer.Snapshot.State?.Text);
        }
        else Assert.False(notifications.TryGetCurrentState("trainer-gpu", out _));
    }
}

/// <summary>The tests that start the whole system run one at a time: two at once would share the launch profile's ports
/// and this machine's two cores.</summary>
[CollectionDefinition(Name)]
public sealed class AppHostCollection
{
    public const string Name = "AppHost";
}
