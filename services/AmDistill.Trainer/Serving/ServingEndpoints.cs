using AmDistill.Contracts;

namespace AmDistill.Trainer.Serving;

public static class ServingEndpoints
{
    /// <summary>
    /// <c>POST /api/serving</c> serves a model directory or a succeeded job's model as a teacher and answers once it
    /// answers (<see cref="ServedTeacher"/>); <c>GET /api/serving</c> lists what this replica serves;
    /// <c>DELETE /api/serving/{name}</c> stops one.
    /// </summary>
    public static IEndpointRouteBuilder MapServingEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/serving", async (ServeRequest request, ModelServers servers, CancellationToken cancellationToken) =>
        {
            var (teacher, problem) = await servers.ServeAsync(request, cancellationToken);
            return teacher is not null ? Results.Ok(teacher) : Results.BadRequest(new { error = problem });
        }).RequireAuthorization(AccessPolicies.Operator);
        app.MapGet("/api/serving", (ModelServers servers) => Results.Ok(servers.List())).RequireAuthorization(AccessPolicies.Reader);
        app.MapDelete("/api/serving/{name}", async (string name, ModelServers servers) =>
            await servers.StopAsync(name) ? Results.NoContent() : Results.NotFound()).RequireAuthorization(AccessPolicies.Operator);
        return app;
    }
}
