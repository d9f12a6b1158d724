using AmDistill.Contracts;
using StackExchange.Redis;

namespace AmDistill.Api.Runs;

public static class RunEndpoints
{
    /// <summary>
    /// <c>GET /api/runs/{run}</c>: progress of a run — samples generated and verified against the expected number, queries
    /// whose record is final, per model the samples, tokens, cost and verdicts so far, and an ETA from the rate since
    /// the start. Counters are kept in Redis by the services, exactly once, in the transactions that do the work.
    /// </summary>
    public static IEndpointRouteBuilder MapRunEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/runs/{run}", async (string run, IConnectionMultiplexer redis) =>
        {
            var db = redis.GetDatabase();
            var stats = (await db.HashGetAllAsync(RunKeys.Stats(run))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
            if (stats.Count == 0) return Results.NotFound();
            long Stat(string name) => stats.GetValueOrDefault(name);
            var models = stats.Keys.Where(k => k.Contains(':')).Select(k => k[..k.LastIndexOf(':')]).Distinct().Order(StringComparer.Ordinal)
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
            var elapsed = stats.TryGetValue("started", out var started) ? DateTimeOffset.UtcNow - DateTimeOffset.FromUnixTimeMilliseconds(started) : TimeSpan.Zero;
            double? etaSeconds = verified > 0 && expected > verified ? elapsed.TotalSeconds * (expected - verified) / verified : verified >= expected && expected > 0 ? 0 : null;
            return Results.Ok(new
            {
                run,
                queries = Stat("queries"),
                finalQueries = await db.SetLengthAsync(RunKeys.Final(run)),
                expectedSamples = expected,
                generated,
                verified,
                elapsedSeconds = Math.Round(elapsed.TotalSeconds, 1),
                samplesPerSecond = elapsed.TotalSeconds > 0 ? Math.Round(verified / elapsed.TotalSeconds, 2) : 0,
                etaSeconds = etaSeconds is { } eta ? Math.Round(eta, 1) : (double?)null,
                costUsd = models.Sum(m => m.costUsd),
                models,
            });
        });
        return app;
    }
}
