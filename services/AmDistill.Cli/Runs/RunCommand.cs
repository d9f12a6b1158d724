using System.CommandLine;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Runs;
using Spectre.Console;

namespace AmDistill.Cli.Runs;

/// <summary>
/// <c>amdistill run</c>: runs on the Api — validate a configuration, create a run with its queries and watch it,
/// status, pause, resume, cancel, export, report.
/// </summary>
internal static class RunCommand
{
    // A string, checked by hand: System.CommandLine has no parser for Uri and refuses every value of an Option<Uri>.
    private static readonly Option<string> Api = new("--api")
    {
        Description = "The Api's base URL (default: $AMDISTILL_API, else the local launch profile's).",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AMDISTILL_API") ?? "http://localhost:5101",
        Recursive = true,
    };

    public static Command Create()
    {
        var command = new Command("run", "Create, watch and control runs on the Api.")
        {
            Api, Validate(), Start(), Import(), Status(), Control("pause", "Pause a run: nothing more is fed until it resumes."),
            Control("resume", "Resume a paused run."), Control("cancel", "Cancel a run: its remaining tasks are skipped."),
            Control("redrive", "Put a run's dead-lettered tasks and verifications back on their streams (after fixing their cause): their unscored outcomes are taken back and the run completes again."),
            Delete(), Export(), Report(),
        };
        return command;
    }

    private static Command Validate()
    {
        var config = new Argument<FileInfo>("config") { Description = "A run configuration (JSON)." };
        var command = new Command("validate",
            "Check a run configuration and print every problem with its field; with the Api reachable, also its teachers against those registered.") { config };
        command.SetAction(async (result, cancellationToken) =>
        {
            var file = result.GetValue(config)!;
            var (configuration, errors) = RunConfiguration.Load(file.FullName);
            foreach (var error in errors) await Console.Error.WriteLineAsync($"{file.Name}: {error}");
            if (configuration is null) return 2;

            using var http = Client(result);
            http.Timeout = TimeSpan.FromSeconds(5);
            ConfigurationCheck? answer;
            try
            {
                var response = await http.PostAsync("/api/runs/validate", new StringContent(configuration.ToJson(), Encoding.UTF8, "application/json"), cancellationToken);
                answer = response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<ConfigurationCheck>(ApiJson.Options, cancellationToken) : null;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                answer = null;
            }
            if (answer is null)
                Console.WriteLine($"teachers not checked: the Api at {http.BaseAddress} does not answer");
            else if (!answer.TeachersChecked)
                Console.WriteLine("teachers not checked: no generation service has registered its teachers yet");
            else
            {
                foreach (var error in answer.Errors) await Console.Error.WriteLineAsync($"{file.Name}: {error}");
                if (answer.Errors.Count > 0) return 2;
            }
            Console.WriteLine($"run {configuration.Run}: {Count(configuration.Teachers.Count, "teacher")}, {Count(configuration.PassesPerQuery, "sample")} per query");
            return 0;
        });
        return command;
    }

    private static Command Start()
    {
        var config = new Option<FileInfo>("--config") { Description = "The run configuration (JSON).", Required = true };
        var queries = new Option<FileInfo>("--queries") { Description = "Queries in the shared schema: JSONL or Parquet (an evaluation run takes its benchmark sets instead)." };
        var noWatch = new Option<bool>("--no-watch") { Description = "Return once the run has started." };
        var command = new Command("start", "Create a run, upload and ingest its queries, start it and watch it to the end.") { config, queries, noWatch };
        command.SetAction((result, cancellationToken) => CreateFillStartAsync(result, result.GetValue(config)!, result.GetValue(noWatch), async (http, run) =>
        {
            if (result.GetValue(queries) is not { } file)
            {
                if (RunConfiguration.Load(result.GetValue(config)!.FullName).Configuration?.Evaluation is { } evaluation)
                {
                    AnsiConsole.MarkupLineInterpolated($"[bold]{run}[/]: its queries are the benchmark sets {string.Join(", ", evaluation.Benchmarks)}");
                    return true;
                }
                await Console.Error.WriteLineAsync("--queries is required (only an evaluation run takes its queries from its benchmark sets)");
                return false;
            }
            var ingest = await PutFileAsync<QueryUpload>(http, $"/api/runs/{run}/queries", file, cancellationToken);
            if (ingest is null) return false;
            foreach (var error in ingest.Errors) await Console.Error.WriteLineAsync($"{file.Name}: {error}");
            AnsiConsole.MarkupLineInterpolated($"[bold]{run}[/]: {ingest.Kept} of {ingest.Read} queries kept, {Count(ingest.BadLines, "bad line")}; dropped: {(ingest.Dropped.Count > 0 ? PerName(ingest.Dropped) : "none")}");
            return true;
        }, cancellationToken));
        return command;
    }

