using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using AmDistill.Contracts;

namespace AmDistill.AppHost.Tests;

/// <summary>
/// The whole system, as <c>dotnet run</c> starts it on a machine with redis-server and no container runtime, shared by
/// the tests of <see cref="PipelineTests"/>: the demo run, and beside it two runs created through the Api as a user
/// would — AIME 2024's 30 problems with a training section (a tiny model trained, served and evaluated on the CPU),
/// and a cascade over the demo's MATH-500 problems.
/// </summary>
public sealed class RunningPipeline : IAsyncLifetime
{
    public static readonly string[] Services = ["teacher-sim", "api", "generation", "verification", "scoring", "trainer"];

    // 130 demo queries; the paper's filters drop a MATH-500 problem that refers to a figure and an MBPP task with a URL.
    public const int DemoQueries = 128, DemoSamples = DemoQueries * 3 * 4;

    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(5));
    private readonly ConcurrentDictionary<string, Task<RunStatus>> _completions = new();

    public DistributedApplication App { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;
    public string Dataset { get; } = Directory.CreateTempSubdirectory("amdistill-apphost-dataset-").FullName;
    public CancellationToken Token => _timeout.Token;

    /// <summary>The AIME run's evaluation: problems per benchmark, answers per problem and model.</summary>
    public const int EvaluationLimit = 2, EvaluationPasses = 2;

    public string TinyBaseModel => Path.Combine(Dataset, "_tiny-base");

    /// <summary>What the AIME run's upload answered.</summary>
    public QueryUpload AimeUpload { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        // The base model: a tiny one built from a config (no download), which the trainer trains and serves on the CPU.
        var python = await TorchPython.RequireAsync();
        var (code, output) = await TorchPython.RunAsync(python, ["-m", "amdistill_trainer", "tiny-model", "--output", TinyBaseModel],
            Path.Combine(RepoFiles.Root, "services", "trainer-gpu"), TimeSpan.FromMinutes(1));
        Assert.True(code == 0, output);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AmDistill_AppHost>(
            ["--AmDistill:Redis=local", $"--AmDistill:DatasetRoot={Dataset}", $"--AmDistill:TrainingRoot={Path.Combine(Dataset, "_training")}",
             $"--AmDistill:TrainerPython={python}"], Token);
        App = await builder.BuildAsync(Token);
        await App.StartAsync(Token);
        foreach (var service in Services)
            await App.ResourceNotifications.WaitForResourceHealthyAsync(service, Token);
        Api = App.CreateHttpClient("api");

        // AIME 2024 (all 30 problems) × 3 teachers × 4 passes, not decontaminated (it is the benchmark), trained on when
        // done, and the trained model evaluated beside its base on slices of AIME 2024 and MATH-500.
        await CreateAsync($$"""
            {"run": "aime24", "teachers": [{"name": "r1-distill-qwen-1.5b", "passes": 4}, {"name": "r1-distill-qwen-7b", "passes": 4}, {"name": "deepseek-r1", "passes": 4}],
             "ingestion": {"decontaminateAgainst": []}, "feeder": {"batchQueries": 7},
             "selection": {"teacher": "r1-distill-qwen-7b"},
             "training": {"recipe": "stage1", "baseModel": {{System.Text.Json.JsonSerializer.Serialize(TinyBaseModel)}}, "maxSteps": 1, "globalBatch": 2,
                          "evaluate": {"benchmarks": ["aime24", "math500"], "limit": {{EvaluationLimit}}, "passes": {{EvaluationPasses}}, "maxTokens": 16 } } }
            """);
        AimeUpload = await UploadAsync("aime24", RepoFiles.Benchmark("aime24.jsonl"));
        await ApiCalls.StartAsync(Api, "aime24", Token);

        // A cascade over the demo's MATH-500 problems: the 1.5B teacher first, the others only where it missed.
        var math500 = Path.Combine(Dataset, "math500.jsonl");
        await File.WriteAllLinesAsync(math500, File.ReadLines(RepoFiles.DemoQueries).Where(l => l.Contains("\"MATH-500\"", StringComparison.Ordinal)), Token);
        await CreateAsync("""
            {"run": "cascade", "teachers": [{"name": "r1-distill-qwen-1.5b"}, {"name": "r1-distill-qwen-7b"}, {"name": "deepseek-r1"}],
             "ingestion": {"decontaminateAgainst": []}, "feeder": {"cascade": true}}
            """);
        await UploadAsync("cascade", math500);
        await ApiCalls.StartAsync(Api, "cascade", Token);
    }

    /// <summary>The run's status once it has completed (awaited once, shared by every test that needs it).</summary>
    public Task<RunStatus> CompletedAsync(string run) => _completions.GetOrAdd(run, r => ApiCalls.WaitForCompletionAsync(Api, r, Token));

    private async Task CreateAsync(string configuration)
    {
        using var created = await Api.PostAsync("/api/runs", ApiCalls.Json(configuration), Token);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    private async Task<QueryUpload> UploadAsync(string run, string file)
    {
        using var upload = await Api.PutAsync($"/api/runs/{run}/queries", new StreamContent(File.OpenRead(file)), Token);
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
        return (await upload.Content.ReadFromJsonAsync<QueryUpload>(ApiJson.Options, Token))!;
    }

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        if (App is not null) await App.DisposeAsync();
        _timeout.Dispose();
    }
}

/// <summary>The Api seen from a client, with the contract's types.</summary>
public static class ApiCalls
{
    public static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    /// <summary>A run's status; a run not created yet reads as all zeros.</summary>
    public static async Task<RunStatus> StatusAsync(HttpClient api, string run, CancellationToken cancellationToken)
    {
        using var response = await api.GetAsync($"/api/runs/{run}", cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
            return new RunStatus(run, null, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, new RunThroughput(0, 0, 0), null, 0, [], new Dictionary<string, long>(),
                new DeadLetterCounts(0, 0, new Dictionary<string, long>()), null, null, new Dictionary<string, long>());
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<RunStatus>(ApiJson.Options, cancellationToken))!;
    }

    /// <summary>Starts a run; 503 while the generation service has not registered its teachers yet.</summary>
    public static async Task StartAsync(HttpClient api, string run, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var started = await api.PostAsync($"/api/runs/{run}/start", null, cancellationToken);
            if (started.StatusCode == HttpStatusCode.OK) return;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, started.StatusCode);
            await Task.Delay(500, cancellationToken);
        }
    }

    public static async Task<RunStatus> WaitForCompletionAsync(HttpClient api, string run, CancellationToken cancellationToken)
    {
        while (true)
        {
            var status = await StatusAsync(api, run, cancellationToken);
            if (status.State == RunStates.Completed) return status;
            await Task.Delay(500, cancellationToken);
        }
    }

    public static (long Expected, long Generated, long Verified, long Fed, long Final) Counts(RunStatus status) =>
        (status.ExpectedSamples, status.Generated, status.Verified, status.FedQueries, status.FinalQueries);
}
