using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Report;
using AmDistill.Runs;
using AmDistill.Dataset.Store;

namespace AmDistill.Api.Runs;

/// <summary>A finished run's exports (the configuration's <c>selection.exports</c>) and its report, in
/// <c>{store}/{run}/export/</c> (the report last, so its presence means the outputs are complete), and its training job.</summary>
public sealed class RunOutputs(RunRegistry runs, IDatasetStore store, IHttpClientFactory http, ILogger<RunOutputs> logger)
{
    public const string ReportFile = "report.html";

    /// <summary>The trainer service, found by service discovery.</summary>
    public const string TrainerClient = "trainer";

    public async Task WriteAsync(RunConfiguration run, CancellationToken cancellationToken)
    {
        var directory = runs.ExportDirectory(run.Run);
        Directory.CreateDirectory(directory);
        logger.LogInformation("Run {Run}: every query final; writing its exports and report", run.Run);
        // The report's figures are gathered while the exports are written (each reads the store on its own: the run's
        // last step, with the pipeline drained and the cores free); its file is written after them.
        var reportData = Task.Run(() => BuildReportAsync(run, cancellationToken), cancellationToken);
        await Task.WhenAll(run.Selection.Exports.Select(export => Task.Run(async () =>
        {
            var report = await DatasetExport.ToFileAsync(store, run.Run, run.ExportOptions(DatasetExport.ParsePolicy(export.Policy)),
                DatasetExport.ParseFormat(export.Format), Path.Combine(directory, export.FileName), cancellationToken);
            logger.LogInformation("Run {Run}: {File} holds {Exported} of {Samples} samples", run.Run, export.FileName, report.Exported, report.Samples);
        }, cancellationToken)));
        await RunReport.WriteAsync(await reportData, Path.Combine(directory, ReportFile), cancellationToken);
        logger.LogInformation("Run {Run} exported with its report to {Directory}", run.Run, directory);
    }

    /// <summary>The run's SFT job, through the trainer's API (which records its status and queues it); the trainer
    /// materialises the selection from the store with the run's selection settings.</summary>
    public async Task SubmitTrainingAsync(string run, RunTraining training, CancellationToken cancellationToken)
    {
        var job = new TrainingJob(run, training.JobId, training.Recipe, training.BaseModel, MaxSteps: training.MaxSteps, Selection: training.Selection,
            Overrides: training.Overrides);
        using var response = await http.CreateClient(TrainerClient).PostAsJsonAsync("/api/training", job, ContractsJsonContext.Default.TrainingJob, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"the trainer refused run {run}'s training job: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        logger.LogInformation("Run {Run}: training job {Job} submitted ({Recipe} on {BaseModel})", run, training.JobId, training.Recipe, training.BaseModel);
    }

    public async Task<RunReportData> BuildReportAsync(RunConfiguration run, CancellationToken cancellationToken)
    {
        var stats = await runs.StatsAsync(run.Run);
        var data = await RunReport.FillAsync(store, new RunReportData(run.Run, [.. run.Teachers.Select(t => t.Name)], run.SelectionTeacher,
            run.ExportOptions(ExportPolicy.StageOne).Selection, run.Ladder) { Costs = RunRegistry.Costs(run, stats), Evaluation = run.Evaluation is not null }, cancellationToken);
        if (run.Evaluation?.TrainingJob is { } job)
        {
            data.TrainingJob = job;
            data.TrainingCurve = await runs.TrainingCurveAsync(job);
        }
        data.JudgeDecided = RunRegistry.JudgeDecided(stats);
        data.DeadLettered = RunRegistry.DeadLettered(stats);
        data.UnknownQueries = RunRegistry.UnknownQueries(stats);
        return data;
    }
}
