namespace AmDistill.Generation.Teachers;

/// <summary>Configuration section <c>Generation</c>.</summary>
public sealed class GenerationOptions
{
    public const string Section = "Generation";

    /// <summary>
    /// The a-m-team family's system prompt (paper.md §2; the DeepDistill paper does not state its own).
    /// Set a teacher's <see cref="TeacherOptions.SystemPrompt"/> to "" to send none (DeepSeek's advice for R1).
    /// </summary>
    public const string AmSystemPrompt =
        "You are a helpful assistant. To answer the user's question, you first think about the reasoning process and then " +
        "provide the user with the answer. The reasoning process and answer are enclosed within <think> </think> and " +
        "<answer> </answer> tags, respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.";

    /// <summary>The teachers by name: <c>Generation:Teachers:{name}:Endpoint</c>, … (a run asks for them by that name).</summary>
    public Dictionary<string, TeacherOptions> Teachers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Generation tasks handled at once by this replica (each may wait on its teacher's limits).</summary>
    public int Concurrency { get; set; } = 256;

    /// <summary>Deliveries of a task before it is dead-lettered.</summary>
    public int MaxDeliveries { get; set; } = 5;

    /// <summary>
    /// How long a task keeps retrying a teacher that fails transiently (5xx, 429, timeouts, an open circuit) before
    /// it gives the task back to the queue: a teacher outage must not burn the task's deliveries.
    /// </summary>
    public TimeSpan TransientRetryBudget { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>A task not renewed for this long (its owner renews it every third of it) is taken over by another replica
    /// or by the service's next start.</summary>
    public TimeSpan VisibilityTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Names each teacher after its key.</summary>
    public GenerationOptions Named()
    {
        foreach (var (name, teacher) in Teachers) teacher.Name = name;
        return this;
    }
}

public enum TeacherProvider
{
    /// <summary>Any OpenAI-compatible endpoint: OpenAI, vLLM, SGLang, DeepSeek, the teacher simulator.</summary>
    OpenAI,

    /// <summary>Azure OpenAI: <see cref="TeacherOptions.Model"/> is the deployment name.</summary>
    Azure,
}

public sealed class TeacherOptions
{
    /// <summary>The name generation tasks use: the teacher's key in <see cref="GenerationOptions.Teachers"/> (not bound).</summary>
    public string Name { get; internal set; } = "";

    public TeacherProvider Provider { get; set; } = TeacherProvider.OpenAI;

    /// <summary>Base URL, e.g. <c>https://api.deepseek.com/v1</c>, <c>http://vllm:8000/v1</c>, <c>http://teacher-sim/v1</c>.</summary>
    public string Endpoint { get; set; } = "";

    /// <summary>Model name (OpenAI-compatible) or deployment name (Azure).</summary>
    public string Model { get; set; } = "";

    /// <summary>Secret: set it from an Aspire secret parameter or the environment, never in a committed file.</summary>
    public string? ApiKey { get; set; }

    public double Temperature { get; set; } = 0.6;

    public double TopP { get; set; } = 0.95;

    public int MaxTokens { get; set; } = 32_768;

    /// <summary>Null: the AM system prompt; empty: no system message.</summary>
    public string? SystemPrompt { get; set; }

    /// <summary>Whether the endpoint accepts <c>n</c> &gt; 1; if not, each pass is its own request.</summary>
    public bool SupportsN { get; set; } = true;

    public int MaxInFlight { get; set; } = 64;

    /// <summary>0: no limit.</summary>
    public int RequestsPerMinute { get; set; }

    /// <summary>Prompt plus completion tokens per minute; 0: no limit.</summary>
    public int TokensPerMinute { get; set; }

    public decimal PricePerMillionInputTokens { get; set; }

    public decimal PricePerMillionOutputTokens { get; set; }

    /// <summary>One attempt's limit: long reasoning answers take minutes.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(10);

    public int MaxRetries { get; set; } = 3;

    /// <summary>
    /// Ask through the provider's Batch API (OpenAI, Azure OpenAI global batch) instead of one request per task: tasks are
    /// collected into batch files, submitted, polled and their results committed exactly once, at
    /// <see cref="BatchPriceFactor"/> of the prices, within the provider's completion window (24 h) instead of seconds.
    /// </summary>
    public bool Batch { get; set; }

    /// <summary>Requests per batch file (OpenAI: at most 50,000; Azure OpenAI: 100,000).</summary>
    public int BatchMaxRequests { get; set; } = 50_000;

    /// <summary>Bytes per batch file (OpenAI and Azure OpenAI: at most 200 MB).</summary>
    public long BatchMaxBytes { get; set; } = 190_000_000;

    /// <summary>A batch is submitted when it is full or when its oldest request has waited this long.</summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often a submitted batch's status is asked for.</summary>
    public TimeSpan BatchPollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>What a batch answer costs relative to <see cref="PricePerMillionInputTokens"/> and <see cref="PricePerMillionOutputTokens"/> (OpenAI and Azure: half).</summary>
    public decimal BatchPriceFactor { get; set; } = 0.5m;

    public string EffectiveSystemPrompt => SystemPrompt ?? GenerationOptions.AmSystemPrompt;

    public decimal Cost(int inputTokens, int outputTokens) =>
        (inputTokens * PricePerMillionInputTokens + outputTokens * PricePerMillionOutputTokens) / 1_000_000m;

    /// <summary>This teacher under a run's overrides of its sampling and prices (itself when there are none).</summary>
    public TeacherOptions With(Contracts.TeacherSettings? settings)
    {
        if (settings is null) return this;
        var copy = (TeacherOptions)MemberwiseClone();
        copy.Temperature = settings.Temperature ?? Temperature;
        copy.TopP = settings.TopP ?? TopP;
        copy.MaxTokens = settings.MaxTokens ?? MaxTokens;
        copy.PricePerMillionInputTokens = settings.PricePerMillionInputTokens ?? PricePerMillionInputTokens;
        copy.PricePerMillionOutputTokens = settings.PricePerMillionOutputTokens ?? PricePerMillionOutputTokens;
        return copy;
    }
}
