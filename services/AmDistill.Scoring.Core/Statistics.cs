namespace AmDistill.Scoring.Core;

/// <summary>
/// Which standard deviation the CV uses. The paper's formula (eq. 6) divides by n; its worked examples
/// (CV 0.63, 0.10, 0.18) divide by n − 1, as pyarrow's stddev does. Sample is the default because it reproduces them.
/// </summary>
public enum StdConvention
{
    Sample,
    Population,
}

public static class Statistics
{
    /// <summary>pass_rate = (1/n) Σ 1[verify_score_i &gt; threshold] (paper eq. 5); 0 for no scores.</summary>
    public static double PassRate(IReadOnlyList<double> scores, double threshold)
    {
        if (scores.Count == 0) return 0;
        var passed = 0;
        foreach (var score in scores)
            if (score > threshold) passed++;
        return passed / (double)scores.Count;
    }

    public static double Mean(IReadOnlyList<double> scores)
    {
        if (scores.Count == 0) return 0;
        var sum = 0.0;
        foreach (var score in scores) sum += score;
        return sum / scores.Count;
    }

    public static double StandardDeviation(IReadOnlyList<double> scores, StdConvention convention)
    {
        var n = scores.Count;
        if (n == 0 || (n == 1 && convention == StdConvention.Sample)) return 0;
        var mean = Mean(scores);
        var squares = 0.0;
        foreach (var score in scores) squares += (score - mean) * (score - mean);
        return Math.Sqrt(squares / (convention == StdConvention.Sample ? n - 1 : n));
    }

    /// <summary>CV = σ / µ over the raw verify_scores (paper eq. 6); 0 when µ = 0, as the paper's users do.</summary>
    public static double CoefficientOfVariation(IReadOnlyList<double> scores, StdConvention convention)
    {
        var mean = Mean(scores);
        return mean == 0 ? 0 : StandardDeviation(scores, convention) / mean;
    }
}
