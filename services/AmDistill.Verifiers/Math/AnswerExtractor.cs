using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.Math;

/// <summary>Where in a response its final answer is, best first.</summary>
public static partial class AnswerExtractor
{
    /// <summary>
    /// Candidate answers of a whole response, best first: the think part is dropped; then all \boxed{} together (when
    /// several) and the last \boxed{} / \fbox{}; "final answer is …"; &lt;answer&gt;…&lt;/answer&gt;; the last LaTeX
    /// math spans; the whole text when short; the last number (with the numbers joined to it by "or", "and", commas:
    /// "3 or 4 or 5" is a hedge, not 5). A response that ends inside an unclosed \boxed{ was cut off: no candidate.
    /// </summary>
    public static IReadOnlyList<string> Candidates(string response, bool plainNumbers = true)
    {
        var text = DropThinking(response);
        return EndsInOpenBox(text) ? [] : CandidatesOf(text, plainNumbers);
    }

    /// <summary>The candidates of a text whose think part is already dropped.</summary>
    private static List<string> CandidatesOf(string text, bool plainNumbers)
    {
        var candidates = new List<string>();
        var boxed = Boxed(text).Select(b => b.Trim()).Where(b => b.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        var final = text.Contains("inal answer", StringComparison.OrdinalIgnoreCase) && FinalAnswer().Matches(text) is { Count: > 0 } finals ? finals[^1] : null;
        // "The final answer is …" written after the last \boxed{} is the answer the response ends on.
        if (final is not null && final.Index > text.LastIndexOf("\\boxed", StringComparison.Ordinal))
            candidates.Add(LastMath(final.Groups[1].Value, plainNumbers) ?? final.Groups[1].Value.Trim());
        if (boxed.Count > 1) candidates.Add(string.Join(", ", boxed));
        if (boxed.Count > 0)
        {
            // "\boxed{20} percent": the unit written after the box belongs to the answer.
            var after = text[(text.LastIndexOf(boxed[^1], StringComparison.Ordinal) + boxed[^1].Length)..];
            candidates.Add(PercentAfterBox().IsMatch(after) ? boxed[^1] + "\\%" : boxed[^1]);
        }
        if (final is not null) candidates.Add(LastMath(final.Groups[1].Value, plainNumbers) ?? final.Groups[1].Value.Trim());
        var answerTags = text.Contains("<answer>", StringComparison.Ordinal) ? AnswerTag().Matches(text) : null;
        if (answerTags is { Count: > 0 }) candidates.Add(answerTags[^1].Groups[1].Value.Trim());

        // Short texts are tried whole; long ones only for their last piece of math.
        if (text.Length <= 200 && !IsProse(text)) candidates.Add(text.Trim());
        var spans = LatexSpans(text);
        if (LastMath(text, spans, plainNumbers) is { } last) candidates.Add(last);
        for (var i = spans.Count - 1; i >= 0 && i >= spans.Count - 2; i--) candidates.Add(spans[i].Body);
        return [.. candidates.Where(c => c.Length > 0 && !IsProse(c)).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Candidate answers of a reference answer. A boxed reference (a whole solution) is read like a response; otherwise
    /// the reference is an answer, tried whole first so that it never shrinks to one of its numbers
    /// (\frac{1}{LCs^2+RCs+1} is not 1), and read for its last plain number only when it is a sentence.
    /// </summary>
    public static IReadOnlyList<string> GoldCandidates(string gold, bool plainNumbers = true)
    {
        // A reference is not a cut-off response: an unclosed \boxed{ in it is a typo, read like any other box.
        var text = DropThinking(gold);
        if (text.Contains("\\boxed", StringComparison.Ordinal) || text.Contains("\\fbox", StringComparison.Ordinal)) return CandidatesOf(text, plainNumbers);
        var whole = gold.Trim();
        var prose = IsProse(text.Trim());
        var rest = CandidatesOf(text, plainNumbers && prose);
        return prose || whole.Length == 0 ? rest : [whole, .. rest.Where(c => c != whole)];
    }

    /// <summary>Whether the last \boxed{ (or \fbox{) of a text is never closed: the response was cut off inside its answer.</summary>
    private static bool EndsInOpenBox(string text)
    {
        var boxed = text.LastIndexOf("\\boxed", StringComparison.Ordinal);
        var fbox = text.LastIndexOf("\\fbox", StringComparison.Ordinal);
        if (boxed < 0 && fbox < 0) return false;
        var after = boxed > fbox ? boxed + "\\boxed".Length : fbox + "\\fbox".Length;
        var open = text.IndexOf('{', after);
        if (open < 0 || text[after..open].Trim().Length > 0) return false; // \boxed 5: no braces to close
        var depth = 0;
        for (var i = open; i < text.Length; i++)
        {
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0) return false;
        }
        return true;
    }

    private static string? LastMath(string text, bool plainNumbers) => LastMath(text, LatexSpans(text), plainNumbers);

    /// <summary>The last piece of math in a text: its last LaTeX span(s) or its last plain number, whichever comes later.</summary>
    private static string? LastMath(string text, List<(int At, int End, string Body)> spans, bool plainNumbers)
    {
        var span = spans.Count > 0 ? spans[^1] : default;
        // "$12$ and $13$": the last spans joined by and / or / commas are one answer.
        var first = spans.Count - 1;
        while (first > 0 && Connective().IsMatch(text[spans[first - 1].End..spans[first].At])) first--;
        if (first >= 0 && first < spans.Count - 1) span = (spans[first].At, span.End, string.Join(", ", spans.Skip(first).Select(s => s.Body)));
        // Only the text after the last span can hold a later number.
        var tail = span.Body is null ? text : text[span.End..];
        var numbers = plainNumbers ? LastNumber().Matches(tail) : null;
        if (numbers is not { Count: > 0 }) return span.Body;
        // A number after the last math ("the largest $n$ is 34") is the answer; otherwise the math is. Numbers joined to
        // it ("3 or 4 or 5", "2 and 3") are part of it.
        var firstNumber = numbers.Count - 1;
        while (firstNumber > 0 && Connective().IsMatch(tail[(numbers[firstNumber - 1].Index + numbers[firstNumber - 1].Length)..numbers[firstNumber].Index])) firstNumber--;
        return string.Join(", ", numbers.Skip(firstNumber).Select(n => n.Value));
    }

    /// <summary>Running words (three letters or more outside LaTeX commands and \text{}) make a candidate prose, not an answer.</summary>
    private static bool IsProse(string candidate)
    {
        var stripped = PercentWord().Replace(Commands().Replace(candidate, " "), "%");
        return Words().Matches(stripped).Count >= 2 || Words().Match(stripped) is { Success: true, Length: >= 5 } && stripped.Trim().Length > 12;
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

    private static List<(int At, int End, string Body)> LatexSpans(string text)
    {
        var spans = new List<(int At, int End, string Body)>();
        var hasDisplay = text.Contains("$$", StringComparison.Ordinal) || text.Contains("\\[", StringComparison.Ordinal) || text.Contains("\\begin{equation", StringComparison.Ordinal);
        var display = text;
        if (hasDisplay)
        {
            foreach (Match m in DisplayMath().Matches(text)) spans.Add((m.Index, m.Index + m.Length, m.Groups[1].Value + m.Groups[2].Value + m.Groups[3].Value));
            display = DisplayMath().Replace(text, m => new string(' ', m.Length));
        }
        if (display.Contains('$', StringComparison.Ordinal) || display.Contains("\\(", StringComparison.Ordinal))
            foreach (Match m in InlineMath().Matches(display)) spans.Add((m.Index, m.Index + m.Length, m.Groups[1].Value + m.Groups[2].Value));
        return [.. spans.OrderBy(s => s.At).Select(s => (s.At, s.End, s.Body.Trim())).Where(s => s.Item3.Length > 0)];
    }

    [GeneratedRegex(@"\\(?:text|textbf|mbox|textnormal|mathrm|begin|end)\{[^{}]*\}|\\[A-Za-z]+")]
    private static partial Regex Commands();

    [GeneratedRegex(@"^\s*\}?\$?\s*(\\%|%|percent|pct)")]
    private static partial Regex PercentAfterBox();

    [GeneratedRegex(@"(?i)percentage|percent|pct")]
    private static partial Regex PercentWord();

    [GeneratedRegex(@"^\s*(,|and|or|;)\s*$")]
    private static partial Regex Connective();

    /// <summary>Letter runs of three or more that stand as words: not glued to math (LCs^{2}, {RCs}, RCs+1).</summary>
    [GeneratedRegex(@"(?<![A-Za-z{_^+\-*/=])[A-Za-z]{3,}(?![A-Za-z}_^+\-*/=(])")]
    private static partial Regex Words();

    [GeneratedRegex(@"(?i)final answer(?: is)?\s*[:：]?\s*(.+?)\s*(?:$|\n)", RegexOptions.Multiline)]
    private static partial Regex FinalAnswer();

    [GeneratedRegex(@"<answer>(.*?)</answer>", RegexOptions.Singleline)]
    private static partial Regex AnswerTag();

    [GeneratedRegex(@"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\begin\{equation\*?\}(.+?)\\end\{equation\*?\}", RegexOptions.Singleline)]
    private static partial Regex DisplayMath();

    [GeneratedRegex(@"(?<![\$\\])\$(?!\$)((?:\\\$|[^\$\n])+?)(?<!\\)\$|\\\(([^\n]+?)\\\)")]
    private static partial Regex InlineMath();

    [GeneratedRegex(@"\$\s*(and|or|,)\s*\$")]
    private static partial Regex JoinedBy();

    [GeneratedRegex(@"(?<![\w.])[-+]?\d+ +\d+\s*/\s*\d+(?!\d)(?!\.\d)|(?<![\w.])-?\d+\s*/\s*\d+(?!\d)(?!\.\d)|(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|(?<![\w.])-?\d+(?:[.,]\d+)?(?!\d)")]
    private static partial Regex LastNumber();

    [GeneratedRegex(@"-?[\w.]+")]
    private static partial Regex BareBoxed();
}
