using AmDistill.Dataset.Store;

namespace AmDistill.Dataset.Export;

/// <summary>A run's export to a file in one call: the policy and format by name, written under a temporary name and
/// renamed when complete, so a reader never sees half a file.</summary>
public static class DatasetExport
{
    public static readonly string[] PolicyNames = ["all", "stage1", "stage2", "band"];
    public static readonly string[] FormatNames = ["am", "messages", "sharegpt"];

    public static ExportPolicy ParsePolicy(string name) => name switch
    {
        "all" => ExportPolicy.All,
        "stage1" => ExportPolicy.StageOne,
        "stage2" => ExportPolicy.StageTwo,
        "band" => ExportPolicy.Band,
        _ => throw new ArgumentException($"unknown policy '{name}' (all, stage1, stage2, band)"),
    };

    public static ExportFormat ParseFormat(string name) => name switch
    {
        "am" => ExportFormat.Am,
        "messages" => ExportFormat.Messages,
        "sharegpt" => ExportFormat.ShareGpt,
        _ => throw new ArgumentException($"unknown format '{name}' (am, messages, sharegpt)"),
    };

    /// <summary>JSONL, or Parquet when the path ends in <c>.parquet</c> (the AM schema only).</summary>
    public static async Task<ExportReport> ToFileAsync(IDatasetStore store, string run, DatasetExportOptions options, ExportFormat format,
        string path, CancellationToken cancellationToken = default)
    {
        var parquet = path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase);
        if (parquet && format != ExportFormat.Am)
            throw new ArgumentException("Parquet is written in the AM schema; the training formats are JSONL");
        var partial = path + ".partial";
        var file = File.Create(partial);
        IExportSink sink = parquet ? new AmParquetSink(file) : format == ExportFormat.Am ? new AmJsonlSink(file) : new TrainingJsonlSink(file, format);
        ExportReport report;
        await using (sink)
            report = await new DatasetExporter(store, run, options).ExportAsync(sink, cancellationToken);
        File.Move(partial, path, overwrite: true);
        return report;
    }
}
