using System.Diagnostics;
using System.Text.Json;
using static AmDistill.AppHost.Tests.RunningPipeline;

namespace AmDistill.AppHost.Tests;

[Collection(AppHostCollection.Name)]
public sealed class RestartTests
{
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
            while (ApiCalls.Counts(await ApiCalls.StatusAsync(api, "demo", cts.Token)).Verified < DemoSamples / 4) await Task.Delay(250, cts.Token);
        }
        // A service killed with SIGKILL comes back by itself (the AppHost's supervisor), with a new process.
        var killed = Pid(first, "generation");
        foreach (var child in Children(killed)) Process.GetProcessById(child).Kill();
        while (!(first.ResourceNotifications.TryGetCurrentState("generation", out var generation)
                 && generation.Snapshot.State?.Text == KnownResourceStates.Running && Pid(first, "generation") is var pid && pid > 1 && pid != killed))
            await Task.Delay(200, cts.Token);

        var processes = RunningPipeline.Services.Append("redis-server").Select(name => Pid(first, name)).ToList();
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
        var demo = await ApiCalls.WaitForCompletionAsync(again, "demo", cts.Token);
        Assert.Equal((DemoSamples, DemoSamples, DemoSamples, DemoQueries, DemoQueries), ApiCalls.Counts(demo));
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
}
