namespace AmDistill.Contracts;

/// <summary>Query categories of the paper (§2.1): each has its own verifier and pass threshold.</summary>
public enum QueryCategory
{
    Math,
    Code,
    Science,
    InstructionFollowing,
    Other,
}

/// <summary>Ask one teacher for one pass over one query (the paper: 3 teachers × 4 passes per query).</summary>
public sealed record GenerationTask(
    string RunId,
    string QueryId,
    QueryCategory Category,
    string Teacher,
    int Pass,
    string Prompt)
{
    /// <summary>Idempotency key: a (query, teacher, pass) is answered, and paid for, once per run.</summary>
    public string Key => $"{RunId}/{QueryId}/{Teacher}/{Pass}";
}

/// <summary>A teacher's answer, the think part kept apart from the final answer.</summary>
public sealed record GeneratedResponse(
    string RunId,
    string QueryId,
    QueryCategory Category,
    string Teacher,
    int Pass,
    string? Thinking,
    string Answer,
    string FinishReason,
    int PromptTokens,
    int CompletionTokens)
{
    public string Key => $"{RunId}/{QueryId}/{Teacher}/{Pass}";
}

/// <summary>A response with its verify_score on the paper's per-category scale and whether it passed.</summary>
public sealed record VerifiedResponse(
    string RunId,
    string QueryId,
    QueryCategory Category,
    string Teacher,
    int Pass,
    double VerifyScore,
    bool Passed,
    string Verdict)
{
    public string Key => $"{RunId}/{QueryId}/{Teacher}/{Pass}";
}

/// <summary>Train a model on a selected dataset with one of the paper's recipes (Stage I or Stage II).</summary>
public sealed record TrainingJob(
    string RunId,
    string JobId,
    string Recipe,
    string BaseModel,
    string DatasetPath)
{
    public string Key => $"{RunId}/{JobId}";
}
