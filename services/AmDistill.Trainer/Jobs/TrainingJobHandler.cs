using System.Globalization;
using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Runs;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Trainer.Launching;
using Microsoft.Extensions.Options;

namespace AmDistill.Trainer.Jobs;

/// <summary>
/// Runs one training job to its end: launches the trainer, relays its progress into the job's status and the metrics,
/// and records the outcome. A trainer failure is the job's outcome (failed, with the trainer's reason), not a message
/// retry; a redelivery after this service died reruns the job in the same output directory, where the trainer resumes
/// from its last checkpoint.
/// </summary>
public sealed class TrainingJobHandler(
    TrainingStatusStore status,
    TrainerMetrics metrics,
    TrainingActivity activity,
    IDatasetStore dataset,
    StackExchange.Redis.IConnectionMultiplexer redis,
    IOptions<TrainerOptions> options,
    IHostEnvironment environment,
    ILogger<TrainingJobHandler> logger) : IMessageHandler<TrainingJob>
{
    private static readonly string[] StepFields = ["step", "steps", "loss", "lr", "grad_norm", "tokens_per_s", "mfu"];

    public async Task HandleAsync(MessageContext<TrainingJob> context, CancellationToken cancellationToken)
    {
        var job = context.Message;
        using var _ = activity.Begin();
        var current = await status.ReadAsync(job.RunId, job.JobId);
        if (current?.State is TrainingState.Succeeded or TrainingState.Failed or TrainingState.Cancelled) return; // already decided
        if (await status.IsCancelRequestedAsync(job))
        {
            await FinishAsync(job, TrainingState.Cancelled, ("message", "cancelled before it started"));
            return;
        }

        var launcher = options.Value;
        var root = Path.GetFullPath(Path.Combine(environment.ContentRootPath, launcher.OutputRoot));
        if (Problem(job) is { } invalid)
        {
            await FinishAsync(job, TrainingState.Failed, ("message", invalid));
            return;
        }
        var output = Path.Combine(root, job.RunId, job.JobId);
        Directory.CreateDirectory(output);
        await status.SetAsync(job, TrainingState.Preparing, ("output", output), ("started", DateTimeOffset.UtcNow.ToString("O")));
        var (trainingFile, problem) = await TrainingFileAsync(job, root, output, cancellationToken);
        if (problem is not null)
        {
            await FinishAsync(job, TrainingState.Failed, ("message", problem));
            return;
        }

        var values = new Dictionary<string, string>
        {
            ["trainingFile"] = trainingFile, ["baseModel"] = job.BaseModel, ["output"] = output,
            ["recipe"] = job.Recipe, ["run"] = job.RunId, ["job"] = job.JobId,
        };
        var extra = new List<string>();
        if (job.MaxSteps > 0) extra.AddRange(["--max-steps", Format(job.MaxSteps)]);
        if (job.Overrides?.LearningRate is { } learningRate) extra.AddRange(["--learning-rate", learningRate.ToString("R", CultureInfo.InvariantCulture)]);
        if (job.Overrides?.GlobalBatch is { } globalBatch) extra.AddRange(["--global-batch", Format(globalBatch)]);
        if (job.Overrides?.MaxLength is { } maxLength) extra.AddRange(["--max-length", Format(maxLength)]);
        var workingDirectory = Path.GetFullPath(Path.Combine(environment.ContentRootPath, launcher.WorkingDirectory));
        logger.LogInformation("Training {Job}: {Command} in {Directory}", job.Key, launcher.Command, workingDirectory);

        TrainerProcess started;
        try { started = TrainerProcess.Start(launcher, workingDirectory, values, extra); }
        catch (System.ComponentModel.Win32Exception e)
        {
            await FinishAsync(job, TrainingState.Failed, ("message", $"cannot start {launcher.Command} in {workingDirectory}: {e.Message}"));
            return;
        }
        await using var trainer = started;
        using var cancelled = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = WatchForCancelAsync(job, trainer, cancelled, launcher.CancelPollInterval);

        string? error = null, model = null;
        try
        {
            await foreach (var e in trainer.EventsAsync(cancellationToken))
            {
                switch (e.Kind)
                {
                    case "start":
                        await status.SetAsync(job, TrainingState.Running, ("steps", Format(e.Number("steps"))), ("resumedAt", Format(e.Number("resumed_at"))));
                        break;
                    case "step":
                        metrics.Step(job.RunId, job.JobId, e.Number);
                        await status.UpdateAsync(job, StepFields.Select(f => (f, Format(e.Number(f)))));
                        await status.AppendCurveAsync(job, StepFields.Where(f => e.Number(f) is not null).ToDictionary(f => f, f => e.Number(f)!.Value));
                        break;
                    case "checkpoint":
                        await status.UpdateAsync(job, [("checkpoint", e.Text("path") ?? "")]);
                        break;
                    case "done":
                        model = e.Text("model");
                        break;
                    case "error":
                        error = e.Text("message");
                        break;
                }
            }
            var exitCode = await trainer.WaitForExitAsync(cancellationToken);
            await cancelled.CancelAsync();
            var wasCancelled = await watcher;

            if (wasCancelled)
                await FinishAsync(job, TrainingState.Cancelled, ("message", "cancelled"), ("exitCode", Format(exitCode)));
            else if (exitCode == 0 && model is not null)
                await FinishAsync(job, TrainingState.Succeeded, ("model", model), ("exitCode", "0"));
            else
                await FinishAsync(job, TrainingState.Failed, ("exitCode", Format(exitCode)),
                    ("message", error ?? LastLines(trainer.StderrTail) ?? $"the trainer exited with code {exitCode} without finishing"));
        }
        finally
        {
            await cancelled.CancelAsync();
        }
    }

    /// <summary>The job's own file, or the run's selected samples from the dataset store in the chat-messages format,
    /// exported once into the job's directory (a rerun finds it there).</summary>
    /// <summary>Why a job cannot run, or null: its run and job ids become folders, so they match the id pattern; a
    /// training file is a path relative to the training root.</summary>
    public static string? Problem(TrainingJob job) =>
        !RunIds.IsValid(job.RunId) ? $"'{job.RunId}' is not a run id"
        : !RunIds.IsValid(job.JobId) ? $"'{job.JobId}' is not a job id (1–64 of a-z, 0-9, '-', '_')"
        : !string.IsNullOrEmpty(job.TrainingFile) && RunIds.Under("/training-root", job.TrainingFile) is null ? "trainingFile must be a path relative to the training root"
        : null;

    private async Task<(string Path, string? Problem)> TrainingFileAsync(TrainingJob job, string root, string output, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(job.TrainingFile))
            return RunIds.Under(root, job.TrainingFile) is { } file && File.Exists(file) ? (file, null) : ("", $"training file not found under the training root: {job.TrainingFile}");

        var path = Path.Combine(output, "train.jsonl");
        if (File.Exists(path)) return (path, null);
        var selection = job.Selection ?? job.Recipe;
        if (!DatasetExport.PolicyNames.Contains(selection)) return ("", $"unknown selection '{selection}' ({string.Join(", ", DatasetExport.PolicyNames)})");
        // A run created on the Api selects with its own teacher, thresholds and CV_t; others with the paper's.
        var policy = DatasetExport.ParsePolicy(selection);
        var run = (string?)await redis.GetDatabase().HashGetAsync(RunKeys.Run(job.RunId), "config") is { } json ? RunConfiguration.Parse(json).Configuration : null;
        var report = await DatasetExport.ToFileAsync(dataset, job.RunId, run?.ExportOptions(policy) ?? new DatasetExportOptions { Policy = policy },
            ExportFormat.Messages, path, cancellationToken);
        await status.UpdateAsync(job, [("trainingFile", path), ("trainingSamples", Format((int)report.Exported)), ("selection", selection)]);
        return report.Exported > 0 ? (path, null) : ("", $"the {selection} selection of run {job.RunId} kept no samples ({report.Samples} in the store)");
    }

    private async Task<bool> WatchForCancelAsync(TrainingJob job, TrainerProcess trainer, CancellationTokenSource stop, TimeSpan interval)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(interval, stop.Token);
                if (await status.IsCancelRequestedAsync(job))
                {
                    logger.LogInformation("Cancelling training {Job}", job.Key);
                    trainer.Kill();
                    return true;
                }
            }
        }
        catch (OperationCanceledException) { }
        return false;
    }

    private async Task FinishAsync(TrainingJob job, TrainingState state, params (string, string)[] fields)
    {
        await status.SetAsync(job, state, [.. fields, ("ended", DateTimeOffset.UtcNow.ToString("O"))]);
        metrics.Finished(state.ToString().ToLowerInvariant());
        logger.LogInformation("Training {Job} {State}", job.Key, state);
    }

    private static string? LastLines(string text) => text.Length == 0 ? null : string.Join('\n', text.Split('\n').TakeLast(5));

    private static string Format(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);
}
