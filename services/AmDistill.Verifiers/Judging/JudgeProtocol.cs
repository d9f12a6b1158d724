using System.Globalization;
using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.Judging;

/// <summary>
/// The prompts AmDistill sends to an LLM judge (paper §2.4.1: Qwen2.5-7B-Instruct rates a science answer's similarity
/// to the reference 0–5, and takes a second look at math answers Math-Verify rejected) and to a reward model used through
/// a judge prompt (the paper's Decision-Tree-Reward: coherence, correctness, helpfulness, each 0–4, sum / 12), and the
/// robust reading of what comes back: think blocks dropped, the last well-formed score taken, out-of-range values refused.
/// </summary>
public static partial class JudgeProtocol
{
    /// <summary>Starts every system prompt of ours, so a simulator can tell a grading request from a question.</summary>
    public const string Marker = "You are AmDistill's grader.";

    public static (string System, string User) Science(string question, string reference, string response) => (
        $"{Marker} Rate how well the response's final answer matches the reference answer, from 0 (unrelated or wrong) to 5 " +
        "(the same answer). Reply with one line: Score: <0-5>.",
        $"Question:\n<<<{question}>>>\n\nReference answer:\n<<<{reference}>>>\n\nResponse:\n<<<{response}>>>");

    public static (string System, string User) MathSecondCheck(string question, string reference, string response) => (
        $"{Marker} Decide whether the response's final answer is mathematically equivalent to the reference answer. " +
        "Reply with one line: Equivalent: yes or Equivalent: no.",
        $"Question:\n<<<{question}>>>\n\nReference answer:\n<<<{reference}>>>\n\nResponse:\n<<<{response}>>>");

    public static (string System, string User) Reward(string question, string response) => (
        $"{Marker} Rate the response to the prompt on coherence, correctness and helpfulness, each from 0 to 4. " +
        "Reply with three lines: Coherence: <0-4>, Correctness: <0-4>, Helpfulness: <0-4>.",
        $"Prompt:\n<<<{question}>>>\n\nResponse:\n<<<{response}>>>");

    /// <summary>The sections of a grading request (for a simulator or a log).</summary>
    public static string? Section(string user, string name)
    {
        var match = Regex.Match(user, Regex.Escape(name) + @":\n<<<(.*?)>>>", RegexOptions.Singleline);
        return match.Success ? match.Groups[1].Value : null;
    }

    private static string Visible(string text)
    {
        var end = text.LastIndexOf("</think>", StringComparison.Ordinal);
        return end >= 0 ? text[(end + "</think>".Length)..] : text;
    }

    /// <summary>The last "Score: x" (or "x/5", "\boxed{x}", "[[x]]") within 0..max; null when there is none.</summary>
    public static double? ParseScore(string text, double max)
    {
        var visible = Visible(text);
        foreach (var pattern in new[] { ScoreLabel(), OutOf(), Boxed(), Brackets() })
        {
            var value = pattern.Matches(visible).Select(m => Number(m.Groups[1].Value)).LastOrDefault(v => v is not null && v >= 0 && v <= max);
            if (value is not null) return value;
        }
        var bare = visible.Trim();
        return Number(bare) is { } only && only >= 0 && only <= max ? only : null;
    }

    /// <summary>yes/no after "Equivalent:" (or a lone yes/no, true/false); null when undecidable.</summary>
    public static bool? ParseEquivalent(string text)
    {
        var visible = Visible(text);
        var labelled = EquivalentLabel().Matches(visible).LastOrDefault();
        var word = (labelled?.Groups[1].Value ?? visible.Trim().TrimEnd('.', '!')).ToLowerInvariant();
        return word switch { "yes" or "true" or "equivalent" => true, "no" or "false" or "not equivalent" => false, _ => null };
    }

    /// <summary>The three reward attributes, each 0–4, combined as the paper does: sum / 12. Null unless all three are read.</summary>
    public static (double Coherence, double Correctness, double Helpfulness, double Score)? ParseReward(string text)
    {
        var visible = Visible(text);
        double? Attribute(string name) => Regex.Matches(visible, name + @"\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)", RegexOptions.IgnoreCase)
            .Select(m => Number(m.Groups[1].Value)).LastOrDefault(v => v is >= 0 and <= 4);
        if (Attribute("coherence") is not { } coherence || Attribute("correctness") is not { } correctness || Attribute("helpfulness") is not { } helpfulness)
            return null;
        return (coherence, correctness, helpfulness, (coherence + correctness + helpfulness) / 12);
    }

    private static double? Number(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value : null;

    [GeneratedRegex(@"score\s*[:=]\s*\**\s*(\d+(?:\.\d+)?)", RegexOptions.IgnoreCase)]
    private static partial Regex ScoreLabel();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)\s*/\s*5\b")]
    private static partial Regex OutOf();

    [GeneratedRegex(@"\\boxed\{\s*(\d+(?:\.\d+)?)\s*\}")]
    private static partial Regex Boxed();

    [GeneratedRegex(@"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")]
    private static partial Regex Brackets();

    [GeneratedRegex(@"equivalent\s*[:=]\s*\**\s*(yes|no|true|false)", RegexOptions.IgnoreCase)]
    private static partial Regex EquivalentLabel();
}
