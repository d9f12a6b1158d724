using AmDistill.Contracts;
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
    StreamProducer<GeneratedResponse> verification,
    StreamProducer<VerifiedResponse> scoring,
    IConnectionMultiplexer redis,
    GenerationMetrics metrics,
    ILogger<GenerationHandler> logger) : IMessageHandler<GenerationTask>
{
    // Teachers found at run time to reject n > 1 although configured to accept it.
    private readonly HashSet<string> _noN = [];

    public async Task HandleAsync(MessageContext<GenerationTask> context, CancellationToken cancellationToken)
    {
        var task = context.Message;
        var registered = teachers.Find(task.Teacher)
            ?? throw new PermanentMessageException($"teacher '{task.Teacher}' is not configured (Generation:Teachers)");
        var teacher = registered.With(task.Settings);
        var db = redis.GetDatabase();
        if (await db.HashGetAsync(RunKeys.Run(task.RunId), "state") == RunStates.Cancelled) return; // nothing more is paid for a cancelled run

        var missing = await MissingAsync(db, task, teacher);
        if (missing.Length == 0) return; // a redelivery of finished work: nothing to pay for

        await verification.WaitForCapacityAsync(missing.Length, cancellationToken);
        var useN = missing.Length > 1 && teacher.SupportsN && !IsNoN(teacher.Name);
        if (useN)
        {
            try
            {
                var answer = await CompleteAsync(teacher, task.Prompt, missing.Length, SampleId.Seed(task.RunId, task.QueryId, missing[0].Pass), cancellationToken);
                await CommitAsync(db, task, teacher, missing, answer);
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
                await CommitAsync(db, task, teacher, [sample], answer);
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
        var passes = teachers.Find(task.Teacher) is { } registered
            ? (await MissingAsync(redis.GetDatabase(), task, registered.With(task.Settings))).Select(s => s.Pass)
            : task.Passes;
        var stats = RunKeys.Stats(task.RunId);
        foreach (var pass in passes)
        {
            var outcome = VerifiedResponse.DeadLettered(task.RunId, task.QueryId, task.Category, task.Teacher, pass, "generation", reason, task.ExpectedSamples, task.CascadeSamples);
            scoring.AddTo(transaction, outcome, outcome.Key);
            _ = transaction.HashIncrementAsync(stats, $"{task.Teacher}:unscored");
            _ = transaction.HashIncrementAsync(stats, RunKeys.DeadLetteredStat("generation"));
            _ = transaction.HashIncrementAsync(stats, RunKeys.DeadLetterReasonStat("generation", reason));
        }
    }

    /// <summary>The task's passes not committed yet, with their sample ids.</summary>
    private async Task<(int Pass, string Id)[]> MissingAsync(IDatabase db, GenerationTask task, TeacherOptions teacher)
    {
        var settings = task.Settings is null ? teachers.SettingsHash(teacher.Name) : SampleId.SettingsHash(teacher);
        var once = RunKeys.OnceScope("generation", task.RunId);
        var samples = task.Passes.Select(pass => (Pass: pass, Id: SampleId.For(task.RunId, task.QueryId, teacher.Name, pass, settings))).ToArray();
        var done = await Task.WhenAll(samples.Select(s => ProcessOnce.IsDoneAsync(db, once, s.Id)));
        return [.. samples.Where((_, i) => !done[i])];
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

    /// <summary>
    /// Publishes the samples of one answer with their done-markers and counters in one transaction: an answer paid for
    /// once is recorded whole or not at all, never half (a crash between per-sample commits would have the rest asked
    /// for, and paid, again). If a duplicate delivery committed some of them meanwhile, each is committed on its own.
    /// </summary>
    private async Task CommitAsync(IDatabase db, GenerationTask task, TeacherOptions teacher, (int Pass, string Id)[] samples, TeacherAnswer answer)
    {
        if (answer.Choices.Count < samples.Length)
            throw new TeacherRequestException(teacher.Name, 200, $"asked for {samples.Length} choices, got {answer.Choices.Count}", transient: true);

        var responses = Split(task, teacher, samples, answer);
        var once = RunKeys.OnceScope("generation", task.RunId);
        if (await ProcessOnce.ExecuteAllAsync(db, once, [.. responses.Select(r => r.SampleId)], transaction =>
            {
                foreach (var response in responses) Record(transaction, task.RunId, teacher, response, answer.UnknownQuery);
            }))
        {
            foreach (var response in responses) Counted(teacher, response);
            return;
        }
        foreach (var response in responses)
            if (await ProcessOnce.ExecuteAsync(db, once, response.SampleId, transaction => Record(transaction, task.RunId, teacher, response, answer.UnknownQuery)))
                Counted(teacher, response);
    }

    /// <summary>
    /// One response per choice. Usage covers all choices: the prompt is shared, completion tokens are split by length; the
    /// shares are whole tokens that add up to the answer's usage exactly, so the run's counters are what was paid.
    /// </summary>
    private static List<GeneratedResponse> Split(GenerationTask task, TeacherOptions teacher, (int Pass, string Id)[] samples, TeacherAnswer answer)
    {
        var n = samples.Length;
        var lengths = answer.Choices.Take(n).Select(c => (long)(c.Content?.Length ?? 0) + (c.Reasoning?.Length ?? 0)).ToArray();
        var totalLength = Math.Max(1, lengths.Sum());
        var completion = lengths.Select(l => answer.CompletionTokens * l / totalLength).ToArray();
        for (var left = answer.CompletionTokens - completion.Sum(); left > 0; left--) completion[left % n]++;
        var responses = new List<GeneratedResponse>(n);
        for (var i = 0; i < n; i++)
        {
            var choice = answer.Choices[i];
            var (thinking, final) = ThinkSplitter.Split(choice.Content, choice.Reasoning);
            var promptTokens = answer.PromptTokens / n + (i < answer.PromptTokens % n ? 1 : 0);
            var completionTokens = (int)completion[i];
            responses.Add(new GeneratedResponse(samples[i].Id, task.RunId, task.QueryId, task.Category, teacher.Name, teacher.Model, samples[i].Pass,
                thinking, final, choice.FinishReason, Truncated: choice.FinishReason == "length", promptTokens, completionTokens,
                answer.Latency.TotalMilliseconds, teacher.Cost(promptTokens, completionTokens), task.ReferenceAnswer, task.Prompt, task.TestCases,
                task.ExpectedSamples, task.CascadeSamples, task.Source));
        }
        return responses;
    }

    private void Record(ITransaction transaction, string run, TeacherOptions teacher, GeneratedResponse response, string? unknownQuery)
    {
        verification.AddTo(transaction, response, response.Key);
        var stats = RunKeys.Stats(run);
        _ = transaction.HashIncrementAsync(stats, $"{teacher.Name}:samples");
        _ = transaction.HashIncrementAsync(stats, $"{teacher.Name}:prompt_tokens", response.PromptTokens);
        _ = transaction.HashIncrementAsync(stats, $"{teacher.Name}:completion_tokens", response.CompletionTokens);
        _ = transaction.HashIncrementAsync(stats, $"{teacher.Name}:cost_micro_usd", (long)Math.Round(response.CostUsd * 1_000_000m));
        if (unknownQuery is not null) _ = transaction.HashIncrementAsync(stats, RunKeys.UnknownQueryStat(teacher.Name, unknownQuery));
    }

    private void Counted(TeacherOptions teacher, GeneratedResponse response)
    {
        metrics.Sample(teacher.Name, response.FinishReason);
        metrics.Usage(teacher.Name, response.PromptTokens, response.CompletionTokens, response.CostUsd);
    }
}
