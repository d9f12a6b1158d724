// ChatCompletionOptions.Seed is marked experimental in the SDK; the wire field itself is standard.
#pragma warning disable OPENAI001
using System.ClientModel;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using static AmDistill.Generation.Tests.TestData;

namespace AmDistill.Generation.Tests;

/// <summary>The teacher simulator as OpenAI-compatible clients see it.</summary>
public sealed class TeacherSimTests
{
    /// <summary>The simulator's instruction-following answers, judged by the project's IFEval checker: a teacher whose
    /// draw succeeded follows the demo's instructions (and 481 of IFEval's 541 prompts: not the language ones, nor some combinations),
    /// one whose draw failed never does.</summary>
    [Fact]
    public void Instruction_following_answers_follow_the_instructions_only_when_the_teacher_succeeds()
    {
        static List<IReadOnlyList<AmDistill.Verifiers.InstructionFollowing.Instruction>> Load(string file) => [.. File.ReadLines(file)
            .Select(l => JsonDocument.Parse(l).RootElement).Where(r => r.GetProperty("category").GetString() == "if")
            .Select(r => AmDistill.Verifiers.InstructionFollowing.IfEvalChecker.Parse(r.GetProperty("test_cases")))];
        var random = new Random(7);
        var demo = Load(RepoFiles.DemoQueries);
        Assert.Equal(10, demo.Count);
        Assert.All(demo, i => Assert.True(AmDistill.TeacherSim.Completions.InstructionWriter.Write(i, follow: true, random).Followed, string.Join(", ", i.Select(x => x.Id))));
        Assert.All(demo, i => Assert.False(AmDistill.TeacherSim.Completions.InstructionWriter.Write(i, follow: false, random).Followed));

        var ifeval = Load(RepoFiles.Benchmark("ifeval.jsonl"));
        var followed = ifeval.Count(i => AmDistill.TeacherSim.Completions.InstructionWriter.Write(i, follow: true, random).Followed);
        Assert.True(followed >= ifeval.Count * 85 / 100, $"{followed} of {ifeval.Count} IFEval prompts followed");
        Assert.DoesNotContain(ifeval, i => AmDistill.TeacherSim.Completions.InstructionWriter.Write(i, follow: false, random).Followed);
    }

