using AmDistill.Contracts;
using AmDistill.Messaging;
using StackExchange.Redis;

namespace AmDistill.Api.Queues;

public static class QueueEndpoints
{
    /// <summary><c>GET /api/queues</c>: length, backlog per consumer group and dead letters of every pipeline stream.</summary>
    public static IEndpointRouteBuilder MapQueueEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/queues", async (IConnectionMultiplexer redis) =>
        {
            var db = redis.GetDatabase();
            var statuses = await Task.WhenAll(Streams.All.Select(stream => StreamStatus.ReadAsync(db, stream)));
            return TypedResults.Ok(statuses);
        }).RequireAuthorization(AccessPolicies.Reader)
            .WithSummary("Length, backlog per consumer group and dead letters of every pipeline stream.");
        return app;
    }
}
