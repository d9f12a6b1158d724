using AmDistill.Contracts;
using StackExchange.Redis;

namespace AmDistill.Trainer.Jobs;

public enum TrainingState { Queued, Preparing, Running, Succeeded, Failed, Cancelled }

/// <summary>A job's status as the dashboard and the API show it.</summary>
public sealed record TrainingStatus(string RunId, string JobId, TrainingState State, IReadOnlyDictionary<string, string> Fields);

/// <summary>
/// Training job status in Redis: a hash per job (<c>amdistill:training:{run}:{job}</c>), a cancel flag beside it,
/// and a sorted set of every job by submission time. Replicas of the trainer service share it.
/// </summary>
public sealed class TrainingStatusStore(IConnectionMultiplexer redis)
{
    private const string Jobs = "amdistill:training:jobs";
    private readonly IDatabase _db = redis.GetDatabase();

    private static RedisKey Key(string run, string job) => RunKeys.TrainingJob(run, job);

    private static RedisKey CancelKey(string run, string job) => $"amdistill:training:{run}:{job}:cancel";

    public async Task QueueAsync(TrainingJob job)
    {
        var transaction = _db.CreateTransaction();
        _ = transaction.KeyDeleteAsync([Key(job.RunId, job.JobId), CancelKey(job.RunId, job.JobId), RunKeys.TrainingCurve(job.RunId, job.JobId)]);
        _ = transaction.HashSetAsync(Key(job.RunId, job.JobId),
        [
            new("state", nameof(TrainingState.Queued)), new("recipe", job.Recipe), new("baseModel", job.BaseModel),
            new("trainingFile", job.TrainingFile ?? ""), new("selection", job.Selection ?? ""), new("queued", DateTimeOffset.UtcNow.ToString("O")),
        ]);
        _ = transaction.SortedSetAddAsync(Jobs, job.Key, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await transaction.ExecuteAsync();
    }

    public Task SetAsync(TrainingJob job, TrainingState state, params (string Name, string Value)[] fields) =>
        _db.HashSetAsync(Key(job.RunId, job.JobId), [new("state", state.ToString()), .. fields.Select(f => new HashEntry(f.Name, f.Value))]);

    public Task UpdateAsync(TrainingJob job, IEnumerable<(string Name, string Value)> fields) =>
        _db.HashSetAsync(Key(job.RunId, job.JobId), [.. fields.Select(f => new HashEntry(f.Name, f.Value))]);

    /// <summary>One step of the job's curve (a rerun that resumes appends its steps again; readers keep the last of each).</summary>
    public async Task AppendCurveAsync(TrainingJob job, IReadOnlyDictionary<string, double> step)
    {
        var key = RunKeys.TrainingCurve(job.RunId, job.JobId);
        await _db.ListRightPushAsync(key, System.Text.Json.JsonSerializer.Serialize(step));
        await _db.ListTrimAsync(key, -MaxCurvePoints, -1);
    }

    /// <summary>Steps kept per job (about 100 bytes each).</summary>
    public const int MaxCurvePoints = 20_000;

    public async Task<TrainingStatus?> ReadAsync(string run, string job)
    {
        var entries = await _db.HashGetAllAsync(Key(run, job));
        if (entries.Length == 0) return null;
        var fields = entries.ToDictionary(e => e.Name.ToString(), e => e.Value.ToString());
        return new TrainingStatus(run, job, Enum.Parse<TrainingState>(fields["state"]), fields);
    }

    public async Task<IReadOnlyList<string>> ListAsync(int count) =>
        [.. (await _db.SortedSetRangeByRankAsync(Jobs, 0, count - 1, Order.Descending)).Select(v => v.ToString())];

    /// <summary>Asks the replica running the job to stop it; false when the job is unknown or already over.</summary>
    public async Task<bool> RequestCancelAsync(string run, string job)
    {
        var status = await ReadAsync(run, job);
        if (status is null || status.State is TrainingState.Succeeded or TrainingState.Failed or TrainingState.Cancelled) return false;
        await _db.StringSetAsync(CancelKey(run, job), "1", TimeSpan.FromDays(30));
        return true;
    }

    public Task<bool> IsCancelRequestedAsync(TrainingJob job) => _db.KeyExistsAsync(CancelKey(job.RunId, job.JobId));
}
