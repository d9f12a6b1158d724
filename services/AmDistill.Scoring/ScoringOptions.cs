namespace AmDistill.Scoring;

/// <summary>Section <c>Scoring</c>.</summary>
public sealed class ScoringOptions
{
    public const string Section = "Scoring";

    /// <summary>Verdicts recorded at once by this replica. Each is a Redis round trip or a few (a final record also a store
    /// append): at one per core the round trips, not the CPU, set the pace, and scoring fell behind verification.</summary>
    public int Concurrency { get; set; } = 32;
}
