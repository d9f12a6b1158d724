using System.Text.Json;
using System.Text.Json.Serialization;
using AmDistill.Messaging;
using AmDistill.Scoring.Core;

namespace AmDistill.Contracts;

/// <summary>The pipeline's streams, in the order work flows through them.</summary>
public static class Streams
{
    /// <summary>Feeder → generation workers.</summary>
    public static readonly MessageStream<GenerationTask> Generation = new("amdistill:generation", ContractsJsonContext.Default.GenerationTask);

    /// <summary>Generation workers → verification workers.</summary>
    public static readonly MessageStream<GeneratedResponse> Verification = new("amdistill:verification", ContractsJsonContext.Default.GeneratedResponse);

    /// <summary>Verification workers → scoring workers.</summary>
    public static readonly MessageStream<VerifiedResponse> Scoring = new("amdistill:scoring", ContractsJsonContext.Default.VerifiedResponse);

    /// <summary>Api → trainer service.</summary>
    public static readonly MessageStream<TrainingJob> Training = new("amdistill:training", ContractsJsonContext.Default.TrainingJob);

    public static IReadOnlyList<string> All { get; } = [Generation.Name, Verification.Name, Scoring.Name, Training.Name];
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(GenerationTask))]
[JsonSerializable(typeof(GeneratedResponse))]
[JsonSerializable(typeof(VerifiedResponse))]
[JsonSerializable(typeof(TrainingJob))]
[JsonSerializable(typeof(ServedTeacher))]
[JsonSerializable(typeof(ServeRequest))]
[JsonSerializable(typeof(List<ServedTeacher>))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;

/// <summary>Redis keys of a run that more than one service reads.</summary>
public static class RunKeys
{
    /// <summary>The set of queries whose score record is final (every expected sample scored).</summary>
    public static string Final(string run) => $"amdistill:run:{run}:final";

    /// <summary>Per-model counters, written in the same transaction as the work they count (so exactly once):
    /// <c>{model}:samples</c>, <c>:prompt_tokens</c>, <c>:completion_tokens</c>, <c>:cost_micro_usd</c>,
    /// <c>:passed</c>, <c>:failed</c>, <c>:unscored</c>, the run's <c>expected_samples</c>, <c>queries</c>, <c>started</c>, and
    /// <see cref="JudgeDecidedStat"/> per category.</summary>
    public static string Stats(string run) => $"amdistill:run:{run}:stats";

    /// <summary>A query's score record (hash, written by scoring): one field per sample, <c>{teacher}#{pass}#{sample}</c> →
    /// verify_score or <c>unscored</c>, plus <c>category</c> and <c>expected</c>.</summary>
    public static string QueryRecord(string run, string query) => $"amdistill:run:{run}:query:{query}";

    /// <summary>The queries that have a <see cref="QueryRecord"/> (set, written by scoring).</summary>
    public static string ScoredQueries(string run) => $"amdistill:run:{run}:queries";

    /// <summary>A sample's field in its <see cref="QueryRecord"/>.</summary>
    public static string QueryRecordField(string teacher, int pass, string sampleId) =>
        $"{teacher}#{pass.ToString(System.Globalization.CultureInfo.InvariantCulture)}#{sampleId}";

    /// <summary>The field of <see cref="Stats"/> that counts the samples of a run settled as dead-lettered in a stage
    /// (<c>generation</c>, <c>verification</c>), each also counted as <c>{teacher}:unscored</c>.</summary>
    public static string DeadLetteredStat(string stage) => $"dead_lettered.{stage}";

    /// <summary>The field of <see cref="Stats"/> that counts those samples by the reason their entry was dead-lettered
    /// (cut to 100 characters; '|' keeps it apart from the per-model fields).</summary>
    public static string DeadLetterReasonStat(string stage, string reason) => $"{DeadLetterReasonPrefix}{stage}|{(reason.Length > 100 ? reason[..100] : reason)}";

    public const string DeadLetterReasonPrefix = "dead_reason|";

    /// <summary>The field of <see cref="Stats"/> that counts a teacher's samples answering a query it could not know (the
    /// teacher simulator says so, with why, in its <c>system_fingerprint</c>); '|' keeps it apart from the per-model fields.</summary>
    public static string UnknownQueryStat(string teacher, string reason) => $"{UnknownQueryPrefix}{teacher}|{reason}";

    public const string UnknownQueryPrefix = "unknown_query|";

    /// <summary>The field of <see cref="Stats"/> that counts a batch teacher's work for the run: <c>queued</c> requests
    /// waiting for a batch, batches <c>submitted</c>, <c>completed</c> and <c>failed</c> (each batch that carried the run's
    /// requests), and <c>requests_failed</c> (requests a batch answered with an error; they are asked again).</summary>
    public static string BatchStat(string teacher, string what) => $"{BatchPrefix}{teacher}|{what}";

    public const string BatchPrefix = "batch|";

    /// <summary>The field of <see cref="Stats"/> that counts a category's verdicts decided by the judge or the reward model
    /// rather than a rule (no ':' in it: those fields are per model).</summary>
    public static string JudgeDecidedStat(QueryCategory category) => $"judge_decided.{category.ToString().ToLowerInvariant()}";

    /// <summary>The run itself (hash, written by the control plane): <c>config</c> (JSON), <c>state</c>
    /// (<see cref="RunStates"/>), <c>queries</c> kept at ingestion, <c>cursor</c> (queries fed), <c>ingest</c> (report JSON).</summary>
    public static string Run(string run) => $"amdistill:run:{run}";

    /// <summary>A cascade run's decisions (hash, written by scoring): query → <c>solved</c> (the first teacher passed every
    /// time: final with its samples alone) or <c>escalated</c> (the feeder asks the other teachers); <c>{query}#passed</c>
    /// counts the first teacher's passing samples until then.</summary>
    public static string Cascade(string run) => $"amdistill:run:{run}:cascade";

    /// <summary>
    /// The exactly-once scope of a pipeline stage within a run (<c>amdistill:once:{stage}:{run}:{key}</c>): per run, so
    /// that deleting a run removes its done-markers and a new run of the same id does its work again.
    /// </summary>
    public static string OnceScope(string stage, string run) => $"{stage}:{run}";

    /// <summary>The stages that keep done-markers: generation (per sample), verification (per sample), scoring (per final query).</summary>
    public static readonly IReadOnlyList<string> OnceStages = ["generation", "verification", "query-record"];

    /// <summary>Every run by creation time (sorted set).</summary>
    public const string Runs = "amdistill:runs";

    /// <summary>The teachers the generation service has registered (hash: name → JSON with model, endpoint, sampling, prices),
    /// which a run's configuration is checked against.</summary>
    public const string Teachers = "amdistill:teachers";

    /// <summary>Models the trainer service serves (hash: name → <see cref="ServedTeacher"/> JSON): teachers of the
    /// generation service besides its configured ones, for as long as they are served.</summary>
    public const string ServedTeachers = "amdistill:teachers:served";

    /// <summary>What the trainer service was asked to serve (hash: name → <see cref="ServeRequest"/> JSON), until it is
    /// asked to stop: a restarted trainer service serves them again, and generation waits for them meanwhile.</summary>
    public const string ServeRequests = "amdistill:teachers:serve-requests";

    /// <summary>A training job's status (hash, written by the trainer service: state, step fields, model, message).</summary>
    public static string TrainingJob(string run, string job) => $"amdistill:training:{run}:{job}";

    /// <summary>A training job's curve (list of JSON step events: step, loss, lr, grad_norm, tokens_per_s, mfu), for the
    /// report of the run that evaluates it.</summary>
    public static string TrainingCurve(string run, string job) => $"amdistill:training:{run}:{job}:curve";
}

/// <summary>A run's life: created → (queries uploaded) → running ⇄ paused → completed, or cancelled from any but completed.
/// Generation skips the tasks of a cancelled run.</summary>
public static class RunStates
{
    public const string Created = "created";
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Cancelled = "cancelled";
    public const string Completed = "completed";
}
