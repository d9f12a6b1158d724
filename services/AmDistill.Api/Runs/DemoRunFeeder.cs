using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using StackExchange.Redis;

namespace AmDistill.Api.Runs;

/// <summary>Configuration section <c>DemoRun</c>.</summary>
public sealed class DemoRunOptions
{
    /// <summary>Feed the demo run when the control plane starts (the AppHost turns it on for <c>dotnet run</c>).</summary>
    public bool Enabled { get; set; }

    public string RunId { get; set; } = "demo";

    public string QueryFile { get; set; } = "data/demo-queries.jsonl";

    /// <summary>The paper's ladder, as the generation service names the simulated teachers.</summary>
    public List<string> Teachers { get; set; } = ["r1-distill-qwen-1.5b", "r1-distill-qwen-7b", "deepseek-r1"];

    public int Passes { get; set; } = 4;
}

/// <summary>
/// The main job of <c>dotnet run</c>: every demo query × teacher, with all passes, onto the generation stream, once per
/// Redis (a second start finds its marker and feeds nothing), streamed with backpressure. A run started on a fresh
/// Redis starts with an empty dataset store for its id; a feed cut short resumes without clearing it.
/// </summary>
public sealed class DemoRunFeeder(
    Microsoft.Extensions.Options.IOptions<DemoRunOptions> options,
    StreamProducer<GenerationTask> generation,
    IConnectionMultiplexer redis,
    IDatasetStore dataset,
    ILogger<DemoRunFeeder> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var run = options.Value;
        if (!run.Enabled) return;
        var db = redis.GetDatabase();
        var file = Path.IsPathRooted(run.QueryFile) ? run.QueryFile : Path.Combine(AppContext.BaseDirectory, run.QueryFile);
        var queries = ReadQueries(file).Select(q => q.Id).Distinct().Count();
        if (await ProcessOnce.IsDoneAsync(db, "feeder", run.RunId))
        {
            logger.LogInformation("Run {Run} was fed before", run.RunId);
            await ExportWhenFinalAsync(run.RunId, queries, db, stoppingToken);
            return;
        }
        if (await db.StringSetAsync($"amdistill:feeder:started:{run.RunId}", DateTimeOffset.UtcNow.ToString("O"), when: When.NotExists))
            dataset.DeleteRun(run.RunId);
        await db.HashSetAsync(RunKeys.Stats(run.RunId), [new("queries", queries), new("expected_samples", queries * run.Teachers.Count * run.Passes)]);
        await db.HashSetAsync(RunKeys.Stats(run.RunId), "started", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), When.NotExists);
        var tasks = 0;
        var passes = Enumerable.Range(0, run.Passes).ToArray();
        foreach (var batch in ReadQueries(file).Chunk(50))
        {
            var entries = batch.SelectMany(q => run.Teachers.Select(t => new GenerationTask(run.RunId, q.Id, q.Category, t, passes, q.Question, q.Reference, q.TestCases, run.Teachers.Count * run.Passes)))
                .Select(t => (t, t.Key)).ToList();
            await generation.PublishBatchAsync(entries, stoppingToken);
            tasks += entries.Count;
        }
        await ProcessOnce.ExecuteAsync(db, "feeder", run.RunId, _ => { });
        logger.LogInformation("Run {Run}: {Tasks} generation tasks fed ({Passes} passes each)", run.RunId, tasks, run.Passes);
        await ExportWhenFinalAsync(run.RunId, queries, db, stoppingToken);
    }

    /// <summary>Once every query's record is final: the run's Stage I selection as AM Parquet and as chat messages, and
    /// every sample as AM JSONL, into <c>{store}/{run}/export/</c> (skipped when there already).</summary>
    private async Task ExportWhenFinalAsync(string runId, int queries, IDatabase db, CancellationToken stoppingToken)
    {
        if (dataset is not LocalDatasetStore local) return;
        var directory = Path.Combine(local.Root, runId, "export");
        var stageOne = Path.Combine(directory, "stage1.parquet");
        if (File.Exists(stageOne)) return;
        while (await db.SetLengthAsync(RunKeys.Final(runId)) < queries)
            await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
        Directory.CreateDirectory(directory);
        var selection = new DatasetExportOptions { Policy = ExportPolicy.StageOne };
        var messages = await DatasetExport.ToFileAsync(dataset, runId, selection, ExportFormat.Messages, Path.Combine(directory, "stage1-messages.jsonl"), stoppingToken);
        var all = await DatasetExport.ToFileAsync(dataset, runId, new DatasetExportOptions(), ExportFormat.Am, Path.Combine(directory, "all.jsonl"), stoppingToken);
        await DatasetExport.ToFileAsync(dataset, runId, selection, ExportFormat.Am, stageOne, stoppingToken); // last: its presence means done
        logger.LogInformation("Run {Run} exported to {Directory}: {Selected} Stage I samples of {All}", runId, directory, messages.Exported, all.Exported);
    }

    private static string FirstTests(JsonElement testCases, int count)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(testCases.GetRawText())!.AsObject();
        foreach (var list in new[] { "inputs", "outputs", "test_list" })
            if (node[list] is System.Text.Json.Nodes.JsonArray array)
                while (array.Count > count) array.RemoveAt(array.Count - 1);
        return node.ToJsonString();
    }

    private static IEnumerable<(string Id, QueryCategory Category, string Question, string? Reference, string? TestCases)> ReadQueries(string file)
    {
        foreach (var line in File.ReadLines(file))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var document = JsonDocument.Parse(line);
            var r = document.RootElement;
            var category = QueryCategories.FromSchemaName(r.GetProperty("category").GetString());
            var reference = r.TryGetProperty("reference_answer", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
            // Code tests for the sandbox (only the first 10 are run, so only they travel), IFEval constraints for the checkers.
            var tests = r.TryGetProperty("test_cases", out var t) && t.ValueKind == JsonValueKind.Object
                && category is QueryCategory.Code or QueryCategory.InstructionFollowing ? FirstTests(t, 10) : null;
            yield return (r.GetProperty("id").GetString()!, category, r.GetProperty("question").GetString()!, reference, tests);
        }
    }
}
