using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Report;
using AmDistill.Runs;
using AmDistill.Dataset.Store;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AmDistill.Api.Runs;

/// <summary>
/// Runs: create one from a run configuration, upload its queries, start, pause, resume, cancel; watch its progress;
/// export it in any policy and format; read its report.
/// </summary>
public static class RunEndpoints
{
    public static IEndpointRouteBuilder MapRunEndpoints(this IEndpointRouteBuilder app)
    {
        // Reading needs the reader role and changing a run the operator role, where callers sign in (Azure); locally both are open.
        var runs = app.MapGroup("/api/runs").RequireAuthorization(AccessPolicies.Reader);

        runs.MapGet("/", async (RunRegistry registry) => TypedResults.Ok(await registry.ListAsync()))
            .WithSummary("The ids of every run, oldest first.");

        // The body is the run configuration (docs/run-config.md); 400 lists every problem with its field.
        runs.MapPost("/", async Task<Results<Created<RunState>, BadRequest<ConfigurationErrors>, ProblemHttpResult>> (HttpRequest request, RunRegistry registry) =>
        {
            using var body = new StreamReader(request.Body);
            var (configuration, errors) = RunConfiguration.Parse(await body.ReadToEndAsync());
            if (configuration is null) return TypedResults.BadRequest(new ConfigurationErrors(errors));
            return await registry.CreateAsync(configuration) is { } problem
                ? Problem(problem)
                : TypedResults.Created($"/api/runs/{configuration.Run}", new RunState(configuration.Run, RunStates.Created));
        }).Accepts<RunConfiguration>("application/json")
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Create a run from its configuration (docs/run-config.md).").WithProblems(409);

        // The body is a query file: JSONL, or Parquet (Content-Type application/vnd.apache.parquet or ?format=parquet).
        runs.MapPut("/{run}/queries", async Task<Results<Ok<QueryUpload>, ProblemHttpResult>> (string run, HttpRequest request, RunRegistry registry,
            IOptions<ApiOptions> options, CancellationToken cancellationToken) =>
        {
            var (report, problem) = await registry.UploadAsync(run, request.Body, FileUpload(request, options), cancellationToken);
            return problem is not null ? Problem(problem) : TypedResults.Ok(report!);
        }).Accepts<Stream>("application/jsonl", "application/vnd.apache.parquet").DisableAntiforgery()
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Upload and ingest the run's queries (docs/query-schema.md); a second upload before the start replaces the first.").WithProblems(400, 404, 409, 413);

        // The body is a file of responses to import: AM-schema rows, chat or ShareGPT records with their model (JSONL), or
        // AM-schema Parquet. Files accumulate until the run starts; the same file twice adds nothing.
        runs.MapPut("/{run}/samples", async Task<Results<Ok<SampleUpload>, ProblemHttpResult>> (string run, HttpRequest request, RunRegistry registry,
            IOptions<ApiOptions> options, CancellationToken cancellationToken) =>
        {
            var (report, problem) = await registry.ImportAsync(run, request.Body, FileUpload(request, options), cancellationToken);
            return problem is not null ? Problem(problem) : TypedResults.Ok(report!);
        }).Accepts<Stream>("application/jsonl", "application/vnd.apache.parquet").DisableAntiforgery()
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Import responses you already have (AM rows, chat or ShareGPT records, AM Parquet) for the run's imported teachers.").WithProblems(400, 404, 409, 413);

        runs.MapPost("/{run}/start", async (string run, RunRegistry registry, CancellationToken cancellationToken) =>
            State(run, await registry.StartAsync(run, cancellationToken), RunStates.Running))
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Start a created run: its teachers are checked against those the generation service registered (503 until it has).").WithProblems(400, 404, 409, 503);
        runs.MapPost("/{run}/pause", async (string run, RunRegistry registry) =>
            State(run, await registry.MoveAsync(run, RunStates.Paused, RunStates.Running), RunStates.Paused))
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Pause a running run: nothing more is fed until it resumes.").WithProblems(404, 409);
        runs.MapPost("/{run}/resume", async (string run, RunRegistry registry) =>
            State(run, await registry.MoveAsync(run, RunStates.Running, RunStates.Paused), RunStates.Running))
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Resume a paused run.").WithProblems(404, 409);
        runs.MapPost("/{run}/cancel", async (string run, RunRegistry registry) =>
            State(run, await registry.MoveAsync(run, RunStates.Cancelled, RunStates.Created, RunStates.Running, RunStates.Paused), RunStates.Cancelled))
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Cancel a run: its remaining tasks are skipped.").WithProblems(404, 409);

        runs.MapGet("/{run}", async Task<Results<Ok<RunStatus>, NotFound>> (string run, RunRegistry registry) =>
            await registry.StatusAsync(run) is { } status ? TypedResults.Ok(status) : TypedResults.NotFound())
            .WithSummary("A run's state, progress per stage, throughput, ETA, and per teacher model samples, tokens, cost and verdicts.");
        runs.MapPost("/{run}/redrive", async Task<Results<Ok<RunRedrive>, ProblemHttpResult>> (string run, RunRegistry registry) =>
        {
            var (redriven, problem) = await registry.RedriveAsync(run);
            return problem is not null ? Problem(problem) : TypedResults.Ok(new RunRedrive(run, redriven));
        })
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Put a run's dead-lettered tasks and verifications back on their streams, after fixing their cause.").WithProblems(404, 409);
        runs.MapDelete("/{run}", async Task<Results<NoContent, ProblemHttpResult>> (string run, RunRegistry registry) =>
            await registry.DeleteAsync(run) is { } problem ? Problem(problem) : TypedResults.NoContent())
            .RequireAuthorization(AccessPolicies.Operator)
            .WithSummary("Delete a run that is not running: its state, samples, records and exports.").WithProblems(404, 409);

        // The body is a run configuration: every problem with its field, and its teachers checked against the registered ones.
        runs.MapPost("/validate", async Task<Ok<ConfigurationCheck>> (HttpRequest request, RunRegistry registry) =>
        {
            using var body = new StreamReader(request.Body);
            var (configuration, errors) = RunConfiguration.Parse(await body.ReadToEndAsync());
            var teachers = configuration is null ? null : await registry.CheckTeachersAsync(configuration);
            if (teachers is { Status: 400 }) errors = [.. errors, teachers.Message];
            // 503: no generation service has registered its teachers yet, so they could not be checked.
            return TypedResults.Ok(new ConfigurationCheck(errors.Count == 0, errors, configuration is not null && teachers is not { Status: 503 }));
        }).Accepts<RunConfiguration>("application/json").WithSummary("Check a run configuration: every problem with its field, and its teachers.");

        // Any policy and format of the samples stored so far, streamed as it is written to a temporary file.
        runs.MapGet("/{run}/export", async Task<Results<PhysicalFileHttpResult, NotFound, BadRequest<ConfigurationErrors>>> (string run, string? policy, string? format,
            string? file, RunRegistry registry, IDatasetStore store, HttpContext context, CancellationToken cancellationToken) =>
        {
            var info = await registry.GetAsync(run);
            if (info is null) return TypedResults.NotFound();
            var export = new RunExport { Policy = policy ?? "stage1", Format = format ?? "am", File = file ?? "jsonl" };
            var errors = (info.Configuration with { Selection = info.Configuration.Selection with { Exports = [export] } }).Validate();
            if (errors.Count > 0) return TypedResults.BadRequest(new ConfigurationErrors(errors));
            var path = Path.Combine(Path.GetTempPath(), $"amdistill-{run}-{Guid.NewGuid():N}.{export.File}");
            await DatasetExport.ToFileAsync(store, run, info.Configuration.ExportOptions(DatasetExport.ParsePolicy(export.Policy)),
                DatasetExport.ParseFormat(export.Format), path, cancellationToken);
            context.Response.RegisterForDispose(new TemporaryFile(path));
            return TypedResults.PhysicalFile(path, export.File == "parquet" ? "application/vnd.apache.parquet" : "application/jsonl", $"{run}-{export.FileName}");
        }).Produces(StatusCodes.Status200OK, typeof(Stream), "application/jsonl", "application/vnd.apache.parquet")
            .WithSummary("The samples stored so far in a selection policy (all, stage1, stage2, band), format (am, messages, sharegpt) and file (jsonl, parquet).");

        // The report of the queries final so far (the one written next to the export is the finished run's).
        runs.MapGet("/{run}/report", async Task<Results<ContentHttpResult, NotFound>> (string run, RunRegistry registry, RunOutputs outputs, CancellationToken cancellationToken) =>
        {
            var info = await registry.GetAsync(run);
            if (info is null) return TypedResults.NotFound();
            return TypedResults.Text(RunReportHtml.Render(await outputs.BuildReportAsync(info.Configuration, cancellationToken)), "text/html; charset=utf-8");
        }).Produces<string>(StatusCodes.Status200OK, "text/html").WithSummary("The HTML report of the queries final so far.");
        return app;
    }