    /// <summary>Creates the run of <paramref name="config"/>, gives it its input (<paramref name="fill"/>), starts it and, unless told not to, watches it.</summary>
    private static async Task<int> CreateFillStartAsync(ParseResult result, FileInfo config, bool noWatch, Func<HttpClient, string, Task<bool>> fill,
        CancellationToken cancellationToken)
    {
        var (configuration, errors) = RunConfiguration.Load(config.FullName);
        foreach (var error in errors) await Console.Error.WriteLineAsync($"{config.Name}: {error}");
        if (configuration is null) return 2;
        using var http = Client(result);
        var run = configuration.Run;
        if (!await CreateAsync(http, configuration, cancellationToken) || !await fill(http, run)) return 1;
        if (!await StartAsync(http, run, cancellationToken)) return 1;
        return noWatch ? 0 : await WatchAsync(http, run, cancellationToken);
    }

    /// <summary>Starts the run; while the system is still starting (503: no generation service has registered its
    /// teachers yet) it waits up to two minutes instead of failing the command.</summary>
    private static async Task<bool> StartAsync(HttpClient http, string run, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        var said = false;
        while (true)
        {
            var response = await http.PostAsync($"/api/runs/{run}/start", null, cancellationToken);
            if (response.StatusCode != System.Net.HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > deadline) return await Ok(response);
            if (!said) await Console.Error.WriteLineAsync("waiting for the generation service to register its teachers (the system is starting)…");
            said = true;
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
    }

    /// <summary>A JSONL or Parquet file as the body of a PUT; its answer, or null (said) when refused.</summary>
    private static async Task<T?> PutFileAsync<T>(HttpClient http, string path, FileInfo file, CancellationToken cancellationToken) where T : class
    {
        await using var body = file.OpenRead();
        var content = new StreamContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(file.Extension == ".parquet" ? "application/vnd.apache.parquet" : "application/jsonl");
        var response = await http.PutAsync(path, content, cancellationToken);
        return await Ok(response) ? await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, cancellationToken) : null;
    }

    private static Command Import()
    {
        var config = new Option<FileInfo>("--config") { Description = "The run configuration (JSON); the teachers whose responses you bring have \"imported\": true.", Required = true };
        var files = new Argument<FileInfo[]>("files")
        {
            Description = "Responses: AM-schema rows, chat (messages) / ShareGPT (conversations) records with their \"model\", or OpenAI / Azure OpenAI Batch API output files (with --queries); JSONL, or AM-schema Parquet.",
            Arity = ArgumentArity.OneOrMore,
        };
        files.AcceptExistingOnly();
        var queries = new Option<FileInfo>("--queries")
        {
            Description = "The query file (JSONL, shared query schema) that Batch API output files answer: each output line's custom_id is a query's id, or the id and a pass number ({id}#2, {id}-2, …).",
        };
        queries.AcceptExistingOnly();
        var teacher = new Option<string?>("--teacher") { Description = "The imported teacher that Batch API outputs are the answers of (default: the model each answer names)." };
        var noWatch = new Option<bool>("--no-watch") { Description = "Return once the run has started." };
        var command = new Command("import",
            "Create a run from responses you already have: import them (verified, scored, selected and exported like generated ones), generate what its other teachers are asked for, and watch it.")
            { config, files, queries, teacher, noWatch };
        command.SetAction((result, cancellationToken) => CreateFillStartAsync(result, result.GetValue(config)!, result.GetValue(noWatch), async (http, run) =>
        {
            foreach (var file in result.GetValue(files)!)
            {
                var upload = file;
                if (file.Extension != ".parquet" && Dataset.Ingestion.BatchOutputs.IsBatchOutput(file.FullName))
                {
                    upload = await JoinBatchOutputAsync(run, file, result.GetValue(queries), result.GetValue(teacher), cancellationToken);
                    if (upload is null) return false;
                }
                try
                {
                    var report = await PutFileAsync<SampleUpload>(http, $"/api/runs/{run}/samples", upload, cancellationToken);
                    if (report is null) return false;
                    foreach (var error in report.Errors) await Console.Error.WriteLineAsync($"{file.Name}: {error}");
                    if (report.Duplicate)
                        AnsiConsole.MarkupLineInterpolated($"[bold]{run}[/]: {file.Name} was imported before; nothing added");
                    else
                        AnsiConsole.MarkupLineInterpolated($"[bold]{run}[/]: {file.Name}: {report.Kept} of {Count(report.Read, "row")} imported ({PerName(report.Teachers)}), {report.BadRows} bad{(report.Skipped.Count > 0 ? $"; left out, not imported teachers of the run: {PerName(report.Skipped)}" : "")}");
                }
                finally
                {
                    if (upload != file) upload.Delete();
                }
            }
            return true;
        }, cancellationToken));
        return command;
    }

