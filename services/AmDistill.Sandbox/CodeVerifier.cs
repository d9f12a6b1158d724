using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Verifiers.Code;

namespace AmDistill.Sandbox;

public enum TestStatus { Passed, WrongAnswer, Timeout, RuntimeError, MemoryLimit, NoResult }

public sealed record TestResult(int Index, TestStatus Status, string? Detail);

/// <summary>verify_score = passed / total of the first tests (the paper: 10). <see cref="SandboxError"/> is never a wrong
/// answer: the sandbox failed, the sample is to be verified again.</summary>
public sealed record CodeVerdict(int Passed, int Total, IReadOnlyList<TestResult> Tests, double ElapsedMs, string? SandboxError = null, string? Reason = null)
{
    public double Score => Total == 0 ? 0 : (double)Passed / Total;

    public string Status => SandboxError is not null ? "sandbox_error" : Total > 0 && Passed == Total ? "passed" : "failed";
}

public sealed record CodeVerifierOptions
{
    public int MaxTests { get; init; } = 10;
    public TimeSpan TestTimeout { get; init; } = TimeSpan.FromSeconds(6);
    public OutputComparison Comparison { get; init; } = OutputComparison.Lcb;
}

/// <summary>Runs a program against its tests in one sandboxed harness and compares outside the sandbox.</summary>
public sealed class CodeVerifier(ICodeSandbox sandbox, CodeVerifierOptions? options = null)
{
    private readonly CodeVerifierOptions _options = options ?? new CodeVerifierOptions();

    public async Task<CodeVerdict> VerifyResponseAsync(string response, CodeTests tests, CancellationToken cancellationToken = default) =>
        CodeExtractor.Extract(response, tests.Language) is { } code
            ? await VerifyAsync(code, tests, cancellationToken)
            : new CodeVerdict(0, Math.Min(tests.Count, _options.MaxTests), [], 0, Reason: "no code in the response");

    public async Task<CodeVerdict> VerifyAsync(string code, CodeTests tests, CancellationToken cancellationToken = default)
    {
        tests = tests.Take(_options.MaxTests);
        var cpp = tests.Language is "cpp" or "c++";
        if (!(tests.Language is "python" or "py" || cpp && tests is CodeTests.Stdio))
            return new CodeVerdict(0, tests.Count, [], 0, Reason: $"no harness for {tests.Language} {tests.GetType().Name} tests");
        var nonce = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var job = new JsonObject
        {
            ["nonce"] = nonce, ["code"] = code, ["count"] = tests.Count, ["timeout"] = _options.TestTimeout.TotalSeconds,
            ["language"] = cpp ? "cpp" : "python",
        };
        switch (tests)
        {
            case CodeTests.Stdio s:
                job["mode"] = "stdio";
                job["inputs"] = new JsonArray([.. s.Inputs.Select(i => (JsonNode)i)]);
                break;
            case CodeTests.Functional f:
                job["mode"] = "functional";
                job["fn_name"] = f.FunctionName;
                job["inputs"] = new JsonArray([.. f.Inputs.Select(i => (JsonNode)i)]);
                break;
            case CodeTests.Asserts a:
                job["mode"] = "asserts";
                job["setup"] = new JsonArray([.. a.Setup.Select(i => (JsonNode)i)]);
                job["tests"] = new JsonArray([.. a.Tests.Select(i => (JsonNode)i)]);
                job["prelude"] = a.Prelude;
                break;
        }
        // LiveCodeBench's global limit: (per test + 1) × tests + 5 s, and 10 s more to compile C++.
        var wall = (_options.TestTimeout + TimeSpan.FromSeconds(1)) * tests.Count + TimeSpan.FromSeconds(cpp ? 15 : 5);
        var started = Stopwatch.GetTimestamp();
        var run = await sandbox.RunHarnessAsync(job.ToJsonString(), wall, cancellationToken);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (run.SandboxError is not null) return new CodeVerdict(0, tests.Count, [], elapsed, run.SandboxError);

        var reported = new Dictionary<int, (string Status, string Out, string Err)>();
        foreach (var line in run.Stdout.Split('\n'))
        {
            if (!line.StartsWith(nonce + " ", StringComparison.Ordinal)) continue; // only the harness knows the nonce
            using var doc = JsonDocument.Parse(line.AsMemory(nonce.Length + 1));
            var root = doc.RootElement;
            if (root.TryGetProperty("i", out var i) && !reported.ContainsKey(i.GetInt32()))
                reported[i.GetInt32()] = (root.GetProperty("status").GetString()!, root.GetProperty("out").GetString()!, root.GetProperty("err").GetString()!);
        }
        var results = new List<TestResult>();
        for (var t = 0; t < tests.Count; t++)
        {
            if (!reported.TryGetValue(t, out var r))
            {
                results.Add(new(t, run.TimedOut ? TestStatus.Timeout : TestStatus.NoResult,
                    run.TimedOut ? "the run's time limit" : $"the program ended the harness (exit {run.ExitCode}{(run.Stderr.Length > 0 ? ": " + Shorten(run.Stderr.Trim()) : "")}, {elapsed:0} ms)"));
                continue;
            }
            results.Add(r.Status switch
            {
                "ok" when tests is CodeTests.Asserts => new(t, TestStatus.Passed, null),
                "ok" => Compare(tests, t, r.Out),
                "failed" => new(t, TestStatus.WrongAnswer, r.Err),
                "timeout" => new(t, TestStatus.Timeout, r.Err),
                "memory" => new(t, TestStatus.MemoryLimit, r.Err),
                _ => new(t, TestStatus.RuntimeError, r.Err),
            });
        }
        return new CodeVerdict(results.Count(r => r.Status == TestStatus.Passed), tests.Count, results, elapsed);
    }

