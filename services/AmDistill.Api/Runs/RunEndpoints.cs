using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Report;
using AmDistill.Dataset.Runs;
using AmDistill.Dataset.Store;
using StackExchange.Redis;

namespace AmDistill.Api.Runs;

/// <summary>
/// Runs: create one from a run configuration, upload its queries, start, pause, resume, cancel; watch its progress;
/// export it in any policy and format; read its report.
/// </summary>
public static class RunEndpoints
{
    public static IEndpointRouteBuilder MapRunEndpoints(this IEndpointRouteBuilder app)
    {
        var runs = app.MapGroup("/api/runs");

        runs.MapGet("/", async (RunRegistry registry) => Results.Ok(await registry.ListAsync()));

        // The body is the run configuration (docs/run-config.md); 400 lists every problem with its field.
        runs.MapPost("/", async (HttpRequest request, RunRegistry registry) =>
        {
            using var body = new StreamReader(request.Body);
            var (configuration, errors) = RunConfiguration.Parse(await body.ReadToEndAsync());
            if (configuration is null) return Results.BadRequest(new { errors });
            return await registry.CreateAsync(configuration) is { } problem
                ? Problem(problem)
                : Results.Created($"/api/runs/{configuration.Run}", new { run = configuration.Run, state = RunStates.Created });
        });

        // The body is a query file: JSONL, or Parquet (Content-Type application/vnd.apache.parquet or ?format=parquet).
        runs.MapPut("/{run}/queries", async (string run, HttpRequest request, RunRegistry registry, IConfiguration configuration, CancellationToken cancellationToken) =>
        {
            var (report, problem) = await registry.UploadAsync(run, request.Body, FileUpload(request, configuration), cancellationToken);
            return problem is not null ? Problem(problem)
                : Results.Ok(new { run, read = report!.Read, kept = report.Kept, badLines = report.BadLines, dropped = report.Dropped, errors = report.Errors });
        }).DisableAntiforgery();

        // The body is a file of responses to import: AM-schema rows, chat or ShareGPT records with their model (JSONL), or
        // AM-schema Parquet. Files accumulate until the run starts; the same file twice adds nothing.
        runs.MapPut("/{run}/samples", async (string run, HttpRequest request, RunRegistry registry, IConfiguration configuration, CancellationToken cancellationToken) =>
        {
            var (report, duplicate, problem) = await registry.ImportAsync(run, request.Body, FileUpload(request, configuration), cancellationToken);
            return problem is not null ? Problem(problem)
                : Results.Ok(new { run, duplicate, read = report!.Read, kept = report.Kept, badRows = report.BadRows, teachers = report.Teachers, skipped = report.Skipped, errors = report.Errors });
        }).DisableAntiforgery();

        runs.MapPost("/{run}/start", async (string run, RunRegistry registry, CancellationToken cancellationToken) =>
            State(run, await registry.StartAsync(run, cancellationToken), RunStates.Running));
        runs.MapPost("/{run}/pause", async (string run, RunRegistry registry) =>
            State(run, await registry.MoveAsync(run, RunStates.Paused, RunStates.Running), RunStates.Paused));
        runs.MapPost("/{run}/resume", async (string run, RunRegistry registry) =>
            State(run, await registry.MoveAsync(run, RunStates.Running, RunStates.Paused), RunStates.Running));
        runs.MapPost("/{run}/cancel", async (string run, RunRegistry registry) =>
            State(run, await registry.MoveAsync(run, RunStates.Cancelled, RunStates.Created, RunStates.Running, RunStates.Paused), RunStates.Cancelled));

        runs.MapGet("/{run}", Status);
        runs.MapPost("/{run}/redrive", async (string run, RunRegistry registry) =>
        {
            var (redriven, problem) = await registry.RedriveAsync(run);
            return problem is not null ? Problem(problem) : Results.Ok(new { run, redriven });
        });
        runs.MapDelete("/{run}", async (string run, RunRegistry registry) =>
            await registry.DeleteAsync(run) is { } problem ? Problem(problem) : Results.NoContent());

        // The body is a run configuration: every problem with its field, and its teachers checked against the registered ones.
        runs.MapPost("/validate", async (HttpRequest request, RunRegistry registry) =>
        {
            using var body = new StreamReader(request.Body);
            var (configuration, errors) = RunConfiguration.Parse(await body.ReadToEndAsync());
            var teachers = configuration is null ? null : await registry.CheckTeachersAsync(configuration);
            if (teachers is { Status: 400 }) errors = [.. errors, teachers.Message];
            // 503: no generation service has registered its teachers yet, so they could not be checked.
            return Results.Ok(new { valid = errors.Count == 0, errors, teachersChecked = configuration is not null && teachers is not { Status: 503 } });
        });

        // Any policy and format of the samples stored so far, streamed as it is written to a temporary file.
        runs.MapGet("/{run}/export", async (string run, string? policy, string? format, string? file, RunRegistry registry, IDatasetStore store,
            HttpContext context, CancellationToken cancellationToken) =>
        {
            var info = await registry.GetAsync(run);
            if (info is null) return Results.NotFound();
            var export = new RunExport { Policy = policy ?? "stage1", Format = format ?? "am", File = file ?? "jsonl" };
            var errors = (info.Configuration with { Selection = info.Configuration.Selection with { Exports = [export] } }).Validate();
            if (errors.Count > 0) return Results.BadRequest(new { errors });
            var path = Path.Combine(Path.GetTempPath(), $"amdistill-{run}-{Guid.NewGuid():N}.{export.File}");
            await DatasetExport.ToFileAsync(store, run, info.Configuration.ExportOptions(DatasetExport.ParsePolicy(export.Policy)),
                DatasetExport.ParseFormat(export.Format), path, cancellationToken);
            context.Response.RegisterForDispose(new TemporaryFile(path));
            return Results.File(path, export.File == "parquet" ? "application/vnd.apache.parquet" : "application/jsonl", $"{run}-{export.FileName}");
        });

        // The report of the queries final so far (the one written next to the export is the finished run's).
        runs.MapGet("/{run}/report", async (string run, RunRegistry registry, RunOutputs outputs, CancellationToken cancellationToken) =>
        {
            var info = await registry.GetAsync(run);
            if (info is null) return Results.NotFound();
            return Results.Content(RunReportHtml.Render(await outputs.BuildReportAsync(info.Configuration, cancellationToken)), "text/html; charset=utf-8");
        });
        return app;
    }

