using AmDistill.Scoring.Core;

namespace AmDistill.Contracts;

/// <summary>
/// Ask one teacher for some passes over one query (the paper: 3 teachers × 4 passes per query). Several passes
/// travel together so that a teacher that accepts <c>n</c> &gt; 1 answers them in one request.
/// </summary>
public sealed record GenerationTask(
    string RunId,
    string QueryId,
    QueryCategory Category,
    string Teacher,
    IReadOnlyList<int> Passes,
    string Prompt,
    string? ReferenceAnswer = null,
    string? TestCases = null,
    int ExpectedSamples = 0,
    int CascadeSamples = 0,
    TeacherSettings? Settings = null,
    string? Source = null)
{
    /// <summary>Idempotency key of the task; each sample has its own (<see cref="GeneratedResponse.SampleId"/>).</summary>
    public string Key => $"{RunId}/{QueryId}/{Teacher}";
}

/// <summary>A run's overrides of a registered teacher's sampling and prices (null: the teacher's own). Sampling
/// overrides are part of the sample id, so the same query under other settings is another sample.</summary>
public sealed record TeacherSettings(
    double? Temperature = null,
    double? TopP = null,
    int? MaxTokens = null,
    decimal? PricePerMillionInputTokens = null,
    decimal? PricePerMillionOutputTokens = null);

/// <summary>A teacher's answer, the think part kept apart from the final answer.</summary>
/// <param name="SampleId">Deterministic: run, query, teacher, pass and a hash of the generation settings.</param>
/// <param name="Truncated">The teacher stopped at its token limit: never to be verified as complete.</param>
/// <param name="Prompt">The query as asked, carried along so the dataset store holds complete (question, answer) pairs.</param>
/// <param name="TestCases">The query's <c>test_cases</c> object (the shared query schema) as JSON: code tests for the
/// sandbox, IFEval instructions for the instruction checkers.</param>
/// <param name="ExpectedSamples">How many samples the query gets in all (teachers × passes; 0: unknown), so scoring knows when its record is final.</param>
/// <param name="CascadeSamples">In a cascade run, the first (cheapest) teacher's passes: a query whose first samples all
/// pass is final with those alone; otherwise scoring escalates it (<c>RunKeys.Cascade</c>) and the feeder asks the
/// other teachers. 0: no cascade. Carried from the task to the verdict like <see cref="ExpectedSamples"/>.</param>
public sealed record GeneratedResponse(
    string SampleId,
    string RunId,
    string QueryId,
    QueryCategory Category,
    string Teacher,
    string Model,
    int Pass,
    string? Thinking,
    string Answer,
    string FinishReason,
    bool Truncated,
    int PromptTokens,
    int CompletionTokens,
    double LatencyMs,
    decimal CostUsd,
    string? ReferenceAnswer = null,
    string? Prompt = null,
    string? TestCases = null,
    int ExpectedSamples = 0,
    int CascadeSamples = 0,
    string? Source = null)
{
    public string Key => SampleId;
}

/// <summary>A response with its verify_score on the paper's per-category scale and whether it passed.</summary>
/// <param name="Scored">False when no verifier for the category exists yet: the sample is never counted as passed.</param>
/// <param name="Verdict">Why: the verifier's rule, or the quality check that failed.</param>
public sealed record VerifiedResponse(
    string SampleId,
    string RunId,
    string QueryId,
    QueryCategory Category,
    string Teacher,
    int Pass,
    double VerifyScore,
    bool Passed,
    bool Scored,
    string Verdict,
    int ExpectedSamples = 0,
    int CascadeSamples = 0)
{
    public string Key => SampleId;

    /// <summary>
    /// The final, unscored outcome of a sample whose task or verification was dead-lettered: it counts towards its query's
    /// expected samples (so the query becomes final and the run completes) and never as passed. Its sample id names the
    /// slot (<see cref="DeadLetteredSampleId"/>), so a redrive can take it back.
    /// </summary>
    public static VerifiedResponse DeadLettered(string runId, string queryId, QueryCategory category, string teacher, int pass, string stage, string reason,
        int expectedSamples, int cascadeSamples) =>
        new(DeadLetteredSampleId(teacher, pass), runId, queryId, category, teacher, pass, 0, Passed: false, Scored: false,
            $"dead-lettered in {stage}: {reason}", expectedSamples, cascadeSamples);

    public static string DeadLetteredSampleId(string teacher, int pass) => $"dead-letter-{teacher}-{pass.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>
/// Train <see cref="BaseModel"/> with one of the paper's recipes (<c>stage1</c>, <c>stage2</c>) on a training file
/// (chat messages, ShareGPT or AM-schema JSONL, as the trainer container reads it), or, without one, on the run's
/// samples in the dataset store picked by <see cref="Selection"/> (all, stage1, stage2, band; default: the recipe's stage).
/// </summary>
public sealed record TrainingJob(
    string RunId,
    string JobId,
    string Recipe,
    string BaseModel,
    string? TrainingFile = null,
    int MaxSteps = 0,
    string? Selection = null,
    TrainingOverrides? Overrides = null)
{
    public string Key => $"{RunId}/{JobId}";
}

/// <summary>Departures from the recipe a job may ask for (null: the recipe's): a smaller context or batch where the GPUs
/// are smaller, another learning rate for an ablation (the paper's 8e-5 against 8e-6).</summary>
public sealed record TrainingOverrides(double? LearningRate = null, int? GlobalBatch = null, int? MaxLength = null);

/// <summary>A model the trainer service serves over OpenAI chat completions: a teacher of the generation service named
/// <see cref="Name"/> (the served model name too) at <see cref="Endpoint"/> (…/v1), for as long as it is served.</summary>
public sealed record ServedTeacher(string Name, string Endpoint, string ModelDirectory, int MaxTokens);

/// <summary>Serve a model directory, or a succeeded training job's model (<see cref="Job"/>: <c>run/job</c>), as teacher
/// <see cref="Name"/>; <see cref="MaxTokens"/> caps its answers (0: the trainer's default).</summary>
public sealed record ServeRequest(string Name, string? ModelDirectory = null, string? Job = null, int MaxTokens = 0);
