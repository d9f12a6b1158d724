using System.Globalization;
using System.Text;
using AmDistill.TeacherSim.Knowledge;
using AmDistill.TeacherSim.Models;

namespace AmDistill.TeacherSim.Completions;

/// <summary>What a simulated teacher says: its thinking, its final answer, and whether that answer is right.</summary>
public sealed record SimulatedAnswer(string Think, string Answer, bool Correct);

/// <summary>
/// Writes a teacher's response. Correctness is drawn from the model's skill against the query's difficulty; a correct
/// math answer boxes the reference answer, a wrong one a plausible wrong value; code gets the data's reference solution
/// or a broken variant of it.
/// </summary>
public static class AnswerWriter
{
    private static readonly string[] ThinkSentences =
    [
        "Let me restate the problem to make sure I understand what is being asked.",
        "I should identify the quantities involved and how they relate to each other.",
        "A direct approach might work, but let me first check whether there is a simpler structure.",
        "Let me try a small case to build intuition.",
        "That gives a candidate, but I need to verify it against the original conditions.",
        "Wait, I should double-check this step, since a sign error here would change everything.",
        "Rewriting the expression in a different form makes the pattern clearer.",
        "Now I can combine the partial results.",
        "Let me consider the edge cases separately.",
        "Hmm, that does not look right; let me go back and recompute.",
        "Alternatively, I could approach this from the other direction and compare.",
        "Both methods agree, which is reassuring.",
    ];

    /// <summary>P(correct) for a model of the given skill on a query of the given difficulty.</summary>
    public static double CorrectProbability(double skill, double difficulty) => 1 / (1 + Math.Exp(-8 * (skill - difficulty)));

    public static SimulatedAnswer Write(SimModel model, KnownQuery? query, Random random)
    {
        var difficulty = query?.Difficulty ?? 0.5;
        var correct = random.NextDouble() < CorrectProbability(model.Skill, difficulty);
        var think = Think(model, difficulty, random);
        if (query?.Instructions is { Count: > 0 } instructions)
        {
            var (text, followed) = InstructionWriter.Write(instructions, correct, random);
            return new SimulatedAnswer(think, text, followed);
        }
        var answer = query?.Category switch
        {
            "code" => CodeAnswer(query, correct, random),
            _ when query?.ReferenceAnswer is { Length: 1 } letter && char.IsAsciiLetterUpper(letter[0]) => ChoiceAnswer(letter[0], correct, random),
            _ when query?.ReferenceAnswer is { } reference => MathAnswer(correct ? reference : WrongValue(reference, random)),
            "if" or "general" => "Here is my response, written to follow the instructions given in the prompt.",
            _ => MathAnswer(random.Next(1, 1000).ToString(CultureInfo.InvariantCulture)),
        };
        // Without a reference nobody can tell; report it as not known to be correct.
        return new SimulatedAnswer(think, answer, correct && (query?.ReferenceAnswer is not null || query?.Solution is not null));
    }

    /// <summary>
    /// Why a teacher cannot know the right answer to <paramref name="query"/>, or null when it can: the question was never
    /// seen (in no query file or ingested run), or the query has no reference answer (math, science, multiple choice) or
    /// no reference solution (code). The simulator then guesses, and says so in its <c>system_fingerprint</c>.
    /// </summary>
    public static string? UnknownReason(KnownQuery? query) => query switch
    {
        null => "not-seen",
        { Instructions.Count: > 0 } or { Category: "if" or "general" } => null,
        { Category: "code", Solution: null } => "no-solution",
        { Category: "code" } => null,
        { ReferenceAnswer: null } => "no-reference-answer",
        _ => null,
    };

    /// <summary>The fingerprint of an answer: the generation service counts guesses by it (<c>unknown-query=</c>).</summary>
    public static string Fingerprint(string? unknownReason) => unknownReason is null ? "amdistill-sim" : $"amdistill-sim unknown-query={unknownReason}";

    private static string Think(SimModel model, double difficulty, Random random)
    {
        var tokens = (int)(model.ThinkTokens * (0.5 + difficulty) * (0.75 + random.NextDouble() * 0.5));
        var builder = new StringBuilder(tokens * 4 + 64);
        builder.Append("Okay, let me work through this carefully.");
        while (builder.Length < tokens * 4)
            builder.Append(' ').Append(ThinkSentences[random.Next(ThinkSentences.Length)]);
        return builder.ToString();
    }

    private static string MathAnswer(string value) => $"Putting the steps together, the final answer is $\\boxed{{{value}}}$.";

    private static string ChoiceAnswer(char reference, bool correct, Random random)
    {
        var letter = correct ? reference : (char)('A' + (reference - 'A' + 1 + random.Next(3)) % 4);
        return $"Comparing the options, the answer is ({letter}).";
    }

    /// <summary>A plausible wrong value: an integer off by a little, else one digit changed, else a term added.</summary>
    public static string WrongValue(string reference, Random random)
    {
        if (long.TryParse(reference, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
        {
            var offset = random.Next(1, 4) * (random.Next(2) == 0 ? -1 : 1);
            return (n + offset == n ? n + 1 : n + offset).ToString(CultureInfo.InvariantCulture);
        }
        var digits = reference.Select((c, i) => (c, i)).Where(x => char.IsAsciiDigit(x.c)).ToArray();
        if (digits.Length > 0)
        {
            var (digit, index) = digits[random.Next(digits.Length)];
            var replacement = (char)('0' + (digit - '0' + random.Next(1, 9)) % 10);
            return string.Concat(reference.AsSpan(0, index), replacement.ToString(), reference.AsSpan(index + 1));
        }
        return reference + "+1";
    }

    private static string CodeAnswer(KnownQuery query, bool correct, Random random)
    {
        var code = query.Solution is { } solution
            ? correct ? solution : Break(solution, random)
            : "import sys\n\ndef main():\n    data = sys.stdin.read().split()\n    print(len(data))\n\nmain()\n";
        return $"Here is the implementation.\n\n```python\n{code.TrimEnd()}\n```";
    }

    /// <summary>A variant of a correct program that fails its tests in the way models' programs do: an off-by-one or a wrong return.</summary>
    private static string Break(string solution, Random random)
    {
        string[][] mutations = [["<=", "<"], [" < ", " <= "], ["+ 1", "+ 2"], ["- 1", "- 2"], ["==", "!="], [" > ", " >= "]];
        foreach (var pair in mutations.OrderBy(_ => random.Next()))
        {
            var at = solution.IndexOf(pair[0], StringComparison.Ordinal);
            if (at >= 0) return string.Concat(solution.AsSpan(0, at), pair[1], solution.AsSpan(at + pair[0].Length));
        }
        var ret = solution.IndexOf("return ", StringComparison.Ordinal);
        return ret >= 0 ? string.Concat(solution.AsSpan(0, ret), "return None  # ", solution.AsSpan(ret + 7)) : solution + "\nraise SystemExit(1)\n";
    }
}
