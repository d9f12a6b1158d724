using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AmDistill.Verifiers.InstructionFollowing;
using static AmDistill.Verifiers.InstructionFollowing.IfEvalChecker;

namespace AmDistill.TeacherSim.Completions;

/// <summary>
/// Answers an instruction-following query (IFEval): a plain text shaped to follow each of its instructions (bullets,
/// sections, highlights, placeholders, postscript, case, length, keywords, JSON, two responses…), or, for a teacher
/// whose draw failed, the same text with one instruction ignored. Whether it follows them all is then decided by
/// the project's own IFEval checker, so the simulator never claims more than the verifier will grant.
/// </summary>
public static class InstructionWriter
{
    private static readonly string[] Sentences =
    [
        "The plan starts with a clear goal and a short list of steps.",
        "Each step is small enough to finish in one sitting.",
        "Progress is checked at the end of every day.",
        "When something does not work the approach is adjusted.",
        "Simple tools are often the most reliable ones.",
        "Practice builds confidence over time.",
        "Feedback from others helps to spot mistakes early.",
        "The result is reviewed before it is shared.",
        "Good notes make the next attempt easier.",
        "Patience matters as much as effort.",
        "Small wins keep the work moving forward.",
        "A calm pace leads to fewer errors.",
    ];

    /// <returns>The answer, and whether it follows every instruction.</returns>
    public static (string Answer, bool Followed) Write(IReadOnlyList<Instruction> instructions, bool follow, Random random)
    {
        var ignored = follow ? -1 : random.Next(Math.Max(1, instructions.Count));
        var applied = instructions.Where((_, i) => i != ignored).ToList();
        var answer = Compose(applied, random);
        var followed = instructions.Count > 0 && IfEvalChecker.Verify(instructions, answer).Score >= 1;
        if (!follow && followed) (answer, followed) = ("Here is my response.", false); // ignoring one did not break it: answer carelessly
        return (answer, followed);
    }

