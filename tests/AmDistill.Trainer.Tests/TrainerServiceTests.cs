using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using AmDistill.Contracts;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Trainer;
using AmDistill.Trainer.Jobs;
using AmDistill.Trainer.Launching;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using AmDistill.Scoring.Core;
using AmDistill.LocalRedis;

namespace AmDistill.Trainer.Tests;

/// <summary>The trainer service against a fake trainer process that speaks the GPU trainer's JSON-line protocol,
/// with a real redis-server.</summary>
public sealed class TrainerServiceTests : IAsyncLifetime
{
    private static readonly string FakeTrainer = Path.Combine(AppContext.BaseDirectory, "fake-trainer.sh");
    private LocalRedisServer _server = null!;
    private ConnectionMultiplexer _redis = null!;
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-trainer-").FullName;
    /// <summary>Under the training root (<c>{_root}/runs</c>), where a job's own training file must be.</summary>
    private string TrainingFile => Path.Combine(_root, "runs", "train.jsonl");
    private LocalDatasetStore Store => new(Path.Combine(_root, "store"));

    public async Task InitializeAsync()
    {
        _server = await LocalRedisServer.StartAsync();
        _redis = await ConnectionMultiplexer.ConnectAsync(_server.ConnectionString);
        Directory.CreateDirectory(Path.GetDirectoryName(TrainingFile)!);
        await File.WriteAllTextAsync(TrainingFile, "{\"question\": \"1+1?\", \"answer\": \"<think>one and one</think> <answer>2</answer>\"}\n");
    }

