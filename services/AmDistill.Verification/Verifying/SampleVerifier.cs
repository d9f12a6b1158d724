using AmDistill.Contracts;
using AmDistill.Scoring.Core;
using System.Text.Json;
using AmDistill.Verifiers.Choice;
using AmDistill.Verifiers.InstructionFollowing;
using AmDistill.Verifiers.Math;

namespace AmDistill.Verification.Verifying;

/// <summary>A verify_score on the paper's scale for the category, and whether a verifier could give one.</summary>
/// <param name="Undecided">The rule-based verifier could not decide (an answer in a notation it does not read): the only
/// case the judge may look at again. A definite "not equivalent" is never handed to the judge.</param>
/// <param name="ByJudge">The verdict is the judge's or the reward model's, not a rule's (counted per category in the run's status).</param>
public sealed record SampleVerdict(double VerifyScore, bool Scored, string Reason, bool Undecided = false, bool ByJudge = false);

/// <summary>
/// Routes a sample to its category's verifier (paper §3) after the response-level quality checks (§3.3):
/// math → math equivalence (0/1); science with a letter reference → multiple choice (0 or 5, the science scale);
/// code → <see cref="CodeSampleVerifier"/> (the sandbox, asynchronous); instruction following → the IFEval checkers
/// (the fraction of instructions followed, strict); free-form science and other → unscored until the judge and the
/// reward model exist, never passed silently.
/// </summary>
public static class SampleVerifier
{
    /// <summary>The response-level quality checks: a sample that fails one scores 0 whatever its answer; null when it passes.</summary>
    public static SampleVerdict? CheckQuality(GeneratedResponse sample)
    {
        if (sample.Truncated) return new(0, true, "quality: truncated at the token limit (finish_reason length)");
        if (string.IsNullOrWhiteSpace(sample.Thinking)) return new(0, true, "quality: no think content");
        if (string.IsNullOrWhiteSpace(sample.Answer)) return new(0, true, "quality: no final answer after the think part");
        return null;
    }

    public static SampleVerdict Verify(GeneratedResponse sample)
    {
        if (CheckQuality(sample) is { } failed) return failed;

        switch (sample.Category)
        {
            case QueryCategory.Math when sample.ReferenceAnswer is { Length: > 0 } reference:
            {
                var verdict = MathVerifier.Verify(reference, sample.Answer);
                return verdict.Equal is null
                    ? new(0, true, $"math: {verdict.Reason}", Undecided: true)
                    : new(verdict.Passed ? 1 : 0, true, $"math: {verdict.Reason}; expected {verdict.GoldAnswer}, got {verdict.PredAnswer ?? "nothing"}");
            }
            case QueryCategory.Science when sample.ReferenceAnswer is { Length: 1 } letter && char.IsAsciiLetterUpper(letter[0]):
            {
                var chosen = ChoiceVerifier.Extract(sample.Answer);
                return new(chosen == letter[0] ? 5 : 0, true, $"choice: expected {letter}, got {chosen?.ToString() ?? "no letter"}");
            }
            case QueryCategory.InstructionFollowing when sample.TestCases is { } testCases:
                return InstructionFollowing(testCases, sample.Answer);
            case QueryCategory.Math or QueryCategory.Science when string.IsNullOrEmpty(sample.ReferenceAnswer):
                return new(0, false, "unscored: the query has no reference answer");
            default:
                return new(0, false, $"unscored: no verifier for {sample.Category} yet");
        }
    }

    private static SampleVerdict InstructionFollowing(string testCases, string answer)
    {
        IReadOnlyList<Instruction> instructions;
        try
        {
            using var document = JsonDocument.Parse(testCases);
            instructions = IfEvalChecker.Parse(document.RootElement);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return new(0, false, $"unscored: unreadable instructions ({e.Message})");
        }
        try
        {
            var verdict = IfEvalChecker.Verify(instructions, answer);
            var missed = verdict.Results.Where(r => !r.Followed).Select(r => r.Id).ToList();
            return new(verdict.Score, true, $"if: {verdict.Results.Count - missed.Count}/{verdict.Results.Count} instructions followed" +
                (missed.Count > 0 ? $"; not: {string.Join(", ", missed)}" : ""));
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or InvalidOperationException)
        {
            return new(0, false, $"unscored: instruction arguments not understood ({e.Message})");
        }
    }
}
