namespace AmDistill.Dataset.Store;

/// <summary>Section <c>DatasetStore</c>: where verified samples, query records, run inputs and exports are kept.</summary>
public sealed class DatasetStoreOptions
{
    public const string Section = "DatasetStore";

    /// <summary>A directory (a mounted volume in a container); relative to the service's content root. The default is
    /// <c>.amdistill-data</c> at the repository root, since services run from their project folders.</summary>
    public string Root { get; set; } = Path.Combine("..", "..", ".amdistill-data");
}
