using System.Text.Json;
using System.Text.Json.Serialization;

namespace AmDistill.Contracts;

// The control plane's HTTP contract (/api/runs): what the Api answers and every client (CLI, AppHost progress, tests)
// reads, so no client parses a status by hand. The Api serves the same as an OpenAPI document at /openapi/v1.json.

/// <summary>The JSON of the Api's bodies: web defaults (camelCase names, case-insensitive reading).</summary>
public static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}

/// <summary>A run and the state it is in (after create, start, pause, resume, cancel).</summary>
public sealed record RunState(string Run, string State);

/// <summary>A run configuration's problems, each with its field.</summary>
public sealed record ConfigurationErrors(IReadOnlyList<string> Errors);

/// <summary>A run configuration checked: every problem, and whether its teachers could be checked against those the
/// generation service registered (not when none has registered yet).</summary>
public sealed record ConfigurationCheck(bool Valid, IReadOnlyList<string> Errors, bool TeachersChecked);

/// <summary>A query file ingested: lines read, queries kept, bad lines, drops by reason, the first errors (line and reason).</summary>
public sealed record QueryUpload(string Run, long Read, long Kept, long BadLines, IReadOnlyDictionary<string, long> Dropped, IReadOnlyList<string> Errors);

/// <summary>A file of responses imported (nothing added when <paramref name="Duplicate"/>: the same file came before); per
/// teacher the rows kept, per model the rows left out because it is not one of the run's imported teachers.</summary>
public sealed record SampleUpload(string Run, bool Duplicate, long Read, long Kept, long BadRows, IReadOnlyDictionary<string, long> Teachers,
    IReadOnlyDictionary<string, long> Skipped, IReadOnlyList<string> Errors);

/// <summary>A run's dead-lettered tasks and verifications put back on their streams.</summary>
public sealed record RunRedrive(string Run, long Redriven);

/// <summary>A run's input: its query upload, or the imported responses put together when it started.</summary>
public sealed record RunIngest(QueryUpload? Queries, ImportedInput? Imported);

/// <summary>Imported responses put together: files, queries, samples and samples per teacher.</summary>
public sealed record ImportedInput(long Files, long Queries, long Samples, IReadOnlyDictionary<string, long> Teachers);

/// <summary>
/// <c>GET /api/runs/{run}</c>: the run's state and input; queries fed and final, samples expected, imported, generated and
/// verified; throughput since the start and the ETA; per teacher model samples, tokens, cost and verdicts so far.
/// </summary>
/// <param name="Outputs">Where a completed run's exports and report are, within the dataset store (never a server path).</param>
/// <param name="UnknownQueries">Samples whose teacher could not know the query, by "teacher|reason": the teacher simulator
/// answers a question it has not seen (in no query file or ingested run it reads) or one without a reference answer or
/// solution with a guess, and says so.</param>
/// <param name="Batches">Per batch teacher (<c>Generation:Teachers:{name}:Batch</c>): its requests waiting for a batch and
/// the batches that carried the run's requests.</param>
public sealed record RunStatus(
    string Run,
    string? State,
    long Queries,
    long FedQueries,
    long FinalQueries,
    long ExpectedSamples,
    long ImportedSamples,
    long FedSamples,
    long Generated,
    long Verified,
    double ElapsedSeconds,
    double SamplesPerSecond,
    RunThroughput Throughput,
    double? EtaSeconds,
    double CostUsd,
    IReadOnlyList<ModelProgress> Models,
    IReadOnlyDictionary<string, long> JudgeDecided,
    DeadLetterCounts DeadLettered,
    RunIngest? Ingest,
    string? Outputs,
    IReadOnlyDictionary<string, long> UnknownQueries,
    IReadOnlyDictionary<string, BatchProgress>? Batches = null)
{
    [JsonIgnore] public bool Ended => State is RunStates.Completed or RunStates.Cancelled;
}

/// <summary>A batch teacher's work for a run: requests queued for the next batch; batches submitted, in progress, completed
/// and failed (failed, expired or cancelled at the provider: their passes are asked again); requests a batch answered with
/// an error (asked again, dead-lettered after <c>Generation:MaxDeliveries</c> batches).</summary>
public sealed record BatchProgress(long Queued, long Submitted, long InProgress, long Completed, long Failed, long RequestsFailed);

/// <summary>Per second since the start: samples generated and verified, queries final.</summary>
public sealed record RunThroughput(double GeneratedPerSecond, double VerifiedPerSecond, double FinalQueriesPerSecond);

/// <summary>One teacher model's samples, tokens, cost and verdicts so far.</summary>
public sealed record ModelProgress(string Model, long Samples, long PromptTokens, long CompletionTokens, double CostUsd, long Passed, long Failed, long Unscored)
{
    [JsonIgnore] public long Verdicts => Passed + Failed + Unscored;
}

/// <summary>Samples settled as unscored because their task or verification was dead-lettered (<c>amdistill run redrive</c>
/// puts them back), per stage and per "stage|reason".</summary>
public sealed record DeadLetterCounts(long Generation, long Verification, IReadOnlyDictionary<string, long> Reasons);
