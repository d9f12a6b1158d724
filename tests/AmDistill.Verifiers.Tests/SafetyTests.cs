using System.Text;
using AmDistill.Verifiers.Math;

namespace AmDistill.Verifiers.Tests;

/// <summary>No input may throw or hang: every verdict ends within its step budget, and a spent time budget stops it at
/// the next check. Deterministic on purpose (steps, not milliseconds): how fast verdicts are is the benchmark's to say
/// (<c>amdistill-bench math</c>), not a unit test's on a loaded machine.</summary>
public sealed class SafetyTests
{
    // Time out of the picture: only the step budget can end these, so a hang is a test that never ends, not a slow one.
    private static readonly MathVerifyOptions Options = new() { Budget = TimeSpan.FromHours(1) };

    public static TheoryData<string> Hostile() =>
    [
        "2^{2^{2^{2^{2^{100}}}}}",
        "9^{9^{9^{9}}}",
        "10^{100000}",
        new string('(', 5000) + "1" + new string(')', 5000),
        string.Concat(Enumerable.Repeat("\\frac{1}{", 3000)) + "2" + new string('}', 3000),
        string.Concat(Enumerable.Repeat("\\sqrt{", 3000)) + "2" + new string('}', 3000),
        new string('9', 100_000),
        string.Join("+", Enumerable.Repeat("x", 20_000)),
        "\\boxed{" + new string('{', 10_000),
        string.Concat(Enumerable.Repeat("\\boxed{1}", 5000)),
        "(" + string.Join(",", Enumerable.Range(0, 20_000)) + ")",
        "1000!",
        "\\binom{100000}{50000}",
        "x^{x^{x^{x^{x^{x^{x}}}}}}",
        "1_", // a base subscript with no base: once read past the end of the text
    ];

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_inputs_end_with_a_verdict_or_an_undecided_reason(string input)
    {
        foreach (var (gold, pred) in new[] { (input, input), ("1", input), (input, "\\boxed{1}") })
        {
            var verdict = MathVerifier.Verify(gold, pred, Options);
            Assert.True(verdict.Equal is not null || verdict.Reason.StartsWith("undecided: ", StringComparison.Ordinal) || verdict.Reason.StartsWith("gold answer not parsed", StringComparison.Ordinal)
                || verdict.Reason.StartsWith("no ", StringComparison.Ordinal), verdict.Reason);
            Assert.DoesNotContain("time budget", verdict.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_spent_time_budget_stops_the_work_at_its_next_check()
    {
        var sum = string.Join("+", Enumerable.Repeat("x", 2000)); // thousands of steps: past the first check
        var verdict = MathVerifier.Verify(sum, sum, new MathVerifyOptions { Budget = TimeSpan.Zero });
        Assert.Null(verdict.Equal);
        Assert.Equal("undecided: time budget exhausted", verdict.Reason);
    }

    [Fact]
    public void Random_latex_and_garbage_never_throw_and_always_end()
    {
        string[] tokens =
        [
            "\\frac", "\\sqrt", "{", "}", "(", ")", "[", "]", "\\{", "\\}", "^", "_", "+", "-", "*", "/", "=", "<", "\\le", ",", ";", "x", "y", "e", "\\pi",
            "1", "2", "0", "9", "3.5", "1,000", "\\boxed{", "\\text{", "\\left(", "\\right)", "\\begin{pmatrix}", "\\end{pmatrix}", "&", "\\\\", "\\pm",
            "\\infty", "\\cup", "\\in", "%", "!", "|", "$", " ", "\\sin", "\\log_", "\\cdot", "\\", "a", "and", "\\mathrm{e}", ":", ".", "'",
        ];
        var random = new Random(2504);
        for (var i = 0; i < 20_000; i++)
        {
            var builder = new StringBuilder();
            var length = random.Next(1, 40);
            for (var t = 0; t < length; t++) builder.Append(tokens[random.Next(tokens.Length)]);
            if (random.Next(4) == 0) builder.Append((char)random.Next(0, 0x2FFF));
            var text = builder.ToString();
            var verdict = MathVerifier.Verify(random.Next(2) == 0 ? text : "x+1", text, Options);
            Assert.False(verdict.Reason.Contains("Exception", StringComparison.Ordinal), $"{text}: {verdict.Reason}"); // a verifier bug, caught
        }
    }
}
