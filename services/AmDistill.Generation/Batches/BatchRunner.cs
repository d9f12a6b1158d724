using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Generation.Samples;
using AmDistill.Generation.Teachers;
using AmDistill.Messaging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AmDistill.Generation.Batches;

/// <summary>
/// Drives each batch teacher (<see cref="TeacherOptions.Batch"/>): collects queued tasks into batch input files, submits
/// them, polls them, and commits their answers through the same <see cref="SampleCommitter"/> as synchronous answers.
/// One replica at a time holds a teacher's lease. Every step is safe to repeat after a crash: a batch is recorded before
/// it is created and found again by its tag, answers commit exactly once by sample id, and a batch's record leaves Redis
/// in the same transaction that requeues (or dead-letters) what it did not answer.
/// </summary>
public sealed class BatchRunner(
    IOptions<GenerationOptions> options,
    SampleCommitter committer,
    IConnectionMultiplexer redis,
    IHttpClientFactory httpClients,
    GenerationMetrics metrics,
    ILogger<BatchRunner> logger) : BackgroundService
{
    private readonly GenerationOptions _options = options.Value;
    private readonly SampleCommitter _committer = committer;
    private readonly IConnectionMultiplexer _redis = redis;
    private readonly GenerationMetrics _metrics = metrics;
    private readonly ILogger<BatchRunner> _logger = logger;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_options.Teachers.Values.Where(t => t.Batch)
            .Select(t => new TeacherBatches(this, t, new BatchApi(t, httpClients.CreateClient(BatchApi.HttpClientName(t.Name)))).RunAsync(stoppingToken)));

    private sealed class TeacherBatches(BatchRunner runner, TeacherOptions teacher, BatchApi api)
    {
        private readonly string _token = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
        private readonly Dictionary<string, DateTimeOffset> _polled = [];
        private readonly TimeSpan _lease = runner._options.VisibilityTimeout;
        private bool _held;

        private IDatabase Db => runner._redis.GetDatabase();

        private string LockKey => BatchQueue.Lock(teacher.Name);

        public async Task RunAsync(CancellationToken stopping)
        {
            using var renewal = new PeriodicTimer(_lease / 3);
            var renewing = RenewAsync(renewal, stopping);
            var tick = teacher.BatchPollInterval < TimeSpan.FromSeconds(1) ? teacher.BatchPollInterval : TimeSpan.FromSeconds(1);
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    if (!_held) _held = await Db.LockTakeAsync(LockKey, _token, _lease);
                    if (_held) await CycleAsync(stopping);
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    runner._logger.LogWarning("Batch work for {Teacher} failed ({Error}); trying again", teacher.Name, SecretRedactor.Redact(e.Message));
                }
                try
                {
                    await Task.Delay(tick, stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            await renewing;
            // A graceful stop hands the lease over at once; a crash leaves it to expire.
            if (_held) await Db.LockReleaseAsync(LockKey, _token);
        }

        /// <summary>Keeps the lease while a cycle uploads or reads a large file; a lease lost makes every write of this replica's transactions fail.</summary>
        private async Task RenewAsync(PeriodicTimer timer, CancellationToken stopping)
        {
            try
            {
                while (await timer.WaitForNextTickAsync(stopping))
                    if (_held)
                        _held = await Db.LockExtendAsync(LockKey, _token, _lease);
            }
            catch (Exception e) when (e is OperationCanceledException or RedisException)
            {
                _held = false;
            }
        }

        private async Task CycleAsync(CancellationToken cancellationToken)
        {
            foreach (var entry in await Db.HashGetAllAsync(BatchQueue.Batches(teacher.Name)))
            {
                var record = BatchQueue.Record(entry.Value);
                if (record.BatchId is null)
                {
                    await CreateAsync(record, entry.Value, cancellationToken);
                    continue;
                }
                if (_polled.TryGetValue(record.LocalId, out var at) && DateTimeOffset.UtcNow - at < teacher.BatchPollInterval) continue;
                _polled[record.LocalId] = DateTimeOffset.UtcNow;
                var state = await api.GetAsync(record.BatchId, cancellationToken);
                if (!state.Ended) continue;
                await CollectAsync(record, state, cancellationToken);
                _polled.Remove(record.LocalId);
            }
            if (await DueAsync()) await SubmitAsync(cancellationToken);
        }

        /// <summary>A batch is due when the queue holds a full batch or its oldest request has waited <see cref="TeacherOptions.BatchWindow"/>.</summary>
        private async Task<bool> DueAsync()
        {
            var queued = (long?)await Db.StringGetAsync(BatchQueue.Queued(teacher.Name)) ?? 0;
            if (queued >= teacher.BatchMaxRequests) return true;
            var head = await Db.ListGetByIndexAsync(BatchQueue.Queue(teacher.Name), 0);
            if (head.IsNull) return false;
            var oldest = BatchQueue.Pending(await Db.HashGetAsync(BatchQueue.Tasks(teacher.Name), head));
            return oldest is null || DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - oldest.QueuedAt >= teacher.BatchWindow.TotalMilliseconds;
        }

        /// <summary>
        /// Writes the queue's head into one input file (within the provider's limits on requests and bytes), uploads it,
        /// records the batch and takes its entries off the queue in one transaction, then creates it. Passes committed
        /// meanwhile and tasks of cancelled runs are dropped, not asked for.
        /// </summary>
        private async Task SubmitAsync(CancellationToken cancellationToken)
        {
            var (tasksKey, queueKey) = (BatchQueue.Tasks(teacher.Name), BatchQueue.Queue(teacher.Name));
            var localId = $"{DateTimeOffset.UtcNow:yyyyMMddHHmmss}-{Guid.NewGuid():N}"[..27];
            var path = Path.Combine(Path.GetTempPath(), $"amdistill-batch-{localId}.jsonl");
            var included = new List<string>();
            var dropped = new List<string>();
            var unqueued = new Dictionary<string, long>(); // per run: queued passes leaving the queue
            var runs = new HashSet<string>(StringComparer.Ordinal);
            var cancelled = new Dictionary<string, bool>(StringComparer.Ordinal);
            var (consumed, requests, bytes) = (0, 0, 0L);
            try
            {
                await using (var file = File.Create(path))
                {
                    for (var full = false; !full;)
                    {
                        var entries = await Db.ListRangeAsync(queueKey, consumed, consumed + 499);
                        if (entries.Length == 0) break;
                        var values = await Db.HashGetAsync(tasksKey, entries);
                        for (var i = 0; i < entries.Length && !full; i++)
                        {
                            var pending = BatchQueue.Pending(values[i]);
                            var task = pending?.Message;
                            var sampling = task is null ? teacher : teacher.With(task.Settings);
                            var missing = task is null || await CancelledAsync(cancelled, task.RunId)
                                ? [] : await runner._committer.MissingAsync(task, sampling, pending!.Passes);
                            var lines = missing.Select(m => Line(m.Id, TeacherClient.Request(sampling, task!.Prompt, 1, SampleId.Seed(task.RunId, task.QueryId, m.Pass)))).ToList();
                            var size = lines.Sum(l => l.Length + 1L);
                            if (requests > 0 && (requests + lines.Count > teacher.BatchMaxRequests || bytes + size > teacher.BatchMaxBytes))
                            {
                                full = true;
                                break;
                            }
                            consumed++;
                            if (task is not null) unqueued[task.RunId] = unqueued.GetValueOrDefault(task.RunId) + pending!.Passes.Length;
                            if (lines.Count == 0)
                            {
                                dropped.Add(entries[i]!);
                                continue;
                            }
                            foreach (var line in lines)
                            {
                                await file.WriteAsync(line, cancellationToken);
                                file.WriteByte((byte)'\n');
                            }
                            (requests, bytes) = (requests + lines.Count, bytes + size);
                            included.Add(entries[i]!);
                            runs.Add(task!.RunId);
                        }
                    }
                }
                if (consumed == 0) return;

                string? fileId = null;
                if (requests > 0)
                {
                    await using var content = File.OpenRead(path);
                    fileId = await api.UploadAsync(content, $"amdistill-{localId}.jsonl", cancellationToken);
                }
                var record = new BatchRecord(localId, fileId ?? "", null, [.. included], requests, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), [.. runs]);
                var transaction = Db.CreateTransaction();
                transaction.AddCondition(Condition.StringEqual(LockKey, _token));
                if (fileId is not null) _ = transaction.HashSetAsync(BatchQueue.Batches(teacher.Name), localId, BatchQueue.Serialize(record));
                _ = transaction.ListTrimAsync(queueKey, consumed, -1);
                if (dropped.Count > 0) _ = transaction.HashDeleteAsync(tasksKey, [.. dropped.Select(d => (RedisValue)d)]);
                _ = transaction.StringDecrementAsync(BatchQueue.Queued(teacher.Name), unqueued.Values.Sum());
                foreach (var (run, passes) in unqueued) _ = transaction.HashDecrementAsync(RunKeys.Stats(run), RunKeys.BatchStat(teacher.Name, "queued"), passes);
                if (!await transaction.ExecuteAsync())
                {
                    if (fileId is not null) await api.DeleteFileAsync(fileId, cancellationToken);
                    return;
                }
                if (fileId is not null) await CreateAsync(record, BatchQueue.Serialize(record), cancellationToken);
            }
            finally
            {
                File.Delete(path);
            }
        }

        /// <summary>Creates the recorded batch, or adopts the one a crash left created but unrecorded, and counts it once.</summary>
        private async Task CreateAsync(BatchRecord record, RedisValue stored, CancellationToken cancellationToken)
        {
            var state = await api.FindAsync(record.LocalId, DateTimeOffset.FromUnixTimeMilliseconds(record.SubmittedAt), cancellationToken)
                ?? await api.CreateAsync(record.FileId, record.LocalId, cancellationToken);
            var transaction = Db.CreateTransaction();
            transaction.AddCondition(Condition.StringEqual(LockKey, _token));
            transaction.AddCondition(Condition.HashEqual(BatchQueue.Batches(teacher.Name), record.LocalId, stored));
            _ = transaction.HashSetAsync(BatchQueue.Batches(teacher.Name), record.LocalId, BatchQueue.Serialize(record with { BatchId = state.Id }));
            foreach (var run in record.Runs) _ = transaction.HashIncrementAsync(RunKeys.Stats(run), RunKeys.BatchStat(teacher.Name, "submitted"));
            if (!await transaction.ExecuteAsync()) return;
            runner._metrics.Batch(teacher.Name, "submitted");
            runner._logger.LogInformation("Submitted batch {Batch} to {Teacher}: {Requests} requests", state.Id, teacher.Name, record.Requests);
        }

        /// <summary>
        /// Commits every answer of an ended batch (output and error files, streamed), then, in one transaction with the
        /// batch's record leaving: passes still missing are queued again, or dead-lettered once they have failed
        /// <see cref="GenerationOptions.MaxDeliveries"/> batches. Repeated after a crash, the commits change nothing.
        /// </summary>
        private async Task CollectAsync(BatchRecord record, BatchState state, CancellationToken cancellationToken)
        {
            var tasksKey = BatchQueue.Tasks(teacher.Name);
            var values = await Db.HashGetAsync(tasksKey, [.. record.Entries.Select(e => (RedisValue)e)]);
            var pendings = values.Select(BatchQueue.Pending).ToArray();
            var tasks = pendings.Select(p => p?.Message).ToArray();
            var bySample = new Dictionary<string, (int Index, int Pass)>(StringComparer.Ordinal);
            for (var i = 0; i < tasks.Length; i++)
                if (tasks[i] is { } task)
                    foreach (var (pass, id) in runner._committer.Samples(task, teacher.With(task.Settings), pendings[i]!.Passes))
                        bySample[id] = (i, pass);

            var latency = DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(record.SubmittedAt);
            var reasons = new Dictionary<int, string>();
            var failedRequests = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var fileId in new[] { state.OutputFileId, state.ErrorFileId }.OfType<string>())
            {
                await using var stream = await api.OpenAsync(fileId, cancellationToken);
                using var reader = new StreamReader(stream);
                for (var line = await reader.ReadLineAsync(cancellationToken); line is not null; line = await reader.ReadLineAsync(cancellationToken))
                {
                    if (line.Length == 0) continue;
                    var (customId, answer, error) = ReadLine(line, latency);
                    if (customId is null || !bySample.TryGetValue(customId, out var sample)) continue;
                    var task = tasks[sample.Index]!;
                    if (answer is not null)
                    {
                        await runner._committer.WaitForCapacityAsync(1, cancellationToken);
                        try
                        {
                            await runner._committer.CommitAsync(task, teacher.With(task.Settings), [(sample.Pass, customId)], answer, teacher.BatchPriceFactor);
                            continue;
                        }
                        catch (TeacherRequestException e)
                        {
                            error = e.Message;
                        }
                    }
                    reasons[sample.Index] = error ?? "no answer";
                    failedRequests[task.RunId] = failedRequests.GetValueOrDefault(task.RunId) + 1;
                }
            }

            var transaction = Db.CreateTransaction();
            transaction.AddCondition(Condition.StringEqual(LockKey, _token));
            transaction.AddCondition(Condition.HashExists(BatchQueue.Batches(teacher.Name), record.LocalId));
            _ = transaction.HashDeleteAsync(BatchQueue.Batches(teacher.Name), record.LocalId);
            var (requeued, deadLettered) = (0, 0);
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            for (var i = 0; i < record.Entries.Length; i++)
            {
                var (entry, pending, task) = (record.Entries[i], pendings[i], tasks[i]);
                var missing = task is null ? [] : (await runner._committer.MissingAsync(task, teacher.With(task.Settings), pending!.Passes)).Select(m => m.Pass).ToArray();
                if (missing.Length == 0)
                {
                    _ = transaction.HashDeleteAsync(tasksKey, entry);
                }
                else if (pending!.Attempts + 1 >= runner._options.MaxDeliveries)
                {
                    var reason = reasons.TryGetValue(i, out var r) ? $"batch request failed: {r}" : $"batch {state.Status}: {state.Errors ?? "no answer"}";
                    runner._committer.DeadLetter(transaction, task!, missing, reason);
                    _ = transaction.HashDeleteAsync(tasksKey, entry);
                    deadLettered += missing.Length;
                }
                else
                {
                    _ = transaction.HashSetAsync(tasksKey, entry, BatchQueue.Serialize(pending with { Passes = missing, Attempts = pending.Attempts + 1, QueuedAt = now }));
                    _ = transaction.ListRightPushAsync(BatchQueue.Queue(teacher.Name), entry);
                    _ = transaction.StringIncrementAsync(BatchQueue.Queued(teacher.Name), missing.Length);
                    _ = transaction.HashIncrementAsync(RunKeys.Stats(task!.RunId), RunKeys.BatchStat(teacher.Name, "queued"), missing.Length);
                    requeued += missing.Length;
                }
            }
            var outcome = state.Status == "completed" ? "completed" : "failed";
            foreach (var run in record.Runs) _ = transaction.HashIncrementAsync(RunKeys.Stats(run), RunKeys.BatchStat(teacher.Name, outcome));
            foreach (var (run, count) in failedRequests) _ = transaction.HashIncrementAsync(RunKeys.Stats(run), RunKeys.BatchStat(teacher.Name, "requests_failed"), count);
            if (!await transaction.ExecuteAsync()) return;

            runner._metrics.Batch(teacher.Name, state.Status);
            runner._logger.LogInformation("Batch {Batch} of {Teacher} {Status}: {Answered} of {Requests} requests answered, {Requeued} asked again, {DeadLettered} dead-lettered{Errors}",
                state.Id, teacher.Name, state.Status, state.Completed, record.Requests, requeued, deadLettered, state.Errors is null ? "" : $" ({state.Errors})");
            // The provider keeps files until deleted (and counts them against storage); the answers are committed now.
            foreach (var fileId in new[] { record.FileId, state.OutputFileId, state.ErrorFileId }.OfType<string>())
            {
                try
                {
                    await api.DeleteFileAsync(fileId, cancellationToken);
                }
                catch (Exception e) when (e is System.ClientModel.ClientResultException or HttpRequestException)
                {
                    runner._logger.LogDebug("Deleting batch file {File} failed: {Error}", fileId, e.Message);
                }
            }
        }

        /// <summary>Whether the run was cancelled: its queued requests are dropped, as the synchronous path skips its tasks
        /// (answers of batches already submitted are paid for, so they are still committed).</summary>
        private async Task<bool> CancelledAsync(Dictionary<string, bool> known, string run)
        {
            if (known.TryGetValue(run, out var cancelled)) return cancelled;
            return known[run] = await Db.HashGetAsync(RunKeys.Run(run), "state") == RunStates.Cancelled;
        }

        private byte[] Line(string customId, WireRequest request)
        {
            using var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("custom_id", customId);
                writer.WriteString("method", "POST");
                writer.WriteString("url", api.Endpoint);
                writer.WritePropertyName("body");
                JsonSerializer.Serialize(writer, request, WireJsonContext.Default.WireRequest);
                writer.WriteEndObject();
            }
            return buffer.ToArray();
        }

        /// <summary>One line of a batch output or error file: its custom id, and the answer or why there is none.</summary>
        private static (string? CustomId, TeacherAnswer? Answer, string? Error) ReadLine(string line, TimeSpan latency)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                return (null, null, e.Message);
            }
            using (document)
            {
                var root = document.RootElement;
                var customId = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("custom_id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString() : null;
                if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.Object)
                    return (customId, null, error.TryGetProperty("message", out var m) ? m.GetString() : error.ToString());
                if (!root.TryGetProperty("response", out var response) || response.ValueKind != JsonValueKind.Object)
                    return (customId, null, "no response");
                var status = response.TryGetProperty("status_code", out var code) && code.ValueKind == JsonValueKind.Number ? code.GetInt32() : 0;
                var body = response.TryGetProperty("body", out var b) ? b : default;
                if (status != 200) return (customId, null, $"{status}: {TeacherClient.ErrorMessage(body) ?? "no error message"}");
                try
                {
                    return (customId, TeacherClient.Parse(body, latency), null);
                }
                catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    return (customId, null, $"unreadable answer: {e.Message}");
                }
            }
        }
    }
}