    /// <summary>A Batch API output joined with its queries into chat records the import takes (a temporary file), or null (said) without a query file.</summary>
    private static async Task<FileInfo?> JoinBatchOutputAsync(string run, FileInfo output, FileInfo? queries, string? teacher, CancellationToken cancellationToken)
    {
        if (queries is null)
        {
            await Console.Error.WriteLineAsync($"{output.Name} is a Batch API output, which names each request only by its custom_id: give the query file it answers with --queries");
            return null;
        }
        var joined = new FileInfo(Path.Combine(Path.GetTempPath(), $"amdistill-{run}-{Guid.NewGuid():N}.jsonl"));
        var conversion = await Dataset.Ingestion.BatchOutputs.ToChatRecordsAsync(output.FullName, queries.FullName, teacher, joined.FullName, cancellationToken);
        foreach (var error in conversion.Errors) await Console.Error.WriteLineAsync($"{output.Name}: {error}");
        AnsiConsole.MarkupLineInterpolated($"[bold]{run}[/]: {output.Name}: Batch API output, {Count(conversion.Lines, "line")} joined with {queries.Name}: {Count(conversion.Records, "answer")}{(conversion.Left.Count > 0 ? $"; left out: {PerName(conversion.Left)}" : "")}");
        return joined;
    }

