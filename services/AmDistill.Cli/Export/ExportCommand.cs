using System.CommandLine;
using System.Diagnostics;
using AmDistill.Cli.Select;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Store;

namespace AmDistill.Cli.Export;

/// <summary><c>amdistill export</c>: a run's dataset from the store, selected and written in the AM schema or a training format.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var store = new Option<DirectoryInfo>("--store") { Description = "The dataset store's root (DatasetStore:Root of the services).", DefaultValueFactory = _ => new DirectoryInfo(".amdistill-data") };
        var run = new Option<string>("--run") { Description = "The run to export.", Required = true };
        var policy = new Option<string>("--policy") { Description = "all (every sample), stage1, stage2 or band.", DefaultValueFactory = _ => "all" };
        policy.AcceptOnlyFromAmong(DatasetExport.PolicyNames);
        var format = new Option<string>("--format") { Description = "am (AM-DeepSeek-Distilled-40M schema), messages or sharegpt.", DefaultValueFactory = _ => "am" };
        format.AcceptOnlyFromAmong(DatasetExport.FormatNames);
        var output = new Option<FileInfo>("--output") { Description = "F.jsonl, or F.parquet for the AM schema.", Required = true };
        var ngram = new Option<int?>("--ngram-filter") { Description = "Drop responses with a 20-token string seen in more than N responses (the paper: 20)." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Drop responses longer than this, prompt included (0: no limit).", DefaultValueFactory = _ => 32768 };
        var selection = new SelectionArguments();

        var command = new Command("export", "Export a run from the dataset store, selected with the paper's policies.") { store, run, policy, format, output, ngram, maxTokens };
        foreach (var option in selection.All) command.Options.Add(option);
        command.SetAction(async (result, cancellationToken) =>
        {
            var (bandMin, bandMax) = selection.BandLimits(result);
            var options = new DatasetExportOptions
            {
                Policy = DatasetExport.ParsePolicy(result.GetValue(policy)!),
                Selection = selection.Options(result),
                StageTwoCaps = selection.Caps(result),
                BandMin = bandMin,
                BandMax = bandMax,
                MaxNgramRepeats = result.GetValue(ngram),
                MaxTokens = result.GetValue(maxTokens) is > 0 and var limit ? limit : null,
            };
            var started = Stopwatch.GetTimestamp();
            var report = await DatasetExport.ToFileAsync(new LocalDatasetStore(result.GetValue(store)!.FullName), result.GetValue(run)!, options,
                DatasetExport.ParseFormat(result.GetValue(format)!), result.GetValue(output)!.FullName, cancellationToken);
            await Console.Error.WriteLineAsync($"{report.Exported} of {report.Samples} samples ({report.Queries} queries) exported to {result.GetValue(output)!.FullName} " +
                $"in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s; filtered before selection: {report.FilteredLength} over length, " +
                $"{report.FilteredRepetition} repetitive; {report.Duplicates} redelivered copies dropped, {report.BadLines} bad lines, {report.TornTails} torn part ends");
            return report.BadLines == 0 ? 0 : 2;
        });
        return command;
    }
}
