using AmDistill.Scoring.Core;

namespace AmDistill.Scoring.Scores;

public static class ScoreEndpoints
{
    /// <summary>
    /// <c>GET /api/runs/{run}/queries/{query}</c>: per-teacher pass rates, the selecting teacher's CV, the difficulty
    /// level on the paper's ladder and the Stage I decision, computed from the recorded verdicts.
    /// </summary>
    public static IEndpointRouteBuilder MapScoreEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/runs/{run}", async (string run, ScoreStore store) =>
        {
            var (queries, verdicts, final) = await store.TotalsAsync(run);
            return Results.Ok(new { run, queries, verdicts, finalQueries = final });
        }).RequireAuthorization(AccessPolicies.Reader);
        app.MapGet("/api/runs/{run}/queries/{query}", async (string run, string query, ScoreStore store) =>
        {
            if (await store.ReadAsync(run, query) is not { } record) return Results.NotFound();
            var options = new SelectionOptions();
            var selection = SelectionPolicies.StageOne(record, options);
            return Results.Ok(new
            {
                queryId = record.QueryId,
                final = await store.IsFinalAsync(run, query),
                category = record.Category.ToString(),
                passRates = record.Responses.Keys.Order(StringComparer.Ordinal).ToDictionary(t => t, t => record.PassRate(t, options.Thresholds)),
                scores = record.Responses.ToDictionary(r => r.Key, r => r.Value.Select(s => s.VerifyScore)),
                cv = record.CoefficientOfVariation(options.Teacher, options.Std),
                difficulty = DifficultyLadder.Paper.Grade(record, options.Thresholds).ToString(),
                stageOne = new { kept = selection.Kept, reason = selection.Reason, responses = selection.Responses.Select(r => r.SampleId) },
            });
        }).RequireAuthorization(AccessPolicies.Reader);
        return app;
    }
}
