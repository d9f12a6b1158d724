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
    public IReadOnlyDictionary<Category, int>? StageTwoCaps { get; init; }

    /// <summary>Query-hash partitions of the selection pass: memory holds one partition's (small) sample projections.</summary>
    public int Partitions { get; init; } = 64;

    public string? TempDirectory { get; init; }
}
