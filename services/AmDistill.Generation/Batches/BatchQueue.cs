using System.Text.Json;
using System.Text.Json.Serialization;
using AmDistill.Contracts;
using StackExchange.Redis;

namespace AmDistill.Generation.Batches;

/// <summary>A task's passes waiting for (or carried by) a batch; <see cref="Attempts"/> counts the batches that failed them.</summary>
public sealed record PendingTask(string Task, int[] Passes, int Attempts, long QueuedAt)
{
    public GenerationTask Message => JsonSerializer.Deserialize(Task, ContractsJsonContext.Default.GenerationTask)!;

    /// <summary>One entry per task and set of passes (a cascade asks for more passes of the same query later).</summary>
    public static string Entry(GenerationTask task, IEnumerable<int> passes) => $"{task.Key}#{string.Join(',', passes)}";
}

/// <summary>
/// A batch as this service submitted it: the input file, the provider's id once created, the queue entries it carries.
/// Written before the batch is created, so that a crash in between finds the batch again (by <see cref="LocalId"/> in its
/// metadata) instead of submitting it twice.
/// </summary>
public sealed record BatchRecord(string LocalId, string FileId, string? BatchId, string[] Entries, int Requests, long SubmittedAt, string[] Runs);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(PendingTask))]
[JsonSerializable(typeof(BatchRecord))]
internal sealed partial class BatchJsonContext : JsonSerializerContext;

/// <summary>
/// A batch teacher's durable state in Redis: the tasks waiting for a batch (<c>queue</c>, <c>tasks</c>), the batches in
/// flight (<c>batches</c>) and the lock that lets one replica at a time submit and collect.
/// </summary>
public sealed class BatchQueue(IConnectionMultiplexer redis)
{
    public static string Tasks(string teacher) => $"amdistill:batch:{teacher}:tasks";

    public static string Queue(string teacher) => $"amdistill:batch:{teacher}:queue";

    public static string Queued(string teacher) => $"amdistill:batch:{teacher}:queued";

    public static string Batches(string teacher) => $"amdistill:batch:{teacher}:batches";

    public static string Lock(string teacher) => $"amdistill:batch:{teacher}:lock";

    /// <summary>
    /// Queues the passes of a task for the next batch, once: a redelivered task whose passes are already queued or in a
    /// batch changes nothing, so the generation consumer can acknowledge it as soon as this returns.
    /// </summary>
    public async Task EnqueueAsync(GenerationTask task, int[] passes)
    {
        var entry = PendingTask.Entry(task, passes);
        var pending = new PendingTask(JsonSerializer.Serialize(task, ContractsJsonContext.Default.GenerationTask), passes, 0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var transaction = redis.GetDatabase().CreateTransaction();
        transaction.AddCondition(Condition.HashNotExists(Tasks(task.Teacher), entry));
        _ = transaction.HashSetAsync(Tasks(task.Teacher), entry, Serialize(pending));
        _ = transaction.ListRightPushAsync(Queue(task.Teacher), entry);
        _ = transaction.StringIncrementAsync(Queued(task.Teacher), passes.Length);
        _ = transaction.HashIncrementAsync(RunKeys.Stats(task.RunId), RunKeys.BatchStat(task.Teacher, "queued"), passes.Length);
        await transaction.ExecuteAsync();
    }

    public static string Serialize(PendingTask pending) => JsonSerializer.Serialize(pending, BatchJsonContext.Default.PendingTask);

    public static string Serialize(BatchRecord record) => JsonSerializer.Serialize(record, BatchJsonContext.Default.BatchRecord);

    public static PendingTask? Pending(RedisValue value) => value.HasValue ? JsonSerializer.Deserialize((string)value!, BatchJsonContext.Default.PendingTask) : null;

    public static BatchRecord Record(RedisValue value) => JsonSerializer.Deserialize((string)value!, BatchJsonContext.Default.BatchRecord)!;
}
