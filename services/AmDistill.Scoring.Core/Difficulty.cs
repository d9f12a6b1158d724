namespace AmDistill.Scoring.Core;

public enum DifficultyLevel
{
    /// <summary>Even the strongest teacher never passes: no usable answer (SRL discards these).</summary>
    Unsolved,

    /// <summary>The weakest teacher passes every time.</summary>
    Easy,

    /// <summary>The weakest teacher sometimes passes.</summary>
    L1,

    /// <summary>The weakest never passes, the middle one does at least once.</summary>
    L2,

    /// <summary>Only the strongest passes.</summary>
    L3,
}

/// <summary>
/// Grades a query by which teachers of a ladder (weakest to strongest) can solve it, from their pass rates: the
/// SRL paper's L1–L3 (paper.md §4.1) on the DeepDistill ladder (1.5B, 7B, R1), with R1 standing in for SRL's 32B
/// and the two ends named: Easy (the weakest always passes) and Unsolved (the strongest never does).
/// </summary>
public sealed record DifficultyLadder(string Weak, string Middle, string Strong)
{
    public static DifficultyLadder Paper { get; } = new("r1-distill-qwen-1.5b", "r1-distill-qwen-7b", "deepseek-r1");

    public DifficultyLevel Grade(QueryRecord query, Thresholds thresholds)
    {
        var weak = query.PassRate(Weak, thresholds);
        var middle = query.PassRate(Middle, thresholds);
        var strong = query.PassRate(Strong, thresholds);
        if (weak >= 1) return DifficultyLevel.Easy;
        if (weak > 0) return DifficultyLevel.L1;
        if (middle > 0) return DifficultyLevel.L2;
        return strong > 0 ? DifficultyLevel.L3 : DifficultyLevel.Unsolved;
    }
}
