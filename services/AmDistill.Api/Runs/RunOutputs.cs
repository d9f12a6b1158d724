using AmDistill.Dataset.Export;
using AmDistill.Dataset.Report;
using AmDistill.Dataset.Runs;
using AmDistill.Dataset.Store;

namespace AmDistill.Api.Runs;

/// <summary>A finished run's exports (the configuration's <c>selection.exports</c>) and its report, in
/// <c>{store}/{run}/export/</c>; the report is written last, so its presence means the run's outputs are complete.</summary>
public sealed class RunOutputs(RunRegistry runs, IDatasetStore store, ILogger<RunOutputs> logger)
{
    public const string ReportFile = "report.html";

    public async Task WriteAsync(RunConfiguration run, CancellationToken cancellationToken)
    {
        var directory = runs.ExportDirectory(run.Run);
        Directory.CreateDirectory(directory);
        foreach (var export in run.Selection.Exports)
        {
            var report = await DatasetExport.ToFileAsync(store, run.Run, run.ExportOptions(DatasetExport.ParsePolicy(export.Policy)),
                DatasetExport.ParseFormat(export.Format), Path.Combine(directory, export.FileName), cancellationToken);
            logger.LogInformation("Run {Run}: {File} holds {Exported} of {Samples} samples", run.Run, export.FileName, report.Exported, report.Samples);
        }
        await RunReport.WriteAsync(await BuildReportAsync(run, cancellationToken), Path.Combine(directory, ReportFile), cancellationToken);
        logger.LogInformation("Run {Run} exported with its report to {Directory}", run.Run, directory);
    }

    public async Task<RunReportData> BuildReportAsync(RunConfiguration run, CancellationToken cancellationToken) =>
        await RunReport.BuildAsync(store, run, await runs.CostsAsync(run), cancellationToken);
}
