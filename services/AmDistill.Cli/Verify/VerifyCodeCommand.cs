using System.CommandLine;
using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using AmDistill.Sandbox;
using AmDistill.Verifiers.Code;

namespace AmDistill.Cli.Verify;

/// <summary>
/// <c>amdistill verify code --input F.jsonl [--output O.jsonl]</c>. Input line: <c>{"id", "language"? (python, cpp), "response" | "code",
/// "test_cases", "question"?}</c> (the shared query schema's test_cases; HumanEval's question is its signature), or a
/// shared-data record with <c>--reference</c> (its meta.canonical_solution is the code). Output line:
/// <c>{"id", "verdict", "passed", "total", "score", "tests": [{"status", "detail"}], "elapsed_ms"}</c>, in input order.
/// A LiveCodeBench record (<c>public_test_cases</c>, <c>private_test_cases</c> — JSON or base64/zlib/pickle —
/// <c>metadata.func_name</c>) stands in for <c>test_cases</c>.
/// </summary>
internal static class VerifyCodeCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "JSONL of programs or responses with their test_cases.", Required = true };
        input.AcceptExistingOnly();
        var output = new Option<FileInfo?>("--output") { Description = "Verdicts (JSONL); default: standard output." };
        var reference = new Option<bool>("--reference") { Description = "Verify each record's meta.canonical_solution (data/benchmarks files)." };
        var comparison = new Option<string>("--comparison") { Description = "stdout comparison: lcb, sandboxfusion or exact.", DefaultValueFactory = _ => "lcb" };
        comparison.AcceptOnlyFromAmong("lcb", "sandboxfusion", "exact");
        var maxTests = new Option<int>("--max-tests") { Description = "Tests per program (the paper: the first 10).", DefaultValueFactory = _ => 10 };
        var timeout = new Option<double>("--timeout") { Description = "Seconds per test.", DefaultValueFactory = _ => 6 };
        var parallel = new Option<int>("--parallel") { Description = "Sandboxes at once.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("code", "Run code against its test cases in the bubblewrap sandbox.") { input, output, reference, comparison, maxTests, timeout, parallel };
        command.SetAction((result, cancellationToken) => RunAsync(result.GetValue(input)!, result.GetValue(output), result.GetValue(reference),
            new CodeVerifierOptions
            {
                Comparison = OutputComparer.Parse(result.GetValue(comparison)!), MaxTests = result.GetValue(maxTests),
                TestTimeout = TimeSpan.FromSeconds(result.GetValue(timeout)),
            }, result.GetValue(parallel), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo input, FileInfo? output, bool reference, CodeVerifierOptions options, int parallel, CancellationToken cancellationToken)
    {
        using var sandbox = new BubblewrapSandbox(new SandboxOptions { Slots = parallel });
        var verifier = new CodeVerifier(sandbox, options);
        await using var stream = output is null ? Console.OpenStandardOutput() : output.Create();
        await using var writer = new StreamWriter(stream);
        var serializer = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        // Verdicts run ahead in parallel (bounded) and are written in input order.
        var pending = Channel.CreateBounded<Task<string?>>(parallel * 4);
        var (bad, passed, total) = (0, 0, 0);
        var started = Stopwatch.GetTimestamp();

        var producer = Task.Run(async () =>
        {
            var lineNumber = 0;
            foreach (var line in File.ReadLines(input.FullName))
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                var number = lineNumber;
                await pending.Writer.WriteAsync(VerifyLineAsync(verifier, line, number, reference, cancellationToken), cancellationToken);
            }
            pending.Writer.Complete();
        }, cancellationToken);

        await foreach (var verdict in pending.Reader.ReadAllAsync(cancellationToken))
        {
            var json = await verdict;
            if (json is null) { bad++; continue; }
            total++;
            if (json.Contains("\"verdict\":\"passed\"", StringComparison.Ordinal)) passed++;
            await writer.WriteLineAsync(json);
        }
        await producer;
        await Console.Error.WriteLineAsync($"{passed} of {total} programs passed every test; {bad} bad lines; {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
        return bad == 0 ? 0 : 2;

        async Task<string?> VerifyLineAsync(CodeVerifier v, string line, int number, bool canonical, CancellationToken ct)
        {
            string id;
            CodeVerdict verdict;
            try
            {
                var record = JsonNode.Parse(line)!.AsObject();
                id = record["id"]?.ToString() ?? $"line {number}";
                CodeTests codeTests;
                if (record["public_test_cases"] is { } publicTests) // a LiveCodeBench record, private tests pickled or not
                {
                    var functionName = record["metadata"] is JsonValue m ? JsonNode.Parse(m.GetValue<string>())?["func_name"]?.GetValue<string>() : record["metadata"]?["func_name"]?.GetValue<string>();
                    codeTests = LiveCodeBenchTests.Parse(publicTests.GetValue<string>(), record["private_test_cases"]?.GetValue<string>(), functionName);
                }
                else
                {
                    using var tests = JsonDocument.Parse(record["test_cases"]!.ToJsonString());
                    codeTests = CodeTests.Parse(tests.RootElement, record["question"]?.GetValue<string>());
                }
                if (record["language"]?.GetValue<string>() is { } language && codeTests is CodeTests.Stdio stdio)
                    codeTests = stdio with { Language = language };
                if (canonical)
                    verdict = await v.VerifyAsync(record["meta"]!["canonical_solution"]!.GetValue<string>(), codeTests, ct);
                else if (record["code"]?.GetValue<string>() is { } code)
                    verdict = await v.VerifyAsync(code, codeTests, ct);
                else
                    verdict = await v.VerifyResponseAsync(record["response"]!.GetValue<string>(), codeTests, ct);
            }
            catch (Exception e) when (e is JsonException or FormatException or NullReferenceException or InvalidOperationException or KeyNotFoundException)
            {
                await Console.Error.WriteLineAsync($"{input.Name}:{number}: skipped: {e.Message}");
                return null;
            }
            return JsonSerializer.Serialize(new
            {
                id, verdict = verdict.Status, passed = verdict.Passed, total = verdict.Total, score = verdict.Score,
                tests = verdict.Tests.Select(t => new { status = t.Status.ToString(), detail = t.Detail }),
                error = verdict.SandboxError ?? verdict.Reason, elapsed_ms = Math.Round(verdict.ElapsedMs, 1),
            }, serializer);
        }
    }
}
