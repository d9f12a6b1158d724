using AmDistill.TeacherSim.Models;

namespace AmDistill.TeacherSim.Completions;

public static class CompletionEndpoints
{
    /// <summary>The OpenAI-compatible surface: <c>GET /v1/models</c> and <c>POST /v1/chat/completions</c>.</summary>
    public static IEndpointRouteBuilder MapTeacherSim(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", (TeacherSimulator simulator) => TypedResults.Json(
            new ModelList("list", [.. simulator.Models.Select(m => new ModelCard(m.Name, "model", 1735689600, "amdistill-teacher-sim"))]),
            ChatJsonContext.Default.ModelList));
        app.MapPost("/v1/chat/completions", (HttpContext context, TeacherSimulator simulator) => simulator.HandleAsync(context));
        return app;
    }
}
