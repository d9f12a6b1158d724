using System.Text;
using System.Text.Json;
using AmDistill.Api;
using AmDistill.Api.Runs;
using AmDistill.Contracts;
using AmDistill.Dataset.Ingestion;
using AmDistill.Runs;
using AmDistill.Messaging;
using AmDistill.Scoring;
using AmDistill.Scoring.Core;
using AmDistill.Scoring.Scores;
using AmDistill.TeacherSim.Completions;
using AmDistill.Verification;
using AmDistill.Verifiers.InstructionFollowing;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using static AmDistill.Generation.Tests.TestData;
using AmDistill.LocalRedis;

namespace AmDistill.Generation.Tests;

/// <summary>
/// Bring-your-own generations: AM-schema rows of two models imported into a run that also asks a third teacher, verified,
/// scored and completed like generated ones, through the real feeder, verification and scoring against a real redis-server.
/// </summary>
public sealed class ImportTests
{
    [Fact]
    public async Task Imported_rows_and_generated_passes_complete_one_run_with_the_pass_rates_the_rows_imply()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        var db = redis.GetDatabase();
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "weak-sim", 0.5, 5).Concat(SimModel(1, "judge-sim", 1.0, 5))));
        // Science and "other" answers go to the judge, as generated ones do (the simulator's, grading without error at skill 1).
        await using var host = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(
                Teacher("weak", sim.V1, "weak-sim").Concat([new("Verification:Judge:Endpoint", sim.V1), new("Verification:Judge:Model", "judge-sim")])),
            builder => builder.AddGenerationServices(), builder => builder.AddVerificationServices(), builder => builder.AddScoringServices(),
            builder => builder.AddApiServices());
        var runs = host.Services.GetRequiredService<RunRegistry>();

        // A mixed run: "weak" is asked twice per query; "distill" and "r1" answered already (weakest first: the ladder).
        var configuration = RunConfiguration.Parse("""
            {"run": "byo", "teachers": [{"name": "weak", "passes": 2}, {"name": "distill", "imported": true}, {"name": "r1", "imported": true}],
             "feeder": {"batchQueries": 4}}
            """).Configuration!;
        Assert.Null(await runs.CreateAsync(configuration));

        var math = Queries.Where(q => q.Category == "math").Take(3).ToList();
        var code = Queries.Where(q => q.Category == "code" && q.Id.StartsWith("mbpp", StringComparison.Ordinal)).Take(2).ToList();
        var instructions = Queries.First(q => q.Category == "if");
        var rows = new List<string>();
        void Row(DemoQuery q, string model, string answer, string? thinking = "Let me work it out.") => rows.Add(JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["question"] = q.Question, ["answer"] = $"<think>\n{thinking}\n</think>\n<answer>\n{answer}\n</answer>", ["category"] = q.Category,
            ["ground_truth"] = q.ReferenceAnswer ?? "", ["question_source"] = "demo", ["model_name"] = model,
            ["test_case"] = q.Category == "code" ? q.TestCases : "", ["instruction_constrain"] = q.Category == "if" ? q.TestCases : "",
        }));
        foreach (var q in math)
        {
            Row(q, "r1", $"So $x = \\boxed{{{q.ReferenceAnswer}}}$.");
            Row(q, "r1", $"The answer is $\\boxed{{{q.ReferenceAnswer}}}$.");
            Row(q, "distill", $"The answer is $\\boxed{{{q.ReferenceAnswer}}}$.");
            Row(q, "distill", "The answer is $\\boxed{987654321}$.");
        }
        foreach (var q in code)
        {
            var solution = Canonical(q.Id);
            Row(q, "r1", $"```python\n{solution}\n```");
            Row(q, "r1", $"Here it is:\n```python\n{solution}\n```");
            Row(q, "distill", $"```python\n{solution}\n```");
            Row(q, "distill", "```python\ndef nothing():\n    return None\n```");
        }
        var science = new DemoQuery("science-co2", "science", "Which gas do plants take from the air for photosynthesis?", "carbon dioxide");
        Row(science, "r1", "Plants take in carbon dioxide");
        Row(science, "distill", "They take in nitrogen.");
        var other = new DemoQuery("other-tea", "other", "Write a short note on how to brew green tea.", null);
        Row(other, "r1", string.Join(' ', Enumerable.Repeat(
            "Heat fresh water to about eighty degrees, not boiling. Steep one teaspoon of leaves for two to three minutes. Taste it, then pour it off the leaves so it does not turn bitter.", 4)));
        Row(other, "distill", "Tea.");
        var checks = IfEvalChecker.Parse(JsonDocument.Parse(instructions.TestCases!).RootElement);
        var random = new Random(7);
        Row(instructions, "r1", InstructionWriter.Write(checks, follow: true, random).Answer);
        Row(instructions, "distill", InstructionWriter.Write(checks, follow: false, random).Answer);
        rows.Insert(3, "{ not json");
        rows.Insert(8, JsonSerializer.Serialize(new { question = math[0].Question, answer = "\\boxed{1}", category = "math", model_name = "stranger" }));
        var file = Encoding.UTF8.GetBytes(string.Join('\n', rows));

        var (report, problem) = await runs.ImportAsync("byo", new MemoryStream(file), parquet: false, CancellationToken.None);
        Assert.Null(problem);
        Assert.False(report!.Duplicate);
        Assert.Equal((rows.Count, rows.Count - 2L, 1L), (report!.Read, report.Kept, report.BadRows));
        Assert.StartsWith("row 4: not JSON", Assert.Single(report.Errors), StringComparison.Ordinal);
        Assert.Equal(new Dictionary<string, long> { ["stranger"] = 1 }, report.Skipped);
        // The same file again adds nothing.
        (report, problem) = await runs.ImportAsync("byo", new MemoryStream(file), parquet: false, CancellationToken.None);
        Assert.True(report!.Duplicate);
        Assert.Equal(0, report!.Kept);

        Assert.Null(await runs.StartAsync("byo"));
        var queries = math.Concat(code).Append(instructions).Append(science).Append(other).ToList();
        await WaitUntilAsync(async () => (await runs.GetAsync("byo"))!.State == RunStates.Completed, TimeSpan.FromSeconds(120), "the run completed");

        var info = (await runs.GetAsync("byo"))!;
        Assert.Equal((queries.Count, rows.Count - 2L), (info.Queries, info.Samples));
        var scores = host.Services.GetRequiredService<ScoreStore>(); // final records: from the dataset store once released
        var records = new Dictionary<string, QueryRecord>();
        foreach (var q in queries) records[q.Id] = (await scores.ReadAsync("byo", SampleImport.QueryIdOf(q.Question)))!;
        // Every query got its imported answers and weak's two passes, science and "other" decided by the judge.
        Assert.All(queries, q => Assert.Equal(2, records[q.Id].Responses["weak"].Count));
        foreach (var q in math.Concat(code))
        {
            Assert.Equal((2, 2), (records[q.Id].Responses["r1"].Count, records[q.Id].Responses["distill"].Count));
            Assert.Equal((1.0, 0.5), (records[q.Id].PassRate("r1", Thresholds.Paper), records[q.Id].PassRate("distill", Thresholds.Paper)));
        }
        foreach (var q in new[] { instructions, science, other })
            Assert.Equal((q.Id, 1.0, 0.0), (q.Id, records[q.Id].PassRate("r1", Thresholds.Paper), records[q.Id].PassRate("distill", Thresholds.Paper)));

        var stats = (await db.HashGetAllAsync(RunKeys.Stats("byo"))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);
        Assert.Equal((13L, 13L, queries.Count * 2L), (stats["r1:samples"], stats["distill:samples"], stats["weak:samples"]));
        long Verified(string teacher) => stats.GetValueOrDefault($"{teacher}:passed") + stats.GetValueOrDefault($"{teacher}:failed") + stats.GetValueOrDefault($"{teacher}:unscored");
        Assert.Equal((26L + queries.Count * 2L, 13L, 13L, queries.Count * 2L),
            (stats["expected_samples"], Verified("r1"), Verified("distill"), Verified("weak")));
        Assert.Equal((13L, 0L, 5L, 8L), (stats["r1:passed"], stats.GetValueOrDefault("r1:failed"), stats["distill:passed"], stats["distill:failed"]));
        Assert.Equal(queries.Count, await db.SetLengthAsync(RunKeys.Final("byo")));
    }

    private static string Canonical(string id)
    {
        foreach (var line in File.ReadLines(RepoFiles.DemoQueries))
        {
            using var document = JsonDocument.Parse(line);
            if (document.RootElement.GetProperty("id").GetString() == id)
                return document.RootElement.GetProperty("meta").GetProperty("canonical_solution").GetString()!;
        }
        throw new KeyNotFoundException(id);
    }
}
