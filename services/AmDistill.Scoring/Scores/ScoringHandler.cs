using System.Diagnostics.Metrics;
using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Scoring.Core;
using StackExchange.Redis;

namespace AmDistill.Scoring.Scores;

/// <summary>
/// Records each verdict in its query's score record; a record that is final is also appended, once, to the dataset
/// store's query records (the format <c>amdistill select</c> reads), so the selection survives Redis, and then leaves
/// Redis with its samples' done-markers: Redis holds the backlog, not the history.
/// </summary>
public sealed class ScoringHandler(ScoreStore store, DatasetWriters dataset, IConnectionMultiplexer redis, ScoringMetrics metrics) : IMessageHandler<VerifiedResponse>
{
    public async Task HandleAsync(MessageContext<VerifiedResponse> context, CancellationToken cancellationToken)
    {
        var verdict = context.Message;
        // Also on a redelivery after the record became final but before it was written out.
        if (!await store.RecordAsync(verdict) && !(context.DeliveryCount > 1 && await store.IsFinalAsync(verdict.RunId, verdict.QueryId))) return;
        var db = redis.GetDatabase();
        var (once, key) = (RunKeys.OnceScope("query-record", verdict.RunId), verdict.QueryId);
        if (await ProcessOnce.IsDoneAsync(db, once, key) || await store.ReadLiveAsync(verdict.RunId, verdict.QueryId) is not { } record) return;

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer)) QueryRecordFormat.WriteRecord(json, record);
        await dataset.AppendLineAsync(verdict.RunId, DatasetKinds.Queries, buffer.WrittenSpan.ToArray(), cancellationToken);
        if (await ProcessOnce.ExecuteAsync(db, once, key, _ => { })) metrics.Final(verdict.Category);
        await store.ReleaseAsync(verdict.RunId, verdict.QueryId);
    }
}

/// <summary>Query records made final, by category (meter <c>AmDistill.Scoring</c>): the last stage's queries per second.</summary>
public sealed class ScoringMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _final = meters.Create("AmDistill.Scoring")
        .CreateCounter<long>("amdistill.scoring.final_queries", "{query}", "Query records made final, by category.");

    public void Final(QueryCategory category) => _final.Add(1, new KeyValuePair<string, object?>("category", category.ToString()));
}
