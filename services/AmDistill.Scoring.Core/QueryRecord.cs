namespace AmDistill.Scoring.Core;

/// <summary>One scored response of one teacher.</summary>
public sealed record ScoredResponse(string SampleId, double VerifyScore);

/// <summary>Everything the selection needs to know about one query: its category and each teacher's scored responses.</summary>
public sealed record QueryRecord(string QueryId, QueryCategory Category, IReadOnlyDictionary<string, IReadOnlyList<ScoredResponse>> Responses)
{
    public IReadOnlyList<double> Scores(string teacher) =>
        Responses.TryGetValue(teacher, out var responses) ? [.. responses.Select(r => r.VerifyScore)] : [];

    public double PassRate(string teacher, Thresholds thresholds) => Statistics.PassRate(Scores(teacher), thresholds.For(Category));

    public double CoefficientOfVariation(string teacher, StdConvention convention) => Statistics.CoefficientOfVariation(Scores(teacher), convention);
}
