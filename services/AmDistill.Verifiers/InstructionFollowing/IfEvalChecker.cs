using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.InstructionFollowing;

/// <summary>One instruction of an IFEval-style constraint list: its registry id and its kwargs.</summary>
public sealed record Instruction(string Id, JsonElement Kwargs);

/// <summary>The fraction of instructions a response follows, strict or loose (paper §2.4.1: IF pass = score &gt; 0.99).</summary>
public sealed record IfEvalVerdict(double Score, IReadOnlyList<(string Id, bool Followed)> Results);

/// <summary>
/// IFEval's instruction checkers (google-research instruction_following_eval, instructions.py), every type in the
/// registry, reimplemented with the same rules. Loose mode, as IFEval defines it, also accepts the response with its
/// first and/or last line removed and with '*' removed.
/// </summary>
public static partial class IfEvalChecker
{
    /// <summary>The instructions of a <c>test_cases</c> object; their arguments are cloned, so they outlive its document.</summary>
    public static IReadOnlyList<Instruction> Parse(JsonElement testCases)
    {
        var ids = testCases.GetProperty("instruction_id_list");
        var kwargs = testCases.GetProperty("kwargs");
        if (ids.GetArrayLength() != kwargs.GetArrayLength())
            throw new FormatException($"{ids.GetArrayLength()} instructions but {kwargs.GetArrayLength()} kwargs");
        return [.. ids.EnumerateArray().Zip(kwargs.EnumerateArray(), (id, k) => new Instruction(id.GetString()!, k.Clone()))];
    }

    public static IfEvalVerdict Verify(IReadOnlyList<Instruction> instructions, string response, bool loose = false)
    {
        var variants = loose ? LooseVariants(response) : [response];
        var results = instructions.Select(i => (i.Id, variants.Any(v => v.Trim().Length > 0 && Follows(i, v)))).ToList();
        return new IfEvalVerdict(results.Count == 0 ? 0 : (double)results.Count(r => r.Item2) / results.Count, results);
    }

    /// <summary>IFEval's loose variants: the response, without its first and/or last line (stripped), each also without '*'.</summary>
    private static string[] LooseVariants(string response)
    {
        var lines = response.Split('\n');
        string[] cut = [response, string.Join('\n', lines.Skip(1)).Trim(), string.Join('\n', lines.SkipLast(1)).Trim(), string.Join('\n', lines.Skip(1).SkipLast(1)).Trim()];
        return [.. cut.Concat(cut.Select(c => c.Replace("*", "", StringComparison.Ordinal))).Distinct(StringComparer.Ordinal)];
    }