    [Fact]
    public async Task The_official_openai_npm_package_lists_models_and_streams_a_completion()
    {
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>());
        var client = Path.Combine(RepoFiles.Root, "tests", "openai-node-client");
        if (!Directory.Exists(Path.Combine(client, "node_modules", "openai")))
            Assert.Equal(0, await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], client, TimeSpan.FromMinutes(3)));

        var (exit, stdout) = await RunWithOutputAsync("node", ["check.mjs", sim.V1, "r1-distill-qwen-7b-sim"], client);
        Assert.True(exit == 0, stdout);
        using var seen = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var root = seen.RootElement;
        Assert.Equal(["r1-distill-qwen-1.5b-sim", "r1-distill-qwen-7b-sim", "deepseek-r1-sim", "qwen2.5-7b-instruct-sim"], root.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
        Assert.True(root.GetProperty("chunks").GetInt32() > 3);
        Assert.Contains("\\boxed{", root.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.True(root.GetProperty("reasoningLength").GetInt32() > 100);
        Assert.Equal("stop", root.GetProperty("finish").GetString());
        Assert.True(root.GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
        Assert.Equal(2, root.GetProperty("choices").GetInt32());
    }

    [Fact]
    public async Task The_official_dotnet_client_reads_completions_and_streams()
    {
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>());
        var chat = new OpenAIClient(new ApiKeyCredential("none"), new OpenAIClientOptions { Endpoint = new Uri(sim.V1) }).GetChatClient("deepseek-r1-sim");
        var question = Queries.First(q => q.Category == "math").Question;

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage(question)], new ChatCompletionOptions { Seed = 3, MaxOutputTokenCount = 8000 });
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.StartsWith("<think>", completion.Content[0].Text, StringComparison.Ordinal); // this model thinks inline
        Assert.True(completion.Usage.OutputTokenCount > 0);

        var streamed = "";
        ChatFinishReason? finish = null;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(question)], new ChatCompletionOptions { Seed = 3 }))
        {
            streamed += string.Concat(update.ContentUpdate.Select(p => p.Text));
            finish ??= update.FinishReason;
        }
        Assert.Equal(completion.Content[0].Text, streamed); // same seed, same answer, whether streamed or not
        Assert.Equal(ChatFinishReason.Stop, finish);

        ChatCompletion cut = await chat.CompleteChatAsync([new UserChatMessage(question)], new ChatCompletionOptions { MaxOutputTokenCount = 20 });
        Assert.Equal(ChatFinishReason.Length, cut.FinishReason);
    }

    /// <summary>A user's own queries: once a run has ingested them into the store, the simulated teachers know their
    /// answers as they know the demo's, instead of guessing.</summary>
    [Fact]
    public async Task The_teachers_learn_the_queries_of_a_run_ingested_into_the_store()
    {
        var store = Directory.CreateTempSubdirectory("amdistill-sim-runs-").FullName;
        Directory.CreateDirectory(Path.Combine(store, "mine", "input"));
        await File.WriteAllTextAsync(Path.Combine(store, "mine", "input", "queries.jsonl"), JsonSerializer.Serialize(new
        {
            id = "own-1", category = "math", source = "my-dataset", reference_answer = "48611",
            question = "A warehouse ships 48,000 crates on Monday and 611 more on Tuesday than it had left over. How many crates in all? (own query)",
        }) + "\n");
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string> { ["RunDirectories:0"] = store });
        using var http = new HttpClient { BaseAddress = new Uri(sim.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Sim-Latency-Ms", "0");

        async Task<int> CorrectAsync(string question)
        {
            using var response = await http.PostAsJsonAsync("/v1/chat/completions", new
            {
                model = "deepseek-r1-sim", n = 8, seed = 3, messages = new[] { new { role = "user", content = question } },
            });
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return body.RootElement.GetProperty("choices").EnumerateArray()
                .Count(c => c.GetProperty("message").GetProperty("content").GetString()!.Contains("\\boxed{48611}", StringComparison.Ordinal));
        }

        Assert.Equal(0, await CorrectAsync("A warehouse ships 48,000 crates; nobody told the simulator this one. How many crates in all?"));
        Assert.InRange(await CorrectAsync(
            "A warehouse ships 48,000 crates on Monday and 611 more on Tuesday than it had left over. How many crates in all? (own query)"), 5, 8);
        Directory.Delete(store, recursive: true);
    }

    /// <summary>The first requests of a run arrive together: the one that scans the store learns every query, and the
    /// others, which waited on that scan, look again rather than answer as if the question were unseen (a fresh run of 30
    /// own queries had its later math queries guessed by some teachers).</summary>
    [Fact]
    public async Task Requests_that_arrive_together_all_know_a_freshly_ingested_run()
    {
        var store = Directory.CreateTempSubdirectory("amdistill-sim-burst-").FullName;
        var bank = new TeacherSim.Knowledge.QueryBank([store]);
        Directory.CreateDirectory(Path.Combine(store, "burst", "input"));
        // A large run, so that the scan takes a while; the questions asked are its last ones.
        var questions = Enumerable.Range(0, 20_016).Select(i => $"Burst question {i}: what is {i} times {i + 7}? (own query)").ToList();
        await File.WriteAllLinesAsync(Path.Combine(store, "burst", "input", "queries.jsonl"), questions.Select((q, i) => JsonSerializer.Serialize(new
        {
            id = $"burst-{i}", category = "math", source = "mine", reference_answer = $"{(long)i * (i + 7)}", question = q,
        })));

        var asked = questions[^16..];
        var found = new TeacherSim.Knowledge.KnownQuery?[asked.Count];
        using var start = new Barrier(asked.Count);
        var threads = asked.Select((question, i) => new Thread(() =>
        {
            start.SignalAndWait();
            found[i] = bank.Find(question);
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(found, Assert.NotNull);
        Directory.Delete(store, recursive: true);
    }

    /// <summary>A user's code query with its own solution (a whole program) is answered with that program, and
    /// HumanEval's body-only solutions with the prompt's function around them (a user's stdio program used to be glued to
    /// the question and failed to compile for every teacher).</summary>
    [Fact]
    public void A_canonical_solution_is_a_whole_program_unless_it_is_a_function_body()
    {
        var store = Directory.CreateTempSubdirectory("amdistill-sim-solutions-").FullName;
        Directory.CreateDirectory(Path.Combine(store, "code", "input"));
        const string program = "n = int(input())\nprint(n * (n + 1) // 2)\n";
        const string prompt = "def add(a: int, b: int) -> int:\n    \"\"\"Add two numbers.\"\"\"\n";
        File.WriteAllLines(Path.Combine(store, "code", "input", "queries.jsonl"),
        [
            JsonSerializer.Serialize(new { id = "stdio", category = "code", source = "mine", question = "Read n and print 1 + 2 + ... + n.", meta = new { canonical_solution = program } }),
            JsonSerializer.Serialize(new { id = "body", category = "code", source = "mine", question = prompt, meta = new { canonical_solution = "    return a + b\n" } }),
        ]);
        var bank = new TeacherSim.Knowledge.QueryBank([store]);
        Assert.Equal(program, bank.Find("Read n and print 1 + 2 + ... + n.")!.Solution);
        Assert.Equal(prompt + "    return a + b\n", bank.Find(prompt)!.Solution);
        Directory.Delete(store, recursive: true);
    }

    [Fact]
    public async Task Stronger_teachers_answer_more_queries_correctly_and_harder_queries_less_often()
    {
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>());
        using var http = new HttpClient { BaseAddress = new Uri(sim.BaseUrl) };
        http.DefaultRequestHeaders.Add("X-Sim-Latency-Ms", "0");
        var math = Queries.Where(q => q.Category == "math").ToArray();
        var rates = new Dictionary<string, double>();
        foreach (var model in new[] { "r1-distill-qwen-1.5b-sim", "r1-distill-qwen-7b-sim", "deepseek-r1-sim" })
        {
            int correct = 0, math500 = 0, aime = 0;
            await Parallel.ForEachAsync(math, async (query, _) =>
            {
                using var response = await http.PostAsJsonAsync("/v1/chat/completions", new
                {
                    model, n = 4, seed = 1, messages = new[] { new { role = "user", content = query.Question } },
                });
                using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
                var right = body.RootElement.GetProperty("choices").EnumerateArray()
                    .Count(c => c.GetProperty("message").GetProperty("content").GetString()!.Contains($"\\boxed{{{query.ReferenceAnswer}}}", StringComparison.Ordinal));
                Interlocked.Add(ref correct, right);
                Interlocked.Add(ref query.Id.StartsWith("aime", StringComparison.Ordinal) ? ref aime : ref math500, right);
            });
            rates[model] = correct / (math.Length * 4.0);
            var aimeCount = math.Count(q => q.Id.StartsWith("aime", StringComparison.Ordinal));
            Assert.True(math500 / (4.0 * (math.Length - aimeCount)) > aime / (4.0 * aimeCount), $"{model}: AIME is not harder than MATH-500");
        }
        Assert.True(rates["r1-distill-qwen-1.5b-sim"] < rates["r1-distill-qwen-7b-sim"] && rates["r1-distill-qwen-7b-sim"] < rates["deepseek-r1-sim"],
            string.Join(", ", rates.Select(r => $"{r.Key}: {r.Value:P0}")));
    }

    [Fact]
    public async Task Injected_faults_answer_as_real_servers_do()
    {
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>());
        using var http = new HttpClient { BaseAddress = new Uri(sim.BaseUrl) };
        async Task<HttpResponseMessage> Send(string fault)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
            {
                Content = JsonContent.Create(new { model = "deepseek-r1-sim", messages = new[] { new { role = "user", content = "hi" } } }),
            };
            request.Headers.Add("X-Sim-Fault", fault);
            return await http.SendAsync(request);
        }

        using var limited = await Send("rate-limit");
        Assert.Equal(429, (int)limited.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), limited.Headers.RetryAfter?.Delta);
        Assert.Equal(500, (int)(await Send("server-error")).StatusCode);
        Assert.Equal(503, (int)(await Send("unavailable")).StatusCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => Send("drop"));
        using var length = await Send("length");
        using var body = JsonDocument.Parse(await length.Content.ReadAsStringAsync());
        Assert.Equal("length", body.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    private static async Task<int> RunAsync(string file, string[] args, string directory, TimeSpan timeout) =>
        (await RunWithOutputAsync(file, args, directory, timeout)).Exit;

    private static async Task<(int Exit, string Output)> RunWithOutputAsync(string file, string[] args, string directory, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file, args) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromMinutes(1));
        return (process.ExitCode, await stdout + await stderr);
    }
}
