using AmDistill.TeacherSim.Batches;
using AmDistill.TeacherSim.Models;

namespace AmDistill.TeacherSim.Completions;

public static class CompletionEndpoints
{
    /// <summary>The OpenAI-compatible surface: <c>GET /v1/models</c>, <c>POST /v1/chat/completions</c>, the Batch API.</summary>
    public static IEndpointRouteBuilder MapTeacherSim(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", (TeacherSimulator simulator) => TypedResults.Json(
            new ModelList("list", [.. simulator.Models.Select(m => new ModelCard(m.Name, "model", 1735689600, "amdistill-teacher-sim"))]),
            ChatJsonContext.Default.ModelList));
        app.MapPost("/v1/chat/completions", (HttpContext context, TeacherSimulator simulator) => simulator.HandleAsync(context));
        // A reward model as vLLM serves one (POST /pooling): the HelpSteer2 attributes of the last assistant turn, 0–4
        // each, in the order helpfulness, correctness, coherence, complexity, verbosity.
        app.MapPost("/pooling", async (HttpContext context) =>
        {
            using var request = await System.Text.Json.JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var messages = request.RootElement.GetProperty("messages").EnumerateArray().ToList();
            var response = messages.LastOrDefault(m => m.GetProperty("role").GetString() == "assistant").GetProperty("content").GetString() ?? "";
            var (coherence, correctness, helpfulness) = JudgeWriter.RewardAttributes(0.9, response, new Random((int)(StableHash.Of(response) & 0x7fffffff)));
            var length = response.Length / 500.0;
            return Results.Json(new { @object = "list", data = new[] { new { index = 0, @object = "pooling", data = new[] { helpfulness, correctness, coherence, 2.0, Math.Min(4, length) } } } });
        });
        app.MapSimBatches();
        return app;
    }
}
