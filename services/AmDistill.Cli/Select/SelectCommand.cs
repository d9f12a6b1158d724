using System.CommandLine;
using System.Text.Json;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;

namespace AmDistill.Cli.Select;

/// <summary><c>amdistill select</c>: applies a selection policy to per-query score records, streaming.</summary>
internal static class SelectCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo?>("--input") { Description = "Per-query score records (JSONL: {\"query_id\", \"category\", \"scores\": {teacher: [verify_score, …]}}), as scoring writes them." };
        var store = new Option<DirectoryInfo?>("--store") { Description = "Or: the dataset store, whose final query records of --run are read." };
        var run = new Option<string?>("--run") { Description = "The run whose query records --store holds." };
        var output = new Option<FileInfo?>("--output") { Description = "Selected queries (JSONL); default: standard output." };
        var policy = new Option<string>("--policy") { Description = "stage1 (Algorithm 1), stage2 (annealing) or band.", DefaultValueFactory = _ => "stage1" };
        policy.AcceptOnlyFromAmong("stage1", "stage2", "band");
        var selection = new SelectionArguments();
        var explain = new Option<bool>("--explain") { Description = "Also write dropped queries, with the reason." };

        var command = new Command("select", "Pick the training set from scored queries with the paper's policies.") { input, store, run, output, policy, explain };
        command.Validators.Add(result =>
        {
            if ((result.GetValue(input) is null) == (result.GetValue(store) is null || result.GetValue(run) is null))
                result.AddError("give --input F.jsonl, or --store DIR with --run R");
        });
        foreach (var option in selection.All) command.Options.Add(option);
        command.SetAction(async (result, cancellationToken) =>
        {
            var (bandMin, bandMax) = selection.BandLimits(result);
            var (lines, source) = result.GetValue(input) is { } file
                ? (File.ReadLinesAsync(file.FullName, cancellationToken), file.Name)
                : (QueryRecordLines.ReadLatestAsync(new LocalDatasetStore(result.GetValue(store)!.FullName), result.GetValue(run)!, cancellationToken),
                    $"{result.GetValue(run)} query records");
            return await RunAsync(lines, source, result.GetValue(output), result.GetValue(policy)!, selection.Options(result),
                selection.Caps(result), [bandMin, bandMax], result.GetValue(explain), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(IAsyncEnumerable<string> lines, string source, FileInfo? output, string policy, SelectionOptions options,
        Dictionary<QueryCategory, int> caps, double[] band, bool explain, CancellationToken cancellationToken)
    {
        await using var stream = output is null ? Console.OpenStandardOutput() : output.Create();
        await using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        var stageTwo = policy == "stage2" ? new StageTwoSelector(options, caps) : null;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var (kept, dropped, bad, lineNumber) = (0, 0, 0, 0);

        void Emit(Selection selection)
        {
            QueryRecordFormat.Write(writer, selection, options.Teacher);
            writer.Flush();
            writer.Reset(); // one JSON value per line
            stream.WriteByte((byte)'\n');
        }

        await foreach (var line in lines)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            QueryRecord record;
            try
            {
                record = QueryRecordFormat.Parse(line);
            }
            catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
            {
                bad++;
                await Console.Error.WriteLineAsync($"{source}:{lineNumber}: skipped: {e.Message}");
                continue;
            }
            var selection = policy switch
            {
                "stage2" => stageTwo!.Offer(record),
                "band" => SelectionPolicies.Band(record, options, band[0], band[1]),
                _ => SelectionPolicies.StageOne(record, options),
            };
            if (selection.Kept) kept++;
            else dropped++;
            var why = selection.Reason.Split(':')[0];
            counts[why] = counts.GetValueOrDefault(why) + 1;
            if (stageTwo is null && (selection.Kept || explain)) Emit(selection);
        }
        if (stageTwo is not null)
        {
            kept = 0;
            foreach (var selection in stageTwo.Results())
            {
                kept++;
                Emit(selection);
            }
        }
        await Console.Error.WriteLineAsync($"{policy}: {kept} queries kept, {(stageTwo is null ? dropped : lineNumber - bad - kept)} dropped, {bad} bad lines; " +
            string.Join(", ", counts.OrderByDescending(c => c.Value).Select(c => $"{c.Key}: {c.Value}")));
        return bad == 0 ? 0 : 2;
    }
}
