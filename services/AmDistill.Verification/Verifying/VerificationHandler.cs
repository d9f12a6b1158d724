using System.Diagnostics.Metrics;
using AmDistill.Contracts;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Scoring.Core;
using StackExchange.Redis;

namespace AmDistill.Verification.Verifying;

/// <summary>
/// Verifies each sample once, writes it with its verdict to the dataset store, then publishes the verdict to the scoring
/// stream atomically with its done-marker. A crash between the write and the publish writes the sample again on the
/// redelivery, flagged, and readers keep one copy.
/// </summary>
public sealed class VerificationHandler(StreamProducer<VerifiedResponse> scoring, IConnectionMultiplexer redis, DatasetWriters dataset, CodeSampleVerifier code, JudgeScorer judge, VerificationMetrics metrics)
    : IMessageHandler<GeneratedResponse>
{
    public async Task HandleAsync(MessageContext<GeneratedResponse> context, CancellationToken cancellationToken)
    {
        var sample = context.Message;
        var db = redis.GetDatabase();
        var once = RunKeys.OnceScope("verification", sample.RunId);
        // Done, or its query final (scoring then removes the markers): a late duplicate changes nothing.
        var final = new SetMember(RunKeys.Final(sample.RunId), sample.QueryId);
        if (await ProcessOnce.IsDoneAsync(db, once, sample.SampleId, final)) return;

        var verdict = SampleVerifier.CheckQuality(sample) ?? await VerifyContentAsync(sample, cancellationToken);
        var passed = verdict.Scored && Thresholds.Paper.Passes(sample.Category, verdict.VerifyScore);
        var result = new VerifiedResponse(sample.SampleId, sample.RunId, sample.QueryId, sample.Category, sample.Teacher, sample.Pass,
            verdict.VerifyScore, passed, verdict.Scored, verdict.Reason, sample.ExpectedSamples, sample.CascadeSamples);

        await dataset.AppendAsync(StoredSample.From(sample, result, redelivered: context.DeliveryCount > 1), cancellationToken);
        await scoring.WaitForCapacityAsync(1, cancellationToken);
        var outcome = verdict.Scored ? (passed ? "passed" : "failed") : "unscored";
        if (await ProcessOnce.ExecuteAsync(db, once, sample.SampleId, writes =>
            {
                scoring.AddTo(writes, result, result.Key);
                writes.HashIncrement(RunKeys.Stats(sample.RunId), $"{sample.Teacher}:{outcome}");
                if (verdict.ByJudge) writes.HashIncrement(RunKeys.Stats(sample.RunId), RunKeys.JudgeDecidedStat(sample.Category));
            }, settled: final))
            metrics.Verdict(sample.Category, sample.Teacher, outcome);
    }

    /// <summary>A sample that passed the quality checks: its category's verifier, then the judge for what no rule decides.</summary>
    /// <summary>A sample that could not be verified (every delivery failed) becomes a final unscored outcome, unless its
    /// verdict went out before.</summary>
    public async Task OnDeadLetterAsync(GeneratedResponse sample, string reason, ITransaction transaction)
    {
        if (await ProcessOnce.IsDoneAsync(redis.GetDatabase(), RunKeys.OnceScope("verification", sample.RunId), sample.SampleId,
                new SetMember(RunKeys.Final(sample.RunId), sample.QueryId))) return;
        var outcome = VerifiedResponse.DeadLettered(sample.RunId, sample.QueryId, sample.Category, sample.Teacher, sample.Pass, "verification", reason,
            sample.ExpectedSamples, sample.CascadeSamples);
        scoring.AddTo(transaction, outcome, outcome.Key);
        _ = transaction.HashIncrementAsync(RunKeys.Stats(sample.RunId), $"{sample.Teacher}:unscored");
        _ = transaction.HashIncrementAsync(RunKeys.Stats(sample.RunId), RunKeys.DeadLetteredStat("verification"));
        _ = transaction.HashIncrementAsync(RunKeys.Stats(sample.RunId), RunKeys.DeadLetterReasonStat("verification", reason));
    }

    private async Task<SampleVerdict> VerifyContentAsync(GeneratedResponse sample, CancellationToken cancellationToken)
    {
        var verdict = sample.Category == QueryCategory.Code ? await code.VerifyAsync(sample, cancellationToken) : SampleVerifier.Verify(sample);
        return await judge.ScoreAsync(sample, verdict, cancellationToken) ?? verdict;
    }
}

/// <summary>Verdicts per category, teacher and outcome (meter <c>AmDistill.Verification</c>): pass rates as they form.</summary>
public sealed class VerificationMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _verdicts = meters.Create("AmDistill.Verification")
        .CreateCounter<long>("amdistill.verification.verdicts", "{sample}", "Verdicts by category, teacher and outcome.");

    public void Verdict(QueryCategory category, string teacher, string outcome) => _verdicts.Add(1,
        new KeyValuePair<string, object?>("category", category.ToString()), new KeyValuePair<string, object?>("model", teacher),
        new KeyValuePair<string, object?>("outcome", outcome));
}
