using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.Math;

/// <summary>Where in a response its final answer is, best first.</summary>
public static partial class AnswerExtractor
{
    /// <summary>
    /// Candidate answers of a whole response, best first: the think part is dropped; then all \boxed{} together (when
    /// several) and the last \boxed{} / \fbox{}; "final answer is …"; &lt;answer&gt;…&lt;/answer&gt;; the last LaTeX
    /// math spans; the whole text when short; the last number. A truncated \boxed{ gives no candidate from it.
    /// </summary>
    public static IReadOnlyList<string> Candidates(string response)
    {
        var text = DropThinking(response);
        var candidates = new List<string>();
        var boxed = Boxed(text);
        if (boxed.Count > 1) candidates.Add(string.Join(", ", boxed));
        if (boxed.Count > 0) candidates.Add(boxed[^1]);

        foreach (Match m in FinalAnswer().Matches(text).Reverse()) { candidates.Add(m.Groups[1].Value.Trim()); break; }
        foreach (Match m in AnswerTag().Matches(text).Reverse()) { candidates.Add(m.Groups[1].Value.Trim()); break; }

        var spans = LatexSpans(text);
        if (spans.Count > 1 && spans.All(s => s.Length < 40) && JoinedBy().IsMatch(text)) candidates.Add(string.Join(", ", spans));
        for (var i = spans.Count - 1; i >= 0 && i >= spans.Count - 2; i--) candidates.Add(spans[i]);

        if (text.Length <= 120) candidates.Add(text.Trim());
        var numbers = LastNumber().Matches(text);
        if (numbers.Count > 0) candidates.Add(numbers[^1].Value);
        return [.. candidates.Where(c => c.Length > 0).Distinct(StringComparer.Ordinal)];
    }

    public static string DropThinking(string response)
    {
        var close = response.LastIndexOf("</think>", StringComparison.Ordinal);
        if (close >= 0) return response[(close + "</think>".Length)..];
        var open = response.IndexOf("<think>", StringComparison.Ordinal);
        return open >= 0 ? "" : response; // an unclosed think part: the answer never came
    }

    /// <summary>Contents of \boxed{…} and \fbox{…} with balanced braces; \boxed 5 too. Unbalanced ones are skipped.</summary>
    public static List<string> Boxed(string text)
    {
        var result = new List<string>();
        var i = 0;
        while (true)
        {
            var b = text.IndexOf("\\boxed", i, StringComparison.Ordinal);
            var f = text.IndexOf("\\fbox", i, StringComparison.Ordinal);
            var at = b < 0 ? f : f < 0 ? b : System.Math.Min(b, f);
            if (at < 0) return result;
            var j = at + (at == b ? 6 : 5);
            while (j < text.Length && text[j] == ' ') j++;
            if (j < text.Length && text[j] == '{')
            {
                var depth = 0;
                var start = j + 1;
                for (; j < text.Length; j++)
                {
                    if (text[j] == '{') depth++;
                    else if (text[j] == '}' && --depth == 0) break;
                }
                if (j >= text.Length) return result; // truncated
                result.Add(text[start..j]);
                i = j + 1;
            }
            else
            {
                var m = BareBoxed().Match(text, j);
                if (m.Success && m.Index == j) result.Add(m.Value);
                i = j;
            }
        }
    }

    private static List<string> LatexSpans(string text)
    {
        var spans = new List<(int At, string Body)>();
        foreach (Match m in DisplayMath().Matches(text)) spans.Add((m.Index, m.Groups[1].Value + m.Groups[2].Value + m.Groups[3].Value));
        foreach (Match m in InlineMath().Matches(text)) spans.Add((m.Index, m.Groups[1].Value + m.Groups[2].Value));
        return [.. spans.OrderBy(s => s.At).Select(s => s.Body.Trim()).Where(s => s.Length > 0)];
    }

    [GeneratedRegex(@"(?i)final answer(?: is)?\s*[:：]?\s*(.+?)\s*(?:$|\n)", RegexOptions.Multiline)]
    private static partial Regex FinalAnswer();

    [GeneratedRegex(@"<answer>(.*?)</answer>", RegexOptions.Singleline)]
    private static partial Regex AnswerTag();

    [GeneratedRegex(@"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\begin\{equation\*?\}(.+?)\\end\{equation\*?\}", RegexOptions.Singleline)]
    private static partial Regex DisplayMath();

    [GeneratedRegex(@"(?<![\$\\])\$(?!\$)([^\$\n]+?)(?<!\\)\$|\\\(([^\n]+?)\\\)")]
    private static partial Regex InlineMath();

    [GeneratedRegex(@"\$\s*(and|or|,)\s*\$")]
    private static partial Regex JoinedBy();

    [GeneratedRegex(@"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])-?\d+(?:[.,]\d+)?(?![\w])")]
    private static partial Regex LastNumber();

    [GeneratedRegex(@"-?[\w.]+")]
    private static partial Regex BareBoxed();
}
