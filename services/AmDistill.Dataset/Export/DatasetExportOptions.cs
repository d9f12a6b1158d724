using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Export;

public enum ExportPolicy { All, StageOne, StageTwo, Band }

public enum ExportFormat { Am, Messages, ShareGpt }

public sealed record DatasetExportOptions
{
    public ExportPolicy Policy { get; init; } = ExportPolicy.All;
    public SelectionOptions Selection { get; init; } = new();
    public DifficultyLadder Ladder { get; init; } = DifficultyLadder.Paper;
    public double BandMin { get; init; }
    public double BandMax { get; init; } = 1;
    public IReadOnlyDictionary<QueryCategory, int>? StageTwoCaps { get; init; }

    /// <summary>The paper's repetition filter: drop a response with an n-gram seen in more than this many responses
    /// (paper: 20 for 20-token strings). Off by default: the teacher simulator's template sentences would trip it.</summary>
    public int? MaxNgramRepeats { get; init; }

    public int NgramTokens { get; init; } = 20;

    /// <summary>Drop a response whose prompt + completion tokens exceed this (the SFT recipe's 32k context).</summary>
    public int? MaxTokens { get; init; } = 32768;

    /// <summary>Query-hash partitions of the selection pass: memory holds one partition's (small) sample projections.</summary>
    public int Partitions { get; init; } = 64;

    public string? TempDirectory { get; init; }
}