    private static string Compose(IReadOnlyList<Instruction> instructions, Random random)
    {
        var by = instructions.GroupBy(i => i.Id).ToDictionary(g => g.Key, g => g.First().Kwargs);
        JsonElement? Get(string id) => by.TryGetValue(id, out var k) ? k : null;

        var forbidden = Get("keywords:forbidden_words") is { } f
            ? f.GetProperty("forbidden_words").EnumerateArray().Select(w => w.GetString()!).ToList() : [];
        var pool = Sentences.Where(s => !forbidden.Any(w => Regex.IsMatch(s, $@"\b{Regex.Escape(w)}\b", RegexOptions.IgnoreCase))).ToList();
        if (pool.Count == 0) pool = ["Done."];

        // How much text: enough for "at least" word and sentence counts, little enough for "less than" ones.
        var sentences = 4;
        if (Get("length_constraints:number_words") is { } words)
            sentences = Str(words, "relation") == "at least" ? Int(words, "num_words") / 8 + 2 : Math.Max(1, (Int(words, "num_words") - 1) / 14);
        if (Get("length_constraints:number_sentences") is { } count)
            sentences = Str(count, "relation") == "at least" ? Int(count, "num_sentences") + 1 : Math.Max(1, Int(count, "num_sentences") - 2);
        var body = Enumerable.Range(0, sentences).Select(i => pool[(i + random.Next(pool.Count)) % pool.Count]).ToList();

        string Paragraphs(List<string> text, int paragraphs, string separator) => string.Join(separator,
            Enumerable.Range(0, paragraphs).Select(p => string.Join(' ', text.Where((_, i) => i % paragraphs == p).DefaultIfEmpty(pool[p % pool.Count]))));

        var text = Get("length_constraints:nth_paragraph_first_word") is { } nth
            ? NthParagraph(body, Int(nth, "num_paragraphs"), Int(nth, "nth_paragraph"), Str(nth, "first_word"), Paragraphs)
            : Get("length_constraints:number_paragraphs") is { } paragraphs ? Paragraphs(body, Int(paragraphs, "num_paragraphs"), "\n\n***\n\n")
            : string.Join(' ', body);

        var extra = new StringBuilder();
        if (Get("keywords:existence") is { } existence)
            extra.Append("\n\nThis touches on ").Append(string.Join(" and ", existence.GetProperty("keywords").EnumerateArray().Select(k => k.GetString()))).Append('.');
        if (Get("keywords:frequency") is { } frequency)
        {
            var times = Str(frequency, "relation") == "at least" ? Int(frequency, "frequency") : 0;
            for (var i = 0; i < times; i++) extra.Append(' ').Append(Str(frequency, "keyword")).Append('.');
        }
        if (Get("detectable_content:number_placeholders") is { } placeholders)
            extra.Append("\n\nFill in: ").Append(string.Join(' ', Enumerable.Range(1, Int(placeholders, "num_placeholders")).Select(i => $"[detail {i}]")));
        if (Get("detectable_format:number_highlighted_sections") is { } highlights)
            extra.Append("\n\nKey points: ").Append(string.Join(' ', Enumerable.Range(1, Int(highlights, "num_highlights")).Select(i => $"*point {i}*")));
        if (Get("change_case:capital_word_frequency") is { } capitals && Str(capitals, "capital_relation") == "at least")
            extra.Append("\n\n").Append(string.Join(' ', Enumerable.Repeat("NOTE", Int(capitals, "capital_frequency"))));
        if (Get("keywords:letter_frequency") is { } letters && Str(letters, "let_relation") == "at least")
            extra.Append("\n\n").Append(new string(Str(letters, "letter")[0], Int(letters, "let_frequency")));
        if (Get("detectable_format:number_bullet_lists") is { } bullets)
            extra.Append("\n\n").Append(string.Join('\n', Enumerable.Range(1, Int(bullets, "num_bullets")).Select(i => $"* Step {i}")));
        text += extra.ToString();

        if (Get("detectable_format:multiple_sections") is { } sections)
        {
            text = string.Join("\n\n", Enumerable.Range(1, Int(sections, "num_sections")).Select(i => $"{Str(sections, "section_spliter")} {i}\n{(i == 1 ? text : pool[i % pool.Count])}"));
        }
        if (Get("detectable_format:constrained_response") is not null) text = "My answer is yes. " + text;
        if (Get("detectable_format:title") is not null) text = "<<A Short Plan>>\n\n" + text;
        if (Get("combination:repeat_prompt") is { } repeat) text = Str(repeat, "prompt_to_repeat") + "\n\n" + text;
        if (Get("detectable_content:postscript") is { } postscript) text += $"\n\n{Str(postscript, "postscript_marker")} Thank you for reading.";
        if (Get("combination:two_responses") is not null) text += "\n******\n" + string.Join(' ', pool.AsEnumerable().Reverse().Take(3));
        if (Get("startend:end_checker") is { } end) text += " " + Str(end, "end_phrase");

        if (Get("change_case:english_capital") is not null) text = text.ToUpperInvariant();
        if (Get("change_case:english_lowercase") is not null) text = text.ToLowerInvariant();
        if (Get("punctuation:no_comma") is not null) text = text.Replace(",", "", StringComparison.Ordinal);
        if (Get("detectable_format:json_format") is not null) text = JsonSerializer.Serialize(new Dictionary<string, string> { [by.ContainsKey("change_case:english_capital") ? "ANSWER" : "answer"] = text });
        if (Get("startend:quotation") is not null) text = $"\"{text}\"";
        return text;
    }

    private static string NthParagraph(List<string> body, int paragraphs, int nth, string firstWord,
        Func<List<string>, int, string, string> join)
    {
        var parts = join(body, paragraphs, "\n\n").Split("\n\n");
        if (nth >= 1 && nth <= parts.Length)
            parts[nth - 1] = char.ToUpperInvariant(firstWord[0]) + firstWord[1..] + " " + parts[nth - 1];
        return string.Join("\n\n", parts);
    }
}
