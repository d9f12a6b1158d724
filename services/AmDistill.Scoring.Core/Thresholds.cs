namespace AmDistill.Scoring.Core;

/// <summary>
/// Pass thresholds per category (paper §3.1): a response passes when verify_score &gt; threshold.
/// Defaults: math, code, IF 0.99 (scale [0,1]); science 4.99 (scale [0,5]); other and multi-turn 0.7 (scale [0,1]).
/// </summary>
public sealed record Thresholds(double Math = 0.99, double Code = 0.99, double Science = 4.99, double InstructionFollowing = 0.99, double Other = 0.7)
{
    public static Thresholds Paper { get; } = new();

    public double For(QueryCategory category) => category switch
    {
        QueryCategory.Math => Math,
        QueryCategory.Code => Code,
        QueryCategory.Science => Science,
        QueryCategory.InstructionFollowing => InstructionFollowing,
        _ => Other,
    };

    public bool Passes(QueryCategory category, double verifyScore) => verifyScore > For(category);
}