    private TestResult Compare(CodeTests tests, int index, string actual)
    {
        var passed = tests switch
        {
            CodeTests.Stdio s => OutputComparer.Equal(s.Outputs[index], actual, _options.Comparison),
            CodeTests.Functional f => JsonEqual(f.Outputs[index], actual),
            _ => false,
        };
        return new(index, passed ? TestStatus.Passed : TestStatus.WrongAnswer, passed ? null : $"got {Shorten(actual)}");
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "…";

    /// <summary>Python's == on JSON values (LiveCodeBench compares so): 1 equals 1.0 and True, lists in order, objects by key.</summary>
    public static bool JsonEqual(string expected, string actual)
    {
        try
        {
            using var e = JsonDocument.Parse(expected);
            using var a = JsonDocument.Parse(actual);
            return Equal(e.RootElement, a.RootElement);
        }
        catch (JsonException)
        {
            return expected.Trim() == actual.Trim();
        }

        static bool Equal(JsonElement x, JsonElement y)
        {
            if (x.ValueKind == JsonValueKind.Number && y.ValueKind == JsonValueKind.Number)
                return decimal.TryParse(x.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var dx)
                    && decimal.TryParse(y.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var dy)
                    ? dx == dy : x.GetDouble() == y.GetDouble();
            // Python: True == 1 and False == 0 (a LeetCode answer may return 1 where the expected output says true).
            if (AsBoolNumber(x) is { } bx && AsBoolNumber(y) is { } by && x.ValueKind != y.ValueKind) return bx == by;
            if (x.ValueKind != y.ValueKind) return false;
            return x.ValueKind switch
            {
                JsonValueKind.Array => x.GetArrayLength() == y.GetArrayLength() && x.EnumerateArray().Zip(y.EnumerateArray()).All(p => Equal(p.First, p.Second)),
                JsonValueKind.Object => x.EnumerateObject().Count() == y.EnumerateObject().Count()
                    && x.EnumerateObject().All(p => y.TryGetProperty(p.Name, out var v) && Equal(p.Value, v)),
                JsonValueKind.String => x.GetString() == y.GetString(),
                _ => true, // true, false, null: same kind
            };
        }

        static decimal? AsBoolNumber(JsonElement e) => e.ValueKind switch
        {
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            JsonValueKind.Number when decimal.TryParse(e.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => null,
        };
    }
}
