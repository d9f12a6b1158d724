using System.Text.Json;
using System.Text.Json.Serialization;
using AmDistill.Contracts;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Samples;

/// <summary>
/// One verified response as the dataset store keeps it: the query, the teacher's thinking and answer, the verdict.
/// </summary>
/// <param name="Redelivered">Written on a redelivery of its message: a copy may already be in the store (readers keep the first).</param>
/// <param name="TestCases">The query's <c>test_cases</c> (code tests, IFEval instructions) as JSON, so that a row of the
/// dataset can be verified again from the dataset alone (the AM schema's <c>test_case</c> and <c>instruction_constrain</c>).</param>
/// <param name="Source">The query's <c>source</c> (the benchmark or dataset it came from): the AM schema's <c>question_source</c>.</param>
/// <param name="Ppl">The AM schema's <c>ppl</c> of an imported row (not computed here).</param>
public sealed record StoredSample(
    string SampleId,
    string RunId,
    string QueryId,
    QueryCategory Category,
    string Teacher,
    string Model,
    int Pass,
    string? Prompt,
    string? Thinking,
    string Answer,
    string FinishReason,
    bool Truncated,
    int PromptTokens,
    int CompletionTokens,
    decimal CostUsd,
    string? ReferenceAnswer,
    double VerifyScore,
    bool Passed,
    bool Scored,
    string Verdict,
    bool Redelivered = false,
    string? TestCases = null,
    string? Source = null,
    double? Ppl = null)
{
    public static StoredSample From(GeneratedResponse sample, VerifiedResponse verdict, bool redelivered) => new(
        sample.SampleId, sample.RunId, sample.QueryId, sample.Category, sample.Teacher, sample.Model, sample.Pass, sample.Prompt,
        sample.Thinking, sample.Answer, sample.FinishReason, sample.Truncated, sample.PromptTokens, sample.CompletionTokens,
        sample.CostUsd, sample.ReferenceAnswer, verdict.VerifyScore, verdict.Passed, verdict.Scored, verdict.Verdict, redelivered, sample.TestCases, sample.Source);
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(StoredSample))]
public sealed partial class DatasetJsonContext : JsonSerializerContext;
