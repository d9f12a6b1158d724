using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.LocalRedis;
using StackExchange.Redis;
using static AmDistill.Generation.Tests.TestData;

namespace AmDistill.Generation.Tests;

/// <summary>
/// Teachers the trainer service serves (a trained model, its base) are not in the generation service's configuration:
/// generation finds them in Redis, asks them with the official OpenAI client, waits for one that is requested but not
/// served yet (a restarting trainer service loads it again), and dead-letters a task naming a teacher nobody serves.
/// </summary>
public sealed class ServedTeacherTests
{
    [Fact]
    public async Task A_served_teacher_answers_and_one_being_served_again_is_waited_for()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "distill-sft", 0.9, 1)));
        // The generation service knows only a configured teacher; the served one is not in its settings.
        await using var generation = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(Teacher("weak", sim.V1, "distill-sft")));
        var db = redis.GetDatabase();
        await db.HashSetAsync(RunKeys.ServeRequests, "distill-sft", JsonSerializer.Serialize(new ServeRequest("distill-sft", Job: "distill/sft"), ContractsJsonContext.Default.ServeRequest));

        var queries = Queries.Where(q => q.Category == "math").Take(3).ToArray();
        await PublishAsync(redis, queries.Select(q => NewTask("eval", q, "distill-sft", 0, 1)));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal(0, await db.StreamLengthAsync(Streams.Verification.Name)); // requested, not served yet: waiting
        Assert.Equal(0, await db.StreamLengthAsync(Streams.Scoring.Name));      // and nothing dead-lettered

        await db.HashSetAsync(RunKeys.ServedTeachers, "distill-sft",
            JsonSerializer.Serialize(new ServedTeacher("distill-sft", sim.V1, "/models/distill-sft", 512), ContractsJsonContext.Default.ServedTeacher));
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Verification.Name) >= 6, TimeSpan.FromSeconds(30), "the served teacher's 6 samples");
        var samples = await SamplesAsync(db);
        Assert.All(samples, s => Assert.Equal(("distill-sft", "distill-sft"), (s.Teacher, s.Model)));
        Assert.Equal(6, samples.Select(s => s.SampleId).Distinct().Count());

        // Nobody serves or configured "ghost": its task is given up on at once, as unscored outcomes the run can count.
        await PublishAsync(redis, [NewTask("eval", queries[0], "ghost", 0, 1)]);
        await WaitUntilAsync(async () => await db.StreamLengthAsync(Streams.Scoring.Name) >= 2, TimeSpan.FromSeconds(30), "ghost's dead-lettered passes");
        Assert.Equal(6, await db.StreamLengthAsync(Streams.Verification.Name));
    }
}
