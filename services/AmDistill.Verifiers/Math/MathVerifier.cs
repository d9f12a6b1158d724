using System.Diagnostics;

namespace AmDistill.Verifiers.Math;

/// <summary>The outcome of one comparison. <see cref="Equal"/> is null when it could not be decided.</summary>
public sealed record MathVerdict(bool? Equal, string? GoldAnswer, string? PredAnswer, string Reason, TimeSpan Elapsed)
{
    public bool Passed => Equal == true;
}

/// <summary>
/// Math answer equivalence in the manner of Math-Verify: extract the final answers of gold and prediction, parse them,
/// and compare exactly (rationals), structurally (sets, tuples, intervals, matrices, equations) and numerically.
/// Never throws; never runs past its budget.
/// </summary>
public static class MathVerifier
{
    public static MathVerdict Verify(string gold, string prediction, MathVerifyOptions? options = null)
    {
        options ??= new MathVerifyOptions();
        var started = Stopwatch.GetTimestamp();
        var budget = new Budget(options.Budget);
        try
        {
            var goldParsed = FirstParsed(AnswerExtractor.Candidates(gold), budget);
            if (goldParsed is null) return Done(null, null, null, "gold answer could not be extracted or parsed");
            var predCandidates = AnswerExtractor.Candidates(prediction);
            var predParsed = FirstParsed(predCandidates, budget);
            if (predParsed is null)
                return Done(false, goldParsed.Value.Text, null, predCandidates.Count == 0 ? "no answer in the response" : "the response's answer could not be parsed");
            var equivalence = new Equivalence(budget, options);
            var equal = equivalence.Equal(goldParsed.Value.Node, predParsed.Value.Node);
            return Done(equal, goldParsed.Value.Text, predParsed.Value.Text, equal ? "equivalent" : "not equivalent");
        }
        catch (BudgetExceededException e)
        {
            return Done(null, null, null, $"undecided: {e.Message}");
        }
        catch (Exception e) when (e is InsufficientExecutionStackException or StackOverflowException or OutOfMemoryException or ArgumentException or InvalidOperationException or IndexOutOfRangeException or ArithmeticException or FormatException)
        {
            return Done(null, null, null, $"undecided: {e.GetType().Name}");
        }

        MathVerdict Done(bool? equal, string? g, string? p, string reason) => new(equal, g, p, reason, Stopwatch.GetElapsedTime(started));
    }

    private static (string Text, Node Node)? FirstParsed(IReadOnlyList<string> candidates, Budget budget)
    {
        foreach (var candidate in candidates)
        {
            try
            {
                return (candidate, Parser.Parse(candidate, budget));
            }
            catch (FormatException)
            {
            }
        }
        return null;
    }
}
