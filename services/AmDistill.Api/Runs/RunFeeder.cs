using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Contracts;
using AmDistill.Dataset.Ingestion;
using AmDistill.Runs;
using AmDistill.Messaging;
using StackExchange.Redis;
using AmDistill.Scoring.Core;

namespace AmDistill.Api.Runs;

/// <summary>
/// Expands the kept queries of each running run into generation tasks (query × teacher, all passes of a teacher in one
/// task), a batch at a time and only while the generation stream's backlog leaves room (<c>feeder.maxQueuedTasks</c>),
/// so a run of millions of queries never floods Redis. The cursor (queries fed) is saved after each batch: after any
/// restart feeding resumes there; a batch published again after a crash before its cursor was saved is never paid for
/// twice where its samples are done (generation skips them), only where they are still in flight. In a cascade run (<c>feeder.cascade</c>) only the first teacher is asked at first; scoring decides each query
/// once its answers are in, and the feeder sends the queries it escalated, in file order, to the other teachers.
/// Paused runs wait; cancelled ones stop. When every query of a fed run is final, it writes the run's exports
/// and report, submits its training job and completes the run (and, with <c>training.evaluate</c>, starts the trained
/// model's evaluation once the job has succeeded). One Api replica feeds at a time (a lease in Redis).
/// </summary>
public sealed class RunFeeder(
    RunRegistry runs,
    RunOutputs outputs,
    TrainingEvaluation evaluation,
    StreamProducer<GenerationTask> generation,
    StreamProducer<GeneratedResponse> verification,
    IConnectionMultiplexer redis,
    IMeterFactory meters,
    TimeProvider time,
    ILogger<RunFeeder> logger) : BackgroundService
{
    private const string LeaseKey = "amdistill:feeder:lease";

    /// <summary>Longer than a pending entry waits to be delivered again (the consumers' visibility timeout) a few times over.</summary>
    private static readonly TimeSpan CompactionDelay = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);
    private readonly string _instance = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private readonly Dictionary<string, QueryReader> _readers = [];
    private readonly Counter<long> _fed = meters.Create("AmDistill.Api").CreateCounter<long>("amdistill.feeder.queries", "{query}", "Queries expanded into generation tasks, by run.");
    private long _passes;

    /// <summary>Passes over the active runs so far: what a test waits on to know the feeder has looked again (events, not sleeps).</summary>
    public long Passes => Interlocked.Read(ref _passes);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var (busy, active) = (false, false);
            try
            {
                if (await HoldLeaseAsync())
                    foreach (var run in await runs.ListActiveAsync())
                    {
                        active = true;
                        busy |= await StepAsync(run, stoppingToken);
                    }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Redis, the store, the trainer's API: whatever failed, the next step retries it (the host must not stop).
                logger.LogWarning(e, "Feeding failed; retrying");
                await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken);
            }
            Interlocked.Increment(ref _passes);
            // A run in progress is looked at often (its last query turning final starts its exports at once); none, seldom.
            if (!busy) await Task.Delay(TimeSpan.FromMilliseconds(active ? 100 : 500), time, stoppingToken);
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
        foreach (var reader in _readers.Values) reader.Dispose();
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
        // A completed run whose trained model is to be evaluated stays in view until its evaluation run has started.
        var evaluating = info?.State is RunStates.Completed && await evaluation.PendingAsync(info);
        if (info?.State is RunStates.Completed && !info.Finished.Contains("compacted"))
        {
            // A completed run stays in view until its history leaves Redis, once its last entries are surely acknowledged.
            if (await runs.EndedAsync(run) is { } ended && time.GetUtcNow() - ended < CompactionDelay) return false;
            var removed = await runs.CompactAsync(run);
            await runs.FinishedAsync(run, "compacted");
            logger.LogInformation("Run {Run}: {Keys} keys of its history removed from Redis (the store holds it)", run, removed);
        }
        if (evaluating) return false;
        if (info is null || info.State is RunStates.Cancelled or RunStates.Completed)
        {
            Close(run);
            await runs.DeactivateAsync(run);
            return false;
        }
        if (info.State != RunStates.Running) return false;
        if (!info.Fed) return await FeedAsync(info, cancellationToken);

        Close(run);
        if (await runs.FinalQueriesAsync(run) < info.Queries) return false;
        // Each step once: a failure (say, the trainer's API unreachable) retries only what is left.
        if (!info.Finished.Contains("outputs"))
        {
            await outputs.WriteAsync(info.Configuration, cancellationToken);
            await runs.FinishedAsync(run, "outputs");
        }
        if (info.Configuration.Training is { } training && !info.Finished.Contains("training"))
        {
            await outputs.SubmitTrainingAsync(run, training, cancellationToken);
            await runs.FinishedAsync(run, "training");
        }
        if (info.Configuration.Evaluation?.TrainingJob is not null && !info.Finished.Contains("unserved"))
        {
            await evaluation.StopServingAsync(info.Configuration, cancellationToken);
            await runs.FinishedAsync(run, "unserved");
        }
        await redis.GetDatabase().KeyDeleteAsync(RunKeys.Cascade(run)); // decisions are needed only while feeding
        if (await runs.MoveAsync(run, RunStates.Completed, RunStates.Running) is null)
            logger.LogInformation("Run {Run} completed: {Queries} queries final", run, info.Queries);
        return true;
    }

    /// <summary>A batch of queries onto the generation stream, if the backlog has room; in a cascade run, the first
    /// teacher's tasks, then the other teachers' for the queries scoring escalated, in file order (waiting at a query
    /// not yet decided).</summary>
    private async Task<bool> FeedAsync(RunInfo info, CancellationToken cancellationToken)
    {
        var run = info.Configuration;
        var imported = info.SampleCursor < info.Samples && await FeedImportedAsync(info, cancellationToken);
        var backlog = (await StreamStatus.ReadAsync(redis.GetDatabase(), Streams.Generation.Name)).Backlog;
        if (backlog + run.Feeder.BatchQueries * run.GeneratingTeachers.Count > run.Feeder.MaxQueuedTasks) return imported;

        var first = run.Feeder.Cascade ? run.Teachers.Take(1) : run.GeneratingTeachers;
        var (cursor, fed) = await FeedFromAsync(run, "cursor", info.Cursor, info.Queries,
            queries => Task.FromResult<IReadOnlyList<IEnumerable<GenerationTask>?>>([.. queries.Select(query => Expand(run, query, first))]), cancellationToken);
        if (!run.Feeder.Cascade) return fed || imported;

        // One HMGET for the batch's decisions; the first query scoring has not decided yet stops the batch there.
        var (_, escalated) = await FeedFromAsync(run, "escalation", info.Escalation, cursor, async queries =>
            [.. (await runs.CascadeDecisionsAsync(run.Run, [.. queries.Select(query => query["id"]!.ToString())]))
                .Select((decision, i) => (string?)decision switch
                {
                    null => null,
                    "escalated" => Expand(run, queries[i], run.Teachers.Skip(1)),
                    _ => (IEnumerable<GenerationTask>)[], // solved by the first teacher
                })], cancellationToken);
        return fed || escalated;
    }

    /// <summary>
    /// A batch of imported responses onto the verification stream, where a teacher's answer would go, while its backlog
    /// leaves room (<c>feeder.maxQueuedTasks</c>); the position is saved after each batch, and verification does a sample
    /// published twice (a crash between the two) once.
    /// </summary>
    private async Task<bool> FeedImportedAsync(RunInfo info, CancellationToken cancellationToken)
    {
        var run = info.Configuration;
        var backlog = (await StreamStatus.ReadAsync(redis.GetDatabase(), Streams.Verification.Name)).Backlog;
        var room = run.Feeder.MaxQueuedTasks - backlog;
        if (room <= 0) return false;
        var reader = Open(run.Run, "samplecursor", info.SampleCursor, runs.InputSamples(run.Run));
        var batch = new List<(GeneratedResponse, string)>();
        while (info.SampleCursor + batch.Count < info.Samples && batch.Count < Math.Min(room, run.Feeder.BatchQueries * 8))
        {
            var line = reader.Peek() ?? throw new InvalidOperationException($"run {run.Run}: {runs.InputSamples(run.Run)} ends at sample {info.SampleCursor + batch.Count}");
            var response = SampleImport.ReadSample(line).ToResponse(run.Run);
            reader.Advance();
            batch.Add((response, response.Key));
        }
        if (batch.Count == 0) return false;
        await verification.PublishBatchAsync(batch, cancellationToken);
        await runs.AdvanceAsync(run.Run, "samplecursor", info.SampleCursor + batch.Count);
        return true;
    }

    /// <summary>Up to a batch of queries from <paramref name="position"/> (saved in the run's <paramref name="field"/>)
    /// to <paramref name="end"/>, expanded into tasks together, up to the first that cannot be yet (null).</summary>
    private async Task<(long Position, bool Fed)> FeedFromAsync(RunConfiguration run, string field, long position, long end,
        Func<IReadOnlyList<JsonObject>, Task<IReadOnlyList<IEnumerable<GenerationTask>?>>> expand, CancellationToken cancellationToken)
    {
        var reader = Open(run.Run, field, position, runs.InputQueries(run.Run));
        var wanted = (int)Math.Min(run.Feeder.BatchQueries, end - position);
        var lines = reader.Peek(wanted);
        if (lines.Count < wanted)
            throw new InvalidOperationException($"run {run.Run}: {runs.InputQueries(run.Run)} ends at query {position + lines.Count}");
        var tasks = new List<(GenerationTask, string)>();
        var read = 0;
        foreach (var expanded in await expand([.. lines.Select(line => JsonNode.Parse(line)!.AsObject())]))
        {
            if (expanded is null) break;
            read++;
            tasks.AddRange(expanded.Select(t => (t, t.Key)));
        }
        reader.Advance(read);
        if (read == 0) return (position, false);
        await generation.PublishBatchAsync(tasks, cancellationToken);
        position += read;
        await runs.AdvanceAsync(run.Run, field, position);
        if (field == "cursor") _fed.Add(read, new KeyValuePair<string, object?>("run", run.Run));
        if (position == end && field == "cursor")
            logger.LogInformation("Run {Run}: all {Queries} queries fed", run.Run, end);
        return (position, true);
    }

    /// <summary>The run's kept queries, positioned after the first <paramref name="position"/> (reopened and skipped to
    /// there when this process has no reader at that position: a restart, or another replica fed meanwhile).</summary>
    private QueryReader Open(string run, string field, long position, string path)
    {
        var key = $"{run}#{field}";
        if (_readers.TryGetValue(key, out var open) && open.Position == position) return open;
        open?.Dispose();
        return _readers[key] = new QueryReader(path, position);
    }

    private void Close(string run)
    {
        foreach (var key in _readers.Keys.Where(k => k.StartsWith(run + "#", StringComparison.Ordinal)).ToList())
            if (_readers.Remove(key, out var open)) open.Dispose();
    }

    /// <summary>One task per teacher, carrying the reference answer, and for code and instruction following the
    /// query's tests (the first <c>verification.codeTests</c> of them: only those are run) or IFEval instructions.</summary>
    public static IEnumerable<GenerationTask> Expand(RunConfiguration run, JsonObject query, IEnumerable<RunTeacher> teachers)
    {
        var category = QueryCategories.Parse(query["category"]?.GetValue<string>()); // checked at ingestion
        var reference = query["reference_answer"] is JsonValue a && a.GetValueKind() == JsonValueKind.String ? a.GetValue<string>() : null;
        var tests = query["test_cases"] is JsonObject t && category is QueryCategory.Code or QueryCategory.InstructionFollowing
            ? FirstTests(t, run.Verification.CodeTests) : null;
        var source = query["source"] is JsonValue s && s.GetValueKind() == JsonValueKind.String ? s.GetValue<string>() : null;
        var id = query["id"]!.ToString();
        var question = query["question"]!.GetValue<string>();
        var cascade = run.Feeder.Cascade ? run.Teachers[0].Passes : 0;
        // An importing run's query also expects the responses imported for it.
        var expected = run.PassesPerQuery + (query["imported_samples"] is JsonValue imported ? imported.GetValue<int>() : 0);
        return [.. teachers.Select(teacher => new GenerationTask(run.Run, id, category, teacher.Name, [.. Enumerable.Range(0, teacher.Passes)],
            question, reference, tests, expected, cascade, teacher.Settings, source))];
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

/// <summary>A query file read line by line from a position (queries, not lines: blank lines are skipped), with one line
/// of lookahead, so a query that cannot be fed yet is read again next time.</summary>
internal sealed class QueryReader : IDisposable
{
    private readonly StreamReader _reader;
    private readonly List<string> _ahead = []; // lines read but not yet advanced past

    public QueryReader(string path, long position)
    {
        _reader = new StreamReader(path);
        for (Position = 0; Position < position; Position++)
            if (Read() is null) throw new InvalidOperationException($"{path} has fewer than {position} queries");
        Position = position;
    }

    public long Position { get; private set; }

    public string? Peek() => Peek(1) is [var line] ? line : null;

    /// <summary>The next <paramref name="count"/> lines (fewer at the end of the file), without moving past them.</summary>
    public IReadOnlyList<string> Peek(int count)
    {
        while (_ahead.Count < count && Read() is { } line) _ahead.Add(line);
        return _ahead.Count <= count ? [.. _ahead] : _ahead[..count];
    }

    public void Advance(int count = 1)
    {
        _ahead.RemoveRange(0, count);
        Position += count;
    }

    private string? Read()
    {
        while (_reader.ReadLine() is { } line)
            if (line.Length > 0) return line;
        return null;
    }

    public void Dispose() => _reader.Dispose();
}
