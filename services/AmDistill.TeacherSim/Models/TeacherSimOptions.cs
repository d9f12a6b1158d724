namespace AmDistill.TeacherSim.Models;

/// <summary>Configuration section <c>TeacherSim</c>.</summary>
public sealed class TeacherSimOptions
{
    public const string Section = "TeacherSim";

    /// <summary>Same seed, same request (model, messages, <c>seed</c>, choice): same response.</summary>
    public int Seed { get; set; } = 2504;

    /// <summary>The simulated models; empty means the default ladder (<see cref="SimModel.DefaultLadder"/>).</summary>
    public List<SimModel> Models { get; set; } = [];

    /// <summary>Query files (JSONL, the shared query schema) whose reference answers and solutions the teachers know.</summary>
    public List<string> QueryFiles { get; set; } = ["data/demo-queries.jsonl"];

    /// <summary>Dataset stores whose runs' ingested queries (<c>{dir}/{run}/input/queries.jsonl</c>) the teachers also
    /// learn, when a prompt is not known: the AppHost sets its data root here.</summary>
    public List<string> RunDirectories { get; set; } = [];

    /// <summary>How long a request with an injected timeout hangs before the server gives up on it.</summary>
    public TimeSpan TimeoutFaultDuration { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The Batch API (<c>/v1/files</c>, <c>/v1/batches</c>): how long a batch takes and how often it fails.</summary>
    public SimBatchOptions Batch { get; set; } = new();

    public IReadOnlyList<SimModel> EffectiveModels => Models.Count > 0 ? Models : SimModel.DefaultLadder;
}

public sealed class SimBatchOptions
{
    /// <summary>From creation to completion of every batch (OpenAI takes minutes to 24 hours).</summary>
    public TimeSpan CompletionDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Probability that one request of a batch fails (a 500 line in the batch's error file).</summary>
    public double RequestFailureRate { get; set; }

    /// <summary>Probability that a whole batch fails (status <c>failed</c>, no output).</summary>
    public double BatchFailureRate { get; set; }

    /// <summary>The first this many batches are created but their creation's response is lost (the connection drops),
    /// as after a crash or a network fault between the request and its answer.</summary>
    public int LoseCreateResponses { get; set; }
}

/// <summary>Where a model puts its thinking.</summary>
public enum ThinkFormat
{
    /// <summary><c>message.reasoning_content</c>, as DeepSeek's API and vLLM's reasoning parsers return it.</summary>
    ReasoningContent,

    /// <summary><c>&lt;think&gt;…&lt;/think&gt;</c> at the start of <c>message.content</c>, as raw R1 output has it.</summary>
    Inline,
}

/// <summary>Probabilities of each injected fault, per request.</summary>
public sealed class FaultRates
{
    public double RateLimited { get; set; }
    public double ServerError { get; set; }
    public double Unavailable { get; set; }
    public double Timeout { get; set; }
    public double Drop { get; set; }
    public double Length { get; set; }

    public double Total => RateLimited + ServerError + Unavailable + Timeout + Drop + Length;
}

public sealed class SimModel
{
    public string Name { get; set; } = "";

    /// <summary>0…1: against a query of difficulty d, P(correct) = 1 / (1 + e^(−8 (skill − d))).</summary>
    public double Skill { get; set; } = 0.5;

    public int TimeToFirstTokenMs { get; set; } = 150;

    public double TokensPerSecond { get; set; } = 1500;

    /// <summary>When set, every response takes exactly this long, whatever its length (load tests).</summary>
    public int? FixedLatencyMs { get; set; }

    /// <summary>Mean think length in tokens for a query of difficulty 0.5; harder queries think longer.</summary>
    public int ThinkTokens { get; set; } = 400;

    public ThinkFormat ThinkFormat { get; set; } = ThinkFormat.ReasoningContent;

    /// <summary>Whether <c>n</c> &gt; 1 is accepted; if not, such requests get 400 like servers that reject it.</summary>
    public bool SupportsN { get; set; } = true;

    public int RetryAfterSeconds { get; set; } = 1;

    public FaultRates Faults { get; set; } = new();

    /// <summary>The paper's ladder (DeepSeek-R1-Distill-Qwen-1.5B, -7B, DeepSeek-R1): weak, medium, strong.</summary>
    public static IReadOnlyList<SimModel> DefaultLadder { get; } =
    [
        new() { Name = "r1-distill-qwen-1.5b-sim", Skill = 0.35, TokensPerSecond = 3000, ThinkTokens = 500 },
        new() { Name = "r1-distill-qwen-7b-sim", Skill = 0.6, TokensPerSecond = 2000, ThinkTokens = 450 },
        new() { Name = "deepseek-r1-sim", Skill = 0.85, TokensPerSecond = 1000, ThinkTokens = 400, ThinkFormat = ThinkFormat.Inline },
        // The grader: the paper's judge is Qwen2.5-7B-Instruct (science similarity, math second check).
        new() { Name = "qwen2.5-7b-instruct-sim", Skill = 0.9, TokensPerSecond = 3000, ThinkTokens = 20 },
    ];
}