    /// <summary>A file upload's body limit (a file can be gigabytes, streamed to disk and read line by line, but not
    /// unbounded: <c>Api:MaxUploadBytes</c>), and whether it is Parquet rather than JSONL.</summary>
    private static bool FileUpload(HttpRequest request, IOptions<ApiOptions> options)
    {
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = options.Value.MaxUploadBytes;
        return request.Query["format"] == "parquet" || request.ContentType?.Contains("parquet", StringComparison.OrdinalIgnoreCase) == true;
    }

    private static Results<Ok<RunState>, ProblemHttpResult> State(string run, RunProblem? problem, string state) =>
        problem is null ? TypedResults.Ok(new RunState(run, state)) : Problem(problem);

    /// <summary>The refusals an endpoint answers with, as problem details (RFC 9457).</summary>
    private static RouteHandlerBuilder WithProblems(this RouteHandlerBuilder endpoint, params int[] statuses)
    {
        foreach (var status in statuses) endpoint.ProducesProblem(status);
        return endpoint;
    }

    private static ProblemHttpResult Problem(RunProblem problem) => TypedResults.Problem(problem.Message, statusCode: problem.Status);

    private sealed class TemporaryFile(string path) : IDisposable
    {
        public void Dispose() => File.Delete(path);
    }
}
