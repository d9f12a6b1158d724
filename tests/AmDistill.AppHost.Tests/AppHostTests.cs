using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace AmDistill.AppHost.Tests;

public sealed class AppHostTests
{
    private static readonly string[] Services = ["teacher-sim", "api", "generation", "verification", "scoring", "trainer"];

    // 130 demo queries; the paper's filters drop a MATH-500 problem that refers to a figure and an MBPP task with a URL.
    private const int DemoQueries = 128, DemoSamples = DemoQueries * 3 * 4;

    /// <summary>The whole system, as <c>dotnet run</c> starts it on a machine with redis-server and no container runtime:
    /// the demo run, and beside it a run created through the Api from AIME 2024's 30 problems.</summary>
    [Fact]
    public async Task Every_service_comes_up_healthy_the_demo_run_completes_and_an_aime_run_goes_end_to_end_through_the_api()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var dataset = Directory.CreateTempSubdirectory("amdistill-apphost-dataset-").FullName;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AmDistill_AppHost>(
            ["--AmDistill:Redis=local", $"--AmDistill:DatasetRoot={dataset}", $"--AmDistill:TrainingRoot={Path.Combine(dataset, "_training")}"], cts.Token);
        await using var app = await builder.BuildAsync(cts.Token);
        await app.StartAsync(cts.Token);

        foreach (var service in Services)
            await app.ResourceNotifications.WaitForResourceHealthyAsync(service, cts.Token);

