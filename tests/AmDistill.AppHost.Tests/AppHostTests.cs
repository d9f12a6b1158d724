using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace AmDistill.AppHost.Tests;

public sealed class AppHostTests
{
    private static readonly string[] Services = ["teacher-sim", "api", "generation", "verification", "scoring", "trainer"];

    /// <summary>The whole system, as <c>dotnet run</c> starts it on a machine with redis-server and no container runtime.</summary>
    [Fact]
    public async Task Every_service_comes_up_healthy_with_a_local_redis_server_and_the_demo_run_completes()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var dataset = Directory.CreateTempSubdirectory("amdistill-apphost-dataset-").FullName;
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AmDistill_AppHost>(
            ["--AmDistill:Redis=local", $"--AmDistill:DatasetRoot={dataset}"], cts.Token);
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

        // The main job: the demo run goes through generation, verification and scoring (110 queries × 3 teachers × 4 passes).
        using var scoring = app.CreateHttpClient("scoring");
        var (verdicts, final) = (0L, 0L);
        while (verdicts < 110 * 3 * 4 || final < 110)
        {
            await Task.Delay(500, cts.Token);
            using var run = JsonDocument.Parse(await scoring.GetStringAsync("/api/runs/demo", cts.Token));
            (verdicts, final) = (run.RootElement.GetProperty("verdicts").GetInt64(), run.RootElement.GetProperty("finalQueries").GetInt64());
        }
        Assert.Equal((110 * 3 * 4, 110L), (verdicts, final));
        using var aime = JsonDocument.Parse(await scoring.GetStringAsync("/api/runs/demo/queries/aime2024-II-13", cts.Token));
        Assert.Equal(3, aime.RootElement.GetProperty("passRates").EnumerateObject().Count());

        // Every sample is in the dataset store, with its verdict (the code ones from the sandbox).
        var samples = new List<AmDistill.Dataset.Samples.StoredSample>();
        await foreach (var sample in new AmDistill.Dataset.Store.SampleReader(new AmDistill.Dataset.Store.LocalDatasetStore(dataset), "demo").ReadAsync(cancellationToken: cts.Token))
            samples.Add(sample);
        Assert.Equal(110 * 3 * 4, samples.Count); // each written and flushed before its verdict was published
        Assert.Contains(samples, s => s.Verdict.StartsWith("code: ", StringComparison.Ordinal));

        // The main job ends with the exports: Stage I as AM Parquet and chat messages, every sample as AM JSONL.
        var export = Path.Combine(dataset, "demo", "export");
        while (!File.Exists(Path.Combine(export, "stage1.parquet"))) await Task.Delay(500, cts.Token);
        Assert.Equal(110 * 3 * 4, File.ReadLines(Path.Combine(export, "all.jsonl")).Count());
        Assert.InRange(File.ReadLines(Path.Combine(export, "stage1-messages.jsonl")).Count(), 1, 110 * 4);

        // The run's progress on the control plane: every sample generated and verified once, per model.
        using var progress = JsonDocument.Parse(await api.GetStringAsync("/api/runs/demo", cts.Token));
        var p = progress.RootElement;
        Assert.Equal((1320L, 1320L, 1320L, 110L), (p.GetProperty("expectedSamples").GetInt64(), p.GetProperty("generated").GetInt64(),
            p.GetProperty("verified").GetInt64(), p.GetProperty("finalQueries").GetInt64()));
        Assert.All(p.GetProperty("models").EnumerateArray(), m => Assert.Equal(440, m.GetProperty("samples").GetInt64()));
        Assert.Equal(0, p.GetProperty("etaSeconds").GetDouble());

        // The GPU trainer is declared but waits for an explicit start.
        Assert.True(app.ResourceNotifications.TryGetCurrentState("trainer-gpu", out var trainer));
        Assert.Equal(KnownResourceStates.NotStarted, trainer.Snapshot.State?.Text);
    }

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
