using AmDistill.Contracts;
using AmDistill.Generation.Teachers;
using AmDistill.Messaging;
using StackExchange.Redis;

namespace AmDistill.Generation.Samples;

/// <summary>
/// Where a teacher's answers become samples, whether they came back from a request or from a batch: each sample is
/// published on the verification stream with its done-marker and the run's counters in one transaction, exactly once.
/// </summary>
public sealed class SampleCommitter(
    TeacherClient teachers,
    StreamProducer<GeneratedResponse> verification,
    StreamProducer<VerifiedResponse> scoring,
    IConnectionMultiplexer redis,
    GenerationMetrics metrics)
{
    /// <summary>Waits while the verification stream is over its backlog limit (backpressure).</summary>
    public Task WaitForCapacityAsync(int samples, CancellationToken cancellationToken) => verification.WaitForCapacityAsync(samples, cancellationToken);

    /// <summary>The task's passes not committed yet, with their sample ids.</summary>
    public async Task<(int Pass, string Id)[]> MissingAsync(GenerationTask task, TeacherOptions teacher, IEnumerable<int>? passes = null)
    {
        var samples = Samples(task, teacher, passes ?? task.Passes);
        var once = RunKeys.OnceScope("generation", task.RunId);
        var db = redis.GetDatabase();
        var final = Final(task).IsSettledAsync(db);
        var done = await Task.WhenAll(samples.Select(s => ProcessOnce.IsDoneAsync(db, once, s.Id)));
        // A final query's markers are gone (scoring removes them): its being final says every pass is done.
        return await final ? [] : [.. samples.Where((_, i) => !done[i])];
    }

    private static SetMember Final(GenerationTask task) => new(RunKeys.Final(task.RunId), task.QueryId);

    /// <summary>The sample ids of <paramref name="passes"/> of the task under the teacher's settings (a run's overrides included).</summary>
    public (int Pass, string Id)[] Samples(GenerationTask task, TeacherOptions teacher, IEnumerable<int> passes)
    {
        var settings = task.Settings is null ? teachers.SettingsHash(teacher) : SampleId.SettingsHash(teacher);
        return [.. passes.Select(pass => (pass, SampleId.For(task.RunId, task.QueryId, teacher.Name, pass, settings)))];
    }

    /// <summary>
    /// Publishes the samples of one answer with their done-markers and counters in one transaction: an answer paid for
    /// once is recorded whole or not at all, never half (a crash between per-sample commits would have the rest asked
    /// for, and paid, again). If a duplicate delivery committed some of them meanwhile, each is committed on its own.
    /// </summary>
    /// <param name="priceFactor">What the answer cost relative to the teacher's prices (the Batch API's discount).</param>
    public async Task CommitAsync(GenerationTask task, TeacherOptions teacher, (int Pass, string Id)[] samples, TeacherAnswer answer, decimal priceFactor = 1m)
    {
        if (answer.Choices.Count < samples.Length)
            throw new TeacherRequestException(teacher.Name, 200, $"asked for {samples.Length} choices, got {answer.Choices.Count}", transient: true);

        var db = redis.GetDatabase();
        var responses = Split(task, teacher, samples, answer, priceFactor);
        var once = RunKeys.OnceScope("generation", task.RunId);
        if (await ProcessOnce.ExecuteAllAsync(db, once, [.. responses.Select(r => r.SampleId)], writes =>
            {
                foreach (var response in responses) Record(writes, task.RunId, teacher, response, answer.UnknownQuery);
            }, settled: Final(task)))
        {
            foreach (var response in responses) Counted(teacher, response);
            return;
        }
        foreach (var response in responses)
            if (await ProcessOnce.ExecuteAsync(db, once, response.SampleId, writes => Record(writes, task.RunId, teacher, response, answer.UnknownQuery),
                    settled: Final(task)))
                Counted(teacher, response);
    }

    /// <summary>Each of <paramref name="passes"/> becomes a final unscored outcome (on <paramref name="transaction"/>), so the
    /// query and the run complete; <c>amdistill run redrive</c> takes them back.</summary>
    public void DeadLetter(ITransaction transaction, GenerationTask task, IEnumerable<int> passes, string reason)
    {
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

    /// <summary>
    /// One response per choice. Usage covers all choices: the prompt is shared, completion tokens are split by length; the
    /// shares are whole tokens that add up to the answer's usage exactly, so the run's counters are what was paid.
    /// </summary>
    private static List<GeneratedResponse> Split(GenerationTask task, TeacherOptions teacher, (int Pass, string Id)[] samples, TeacherAnswer answer, decimal priceFactor)
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
                answer.Latency.TotalMilliseconds, teacher.Cost(promptTokens, completionTokens) * priceFactor, task.ReferenceAnswer, task.Prompt, task.TestCases,
                task.ExpectedSamples, task.CascadeSamples, task.Source));
        }
        return responses;
    }

    private void Record(OnceWrites writes, string run, TeacherOptions teacher, GeneratedResponse response, string? unknownQuery)
    {
        verification.AddTo(writes, response, response.Key);
        var stats = RunKeys.Stats(run);
        writes.HashIncrement(stats, $"{teacher.Name}:samples");
        writes.HashIncrement(stats, $"{teacher.Name}:prompt_tokens", response.PromptTokens);
        writes.HashIncrement(stats, $"{teacher.Name}:completion_tokens", response.CompletionTokens);
        writes.HashIncrement(stats, $"{teacher.Name}:cost_micro_usd", (long)Math.Round(response.CostUsd * 1_000_000m));
        if (unknownQuery is not null) writes.HashIncrement(stats, RunKeys.UnknownQueryStat(teacher.Name, unknownQuery));
    }

    private void Counted(TeacherOptions teacher, GeneratedResponse response)
    {
        metrics.Sample(teacher.Name, response.FinishReason);
        metrics.Usage(teacher.Name, response.PromptTokens, response.CompletionTokens, response.CostUsd);
    }
}
