using System.CommandLine;
using AmDistill.Dataset.Ingestion;

namespace AmDistill.Cli.Ingest;

/// <summary><c>amdistill ingest</c>: a query file cleaned, decontaminated and deduplicated, with every drop's reason.</summary>
internal static class IngestCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "Queries: JSONL or Parquet in the shared query schema.", Required = true };
        var output = new Option<FileInfo>("--output") { Description = "The kept queries (JSONL).", Required = true };
        var rejects = new Option<FileInfo?>("--rejects") { Description = "Every dropped line with its line number and reason (JSONL)." };
        var benchmarks = new Option<FileInfo[]>("--benchmarks")
        {
            Description = "Benchmark questions to decontaminate against (JSONL with id, question).",
            DefaultValueFactory = _ => [new FileInfo(Path.Combine(AppContext.BaseDirectory, "data", "benchmarks", "decontamination.jsonl"))],
            AllowMultipleArgumentsPerToken = true,
        };
        var ngram = new Option<int>("--ngram") { Description = "Words in a decontamination n-gram.", DefaultValueFactory = _ => 13 };
        var nearDup = new Option<double>("--near-dup") { Description = "Near-duplicate Jaccard threshold (0: off).", DefaultValueFactory = _ => 0.8 };
        var command = new Command("ingest", "Clean a query file: the paper's filters, decontamination, exact and near-duplicate removal.")
        {
            input, output, rejects, benchmarks, ngram, nearDup,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var files = result.GetValue(benchmarks)!.Where(f => f.Exists).Select(f => f.FullName).ToList();
            var decontaminator = files.Count > 0 ? QueryIngestion.LoadBenchmarks(files, result.GetValue(ngram)) : null;
            var report = await new QueryIngestion(new IngestOptions { NearDuplicateThreshold = result.GetValue(nearDup), DecontaminationNgram = result.GetValue(ngram) }, decontaminator)
                .RunAsync(result.GetValue(input)!.FullName, result.GetValue(output)!.FullName, result.GetValue(rejects)?.FullName, cancellationToken);
            foreach (var error in report.Errors.Take(20)) await Console.Error.WriteLineAsync($"{result.GetValue(input)!.Name}: {error}");
            await Console.Error.WriteLineAsync($"{report.Kept} of {report.Read} queries kept; {report.BadLines} bad lines; dropped: " +
                string.Join(", ", report.Dropped.Select(d => $"{d.Key} {d.Value}")) +
                $"; decontaminated against {decontaminator?.Benchmarks ?? 0} benchmark questions");
            return report.BadLines == 0 ? 0 : 2;
        });
        return command;
    }
}