    public async Task DisposeAsync()
    {
        await _redis.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    private TrainerOptions Launcher(string mode) => new()
    {
        Command = "bash",
        Arguments = [FakeTrainer, "{output}", "--data", "{trainingFile}", "--base-model", "{baseModel}", "--recipe", "{recipe}"],
        WorkingDirectory = _root,
        OutputRoot = "runs",
        Environment = { ["FAKE_MODE"] = mode },
        CancelPollInterval = TimeSpan.FromMilliseconds(100),
    };

    private (TrainingJobHandler Handler, TrainingStatusStore Status) Create(string mode, string command = "bash")
    {
        var launcher = Launcher(mode);
        launcher.Command = command;
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();
        var status = new TrainingStatusStore(_redis);
        var handler = new TrainingJobHandler(status, new TrainerMetrics(meters), new TrainingActivity(TimeProvider.System), Store, _redis, Options.Create(launcher),
            new HostingEnvironment { ContentRootPath = _root }, NullLogger<TrainingJobHandler>.Instance);
        return (handler, status);
    }

    private TrainingJob Job(string id, string? file = null) => new("run-1", id, "stage1", "/models/qwen2.5-7b", file ?? "train.jsonl", MaxSteps: 7,
        Overrides: new TrainingOverrides(LearningRate: 8e-6, MaxLength: 16384));

    private static Task RunAsync(TrainingJobHandler handler, TrainingJob job, CancellationToken cancellationToken = default) =>
        handler.HandleAsync(new MessageContext<TrainingJob>(Streams.Training.Name, "1-0", job.Key, job, 1), cancellationToken);

    [Fact]
    public async Task Success_relays_progress_into_status_and_metrics_and_records_the_model()
    {
        var losses = new List<(double Value, string? Job)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TrainerMetrics.MeterName && instrument.Name == "amdistill.trainer.loss") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            lock (losses) losses.Add((value, tags.ToArray().Single(t => t.Key == "job").Value as string));
        });
        listener.Start();

        var (handler, status) = Create("success");
        var job = Job("ok");
        await status.QueueAsync(job);
        await RunAsync(handler, job);

        var s = (await status.ReadAsync("run-1", "ok"))!;
        Assert.Equal(TrainingState.Succeeded, s.State);
        var output = Path.Combine(_root, "runs", "run-1", "ok");
        Assert.Equal(Path.Combine(output, "model"), s.Fields["model"]);
        Assert.Equal("3", s.Fields["step"]);
        Assert.Equal(2.0 / 3, double.Parse(s.Fields["loss"], System.Globalization.CultureInfo.InvariantCulture), 4);
        Assert.Equal("0.42", s.Fields["mfu"]);
        Assert.Equal([2.0, 1.0, 2.0 / 3], losses.Where(l => l.Job == "ok").Select(l => Math.Round(l.Value, 5)).ToArray(), new RoundedComparer());

        // The placeholders reached the trainer's command line, and the job's step limit was passed on.
        var args = await File.ReadAllLinesAsync(Path.Combine(output, "args"));
        Assert.Equal([output, "--data", TrainingFile, "--base-model", "/models/qwen2.5-7b", "--recipe", "stage1", "--max-steps", "7",
            "--learning-rate", "8E-06", "--max-length", "16384"], args);
    }

    [Fact]
    public async Task A_trainer_error_fails_the_job_with_the_trainers_reason()
    {
        var (handler, status) = Create("error");
        await RunAsync(handler, Job("oom"));
        var s = (await status.ReadAsync("run-1", "oom"))!;
        Assert.Equal(TrainingState.Failed, s.State);
        Assert.Equal("1", s.Fields["exitCode"]);
        Assert.Contains("CUDA out of memory. Tried to allocate", s.Fields["message"]);
        Assert.Equal("2", s.Fields["step"]);
    }

    [Fact]
    public async Task A_crash_without_an_error_event_fails_with_the_stderr_tail()
    {
        var (handler, status) = Create("crash");
        await RunAsync(handler, Job("segv"));
        var s = (await status.ReadAsync("run-1", "segv"))!;
        Assert.Equal(TrainingState.Failed, s.State);
        Assert.Contains("Segmentation fault", s.Fields["message"]);
        Assert.NotEqual("0", s.Fields["exitCode"]);
    }

    [Fact]
    public async Task A_trainer_command_that_does_not_exist_fails_the_job_with_the_reason()
    {
        var (handler, status) = Create("success", command: "/nonexistent/python3");
        await RunAsync(handler, Job("no-python"));
        var s = (await status.ReadAsync("run-1", "no-python"))!;
        Assert.Equal(TrainingState.Failed, s.State);
        Assert.Contains("cannot start /nonexistent/python3", s.Fields["message"]);
    }

    [Fact]
    public async Task A_missing_training_file_fails_before_anything_starts()
    {
        var (handler, status) = Create("success");
        await RunAsync(handler, Job("missing", "nope.jsonl"));
        var s = (await status.ReadAsync("run-1", "missing"))!;
        Assert.Equal(TrainingState.Failed, s.State);
        Assert.Contains("training file not found", s.Fields["message"]);
    }

    [Theory]
    [InlineData("../../escaped", "sft", null)]
    [InlineData("run-1", "../../escaped", null)]
    [InlineData("run-1", "/tmp/escaped", null)]
    [InlineData("run-1", "sft", "../../../etc/passwd")]
    [InlineData("run-1", "sft", "/etc/passwd")]
    public async Task Ids_and_training_files_that_leave_the_training_root_are_refused(string run, string job, string? file)
    {
        Assert.NotNull(TrainingJobHandler.Problem(new TrainingJob(run, job, "stage1", "/models/m", file)));
        var (handler, _) = Create("success");
        await RunAsync(handler, new TrainingJob(run, job, "stage1", "/models/m", file));
        Assert.False(Directory.Exists(Path.Combine(_root, "escaped")));
        Assert.False(Directory.Exists("/tmp/escaped"));
        Assert.DoesNotContain(Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories), f => f.EndsWith("passwd", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_file_the_runs_selected_samples_are_exported_from_the_dataset_store()
    {
        await using (var writer = Store.OpenWriter("run-1", "verification"))
            foreach (var (teacher, pass, score) in new[] { ("deepseek-r1", 1, 1.0), ("deepseek-r1", 2, 0.0), ("deepseek-r1", 3, 1.0), ("deepseek-r1", 4, 0.0) })
                await writer.AppendAsync(new StoredSample($"q1/{teacher}/{pass}", "run-1", "q1", QueryCategory.Math, teacher, teacher, pass, "2+2?",
                    "two and two", "4", "stop", false, 5, 50, 0, "4", score, score > 0.99, true, "math"));
        var (handler, status) = Create("success");
        await RunAsync(handler, Job("from-store") with { TrainingFile = null });

        var s = (await status.ReadAsync("run-1", "from-store"))!;
        Assert.Equal(TrainingState.Succeeded, s.State);
        Assert.Equal("2", s.Fields["trainingSamples"]); // stage1 (the recipe's stage) keeps the two passing answers of a CV > 0.05 query
        var file = Path.Combine(_root, "runs", "run-1", "from-store", "train.jsonl");
        Assert.Equal(file, s.Fields["trainingFile"]);
        Assert.All(File.ReadAllLines(file), line => Assert.Contains(@"<think>\ntwo and two\n</think>\n\n4", line));
        Assert.Contains(file, await File.ReadAllLinesAsync(Path.Combine(_root, "runs", "run-1", "from-store", "args")));
    }

    [Fact]
    public async Task An_empty_selection_fails_the_job_with_the_reason()
    {
        var (handler, status) = Create("success");
        await RunAsync(handler, Job("nothing") with { TrainingFile = null, Selection = "stage2" });
        var s = (await status.ReadAsync("run-1", "nothing"))!;
        Assert.Equal(TrainingState.Failed, s.State);
        Assert.Contains("kept no samples", s.Fields["message"]);
    }

    [Fact]
    public async Task Cancel_kills_the_trainer_and_its_children()
    {
        var (handler, status) = Create("hang");
        var job = Job("long");
        await status.QueueAsync(job);
        var running = RunAsync(handler, job);
        await WaitUntilAsync(async () => (await status.ReadAsync("run-1", "long"))?.State == TrainingState.Running, "the job runs");
        var child = int.Parse(await File.ReadAllTextAsync(Path.Combine(_root, "runs", "run-1", "long", "child")));

        Assert.True(await status.RequestCancelAsync("run-1", "long"));
        await running.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TrainingState.Cancelled, (await status.ReadAsync("run-1", "long"))!.State);
        Assert.False(ProcessExists(child), "the trainer's child process outlived the cancel");
        Assert.False(await status.RequestCancelAsync("run-1", "long")); // over: nothing to cancel
    }

    [Fact]
    public async Task A_decided_job_is_not_run_again_on_redelivery()
    {
        var (handler, status) = Create("success");
        var job = Job("twice");
        await RunAsync(handler, job);
        var ended = (await status.ReadAsync("run-1", "twice"))!.Fields["ended"];
        File.Delete(Path.Combine(_root, "runs", "run-1", "twice", "pid"));
        await RunAsync(handler, job);
        Assert.Equal(ended, (await status.ReadAsync("run-1", "twice"))!.Fields["ended"]);
        Assert.False(File.Exists(Path.Combine(_root, "runs", "run-1", "twice", "pid")));
    }

    private async Task<WebApplication> StartServiceAsync(params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = _root });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _server.ConnectionString,
            ["Trainer:Command"] = "bash",
            ["Trainer:WorkingDirectory"] = _root,
            ["Trainer:OutputRoot"] = "runs",
            ["Trainer:Environment:FAKE_MODE"] = "success",
            ["Logging:LogLevel:Default"] = "Warning",
            ["DatasetStore:Root"] = Path.Combine(_root, "store"),
        }.Concat(Launcher("success").Arguments.Select((a, i) => new KeyValuePair<string, string?>($"Trainer:Arguments:{i}", a)))
         .Concat(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))));
        builder.AddServiceDefaults();
        builder.AddRedisMessaging();
        builder.AddTrainerServices();
        var app = builder.Build();
        app.MapTrainingEndpoints();
        await app.StartAsync();
        return app;
    }

    [Fact]
    public async Task A_job_posted_to_the_api_runs_through_the_training_stream()
    {
        await using var app = await StartServiceAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()) };

        var posted = await http.PostAsJsonAsync("/api/training", Job("via-api"));
        Assert.Equal(System.Net.HttpStatusCode.Accepted, posted.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await http.PostAsJsonAsync("/api/training", Job("bad") with { Recipe = "stage3" })).StatusCode);
        await WaitUntilAsync(async () => (await http.GetFromJsonAsync<StatusView>("/api/training/run-1/via-api"))?.State == "Succeeded", "the job succeeds");
        Assert.Contains("run-1/via-api", await http.GetFromJsonAsync<string[]>("/api/training") ?? []);
        await app.StopAsync();
    }

    [Fact]
    public async Task With_exit_after_idle_the_service_stops_once_no_job_runs()
    {
        await using var app = await StartServiceAsync(("Trainer:ExitAfterIdle", "00:00:01"));
        var stopping = new TaskCompletionSource();
        app.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
        await stopping.Task.WaitAsync(TimeSpan.FromSeconds(15));
    }

    private sealed record StatusView(string State);

    /// <summary>Alive: present and not a zombie (a killed orphan waits for init to reap it).</summary>
    private static bool ProcessExists(int pid)
    {
        var stat = $"/proc/{pid}/stat";
        if (!File.Exists(stat)) return false;
        try { return File.ReadAllText(stat).Split(')')[^1].Trim()[0] != 'Z'; }
        catch (IOException) { return false; }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }

    private sealed class RoundedComparer : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) < 1e-4;

        public int GetHashCode(double obj) => 0;
    }
}

public sealed class TrainerEnvironmentTests
{
    [Theory]
    [InlineData("Parameters__deepseek-api-key", true)]
    [InlineData("ConnectionStrings__redis", true)]
    [InlineData("AZURE_OPENAI_API_KEY", true)]
    [InlineData("HF_TOKEN", true)]
    [InlineData("PATH", false)]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", false)]
    [InlineData("CUDA_VISIBLE_DEVICES", false)]
    public void The_trainer_process_gets_no_secret_of_the_service(string name, bool secret) => Assert.Equal(secret, TrainerProcess.IsSecret(name));
}