    private static Command Status()
    {
        var run = new Argument<string>("run");
        var watch = new Option<bool>("--watch") { Description = "Follow the run with a live display until it ends." };
        var command = new Command("status", "A run's state, progress, tokens and cost per teacher.") { run, watch };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result);
            if (result.GetValue(watch)) return await WatchAsync(http, result.GetValue(run)!, cancellationToken);
            var status = await GetStatusAsync(http, result.GetValue(run)!, cancellationToken);
            if (status is null) return 1;
            Summary(status);
            return 0;
        });
        return command;
    }

    private static Command Control(string action, string description)
    {
        var run = new Argument<string>("run");
        var command = new Command(action, description) { run };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result);
            var response = await http.PostAsync($"/api/runs/{result.GetValue(run)}/{action}", null, cancellationToken);
            if (!await Ok(response)) return 1;
            Console.WriteLine(action == "redrive"
                ? await response.Content.ReadFromJsonAsync<RunRedrive>(ApiJson.Options, cancellationToken) is { } redrive ? $"run {redrive.Run}: {Count(redrive.Redriven, "dead-lettered message")} put back" : ""
                : await response.Content.ReadFromJsonAsync<RunState>(ApiJson.Options, cancellationToken) is { } state ? $"run {state.Run}: {state.State}" : "");
            return 0;
        });
        return command;
    }

    private static Command Delete()
    {
        var run = new Argument<string>("run") { Description = "The run's id." };
        var command = new Command("delete", "Delete a run that is not running (cancel it first): its state, samples, records and exports.") { run };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result);
            if (!await Ok(await http.DeleteAsync($"/api/runs/{result.GetValue(run)}", cancellationToken))) return 1;
            Console.WriteLine($"run {result.GetValue(run)} deleted");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Creates the run. A run of the same id still in <c>created</c> (a start that failed at its upload or its teachers)
    /// holds no work: it is replaced, so the same command can simply be run again.
    /// </summary>
    private static async Task<bool> CreateAsync(HttpClient http, RunConfiguration configuration, CancellationToken cancellationToken)
    {
        Task<HttpResponseMessage> PostAsync() => http.PostAsync("/api/runs", new StringContent(configuration.ToJson(), Encoding.UTF8, "application/json"), cancellationToken);
        var response = await PostAsync();
        if (response.StatusCode == System.Net.HttpStatusCode.Conflict
            && await GetStatusAsync(http, configuration.Run, cancellationToken) is { State: RunStates.Created })
        {
            if (!await Ok(await http.DeleteAsync($"/api/runs/{configuration.Run}", cancellationToken))) return false;
            response = await PostAsync();
        }
        else if (response.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            await Console.Error.WriteLineAsync($"run {configuration.Run} exists: watch it with `run status {configuration.Run} --watch`, or delete it with `run delete {configuration.Run}` (cancel it first if it runs)");
            return false;
        }
        return await Ok(response);
    }

    private static Command Export()
    {
        var run = new Argument<string>("run");
        var policy = new Option<string>("--policy") { Description = "all (every sample), stage1, stage2 or band, with the run's selection settings.", DefaultValueFactory = _ => "stage1" };
        policy.AcceptOnlyFromAmong(DatasetExport.PolicyNames);
        var format = new Option<string>("--format") { Description = "am (AM-DeepSeek-Distilled-40M schema), messages or sharegpt.", DefaultValueFactory = _ => "am" };
        format.AcceptOnlyFromAmong(DatasetExport.FormatNames);
        var output = new Option<FileInfo>("--output") { Description = "JSONL, or Parquet when it ends in .parquet.", Required = true };
        var command = new Command("export", "Download a run's samples in a selection policy and format.") { run, policy, format, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result);
            var path = result.GetValue(output)!.FullName;
            var file = path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? "parquet" : "jsonl";
            return await DownloadAsync(http, $"/api/runs/{result.GetValue(run)}/export?policy={result.GetValue(policy)}&format={result.GetValue(format)}&file={file}", path, cancellationToken);
        });
        return command;
    }

    private static Command Report()
    {
        var run = new Argument<string>("run");
        var output = new Option<FileInfo>("--output") { DefaultValueFactory = _ => new FileInfo("report.html") };
        var command = new Command("report", "Download a run's HTML report.") { run, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var http = Client(result);
            return await DownloadAsync(http, $"/api/runs/{result.GetValue(run)}/report", result.GetValue(output)!.FullName, cancellationToken);
        });
        return command;
    }

    /// <summary>A live display (bars per stage, a table per teacher) on a terminal; a line every 5 s otherwise.</summary>
    private static async Task<int> WatchAsync(HttpClient http, string run, CancellationToken cancellationToken)
    {
        var status = await GetStatusAsync(http, run, cancellationToken);
        if (status is null) return 1;
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            while (!status.Ended)
            {
                Console.WriteLine(Line(status));
                await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
                status = await GetStatusAsync(http, run, cancellationToken) ?? status;
            }
        }
        else
        {
            await AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    var queries = (double)Math.Max(1, status.Queries);
                    var samples = (double)Math.Max(1, status.ExpectedSamples);
                    var stages = new List<(ProgressTask Task, Func<RunStatus, long> Value)>
                    {
                        (context.AddTask("queries fed", maxValue: queries), s => s.FedQueries),
                        (context.AddTask("samples generated", maxValue: samples), s => s.Generated),
                        (context.AddTask("samples verified", maxValue: samples), s => s.Verified),
                        (context.AddTask("queries final", maxValue: queries), s => s.FinalQueries),
                    };
                    // An importing run's responses are counted as generated from the start; their way to verification shows here.
                    if (status.ImportedSamples > 0) stages.Insert(1, (context.AddTask("imported samples fed", maxValue: status.ImportedSamples), s => s.FedSamples));
                    while (true)
                    {
                        foreach (var (task, value) in stages) task.Value = value(status);
                        if (status.Ended) break;
                        await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                        status = await GetStatusAsync(http, run, cancellationToken) ?? status;
                    }
                });
        }
        Summary(status);
        return status.State == RunStates.Completed ? 0 : 1;
    }

    private static string Line(RunStatus s) =>
        $"{s.Run} {s.State}: fed {s.FedQueries}/{s.Queries} queries{(s.ImportedSamples > 0 ? $" and {s.FedSamples}/{s.ImportedSamples} imported samples" : "")}, " +
        $"generated {s.Generated}, verified {s.Verified}/{s.ExpectedSamples} samples, " +
        $"final {s.FinalQueries}/{s.Queries} queries, {s.SamplesPerSecond} samples/s, ETA {(s.EtaSeconds is { } eta ? $"{eta} s" : "?")}, ${s.CostUsd}";

    private static void Summary(RunStatus status)
    {
        AnsiConsole.WriteLine(Line(status));
        var table = new Table().AddColumns("teacher", "samples", "passed", "failed", "unscored", "pass rate", "completion tokens", "cost (USD)");
        foreach (var model in status.Models)
            table.AddRow(model.Model, $"{model.Samples}", $"{model.Passed}", $"{model.Failed}", $"{model.Unscored}",
                model.Verdicts > 0 ? $"{100.0 * model.Passed / model.Verdicts:0.0} %" : "–", $"{model.CompletionTokens}", $"{model.CostUsd}");
        AnsiConsole.Write(table);
        var dead = status.DeadLettered;
        if (dead.Generation + dead.Verification is var count and > 0)
        {
            AnsiConsole.MarkupLineInterpolated(
                $"[yellow]{count} samples dead-lettered[/] (generation {dead.Generation}, verification {dead.Verification}), counted as unscored; after fixing the cause: [bold]run redrive {status.Run}[/]");
            foreach (var (reason, samples) in dead.Reasons) AnsiConsole.MarkupLineInterpolated($"  {samples} × {reason}");
        }
        if (status.UnknownQueries.Values.Sum() is var guessed and > 0)
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]{guessed} samples answer queries their teacher could not know[/] (the simulator guesses; their pass rates say nothing of the teacher):");
            foreach (var (key, samples) in status.UnknownQueries)
                AnsiConsole.MarkupLineInterpolated($"  {samples} × {key.Split('|', 2)[0]}: {Dataset.Report.RunReportHtml.UnknownReason(key.Split('|', 2)[^1])}");
        }
        foreach (var (teacher, batches) in status.Batches ?? new Dictionary<string, BatchProgress>())
            AnsiConsole.MarkupLineInterpolated(
                $"Batch API, {teacher}: {batches.Queued} requests queued; batches {batches.Submitted} submitted, {batches.InProgress} in progress, {batches.Completed} completed, {batches.Failed} failed; {batches.RequestsFailed} requests failed and asked again");
        if (status.Outputs is { } outputs)
            AnsiConsole.MarkupLineInterpolated($"Exports and report: [bold]{outputs}[/] in the dataset store; download them with run export / run report {status.Run}");
    }

    private static async Task<RunStatus?> GetStatusAsync(HttpClient http, string run, CancellationToken cancellationToken)
    {
        var response = await http.GetAsync($"/api/runs/{run}", cancellationToken);
        return await Ok(response) ? await response.Content.ReadFromJsonAsync<RunStatus>(ApiJson.Options, cancellationToken) : null;
    }

    private static async Task<int> DownloadAsync(HttpClient http, string url, string path, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!await Ok(response)) return 1;
        await using (var file = File.Create(path))
            await response.Content.CopyToAsync(file, cancellationToken);
        Console.WriteLine($"{path}: {new FileInfo(path).Length} bytes");
        return 0;
    }

    /// <summary>True on success; otherwise says why in the Api's words (a problem's detail, each configuration error).</summary>
    private static async Task<bool> Ok(HttpResponseMessage response)
    {
        if (response.IsSuccessStatusCode) return true;
        var body = await response.Content.ReadAsStringAsync();
        var why = body;
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            if (json.RootElement.TryGetProperty("detail", out var detail)) why = detail.GetString() ?? body;
            else if (json.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == System.Text.Json.JsonValueKind.Array)
                why = string.Join("; ", errors.EnumerateArray().Select(e => e.GetString()));
        }
        catch (System.Text.Json.JsonException) { } // not JSON: said as it came
        var status = (int)response.StatusCode;
        await Console.Error.WriteLineAsync($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: {status} {(why.Length > 0 ? why : response.ReasonPhrase)}");
        return false;
    }

    private static HttpClient Client(ParseResult result)
    {
        var api = result.GetValue(Api);
        if (!Uri.TryCreate(api, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new CliException($"--api: '{api}' is not an http(s) URL");
        return new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromMinutes(30) };
    }

    private static string PerName(IReadOnlyDictionary<string, long> counts) => string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}"));

    private static string Count(long count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";
}