    /// <summary>
    /// <c>GET /api/runs/{run}</c>: the run's state and ingestion; per stage the queries fed, samples generated and
    /// verified against the expected number, and queries final; per model samples, tokens, cost and verdicts so far;
    /// throughput per stage and the ETA, from the rates since the start. Counters are kept in Redis by the services, exactly once, in
    /// the transactions that do the work.
    /// </summary>
    private static async Task<IResult> Status(string run, RunRegistry registry, IConnectionMultiplexer redis)
    {
        var db = redis.GetDatabase();
        var info = await registry.GetAsync(run);
        var stats = await registry.StatsAsync(run);
        if (info is null && stats.Count == 0) return Results.NotFound();
        long Stat(string name) => stats.GetValueOrDefault(name);
        var models = stats.Keys.Where(k => k.Contains(':') && !k.StartsWith(RunKeys.DeadLetterReasonPrefix, StringComparison.Ordinal)).Select(k => k[..k.LastIndexOf(':')]).Distinct().Order(StringComparer.Ordinal)
            .Select(m => new
            {
                model = m,
                samples = Stat($"{m}:samples"),
                promptTokens = Stat($"{m}:prompt_tokens"),
                completionTokens = Stat($"{m}:completion_tokens"),
                costUsd = Stat($"{m}:cost_micro_usd") / 1_000_000.0,
                passed = Stat($"{m}:passed"),
                failed = Stat($"{m}:failed"),
                unscored = Stat($"{m}:unscored"),
            }).ToList();
        var (expected, generated) = (Stat("expected_samples"), models.Sum(m => m.samples));
        var verified = models.Sum(m => m.passed + m.failed + m.unscored);
        var end = stats.TryGetValue("ended", out var ended) ? DateTimeOffset.FromUnixTimeMilliseconds(ended) : DateTimeOffset.UtcNow;
        var elapsed = stats.TryGetValue("started", out var started) ? end - DateTimeOffset.FromUnixTimeMilliseconds(started) : TimeSpan.Zero;
        var final = await db.SetLengthAsync(RunKeys.Final(run));
        double Rate(long count) => elapsed.TotalSeconds > 0 ? Math.Round(count / elapsed.TotalSeconds, 2) : 0;
        double? etaSeconds = info?.State is RunStates.Cancelled ? null
            : info?.State is RunStates.Completed || (verified >= expected && expected > 0) ? 0
            : verified > 0 && expected > verified ? elapsed.TotalSeconds * (expected - verified) / verified : null;
        return Results.Ok(new
        {
            run,
            state = info?.State,
            queries = Stat("queries"),
            fedQueries = info?.Cursor ?? 0,
            finalQueries = final,
            expectedSamples = expected,
            importedSamples = Stat("imported_samples"),
            fedSamples = info?.SampleCursor ?? 0,
            generated,
            verified,
            elapsedSeconds = Math.Round(elapsed.TotalSeconds, 1),
            samplesPerSecond = Rate(verified),
            throughput = new { generatedPerSecond = Rate(generated), verifiedPerSecond = Rate(verified), finalQueriesPerSecond = Rate(final) },
            etaSeconds = etaSeconds is { } eta ? Math.Round(eta, 1) : (double?)null,
            costUsd = models.Sum(m => m.costUsd),
            models,
            judgeDecided = RunRegistry.JudgeDecided(stats),
            // Samples settled as unscored because their task or verification was dead-lettered (amdistill run redrive).
            deadLettered = new
            {
                generation = Stat(RunKeys.DeadLetteredStat("generation")),
                verification = Stat(RunKeys.DeadLetteredStat("verification")),
                reasons = RunRegistry.DeadLettered(stats), // "stage|reason" → samples
            },
            ingest = info?.Ingest,
            // Within the dataset store, never a server path; GET …/export and …/report serve them.
            outputs = info?.State == RunStates.Completed ? $"{run}/export" : null,
        });
    }

    /// <summary>A file upload's body limit (a file can be gigabytes, streamed to disk and read line by line, but not
    /// unbounded: <c>AmDistill:MaxUploadBytes</c>), and whether it is Parquet rather than JSONL.</summary>
    private static bool FileUpload(HttpRequest request, IConfiguration configuration)
    {
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = configuration.GetValue("AmDistill:MaxUploadBytes", RunRegistry.DefaultMaxUploadBytes);
        return request.Query["format"] == "parquet" || request.ContentType?.Contains("parquet", StringComparison.OrdinalIgnoreCase) == true;
    }

    private static IResult State(string run, RunProblem? problem, string state) =>
        problem is null ? Results.Ok(new { run, state }) : Problem(problem);

    private static IResult Problem(RunProblem problem) => Results.Problem(problem.Message, statusCode: problem.Status);

    private sealed class TemporaryFile(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }
}
