using AmDistill.Api.Runs;
using AmDistill.Contracts;
using AmDistill.Runs;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Scoring;
using AmDistill.Scoring.Scores;
using AmDistill.Verification;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using static AmDistill.Generation.Tests.TestData;
using AmDistill.LocalRedis;

namespace AmDistill.Generation.Tests;

/// <summary>Dead letters settle as unscored outcomes, so a run completes; a redrive after the cause is fixed takes them back.</summary>
public sealed class DeadLetterTests
{
    [Fact]
    public async Task A_dead_lettered_task_ends_as_unscored_outcomes_and_a_redrive_after_the_fix_scores_it()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        var db = redis.GetDatabase();
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "strong-sim", 0.9, 5)));
        var math = Queries.Where(q => q.Category == "math").Take(3).ToArray();
        var store = new LocalDatasetStore(Directory.CreateTempSubdirectory("amdistill-dead-").FullName);
        var runs = new RunRegistry(redis, store);
        Assert.Null(await runs.CreateAsync(RunConfiguration.Parse("""{"run": "dl", "teachers": [{"name": "t"}, {"name": "u"}]}""").Configuration!));
        await db.HashSetAsync(RunKeys.Run("dl"), "state", RunStates.Running);
        Task<long> FinalAsync() => db.SetLengthAsync(RunKeys.Final("dl"));

        // Teacher t names a model the endpoint does not serve: every request is a 404, each task dead-lettered at once.
        IEnumerable<GenerationTask> Tasks() => math.SelectMany(q => new[] { "t", "u" }.Select(teacher => NewTask("dl", q, teacher, 0, 1) with { ExpectedSamples = 4 }));
        await using (var broken = await WorkerHost.StartAsync(redisServer.ConnectionString,
                         new Dictionary<string, string?>(Teacher("t", sim.V1, "no-such-model").Concat(Teacher("u", sim.V1, "strong-sim"))),
                         builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices()))
        {
            await PublishAsync(redis, Tasks());
            await WaitUntilAsync(async () => await FinalAsync() == math.Length, TimeSpan.FromSeconds(60), "every query final despite the dead letters");
        }
        var stats = (await db.HashGetAllAsync(RunKeys.Stats("dl"))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal(math.Length * 2, stats["t:unscored"]);
        Assert.Equal(math.Length * 2, stats[RunKeys.DeadLetteredStat("generation")]);
        var reason = Assert.Single(stats, s => s.Key.StartsWith(RunKeys.DeadLetterReasonPrefix, StringComparison.Ordinal));
        Assert.Contains("404", reason.Key, StringComparison.Ordinal);
        Assert.Equal(math.Length, await db.StreamLengthAsync(Streams.Generation.DeadLetterName));
        var scores = new ScoreStore(redis);
        foreach (var q in math)
        {
            var record = (await scores.ReadAsync("dl", q.Id))!;
            Assert.Equal(["u"], record.Responses.Keys); // t's passes are unscored: never a score, never passed
        }

        // The teacher is fixed (the right model) and the run redriven: t's samples are generated, verified and scored,
        // and each query is final again with both teachers' scores.
        Assert.Equal((math.Length, (RunProblem?)null), await runs.RedriveAsync("dl"));
        Assert.Equal(0, await db.StreamLengthAsync(Streams.Generation.DeadLetterName));
        Assert.Equal(0, await FinalAsync());
        await using (var fixedWorkers = await WorkerHost.StartAsync(redisServer.ConnectionString,
                         new Dictionary<string, string?>(Teacher("t", sim.V1, "strong-sim").Concat(Teacher("u", sim.V1, "strong-sim"))),
                         builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices()))
        {
            await WaitUntilAsync(async () => await FinalAsync() == math.Length, TimeSpan.FromSeconds(60), "every query final after the redrive");
            // Final without a dead letter now: released from Redis (once scoring has written the final record, just after
            // the query turned final), then read from the store's final records.
            await WaitUntilAsync(async () => await db.KeyExistsAsync([.. math.Select(q => (RedisKey)RunKeys.QueryRecord("dl", q.Id))]) == 0,
                TimeSpan.FromSeconds(10), "every record released");
            scores = fixedWorkers.Services.GetRequiredService<ScoreStore>();
            var records = (await Task.WhenAll(math.Select(q => scores.ReadAsync("dl", q.Id)))).Select(r => r!).ToList();
            Assert.All(records, r => Assert.Equal((2, 2, 2), (r.Responses.Count, r.Responses["t"].Count, r.Responses["u"].Count)));

            // The store holds each query's first (unscored) and second record: readers take the last.
            var latest = new List<string>();
            await foreach (var line in QueryRecordLines.ReadLatestAsync(fixedWorkers.Services.GetRequiredService<IDatasetStore>(), "dl")) latest.Add(line);
            Assert.Equal(math.Length, latest.Count);
            Assert.All(latest, line => Assert.Contains("\"t\"", line, StringComparison.Ordinal));
        }
        stats = (await db.HashGetAllAsync(RunKeys.Stats("dl"))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal((0L, 0L, math.Length * 2L), (stats["t:unscored"], stats[RunKeys.DeadLetteredStat("generation")], stats["t:samples"]));
        Assert.DoesNotContain(stats, s => s.Key.StartsWith(RunKeys.DeadLetterReasonPrefix, StringComparison.Ordinal));
    }
}
