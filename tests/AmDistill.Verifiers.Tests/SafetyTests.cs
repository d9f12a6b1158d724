using System.Text;
using AmDistill.Verifiers.Math;

namespace AmDistill.Verifiers.Tests;

/// <summary>No input may throw, hang or run past the budget.</summary>
public sealed class SafetyTests
{
    private static readonly MathVerifyOptions Options = new() { Budget = TimeSpan.FromMilliseconds(100) };
    // Scheduling noise: CI runs every test assembly at once on 2 cores, and a descheduled thread cannot check its budget.
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(400);

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
    ];

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_inputs_end_within_the_budget(string input)
    {
        foreach (var (gold, pred) in new[] { (input, input), ("1", input), (input, "\\boxed{1}") })
        {
            var verdict = MathVerifier.Verify(gold, pred, Options);
            Assert.True(verdict.Elapsed < Options.Budget + Slack, $"{verdict.Elapsed.TotalMilliseconds} ms: {verdict.Reason}");
        }
    }

    [Fact]
    public void Random_latex_and_garbage_never_throw_and_never_exceed_the_budget()
    {
        string[] tokens =
        [
            "\\frac", "\\sqrt", "{", "}", "(", ")", "[", "]", "\\{", "\\}", "^", "_", "+", "-", "*", "/", "=", "<", "\\le", ",", ";", "x", "y", "e", "\\pi",
            "1", "2", "0", "9", "3.5", "1,000", "\\boxed{", "\\text{", "\\left(", "\\right)", "\\begin{pmatrix}", "\\end{pmatrix}", "&", "\\\\", "\\pm",
            "\\infty", "\\cup", "\\in", "%", "!", "|", "$", " ", "\\sin", "\\log_", "\\cdot", "\\", "a", "and", "\\mathrm{e}", ":", ".", "'",
        ];
        var random = new Random(2504);
        var worst = TimeSpan.Zero;
        for (var i = 0; i < 20_000; i++)
        {
            var builder = new StringBuilder();
            var length = random.Next(1, 40);
            for (var t = 0; t < length; t++) builder.Append(tokens[random.Next(tokens.Length)]);
            if (random.Next(4) == 0) builder.Append((char)random.Next(0, 0x2FFF));
            var text = builder.ToString();
            var verdict = MathVerifier.Verify(random.Next(2) == 0 ? text : "x+1", text, Options);
            if (verdict.Elapsed > worst) worst = verdict.Elapsed;
        }
        Assert.True(worst < Options.Budget + Slack, $"worst verdict took {worst.TotalMilliseconds} ms");
    }
}
