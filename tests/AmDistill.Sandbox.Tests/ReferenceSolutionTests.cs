using AmDistill.Verifiers.Code;

namespace AmDistill.Sandbox.Tests;

/// <summary>Every reference solution of HumanEval (164) and MBPP (427) passes in the sandbox; broken ones fail.</summary>
public sealed class ReferenceSolutionTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>
{
    // Correctness, not speed: test projects share CI's 2 cores, and under that load mbpp/123 (amicable numbers below
    // 10,000, seconds of pure Python) once ran past the default 6 s per test. The time limit itself is tested elsewhere.
    private readonly CodeVerifier _verifier = new(fixture.Sandbox, new CodeVerifierOptions { TestTimeout = TimeSpan.FromSeconds(30) });

    private async Task<List<(string Id, CodeVerdict Verdict)>> VerifyAllAsync(string file, Func<string, string> mutate)
    {
        var records = SandboxFixture.Records(file).ToList();
        var verdicts = await Task.WhenAll(records.Select(async r =>
        {
            var tests = CodeTests.Parse(r.GetProperty("test_cases"), r.GetProperty("question").GetString());
            var code = mutate(r.GetProperty("meta").GetProperty("canonical_solution").GetString()!);
            return (r.GetProperty("id").GetString()!, await _verifier.VerifyAsync(code, tests));
        }));
        return [.. verdicts];
    }

    private static string Failures(IEnumerable<(string Id, CodeVerdict Verdict)> verdicts) => string.Join("\n", verdicts
        .Where(v => v.Verdict.Status != "passed").Take(10)
        .Select(v => $"{v.Id}: {v.Verdict.SandboxError ?? v.Verdict.Reason ?? string.Join("; ", v.Verdict.Tests.Where(t => t.Status != TestStatus.Passed).Select(t => $"{t.Status} {t.Detail}"))}"));

    [Fact]
    public async Task HumanEval_164_of_164()
    {
        var verdicts = await VerifyAllAsync("humaneval.jsonl", code => code);
        Assert.Equal(164, verdicts.Count);
        Assert.True(verdicts.All(v => v.Verdict.Status == "passed"), Failures(verdicts));
    }

    [Fact]
    public async Task MBPP_427_of_427()
    {
        var verdicts = await VerifyAllAsync("mbpp.jsonl", code => code);
        Assert.Equal(427, verdicts.Count);
        Assert.True(verdicts.All(v => v.Verdict.Status == "passed"), Failures(verdicts));
        Assert.All(verdicts, v => Assert.Equal(v.Verdict.Total, v.Verdict.Passed));
    }

    [Fact]
    public async Task Broken_solutions_fail()
    {
        // The body of every HumanEval solution replaced by a wrong constant answer.
        var humaneval = await VerifyAllAsync("humaneval.jsonl", _ => "    return None\n");
        Assert.True(humaneval.Count(v => v.Verdict.Status == "failed") >= 160, Failures(humaneval.Where(v => v.Verdict.Status == "passed")));
        // MBPP solutions with their first return made to return nothing.
        var mbpp = await VerifyAllAsync("mbpp.jsonl", code => code.Contains("return ", StringComparison.Ordinal)
            ? code.Replace("return ", "return None and ", StringComparison.Ordinal) : code + "\nraise SystemExit(3)\n");
        Assert.True(mbpp.Count(v => v.Verdict.Status == "failed") >= 400, $"{mbpp.Count(v => v.Verdict.Status == "passed")} broken MBPP solutions passed");
        Assert.Empty(fixture.Leftovers());
    }
}
