using System.Text.Json;

namespace AmDistill.Verifiers.Code;

/// <summary>A program's tests in one of the query schema's forms (docs/query-schema.md).</summary>
public abstract record CodeTests(string Language)
{
    public abstract int Count { get; }

    /// <summary>stdin → expected stdout, one run of the program per test.</summary>
    public sealed record Stdio(IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs, string Language = "python") : CodeTests(Language)
    {
        public override int Count => Inputs.Count;
    }

    /// <summary>LeetCode: <c>Solution().fn(*args)</c> (or a plain function), each input one JSON value per line, the output JSON.</summary>
    public sealed record Functional(string FunctionName, IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs) : CodeTests("python")
    {
        public override int Count => Inputs.Count;
    }

    /// <summary>Assert-based (MBPP: one assert per test; HumanEval: <c>check(entry_point)</c> as one test), run after the program.</summary>
    public sealed record Asserts(IReadOnlyList<string> Setup, IReadOnlyList<string> Tests, string? Prelude = null) : CodeTests("python")
    {
        public override int Count => Tests.Count;
    }

    /// <summary>The first <paramref name="limit"/> tests (the paper: 10).</summary>
    public CodeTests Take(int limit) => this switch
    {
        Stdio s => s with { Inputs = [.. s.Inputs.Take(limit)], Outputs = [.. s.Outputs.Take(limit)] },
        Functional f => f with { Inputs = [.. f.Inputs.Take(limit)], Outputs = [.. f.Outputs.Take(limit)] },
        Asserts a => a with { Tests = [.. a.Tests.Take(limit)] },
        _ => this,
    };

    /// <summary>The <c>test_cases</c> object of the shared query schema; <paramref name="question"/> is HumanEval's prompt (the signature).</summary>
    public static CodeTests Parse(JsonElement testCases, string? question = null)
    {
        string[] Strings(string name) => testCases.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array
            ? [.. a.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText())]
            : [];
        var type = testCases.GetProperty("type").GetString();
        var language = testCases.TryGetProperty("language", out var l) ? l.GetString() ?? "python" : "python";
        return type switch
        {
            "stdio" => new Stdio(Strings("inputs"), Strings("outputs"), language),
            "functional" when testCases.TryGetProperty("entry_point", out var entry) =>
                new Asserts([], [$"{testCases.GetProperty("test").GetString()}\ncheck({entry.GetString()})"], question),
            "functional" => new Functional(testCases.GetProperty("fn_name").GetString()!, Strings("inputs"), Strings("outputs")),
            "assert" => new Asserts(Strings("test_imports"), Strings("test_list")),
            _ => throw new FormatException($"test_cases type '{type}' is not a code test"),
        };
    }
}