        // The control plane reads the pipeline's streams from that Redis.
        using var api = app.CreateHttpClient("api");
        using var response = await api.GetAsync("/api/queues", cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var queues = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cts.Token));
        Assert.Equal(["amdistill:generation", "amdistill:verification", "amdistill:scoring", "amdistill:training"],
            queues.RootElement.EnumerateArray().Select(q => q.GetProperty("stream").GetString()));

        // A run through the Api: an invalid configuration is refused field by field; then AIME 2024 (data/benchmarks, all
        // 30 problems) × 3 teachers × 4 passes, not decontaminated (it is the benchmark).
        using var invalid = await api.PostAsync("/api/runs", Json("""{"run": "Bad Id", "teachers": [{"name": "deepseek-r1", "passes": 0}]}"""), cts.Token);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var problems = await invalid.Content.ReadAsStringAsync(cts.Token);
        Assert.Contains("run: 'Bad Id' is not a run id", problems, StringComparison.Ordinal);
        Assert.Contains("teachers[0].passes", problems, StringComparison.Ordinal);
        using var created = await api.PostAsync("/api/runs", Json("""
            {"run": "aime24", "teachers": [{"name": "r1-distill-qwen-1.5b", "passes": 4}, {"name": "r1-distill-qwen-7b", "passes": 4}, {"name": "deepseek-r1", "passes": 4}],
             "ingestion": {"decontaminateAgainst": []}, "feeder": {"batchQueries": 7},
             "selection": {"teacher": "r1-distill-qwen-7b"},
             "training": {"recipe": "stage1", "baseModel": "/nonexistent/base-model", "maxSteps": 2}}
            """), cts.Token);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var upload = await api.PutAsync("/api/runs/aime24/queries", new StreamContent(File.OpenRead(RepoFiles.Benchmark("aime24.jsonl"))), cts.Token);
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        using (var ingest = JsonDocument.Parse(await upload.Content.ReadAsStringAsync(cts.Token)))
            Assert.Equal((30L, 30L, 0L), (ingest.RootElement.GetProperty("read").GetInt64(), ingest.RootElement.GetProperty("kept").GetInt64(), ingest.RootElement.GetProperty("badLines").GetInt64()));
        await StartAsync(api, "aime24", cts.Token);

        // A cascade run over the demo's MATH-500 problems: the 1.5B teacher first, the others only where it missed.
        var math500 = Path.Combine(dataset, "math500.jsonl");
        await File.WriteAllLinesAsync(math500, File.ReadLines(RepoFiles.DemoQueries).Where(l => l.Contains("\"MATH-500\"", StringComparison.Ordinal)), cts.Token);
        using (var cascade = await api.PostAsync("/api/runs", Json("""
            {"run": "cascade", "teachers": [{"name": "r1-distill-qwen-1.5b"}, {"name": "r1-distill-qwen-7b"}, {"name": "deepseek-r1"}],
             "ingestion": {"decontaminateAgainst": []}, "feeder": {"cascade": true}}
            """), cts.Token))
            Assert.Equal(HttpStatusCode.Created, cascade.StatusCode);
        using (var cascadeQueries = await api.PutAsync("/api/runs/cascade/queries", new StreamContent(File.OpenRead(math500)), cts.Token))
            Assert.Equal(HttpStatusCode.OK, cascadeQueries.StatusCode);
        await StartAsync(api, "cascade", cts.Token);

        // Both runs end: every sample generated, verified and scored once, every query final, outputs written.
        var demo = await WaitForCompletionAsync(api, "demo", cts.Token);
        var aime = await WaitForCompletionAsync(api, "aime24", cts.Token);
        Assert.Equal((DemoSamples, DemoSamples, DemoSamples, DemoQueries, DemoQueries), Counts(demo));
        Assert.All(demo.GetProperty("models").EnumerateArray(), m => Assert.Equal(DemoQueries * 4, m.GetProperty("samples").GetInt64()));
        Assert.Equal(0, demo.GetProperty("etaSeconds").GetDouble());
        Assert.Equal("demo/export", demo.GetProperty("outputs").GetString()); // within the store: no server path
        await Task.Delay(1100, cts.Token);
        var later = await StatusAsync(api, "demo", cts.Token); // an ended run's clock has stopped: its throughput holds
        Assert.Equal((demo.GetProperty("elapsedSeconds").GetDouble(), demo.GetProperty("samplesPerSecond").GetDouble()),
            (later.GetProperty("elapsedSeconds").GetDouble(), later.GetProperty("samplesPerSecond").GetDouble()));
        Assert.Equal("""{"figure":1,"url":1}""", demo.GetProperty("ingest").GetProperty("dropped").GetRawText());
        Assert.Equal((360L, 360L, 360L, 30L, 30L), Counts(aime));
        Assert.All(aime.GetProperty("models").EnumerateArray(), m => Assert.Equal(120, m.GetProperty("samples").GetInt64()));
        Assert.All(aime.GetProperty("throughput").EnumerateObject(), stage => Assert.True(stage.Value.GetDouble() > 0, stage.Name));
        var passRates = aime.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("model").GetString()!,
            m => m.GetProperty("passed").GetInt64() / (double)(m.GetProperty("passed").GetInt64() + m.GetProperty("failed").GetInt64()));
        Assert.True(passRates["r1-distill-qwen-1.5b"] < passRates["r1-distill-qwen-7b"] && passRates["r1-distill-qwen-7b"] < passRates["deepseek-r1"],
            string.Join(", ", passRates.Select(p => $"{p.Key} {p.Value:0.00}")));

        // The cascade: every query answered by the first teacher; the others answered exactly the queries it did not
        // always solve; the run expected (and got) that many samples.
        var cascaded = await WaitForCompletionAsync(api, "cascade", cts.Token);
        var math = cascaded.GetProperty("queries").GetInt64(); // 59: the figure problem is dropped
        var samplesBy = cascaded.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("model").GetString()!, m => m.GetProperty("samples").GetInt64());
        var solved = (math * 12 - cascaded.GetProperty("expectedSamples").GetInt64()) / 8;
        Assert.InRange(solved, 1, math - 1);
        Assert.Equal((math * 4, (math - solved) * 4, (math - solved) * 4), (samplesBy["r1-distill-qwen-1.5b"], samplesBy["r1-distill-qwen-7b"], samplesBy["deepseek-r1"]));
        var cascadeCounts = Counts(cascaded);
        Assert.Equal((cascadeCounts.Expected, cascadeCounts.Expected, math, math), (cascadeCounts.Generated, cascadeCounts.Verified, cascadeCounts.Fed, cascadeCounts.Final));

        // The scoring service's view of a query: a pass rate per teacher.
        using var scoring = app.CreateHttpClient("scoring");
        using var query = JsonDocument.Parse(await scoring.GetStringAsync("/api/runs/aime24/queries/aime2024-II-13", cts.Token));
        Assert.Equal(3, query.RootElement.GetProperty("passRates").EnumerateObject().Count());

        // Every sample is in the dataset store with its verdict (the demo's code ones from the sandbox), and exported.
        var samples = new List<AmDistill.Dataset.Samples.StoredSample>();
        await foreach (var sample in new AmDistill.Dataset.Store.SampleReader(new AmDistill.Dataset.Store.LocalDatasetStore(dataset), "demo").ReadAsync(cancellationToken: cts.Token))
            samples.Add(sample);
        Assert.Equal(DemoSamples, samples.Count); // each written and flushed before its verdict was published
        Assert.Contains(samples, s => s.Verdict.StartsWith("code: ", StringComparison.Ordinal));

        // No math sample passes with a boxed integer other than its integer reference, whatever the judge said.
        await foreach (var sample in new AmDistill.Dataset.Store.SampleReader(new AmDistill.Dataset.Store.LocalDatasetStore(dataset), "aime24").ReadAsync(cancellationToken: cts.Token))
            samples.Add(sample);
        var wrongButPassed = samples.Where(s => s is { Category: AmDistill.Contracts.QueryCategory.Math, Passed: true }
                                                && long.TryParse(s.ReferenceAnswer, out var gold)
                                                && AmDistill.Verifiers.Math.AnswerExtractor.Boxed(s.Answer) is [.., var last]
                                                && long.TryParse(last.Trim(), out var boxed) && boxed != gold).ToList();
        Assert.True(wrongButPassed.Count == 0, string.Join("\n", wrongButPassed.Select(s => $"{s.QueryId} {s.Teacher}: gold {s.ReferenceAnswer}, {s.Verdict}")));
        foreach (var (run, queries) in new[] { ("demo", DemoQueries), ("aime24", 30) })
        {
            var export = Path.Combine(dataset, run, "export");
            Assert.Equal(queries * 3 * 4, File.ReadLines(Path.Combine(export, "all.jsonl")).Count());
            Assert.InRange(File.ReadLines(Path.Combine(export, "stage1-messages.jsonl")).Count(), 1, queries * 4);
            Assert.True(new FileInfo(Path.Combine(export, "stage1.parquet")).Length > 0);
        }
        // Whole AM rows: every row says where its question came from; code and IF rows carry their tests.
        var rows = File.ReadLines(Path.Combine(dataset, "demo", "export", "all.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(rows, r => Assert.NotEqual("", r.GetProperty("question_source").GetString()));
        Assert.All(rows.Where(r => r.GetProperty("category").GetString() == "code"), r => Assert.NotEqual("", r.GetProperty("test_case").GetString()));
        Assert.All(rows.Where(r => r.GetProperty("category").GetString() == "if"), r => Assert.NotEqual("", r.GetProperty("instruction_constrain").GetString()));

        // The completed run submitted its training job; the trainer took the run's Stage I selection from the store with
        // the run's settings (the 7B's answers, as in the run's export; the paper's default would take R1's) and then failed: there is no base model here (and python3 may lack torch).
        using var trainerApi = app.CreateHttpClient("trainer");
        JsonElement training;
        do
        {
            await Task.Delay(500, cts.Token);
            using var response2 = await trainerApi.GetAsync("/api/training/aime24/sft", cts.Token);
            training = response2.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(await response2.Content.ReadAsStringAsync(cts.Token)).RootElement.Clone() : default;
        }
        while (training.ValueKind != JsonValueKind.Object || training.GetProperty("state").GetString() is not ("Succeeded" or "Failed" or "Cancelled"));
        var stageOneSamples = File.ReadLines(Path.Combine(dataset, "aime24", "export", "stage1-messages.jsonl")).Count();
        Assert.True(training.GetProperty("state").GetString() == "Failed", training.GetRawText());
        Assert.True(training.GetProperty("fields").TryGetProperty("trainingSamples", out var trainingSamples), training.GetRawText());
        Assert.Equal(stageOneSamples.ToString(System.Globalization.CultureInfo.InvariantCulture), trainingSamples.GetString());
        Assert.False(string.IsNullOrWhiteSpace(training.GetProperty("fields").GetProperty("message").GetString()));

        // The Api exports on demand, and serves the report, which loads in headless Chromium without console errors.
        using var stageOne = await api.GetAsync("/api/runs/aime24/export?policy=stage1&format=messages", cts.Token);
        Assert.Equal(HttpStatusCode.OK, stageOne.StatusCode);
        Assert.Equal(File.ReadLines(Path.Combine(dataset, "aime24", "export", "stage1-messages.jsonl")).Count(),
            (await stageOne.Content.ReadAsStringAsync(cts.Token)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var served = await api.GetStringAsync("/api/runs/aime24/report", cts.Token);
        Assert.Contains("id=\"pass-rate-math\"", served, StringComparison.Ordinal);
        var dom = await HeadlessChromium.LoadAsync(Path.Combine(dataset, "aime24", "export", "report.html"), cts.Token);
        foreach (var chart in new[] { "pass-rate-math", "cv", "difficulty", "selected-category", "selected-difficulty" })
            Assert.Contains($"id=\"{chart}\"", dom, StringComparison.Ordinal);
        Assert.True(dom.Split("<rect class=\"bar\"").Length > 20, "the charts have their bars");

        // The dashboard's run commands reach the Api: a completed run can no longer be paused (409, not 404 or 405).
        var pause = await app.ResourceCommands.ExecuteCommandAsync("api", "pause-run-demo", cts.Token);
        Assert.False(pause.Success);
        Assert.Equal("Request failed with status code Conflict", pause.Message);

        // The GPU trainer is declared where a container runtime answers, and waits for an explicit start; without one
        // (this machine) it is left out, so nothing in the model reports the runtime unhealthy.
        if (ContainerRuntime.IsAvailable(app.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()))
        {
            Assert.True(app.ResourceNotifications.TryGetCurrentState("trainer-gpu", out var trainer));
            Assert.Equal(KnownResourceStates.NotStarted, trainer.Snapshot.State?.Text);
        }
        else Assert.False(app.ResourceNotifications.TryGetCurrentState("trainer-gpu", out _));
    }

    /// <summary>A service killed mid-demo comes back by itself; Ctrl-C then, and a second <c>dotnet run</c>: every process
    /// gone within 10 s, every store part closed, and the second start finds the run (Redis persists under the data root)
    /// and finishes it with every sample once.</summary>
    [Fact]
    public async Task A_killed_service_comes_back_a_stop_mid_run_is_clean_and_a_second_start_resumes_the_run_to_exactly_its_samples()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var dataset = Directory.CreateTempSubdirectory("amdistill-apphost-restart-").FullName;
        string[] args = ["--AmDistill:Redis=local", $"--AmDistill:DatasetRoot={dataset}", $"--AmDistill:TrainingRoot={Path.Combine(dataset, "_training")}"];

        var first = await (await DistributedApplicationTestingBuilder.CreateAsync<Projects.AmDistill_AppHost>(args, cts.Token)).BuildAsync(cts.Token);
        await first.StartAsync(cts.Token);
        using (var api = first.CreateHttpClient("api"))
        {
            await first.ResourceNotifications.WaitForResourceHealthyAsync("api", cts.Token);
            while (Counts(await StatusAsync(api, "demo", cts.Token)).Verified < DemoSamples / 4) await Task.Delay(250, cts.Token);
        }
        // A service killed with SIGKILL comes back by itself (the AppHost's supervisor), with a new process.
        var killed = Pid(first, "generation");
        foreach (var child in Children(killed)) Process.GetProcessById(child).Kill();
        while (!(first.ResourceNotifications.TryGetCurrentState("generation", out var generation)
                 && generation.Snapshot.State?.Text == KnownResourceStates.Running && Pid(first, "generation") is var pid && pid > 1 && pid != killed))
            await Task.Delay(200, cts.Token);

        var processes = Services.Append("redis-server").Select(name => Pid(first, name)).ToList();
        Assert.All(processes, pid => Assert.True(pid > 1));
        var stopping = Stopwatch.StartNew();
        await first.DisposeAsync();
        while (processes.Any(IsRunning) && stopping.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(100, cts.Token);
        Assert.True(!processes.Any(IsRunning), $"still running {stopping.Elapsed.TotalSeconds:0.0} s after the stop: {string.Join(", ", processes.Where(IsRunning))}");
        var parts = Directory.GetFiles(dataset, "*.zst", SearchOption.AllDirectories);
        Assert.NotEmpty(parts);
        Assert.All(parts, part => Assert.True(AmDistill.Dataset.Store.ZstdFrames.AreComplete(File.ReadAllBytes(part)), $"{part} was not closed"));

        await using var second = await (await DistributedApplicationTestingBuilder.CreateAsync<Projects.AmDistill_AppHost>(args, cts.Token)).BuildAsync(cts.Token);
        await second.StartAsync(cts.Token);
        using var again = second.CreateHttpClient("api");
        await second.ResourceNotifications.WaitForResourceHealthyAsync("api", cts.Token);
        Assert.Equal("[\"demo\"]", await again.GetStringAsync("/api/runs", cts.Token));
        var demo = await WaitForCompletionAsync(again, "demo", cts.Token);
        Assert.Equal((DemoSamples, DemoSamples, DemoSamples, DemoQueries, DemoQueries), Counts(demo));
        var exported = File.ReadLines(Path.Combine(dataset, "demo", "export", "all.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("sample_id").GetString()).ToList();
        Assert.Equal((DemoSamples, DemoSamples), (exported.Count, exported.Distinct().Count()));

        static int Pid(DistributedApplication app, string resource) =>
            app.ResourceNotifications.TryGetCurrentState(resource, out var state)
                ? Convert.ToInt32(state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value, System.Globalization.CultureInfo.InvariantCulture)
                : 0;

        // The service under its `dotnet run` wrapper.
        static IEnumerable<int> Children(int parent) =>
            Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(d => int.TryParse(d, out _)).Select(int.Parse!)
                .Where(id => File.Exists($"/proc/{id}/stat") && File.ReadAllText($"/proc/{id}/stat") is var stat
                             && stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1] == parent.ToString(System.Globalization.CultureInfo.InvariantCulture))
                .ToList();

        static bool IsRunning(int pid)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                return !process.HasExited;
            }
            catch (ArgumentException)
            {
                return false;
            }
        }
    }

    private static async Task<JsonElement> StatusAsync(HttpClient api, string run, CancellationToken cancellationToken)
    {
        using var response = await api.GetAsync($"/api/runs/{run}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound) return JsonDocument.Parse("""{"expectedSamples":0,"generated":0,"verified":0,"fedQueries":0,"finalQueries":0}""").RootElement;
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken)).RootElement.Clone();
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    /// <summary>Starts a run; 503 while the generation service has not registered its teachers yet.</summary>
    private static async Task StartAsync(HttpClient api, string run, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var started = await api.PostAsync($"/api/runs/{run}/start", null, cancellationToken);
            if (started.StatusCode == HttpStatusCode.OK) return;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, started.StatusCode);
            await Task.Delay(500, cancellationToken);
        }
    }

    private static async Task<JsonElement> WaitForCompletionAsync(HttpClient api, string run, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var status = JsonDocument.Parse(await api.GetStringAsync($"/api/runs/{run}", cancellationToken));
            if (status.RootElement.GetProperty("state").GetString() == "completed") return status.RootElement.Clone();
            await Task.Delay(500, cancellationToken);
        }
    }

    private static (long Expected, long Generated, long Verified, long Fed, long Final) Counts(JsonElement status) =>
        (status.GetProperty("expectedSamples").GetInt64(), status.GetProperty("generated").GetInt64(), status.GetProperty("verified").GetInt64(),
            status.GetProperty("fedQueries").GetInt64(), status.GetProperty("finalQueries").GetInt64());

    /// <summary>What <c>azd</c> deploys: every service, Redis as a container with a secret password, teachers' keys as secrets, the trainer image build.</summary>
    [Fact]
    public async Task The_manifest_lists_every_service_and_redis_as_a_container()
    {
        var output = Path.Combine(Path.GetTempPath(), $"amdistill-manifest-{Guid.NewGuid():N}.json");
        var appHost = Projects.AmDistill_AppHost.ProjectPath;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "run", "--project", appHost, "--no-build", "--", "--publisher", "manifest", "--output-path", output,
                     "--AmDistill:Teachers:0:Name=deepseek", "--AmDistill:Teachers:0:Endpoint=https://api.deepseek.com/v1", "--AmDistill:Teachers:0:Model=deepseek-reasoner" })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var log = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, await log + await errors);

        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(output));
        File.Delete(output);
        var resources = manifest.RootElement.GetProperty("resources");
        Assert.StartsWith("container.", resources.GetProperty("redis").GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.Contains("{redis-password.value}", resources.GetProperty("redis").GetProperty("connectionString").GetString(), StringComparison.Ordinal);
        Assert.Equal("parameter.v0", resources.GetProperty("redis-password").GetProperty("type").GetString());
        foreach (var service in Services)
        {
            Assert.Equal("project.v0", resources.GetProperty(service).GetProperty("type").GetString());
        }
        foreach (var service in Services.Except(["teacher-sim"]))
        {
            var environment = resources.GetProperty(service).GetProperty("env");
            Assert.Equal("{redis.connectionString}", environment.GetProperty("ConnectionStrings__redis").GetString());
        }
        // A real teacher's API key is a secret parameter, never a plain value.
        var key = resources.GetProperty("deepseek-api-key");
        Assert.True(key.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        var generation = resources.GetProperty("generation").GetProperty("env");
        Assert.Equal("{deepseek-api-key.value}", generation.GetProperty("Generation__Teachers__3__ApiKey").GetString());
        Assert.Equal("https://api.deepseek.com/v1", generation.GetProperty("Generation__Teachers__3__Endpoint").GetString());

        var trainer = resources.GetProperty("trainer-gpu");
        Assert.Equal("container.v1", trainer.GetProperty("type").GetString());
        Assert.EndsWith(Path.Combine("services", "trainer-gpu", "Dockerfile"), trainer.GetProperty("build").GetProperty("dockerfile").GetString(), StringComparison.Ordinal);
    }
}
