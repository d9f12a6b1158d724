namespace AmDistill.Dataset.Store;

/// <summary>
/// Where a run's samples live: append-only parts, each written by one writer and never changed once closed.
/// <see cref="LocalDatasetStore"/> keeps them in a directory (a local disk or a mounted Azure Files share); an object
/// store (Azure Blob) fills the same three operations.
/// </summary>
public interface IDatasetStore
{
    /// <summary>A writer of its own parts; <paramref name="writer"/> names them (one per process: no two write one file).</summary>
    /// <param name="kind"><see cref="DatasetKinds.Samples"/> or <see cref="DatasetKinds.Queries"/> (final query records).</param>
    PartWriter OpenWriter(string run, string writer, string kind = DatasetKinds.Samples);

    /// <summary>The run's parts of a kind in a stable order (readers depend on it for ordinals).</summary>
    IReadOnlyList<string> Parts(string run, string kind = DatasetKinds.Samples);

    long Length(string part);

    Stream OpenRead(string part);

    /// <summary>Removes a run's samples: a run id started anew (a fresh Redis) must not inherit an old run's parts.</summary>
    void DeleteRun(string run);
}

public static class DatasetKinds
{
    public const string Samples = "samples";

    /// <summary>Final per-query score records, in the format <c>amdistill select</c> reads.</summary>
    public const string Queries = "queries";
}

public sealed class LocalDatasetStore(string root, long maxPartBytes = 256L << 20) : IDatasetStore
{
    public string Root { get; } = Path.GetFullPath(root);

    private string RunDirectory(string run, string kind = DatasetKinds.Samples)
    {
        if (run.Length == 0 || run.IndexOfAny([.. Path.GetInvalidFileNameChars(), '.']) >= 0)
            throw new ArgumentException($"run id '{run}' cannot name a directory", nameof(run));
        return Path.Combine(Root, run, kind);
    }

    public PartWriter OpenWriter(string run, string writer, string kind = DatasetKinds.Samples)
    {
        var directory = RunDirectory(run, kind);
        Directory.CreateDirectory(directory);
        return new PartWriter(directory, writer, maxPartBytes);
    }

    public IReadOnlyList<string> Parts(string run, string kind = DatasetKinds.Samples)
    {
        var directory = RunDirectory(run, kind);
        return Directory.Exists(directory)
            ? [.. Directory.EnumerateFiles(directory, "*" + PartWriter.Extension).Order(StringComparer.Ordinal)]
            : [];
    }

    public long Length(string part) => new FileInfo(part).Length;

    public void DeleteRun(string run)
    {
        var directory = Path.GetDirectoryName(RunDirectory(run))!;
        if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
    }

    public Stream OpenRead(string part) => new FileStream(part, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
}
