using System.Text.Json.Serialization;

namespace AmDistill.Dataset.Export;

/// <summary>
/// One (query, response) row in the schema of AM-DeepSeek-Distilled-40M (14 fields, docs/am-schema.md), plus
/// ours: the query and sample ids, the selecting teacher's CV and the difficulty level. The three pass-rate columns
/// hold the difficulty ladder's strongest, middle and weakest teacher (R1, 7B, 1.5B in the paper); <c>ppl</c> is not
/// computed here (null).
/// </summary>
public sealed record AmRecord
{
    [JsonPropertyName("question")] public string Question { get; init; } = "";
    [JsonPropertyName("answer")] public string Answer { get; init; } = "";
    [JsonPropertyName("question_source")] public string QuestionSource { get; init; } = "";
    [JsonPropertyName("answer_source")] public string AnswerSource { get; init; } = "";
    [JsonPropertyName("category")] public string Category { get; init; } = "";
    [JsonPropertyName("ground_truth")] public string GroundTruth { get; init; } = "";
    [JsonPropertyName("test_case")] public string TestCase { get; init; } = "";
    [JsonPropertyName("instruction_constrain")] public string InstructionConstrain { get; init; } = "";
    [JsonPropertyName("pass_rate_r1")] public float? PassRateR1 { get; init; }
    [JsonPropertyName("pass_rate_7b")] public float? PassRate7B { get; init; }
    [JsonPropertyName("pass_rate_1.5b")] public float? PassRate15B { get; init; }
    [JsonPropertyName("verify_score")] public float VerifyScore { get; init; }
    [JsonPropertyName("ppl")] public float? Ppl { get; init; }
    [JsonPropertyName("model_name")] public string ModelName { get; init; } = "";
    [JsonPropertyName("query_id")] public string QueryId { get; init; } = "";
    [JsonPropertyName("sample_id")] public string SampleId { get; init; } = "";
    [JsonPropertyName("cv")] public float? Cv { get; init; }
    [JsonPropertyName("difficulty")] public string Difficulty { get; init; } = "";

    /// <summary>The AM answer form: the reasoning and the final answer, each in its tag.</summary>
    public static string FormatAnswer(string? thinking, string answer) => $"<think>\n{thinking}\n</think>\n<answer>\n{answer}\n</answer>";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AmRecord))]
public sealed partial class AmJsonContext : JsonSerializerContext;