    /// <summary>Whether the response follows one instruction; an unknown instruction id is never followed.</summary>
    public static bool Follows(Instruction instruction, string value)
    {
        var k = instruction.Kwargs;
        switch (instruction.Id)
        {
            case "change_case:capital_word_frequency":
                return Compare(PythonText.WordTokenize(value).Count(PythonText.IsUpper), Int(k, "capital_frequency"), Str(k, "capital_relation"));
            case "change_case:english_capital":
                return PythonText.IsUpper(value) && IsLanguage(value, "en");
            case "change_case:english_lowercase":
                return PythonText.IsLower(value) && IsLanguage(value, "en");
            case "combination:repeat_prompt":
                return value.Trim().ToLowerInvariant().StartsWith(Str(k, "prompt_to_repeat").Trim().ToLowerInvariant(), StringComparison.Ordinal);
            case "combination:two_responses":
            {
                var parts = value.Split("******");
                var valid = new List<string>();
                for (var i = 0; i < parts.Length; i++)
                {
                    if (parts[i].Trim().Length > 0) valid.Add(parts[i]);
                    else if (i != 0 && i != parts.Length - 1) return false;
                }
                return valid.Count == 2 && valid[0].Trim() != valid[1].Trim();
            }
            case "detectable_content:number_placeholders":
                return Placeholders().Matches(value).Count >= Int(k, "num_placeholders");
            case "detectable_content:postscript":
            {
                var marker = Str(k, "postscript_marker").Trim();
                var pattern = marker == "P.P.S" ? @"\s*p\.\s?p\.\s?s.*$" : marker == "P.S." ? @"\s*p\.\s?s\..*$" : @"\s*" + marker.ToLowerInvariant() + ".*$";
                return PythonText.Search(pattern, value.ToLowerInvariant(), RegexOptions.Multiline);
            }
            case "detectable_format:constrained_response":
                return new[] { "My answer is yes.", "My answer is no.", "My answer is maybe." }.Any(o => value.Trim().Contains(o, StringComparison.Ordinal));
            case "detectable_format:json_format":
            {
                // Python's chained removeprefix: each fence is tried in turn on what the one before left.
                var text = value.Trim();
                foreach (var fence in new[] { "```json", "```Json", "```JSON", "```" })
                    if (text.StartsWith(fence, StringComparison.Ordinal)) text = text[fence.Length..];
                if (text.EndsWith("```", StringComparison.Ordinal)) text = text[..^3];
                try { using var _ = JsonDocument.Parse(text.Trim()); return true; }
                catch (JsonException) { return false; }
            }
            case "detectable_format:multiple_sections":
                return PythonText.CountMatches(@"\s?" + Str(k, "section_spliter").Trim() + @"\s?\d+\s?", value) >= Int(k, "num_sections");
            case "detectable_format:number_bullet_lists":
                return StarBullets().Matches(value).Count + DashBullets().Matches(value).Count == Int(k, "num_bullets");
            case "detectable_format:number_highlighted_sections":
                return Highlights().Matches(value).Count(m => m.Value.Trim('*').Trim().Length > 0)
                    + DoubleHighlights().Matches(value).Count(m => m.Value[2..^2].Trim().Length > 0) >= Int(k, "num_highlights");
            case "detectable_format:title":
                return Titles().Matches(value).Any(m => m.Value.TrimStart('<').TrimEnd('>').Trim().Length > 0);
            case "keywords:existence":
                return k.GetProperty("keywords").EnumerateArray().All(w => PythonText.Search(w.GetString()!, value, RegexOptions.IgnoreCase));
            case "keywords:forbidden_words":
                return !k.GetProperty("forbidden_words").EnumerateArray().Any(w => PythonText.Search(@"\b" + w.GetString() + @"\b", value, RegexOptions.IgnoreCase));
            case "keywords:frequency":
                return Compare(PythonText.CountMatches(Str(k, "keyword").Trim(), value, RegexOptions.IgnoreCase), Int(k, "frequency"), Str(k, "relation"));
            case "keywords:letter_frequency":
            {
                // Any one character counts, '#' and '!' too (IFEval's data asks for both).
                var letter = Str(k, "letter").Trim().ToLowerInvariant();
                return letter.Length == 1
                    && Compare(value.ToLowerInvariant().Count(c => c == letter[0]), Int(k, "let_frequency"), Str(k, "let_relation"));
            }
            case "language:response_language":
                return IsLanguage(value, Str(k, "language"));
            case "length_constraints:nth_paragraph_first_word":
            {
                var paragraphs = value.Split("\n\n");
                var count = paragraphs.Count(p => p.Trim().Length > 0);
                var nth = Int(k, "nth_paragraph");
                if (nth > count || nth < 1) return false;
                var paragraph = paragraphs[nth - 1].Trim();
                if (paragraph.Length == 0) return false;
                var word = paragraph.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0].TrimStart('\'').TrimStart('"');
                var first = new string([.. word.TakeWhile(c => !".,?!'\"".Contains(c)).Select(char.ToLowerInvariant)]);
                return count == Int(k, "num_paragraphs") && first == Str(k, "first_word");
            }
            case "length_constraints:number_paragraphs":
            {
                var paragraphs = ParagraphBreaks().Split(value);
                var count = paragraphs.Length;
                for (var i = 0; i < paragraphs.Length; i++)
                    if (paragraphs[i].Trim().Length == 0)
                    {
                        if (i == 0 || i == paragraphs.Length - 1) count--;
                        else return false;
                    }
                return count == Int(k, "num_paragraphs");
            }
            case "length_constraints:number_sentences":
                return Compare(PunktSentenceTokenizer.CountSentences(value), Int(k, "num_sentences"), Str(k, "relation"));
            case "length_constraints:number_words":
                return Compare(PythonText.CountWords(value), Int(k, "num_words"), Str(k, "relation"));
            case "punctuation:no_comma":
                return !value.Contains(',', StringComparison.Ordinal);
            case "startend:end_checker":
                // As IFEval does: a closing quotation mark after the phrase does not count against it.
                return value.Trim().Trim('"').ToLowerInvariant().EndsWith(Str(k, "end_phrase").Trim().ToLowerInvariant(), StringComparison.Ordinal);
            case "startend:quotation":
            {
                var text = value.Trim();
                return text.Length > 1 && text[0] == '"' && text[^1] == '"';
            }
            default:
                return false;
        }
    }

    /// <summary>IFEval's language test: a text with nothing to detect a language from counts as followed, as it does there.</summary>
    private static bool IsLanguage(string text, string language) => LanguageDetector.Detect(text) is not { } detected || detected == language;

    /// <summary>IFEval's relations: "less than" is strict, "at least" inclusive.</summary>
    private static bool Compare(int actual, int target, string relation) => relation switch
    {
        "less than" => actual < target,
        "at least" => actual >= target,
        _ => throw new FormatException($"unknown relation '{relation}'"),
    };

    /// <summary>An integer argument, as IFEval's data writes it (a number, or a number in a string).</summary>
    public static int Int(JsonElement k, string name) => k.GetProperty(name).ValueKind == JsonValueKind.String
        ? int.Parse(k.GetProperty(name).GetString()!, CultureInfo.InvariantCulture) : k.GetProperty(name).GetInt32();

    public static string Str(JsonElement k, string name) => k.GetProperty(name).GetString() ?? "";

    [GeneratedRegex(@"\[.*?\]")]
    private static partial Regex Placeholders();

    [GeneratedRegex(@"^\s*\*[^\*].*$", RegexOptions.Multiline)]
    private static partial Regex StarBullets();

    [GeneratedRegex(@"^\s*-.*$", RegexOptions.Multiline)]
    private static partial Regex DashBullets();

    [GeneratedRegex(@"\*[^\n\*]*\*")]
    private static partial Regex Highlights();

    [GeneratedRegex(@"\*\*[^\n\*]*\*\*")]
    private static partial Regex DoubleHighlights();

    [GeneratedRegex(@"<<[^\n]+>>")]
    private static partial Regex Titles();

    [GeneratedRegex(@"\s?\*\*\*\s?")]
    private static partial Regex ParagraphBreaks();
}
