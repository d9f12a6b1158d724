using AmDistill.Contracts;
using AmDistill.Generation.Batches;
using AmDistill.Generation.Teachers;
using AmDistill.Messaging;
using StackExchange.Redis;

namespace AmDistill.Generation.Samples;

/// <summary>
/// Turns one generation task into samples on the verification stream, each exactly once: samples already committed
/// are never requested again, and each sample is published atomically with its done-marker.
/// </summary>
public sealed class GenerationHandler(
    TeacherClient teachers,
    Microsoft.Extensions.Options.IOptions<GenerationOptions> options,
    SampleCommitter committer,
    BatchQueue batches,
    IConnectionMultiplexer redis,
    ILogger<GenerationHandler> logger) : IMessageHandler<GenerationTask>
{
    // Teachers found at run time to reject n > 1 although configured to accept it.
    private readonly HashSet<string> _noN = [];

    public async Task HandleAsync(MessageContext<GenerationTask> context, CancellationToken cancellationToken)
    {
        var task = context.Message;
        var registered = await teachers.FindAsync(task.Teacher)
            ?? await teachers.WaitForServedAsync(task.Teacher, options.Value.TransientRetryBudget, cancellationToken)
            ?? throw new PermanentMessageException($"teacher '{task.Teacher}' is neither configured (Generation:Teachers) nor served by the trainer service");
        var teacher = registered.With(task.Settings);
        var db = redis.GetDatabase();
        if (await db.HashGetAsync(RunKeys.Run(task.RunId), "state") == RunStates.Cancelled) return; // nothing more is paid for a cancelled run

        var missing = await committer.MissingAsync(task, teacher);
        if (missing.Length == 0) return; // a redelivery of finished work: nothing to pay for
        if (teacher.Batch)
        {
            // Handed to the Batch API: the task is done here once it is durably queued; its samples come with its batch.
            await batches.EnqueueAsync(task, [.. missing.Select(m => m.Pass)]);
            return;
        }

        await committer.WaitForCapacityAsync(missing.Length, cancellationToken);
        var useN = missing.Length > 1 && teacher.SupportsN && !IsNoN(teacher.Name);
        if (useN)
        {
            try
            {
                var answer = await CompleteAsync(teacher, task.Prompt, missing.Length, SampleId.Seed(task.RunId, task.QueryId, missing[0].Pass), cancellationToken);
                await committer.CommitAsync(task, teacher, missing, answer);
                return;
            }
            catch (TeacherRequestException e) when (e.Status == 400)
            {
                logger.LogWarning("{Teacher} rejected n={N} ({Error}); asking for each pass separately from now on", teacher.Name, missing.Length, SecretRedactor.Redact(e.Message));
                lock (_noN) _noN.Add(teacher.Name);
            }
        }

        // One request per pass; commit what succeeded even if some failed, then retry only the rest.
        var attempts = await Task.WhenAll(missing.Select(async sample =>
        {
            try
            {
                var answer = await CompleteAsync(teacher, task.Prompt, 1, SampleId.Seed(task.RunId, task.QueryId, sample.Pass), cancellationToken);
                await committer.CommitAsync(task, teacher, [sample], answer);
                return null;
            }
            catch (TeacherRequestException e)
            {
                return e;
            }
        }));
        var failures = attempts.OfType<TeacherRequestException>().ToArray();
        if (failures.Length == 0) return;
        if (failures.All(f => !f.Transient))
            throw new PermanentMessageException($"{failures.Length} of {missing.Length} passes rejected: {failures[0].Message}", failures[0]);
        throw failures.First(f => f.Transient);
    }

    /// <summary>
    /// A task given up on (a teacher's 4xx, or every delivery failed): each of its passes not generated before becomes a
    /// final unscored outcome, so the query and the run complete; <c>amdistill run redrive</c> takes them back.
    /// </summary>
    public async Task OnDeadLetterAsync(GenerationTask task, string reason, ITransaction transaction)
    {
        // An unknown teacher committed nothing: every pass is missing.
        var passes = await teachers.FindAsync(task.Teacher) is { } registered
            ? (await committer.MissingAsync(task, registered.With(task.Settings))).Select(s => s.Pass)
            : task.Passes;
        committer.DeadLetter(transaction, task, passes, reason);
    }

    /// <summary>
    /// Retries transient failures with exponential backoff and jitter within the retry budget, while the consumer keeps
    /// the task leased; only then does the failure reach the queue and count as a delivery.
    /// </summary>
    private async Task<TeacherAnswer> CompleteAsync(TeacherOptions teacher, string prompt, int n, long seed, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                return await teachers.CompleteAsync(teacher.Name, prompt, n, seed, cancellationToken, teacher);
            }
            catch (TeacherRequestException e) when (e.Transient && System.Diagnostics.Stopwatch.GetElapsedTime(started) + delay < options.Value.TransientRetryBudget)
            {
                logger.LogDebug("{Teacher} failed transiently ({Error}); retrying in {Delay}", teacher.Name, SecretRedactor.Redact(e.Message), delay);
                await Task.Delay(delay * (0.5 + Random.Shared.NextDouble()), cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    private bool IsNoN(string teacher)
    {
        lock (_noN) return _noN.Contains(teacher);
    }
}
