using System.Diagnostics;

namespace AmDistill.Verifiers.Math;

/// <summary>
/// The outcome of one comparison. <see cref="Equal"/> is null when it could not be decided: the reference or the
/// answer is there but in a notation no rule reads. False is definite: no answer, or a different one.
/// </summary>
public sealed record MathVerdict(bool? Equal, string? GoldAnswer, string? PredAnswer, string Reason, TimeSpan Elapsed)
{
    public bool Passed => Equal == true;
}

/// <summary>
/// Math answer equivalence in the manner of Math-Verify: extract the final answers of gold and prediction, parse them,
/// and compare exactly (rationals), structurally (sets, tuples, intervals, matrices, equations) and numerically.
/// Never throws; never runs past its budget.
/// </summary>
public static partial class MathVerifier
{
    // The first verdict of a process would otherwise spend its budget on JIT compilation.
    static MathVerifier() => Verify("\\frac{1}{2}", "$(0.5, x \\le 2)$", new MathVerifyOptions { Budget = TimeSpan.FromSeconds(10) });

    public static MathVerdict Verify(string gold, string prediction, MathVerifyOptions? options = null)
    {
        options ??= new MathVerifyOptions();
        var started = Stopwatch.GetTimestamp();
        var budget = new Budget(options.Budget);
        try
        {
            // A gold answer that is one capital letter is a multiple-choice answer.
            if (ChoiceLetter().Match(gold.Trim()) is { Success: true } letter && Choice.ChoiceVerifier.Extract(prediction, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") is { } chosen)
                return Done(chosen == letter.Groups[1].Value[0], letter.Groups[1].Value, chosen.ToString(), chosen == letter.Groups[1].Value[0] ? "same choice" : "other choice");

            var goldCandidates = AnswerExtractor.GoldCandidates(gold, options.PlainNumbers);
            var goldParsed = FirstParsed(goldCandidates, budget, out var goldError);
            if (goldParsed is null) return Done(null, null, null, goldCandidates.Count == 0 ? "no gold answer found" : $"gold answer not parsed: {goldError}");
            var predCandidates = AnswerExtractor.Candidates(prediction, options.PlainNumbers);
            var predParsed = FirstParsed(predCandidates, budget, out var predError);
            if (predParsed is null)
                return predCandidates.Count == 0
                    ? Done(false, goldParsed.Value.Text, null, "no answer in the response")
                    : Done(null, goldParsed.Value.Text, null, $"undecided: answer not parsed: {predError}");
            var equivalence = new Equivalence(budget, options);
            var equal = equivalence.Equal(goldParsed.Value.Node, predParsed.Value.Node);
            return Done(equal, goldParsed.Value.Text, predParsed.Value.Text, $"{(equal ? "equivalent" : "not equivalent")} ({equivalence.Rule})");
        }
        catch (BudgetExceededException e)
        {
            return Done(null, null, null, $"undecided: {e.Message}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A verifier bug must cost one verdict, never a worker.
            return Done(null, null, null, $"undecided: {e.GetType().Name}: {e.Message}");
        }

        MathVerdict Done(bool? equal, string? g, string? p, string reason) => new(equal, g, p, reason, Stopwatch.GetElapsedTime(started));
    }

    private static (string Text, Node Node)? FirstParsed(IReadOnlyList<string> candidates, Budget budget, out string? firstError)
    {
        firstError = null;
        foreach (var candidate in candidates)
        {
            try
            {
                return (candidate, Parser.Parse(candidate, budget));
            }
            catch (FormatException e)
            {
                firstError ??= $"{e.Message} in '{(candidate.Length > 60 ? candidate[..60] + "…" : candidate)}'";
            }
        }
        return null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$?\s*(?:\\text\{)?\(?([A-Z])\)?\}?\s*\$?$")]
    private static partial System.Text.RegularExpressions.Regex ChoiceLetter();
}
