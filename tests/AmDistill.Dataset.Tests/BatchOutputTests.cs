using System.Text.Json;
using AmDistill.Dataset.Ingestion;

namespace AmDistill.Dataset.Tests;

/// <summary>
/// OpenAI / Azure OpenAI Batch API output files joined with the queries they answer, line shapes as the API reference
/// documents them (the fields real outputs carry besides the answer: refusal, annotations, logprobs, service_tier, usage
/// details, a null error; failed requests as non-200 lines and as error objects).
/// </summary>
public sealed class BatchOutputTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-batch-output-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string File(string name, params string[] lines)
    {
        var path = Path.Combine(_root, name);
        System.IO.File.WriteAllLines(path, lines);
        return path;
    }

    private static string Answered(string customId, string model, params string[] contents) => JsonSerializer.Serialize(new
    {
        id = $"batch_req_{customId.GetHashCode():x8}",
        custom_id = customId,
        response = new
        {
            status_code = 200,
            request_id = "req_c187b3",
            body = new
            {
                id = "chatcmpl-9758Iw",
                @object = "chat.completion",
                created = 1711475054,
                model,
                choices = contents.Select((c, i) => new { index = i, message = new { role = "assistant", content = c, refusal = (string?)null, annotations = Array.Empty<object>() }, logprobs = (object?)null, finish_reason = "stop" }),
                usage = new { prompt_tokens = 24, completion_tokens = 15, total_tokens = 39, prompt_tokens_details = new { cached_tokens = 0 }, completion_tokens_details = new { reasoning_tokens = 0 } },
                service_tier = "default",
                system_fingerprint = "fp_62a23a81ef",
            },
        },
        error = (object?)null,
    });

    [Theory]
    [InlineData("math/12.json#3", new[] { "math/12.json#3", "math/12.json" })]
    [InlineData("q-17-3", new[] { "q-17-3", "q-17", "q" })]
    [InlineData("task_x", new[] { "task_x" })]
    [InlineData("lcb:abc:2", new[] { "lcb:abc:2", "lcb:abc" })]
    [InlineData("7", new[] { "7" })]
    public void A_custom_id_names_a_query_with_or_without_a_pass_number(string customId, string[] candidates) =>
        Assert.Equal(candidates, BatchOutputs.QueryIdsOf(customId));

    [Fact]
    public async Task Each_answered_choice_becomes_a_record_of_its_query_and_every_line_without_one_is_counted_with_why()
    {
        var queries = File("queries.jsonl",
            """{"id": "aime-1", "category": "math", "question": "Find x if 2x = 10.", "reference_answer": "5", "source": "own"}""",
            """{"id": "add-two", "category": "code", "question": "Read two integers and print their sum.", "test_cases": {"type": "stdio", "inputs": ["1 2\n"], "outputs": ["3\n"]}}""",
            """{"id": "q-17", "category": "math", "question": "What is 3 + 4?", "reference_answer": "7"}""",
            "{ a bad query line is the ingestion's business }");
        var output = File("batch_output.jsonl",
            Answered("aime-1#0", "o3-mini-2025-01-31", "So $x = \\boxed{5}$."),
            Answered("aime-1#1", "o3-mini-2025-01-31", "The answer is $\\boxed{6}$.", "Two choices: $\\boxed{5}$"),
            Answered("add-two", "o3-mini-2025-01-31", "```python\na, b = map(int, input().split())\nprint(a + b)\n```"),
            Answered("q-17-2", "o3-mini-2025-01-31", "7"),
            """{"id": "batch_req_2", "custom_id": "q-17-3", "response": {"status_code": 200, "request_id": "r", "body": {"model": "deepseek-reasoner", "choices": [{"index": 0, "message": {"role": "assistant", "content": "\\boxed{7}", "reasoning_content": "3 and 4 make 7."}, "finish_reason": "stop"}]}}, "error": null}""",
            """{"id": "batch_req_3", "custom_id": "aime-1#2", "response": {"status_code": 429, "request_id": "r", "body": {"error": {"message": "Rate limit reached", "type": "requests"}}}, "error": null}""",
            """{"id": "batch_req_4", "custom_id": "aime-1#3", "response": null, "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}""",
            Answered("someone-else#1", "o3-mini-2025-01-31", "42"),
            """{"id": "batch_req_5", "custom_id": "add-two#1", "response": {"status_code": 200, "request_id": "r", "body": {"model": "o3-mini", "choices": []}}, "error": null}""",
            "not json at all",
            "");
        Assert.True(BatchOutputs.IsBatchOutput(output));
        Assert.False(BatchOutputs.IsBatchOutput(queries));

        var joined = Path.Combine(_root, "joined.jsonl");
        var conversion = await BatchOutputs.ToChatRecordsAsync(output, queries, teacher: null, joined, CancellationToken.None);

        Assert.Equal((10L, 6L), (conversion.Lines, conversion.Records));
        Assert.Equal(new Dictionary<string, long>
        {
            ["custom_id names no query of the query file"] = 1, ["no choices in the answer"] = 1, ["not JSON"] = 1, ["request failed"] = 2,
        }, conversion.Left);
        Assert.Contains(conversion.Errors, e => e.StartsWith("line 6: request failed (status 429: Rate limit reached)", StringComparison.Ordinal));
        Assert.Contains(conversion.Errors, e => e.StartsWith("line 7: request failed (This request could not be executed", StringComparison.Ordinal));

        // The records are what the import takes: each with its query's id, category, reference and tests, and its model.
        var teachers = new HashSet<string>(["o3-mini-2025-01-31", "deepseek-reasoner"], StringComparer.Ordinal);
        var samples = System.IO.File.ReadLines(joined).Select(line => SampleImport.Parse(line, teachers)).ToList();
        Assert.All(samples, s => Assert.Null(s.Error));
        Assert.Equal(["aime-1", "aime-1", "aime-1", "add-two", "q-17", "q-17"], samples.Select(s => s.Sample!.QueryId));
        Assert.All(samples.Where(s => s.Sample!.QueryId == "aime-1"), s => Assert.Equal(("math", "5", "Find x if 2x = 10.", "own"),
            (s.Sample!.Category, s.Sample.ReferenceAnswer, s.Sample.Question, s.Sample.Source)));
        var code = samples.Single(s => s.Sample!.QueryId == "add-two").Sample!;
        Assert.Equal(("code", """{"type":"stdio","inputs":["1 2\n"],"outputs":["3\n"]}"""), (code.Category, code.TestCases));
        var reasoner = samples.Last().Sample!;
        Assert.Equal(("deepseek-reasoner", "3 and 4 make 7.", "\\boxed{7}"), (reasoner.Teacher, reasoner.Thinking, reasoner.Answer));

        // Named after the run's teacher instead of the provider's model version.
        await BatchOutputs.ToChatRecordsAsync(output, queries, teacher: "o3-mini", joined, CancellationToken.None);
        Assert.All(System.IO.File.ReadLines(joined), line => Assert.Equal("o3-mini", JsonDocument.Parse(line).RootElement.GetProperty("model").GetString()));
    }

    [Fact]
    public void The_api_refuses_a_batch_output_line_with_what_to_do_instead()
    {
        var (sample, error) = SampleImport.Parse(Answered("aime-1#0", "o3-mini", "\\boxed{5}"), new HashSet<string>(["o3-mini"]));
        Assert.Null(sample);
        Assert.Contains("amdistill run import --queries", error, StringComparison.Ordinal);
    }
}
