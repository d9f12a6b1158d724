using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Messaging;
using StackExchange.Redis;
using AmDistill.Scoring.Core;

namespace AmDistill.Generation.Tests;

internal sealed record DemoQuery(string Id, string Category, string Question, string? ReferenceAnswer, string? TestCases = null);

internal static class TestData
{
    public static IReadOnlyList<DemoQuery> Queries { get; } = [.. File.ReadLines(RepoFiles.DemoQueries).Select(line =>
    {
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        return new DemoQuery(r.GetProperty("id").GetString()!, r.GetProperty("category").GetString()!, r.GetProperty("question").GetString()!,
            r.GetProperty("reference_answer").ValueKind == JsonValueKind.String ? r.GetProperty("reference_answer").GetString() : null,
            r.TryGetProperty("test_cases", out var t) && t.ValueKind == JsonValueKind.Object ? t.GetRawText() : null);
    })];

    public static QueryCategory Category(string category) => QueryCategories.Parse(category);

    public static GenerationTask NewTask(string run, DemoQuery query, string teacher, params int[] passes) =>
        new(run, query.Id, Category(query.Category), teacher, passes, query.Question, query.ReferenceAnswer, query.TestCases);

    public static async Task PublishAsync(IConnectionMultiplexer redis, IEnumerable<GenerationTask> tasks)
    {
        var producer = new StreamProducer<GenerationTask>(redis, Streams.Generation);
        foreach (var chunk in tasks.Chunk(100))
            await producer.PublishBatchAsync([.. chunk.Select(t => (t, t.Key))]);
    }

    public static async Task<List<GeneratedResponse>> SamplesAsync(IDatabase db) =>
        [.. (await db.StreamRangeAsync(Streams.Verification.Name)).Select(e =>
            JsonSerializer.Deserialize((byte[])e["d"]!, ContractsJsonContext.Default.GeneratedResponse)!)];

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting until {what}");
            await System.Threading.Tasks.Task.Delay(50);
        }
    }

    /// <summary>Until the generation group has every task delivered and acknowledged: nothing is left that a redelivery
    /// could turn into a duplicate sample (an event to wait on, where a sleep would only hope).</summary>
    public static Task TasksSettledAsync(IDatabase db) => WaitUntilAsync(async () =>
        (await db.StreamPendingAsync(Streams.Generation.Name, "generation")).PendingMessageCount == 0
        && (await db.StreamGroupInfoAsync(Streams.Generation.Name)).Single(g => g.Name == "generation").Lag == 0, TimeSpan.FromSeconds(60), "every task acknowledged");

    /// <summary>Simulator settings for one model, under <c>TeacherSim:Models:{index}:</c>.</summary>
    public static IEnumerable<KeyValuePair<string, string>> SimModel(int index, string name, double skill, int latencyMs, params (string Key, string Value)[] extra) =>
        new[] { ("Name", name), ("Skill", skill.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("FixedLatencyMs", latencyMs.ToString(System.Globalization.CultureInfo.InvariantCulture)) }
            .Concat(extra).Select(kv => new KeyValuePair<string, string>($"Models:{index}:{kv.Item1}", kv.Item2));

    /// <summary>Generation settings for one teacher, under <c>Generation:Teachers:{name}:</c>.</summary>
    public static IEnumerable<KeyValuePair<string, string?>> Teacher(string name, string endpoint, string model, params (string Key, string Value)[] extra) =>
        new[] { ("Endpoint", endpoint), ("Model", model) }
            .Concat(extra).Select(kv => new KeyValuePair<string, string?>($"Generation:Teachers:{name}:{kv.Item1}", kv.Item2));
}
