using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.Choice;

/// <summary>Multiple-choice answers (science): the letter a response chose, compared with the reference letter.</summary>
public static partial class ChoiceVerifier
{
    /// <summary>The chosen letter, from the usual phrasings, last one wins: "the answer is (B)", \boxed{B}, "Answer: B", "(B)".</summary>
    public static char? Extract(string response, string letters = "ABCDEFGHIJ")
    {
        var text = Math.AnswerExtractor.DropThinking(response);
        var boxed = Math.AnswerExtractor.Boxed(text);
        if (boxed.Count > 0 && Letter(boxed[^1], letters) is { } fromBox) return fromBox;
        foreach (var pattern in new[] { AnswerIs(), Parenthesised(), Leading(), IsCorrect() })
        {
            var matches = pattern.Matches(text);
            for (var i = matches.Count - 1; i >= 0; i--)
            {
                var letter = char.ToUpperInvariant(matches[i].Groups[1].Value[0]);
                if (letters.Contains(letter, StringComparison.Ordinal)) return letter;
            }
        }
        return null;
    }

    public static bool Verify(string reference, string response) =>
        Letter(reference, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") is { } expected && Extract(response, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == expected;

    private static char? Letter(string text, string letters)
    {
        var m = LetterOnly().Match(text.Trim());
        return m.Success && letters.Contains(char.ToUpperInvariant(m.Groups[1].Value[0]), StringComparison.Ordinal) ? char.ToUpperInvariant(m.Groups[1].Value[0]) : null;
    }

    [GeneratedRegex(@"^(?:\\text(?:bf)?\{)?\(?([A-Za-z])\)?\}?\.?$")]
    private static partial Regex LetterOnly();

    [GeneratedRegex(@"(?i)(?:answer|choice|option)\s*(?:is|:)?\s*:?\s*(?:\\textbf\{|\\text\{)?\(?([A-Z])\)?(?![A-Za-z])")]
    private static partial Regex AnswerIs();

    [GeneratedRegex(@"\(([A-J])\)")]
    private static partial Regex Parenthesised();

    [GeneratedRegex(@"(?m)^\s*([A-J])[.):](?:\s|$)")]
    private static partial Regex Leading();

    [GeneratedRegex(@"(?<![A-Za-z])([A-J])\s+is\s+(?:the\s+)?(?:correct|valid|right)")]
    private static partial Regex IsCorrect();
}
