using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Contracts;
using AmDistill.Dataset.Runs;
using AmDistill.Messaging;
using StackExchange.Redis;

namespace AmDistill.Api.Runs;

/// <summary>
/// Expands the kept queries of each running run into generation tasks (query × teacher, all passes of a teacher in one
/// task), a batch at a time and only while the generation stream's backlog leaves room (<c>feeder.maxQueuedTasks</c>),
/// so a run of millions of queries never floods Redis. The cursor (queries fed) is saved after each batch: after any
/// restart feeding resumes there, and a batch published twice costs nothing, since generation skips samples already
/// done. Paused runs wait; cancelled ones stop. When every query of a fed run is final, it writes the run's exports
/// and report and completes the run. One Api replica feeds at a time (a lease in Redis).
/// </summary>
public sealed class RunFeeder(
    RunRegistry runs,
    RunOutputs outputs,
    StreamProducer<GenerationTask> generation,
    IConnectionMultiplexer redis,
    IMeterFactory meters,
    ILogger<RunFeeder> logger) : BackgroundService
{
    private const string LeaseKey = "amdistill:feeder:lease";
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);
    private readonly string _instance = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private readonly Dictionary<string, (StreamReader Reader, long Position)> _readers = [];
    private readonly Counter<long> _fed = meters.Create("AmDistill.Api").CreateCounter<long>("amdistill.feeder.queries", "{query}", "Queries expanded into generation tasks, by run.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                if (await HoldLeaseAsync())
                    foreach (var run in await runs.ListActiveAsync())
                        busy |= await StepAsync(run, stoppingToken);
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException or IOException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "Feeding failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
            }
            if (!busy) await Task.Delay(TimeSpan.FromMilliseconds(500), stoppingToken);
        }
    }

    /// <summary>Hands the lease back, so a replacement feeds at once instead of after the lease expires.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        var transaction = redis.GetDatabase().CreateTransaction();
        transaction.AddCondition(Condition.StringEqual(LeaseKey, _instance));
        _ = transaction.KeyDeleteAsync(LeaseKey);
        try { await transaction.ExecuteAsync(); }
        catch (Exception e) when (e is RedisException or RedisTimeoutException) { } // it expires by itself
    }

    public override void Dispose()
    {
        foreach (var (reader, _) in _readers.Values) reader.Dispose();
        base.Dispose();
    }

    private async Task<bool> HoldLeaseAsync()
    {
        var db = redis.GetDatabase();
        if (await db.StringSetAsync(LeaseKey, _instance, Lease, When.NotExists)) return true;
        return await db.StringGetAsync(LeaseKey) == _instance && await db.KeyExpireAsync(LeaseKey, Lease);
    }

    /// <summary>One step of a run; true when it did work (so the loop does not sleep).</summary>
    private async Task<bool> StepAsync(string run, CancellationToken cancellationToken)
    {
        var info = await runs.GetAsync(run);
        if (info is null || info.State is RunStates.Cancelled or RunStates.Completed)
        {
            Close(run);
            await runs.DeactivateAsync(run);
            return false;
        }
        if (info.State != RunStates.Running) return false;
        if (!info.Fed) return await FeedBatchAsync(info, cancellationToken);

        Close(run);
        if (await runs.FinalQueriesAsync(run) < info.Queries) return false;
        await outputs.WriteAsync(info.Configuration, cancellationToken);
        if (await runs.MoveAsync(run, RunStates.Completed, RunStates.Running) is null)
            logger.LogInformation("Run {Run} completed: {Queries} queries final", run, info.Queries);
        return true;
    }

    private async Task<bool> FeedBatchAsync(RunInfo info, CancellationToken cancellationToken)
    {
        var configuration = info.Configuration;
        var batch = (int)Math.Min(configuration.Feeder.BatchQueries, info.Queries - info.Cursor);
        var backlog = (await StreamStatus.ReadAsync(redis.GetDatabase(), Streams.Generation.Name)).Backlog;
        if (backlog + batch * configuration.Teachers.Count > configuration.Feeder.MaxQueuedTasks) return false;

        var reader = Open(configuration.Run, info.Cursor);
        var tasks = new List<(GenerationTask, string)>();
        var read = 0;
        while (read < batch && await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0) continue;
            read++;
            foreach (var task in Expand(configuration, JsonNode.Parse(line)!.AsObject()))
                tasks.Add((task, task.Key));
        }
        if (read < batch)
            throw new InvalidOperationException($"run {configuration.Run}: {runs.InputQueries(configuration.Run)} ends at query {info.Cursor + read} of {info.Queries}");
        await generation.PublishBatchAsync(tasks, cancellationToken);
        var cursor = info.Cursor + read;
        await runs.AdvanceCursorAsync(configuration.Run, cursor);
        _readers[configuration.Run] = (reader, cursor);
        _fed.Add(read, new KeyValuePair<string, object?>("run", configuration.Run));
        if (cursor == info.Queries)
            logger.LogInformation("Run {Run}: all {Queries} queries fed ({Samples} samples expected)", configuration.Run, info.Queries, info.Queries * configuration.PassesPerQuery);
        return true;
    }

    /// <summary>The run's kept queries, positioned after the first <paramref name="cursor"/> (reopened and skipped to
    /// there when this process has no reader at that position: a restart, or another replica fed meanwhile).</summary>
    private StreamReader Open(string run, long cursor)
    {
        if (_readers.TryGetValue(run, out var open) && open.Position == cursor) return open.Reader;
        Close(run);
        var reader = new StreamReader(runs.InputQueries(run));
        for (long skipped = 0; skipped < cursor;)
            if ((reader.ReadLine() ?? throw new InvalidOperationException($"run {run}: fewer queries than its cursor {cursor}")).Length > 0) skipped++;
        _readers[run] = (reader, cursor);
        return reader;
    }

    private void Close(string run)
    {
        if (_readers.Remove(run, out var open)) open.Reader.Dispose();
    }

    /// <summary>One task per teacher, carrying the reference answer, and for code and instruction following the
    /// query's tests (the first <c>verification.codeTests</c> of them: only those are run) or IFEval instructions.</summary>
    public static IEnumerable<GenerationTask> Expand(RunConfiguration run, JsonObject query)
    {
        var category = QueryCategories.FromSchemaName(query["category"]?.GetValue<string>());
        var reference = query["reference_answer"] is JsonValue a && a.GetValueKind() == JsonValueKind.String ? a.GetValue<string>() : null;
        var tests = query["test_cases"] is JsonObject t && category is QueryCategory.Code or QueryCategory.InstructionFollowing
            ? FirstTests(t, run.Verification.CodeTests) : null;
        var id = query["id"]!.ToString();
        var question = query["question"]!.GetValue<string>();
        return run.Teachers.Select(teacher => new GenerationTask(run.Run, id, category, teacher.Name, [.. Enumerable.Range(0, teacher.Passes)],
            question, reference, tests, run.PassesPerQuery));
    }

    private static string FirstTests(JsonObject testCases, int count)
    {
        var node = testCases.DeepClone().AsObject();
        foreach (var list in new[] { "inputs", "outputs", "test_list" })
            if (node[list] is JsonArray array)
                while (array.Count > count) array.RemoveAt(array.Count - 1);
        return node.ToJsonString();
    }
}
