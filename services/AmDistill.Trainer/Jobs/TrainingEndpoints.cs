using AmDistill.Contracts;
using AmDistill.Messaging;

namespace AmDistill.Trainer.Jobs;

public static class TrainingEndpoints
{
    /// <summary>
    /// <c>POST /api/training</c> submits a job (a resubmitted job id starts again, resuming from its checkpoints);
    /// <c>GET /api/training</c> lists jobs; <c>GET /api/training/{run}/{job}</c> is one job's status;
    /// <c>POST /api/training/{run}/{job}/cancel</c> stops it. In Azure the Api's identity calls them, and signed-in
    /// readers and operators of the deployment may too.
    /// </summary>
    public static IEndpointRouteBuilder MapTrainingEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/training", async (TrainingJob job, TrainingStatusStore status, StreamProducer<TrainingJob> producer) =>
        {
            if (job.Recipe is not ("stage1" or "stage2")) return Results.BadRequest(new { error = "recipe must be stage1 or stage2" });
            if (TrainingJobHandler.Problem(job) is { } problem) return Results.BadRequest(new { error = problem });
            await status.QueueAsync(job);
            await producer.PublishAsync(job, $"{job.Key}@{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
            return Results.Accepted($"/api/training/{job.RunId}/{job.JobId}", new { job.RunId, job.JobId, state = "Queued" });
        }).RequireAuthorization(AccessPolicies.Operator);
        app.MapGet("/api/training", async (TrainingStatusStore status, int? count) => Results.Ok(await status.ListAsync(count ?? 50)))
            .RequireAuthorization(AccessPolicies.Reader);
        app.MapGet("/api/training/{run}/{job}", async (string run, string job, TrainingStatusStore status) =>
            await status.ReadAsync(run, job) is { } s ? Results.Ok(new { s.RunId, s.JobId, state = s.State.ToString(), s.Fields }) : Results.NotFound())
            .RequireAuthorization(AccessPolicies.Reader);
        app.MapPost("/api/training/{run}/{job}/cancel", async (string run, string job, TrainingStatusStore status) =>
            await status.RequestCancelAsync(run, job) ? Results.Accepted() : Results.NotFound())
            .RequireAuthorization(AccessPolicies.Operator);
        return app;
    }
}
