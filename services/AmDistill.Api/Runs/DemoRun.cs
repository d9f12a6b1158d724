using AmDistill.Contracts;
using AmDistill.Runs;

namespace AmDistill.Api.Runs;

/// <summary>Configuration section <c>DemoRun</c>.</summary>
public sealed class DemoRunOptions
{
    public const string Section = "DemoRun";

    /// <summary>Start the demo run when the control plane starts (the AppHost turns it on for <c>dotnet run</c>).</summary>
    public bool Enabled { get; set; }

    /// <summary>The run configuration; its <c>run</c> is the demo's id.</summary>
    public string ConfigFile { get; set; } = "data/demo/run.json";

    public string QueryFile { get; set; } = "data/demo/queries.jsonl";
}

/// <summary>
/// The main job of <c>dotnet run</c>: the demo run created, its queries uploaded and the run started through the same
/// registry the Api's endpoints use, once per Redis (a second start finds the run and leaves it to the feeder, which
/// resumes it). It waits for the generation service to register its teachers before starting.
/// </summary>
public sealed class DemoRun(Microsoft.Extensions.Options.IOptions<DemoRunOptions> options, RunRegistry runs, ILogger<DemoRun> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var demo = options.Value;
        if (!demo.Enabled) return;
        var (configuration, errors) = RunConfiguration.Load(InData(demo.ConfigFile));
        if (configuration is null)
        {
            logger.LogError("The demo run configuration is invalid: {Errors}", string.Join("; ", errors));
            return;
        }
        var run = configuration.Run;
        var info = await runs.GetAsync(run);
        if (info is null)
        {
            if (await runs.CreateAsync(configuration) is { } problem) logger.LogInformation("Demo run: {Problem}", problem.Message);
            info = await runs.GetAsync(run);
        }
        if (info is { State: RunStates.Created, Queries: 0 })
        {
            await using var queries = File.OpenRead(InData(demo.QueryFile));
            var (report, problem) = await runs.UploadAsync(run, queries, parquet: false, stoppingToken);
            if (problem is not null) logger.LogError("Demo run: {Problem}", problem.Message);
            else logger.LogInformation("Run {Run}: {Kept} of {Read} demo queries kept", run, report!.Kept, report.Read);
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            var problem = await runs.StartAsync(run);
            if (problem is null)
            {
                logger.LogInformation("Run {Run} started", run);
                return;
            }
            if (problem.Status != 503)
            {
                logger.LogInformation("Run {Run} not started: {Problem}", run, problem.Message);
                return;
            }
            await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); // the generation service has not registered its teachers yet
        }
    }

    internal static string InData(string path) => Path.IsPathRooted(path) ? path : Path.Combine(AppContext.BaseDirectory, path);
}
