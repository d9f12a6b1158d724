using AmDistill.Verifiers.Math;

namespace AmDistill.Verifiers.Tests;

/// <summary>What real teachers write and a verifier got wrong: each case one line, with the verdict it must have.</summary>
public sealed class MathEdgeCaseTests
{
    [Theory]
    // Magnitudes never collapse: tiny numbers are compared relatively, integers exactly.
    [InlineData("1.39e-10", "The rate is $\\boxed{1.36 \\times 10^{-10}}$")]
    [InlineData("1.39 \\times 10^{-10}", "$\\boxed{1.36e-10}$")]
    [InlineData("10^{20}", "\\boxed{10^{20}+1}")]
    [InlineData("100000000000000000000", "\\boxed{100000000000000000001}")]
    [InlineData("2^{64}", "\\boxed{18446744073709551617}")]
    // A response cut off inside its box has no answer, whatever number came before.
    [InlineData("12", "So the answer is \\boxed{12")]
    [InlineData("12", "We get 12, so the answer is \\boxed{12")]
    // Hedges: several different final candidates are not an answer.
    [InlineData("5", "The answer is 3 or 4 or 5.")]
    [InlineData("5", "It could be $\\boxed{3}$. Actually maybe $\\boxed{4}$. Final: $\\boxed{5}$")]
    // Plain text is read as an expression, not as its last number.
    [InlineData("0", "exp(0)")]
    [InlineData("1", "1e3")]
    [InlineData("1", "pi + 1")]
    // The reference is parsed whole, never cut to one of its numbers.
    [InlineData("\\frac{s+\\sigma}{(s+\\sigma)^{2}+\\omega_{d}^{2}}", "$\\boxed{2}$")]
    [InlineData("\\frac{1}{LCs^{2}+RCs+1}", "$\\boxed{1}$")]
    [InlineData("\\frac{1}{3}", "\\boxed{0.3}")]
    [InlineData("(-3,3)", "\\boxed{-3 \\le x \\le 3}")]
    [InlineData("x \\geq 2", "\\boxed{(2,\\infty)}")]
    public void Wrong_answers_fail(string gold, string response)
    {
        var verdict = MathVerifier.Verify(gold, response);
        Assert.False(verdict.Passed, verdict.ToString());
    }

    [Theory]
    [InlineData("1", "exp(0)")]
    [InlineData("2", "sqrt(4)")]
    [InlineData("1000", "1e3")]
    [InlineData("2500000", "2.5e6")]
    [InlineData("\\pi + 1", "pi + 1")]
    [InlineData("30\\%", "30%.")]
    [InlineData("1.39e-10", "\\boxed{1.39 \\times 10^{-10}}")]
    [InlineData("10^{20}+1", "\\boxed{100000000000000000001}")]
    [InlineData("\\frac{s+\\sigma}{(s+\\sigma)^{2}+\\omega_{d}^{2}}", "$\\boxed{\\frac{s+\\sigma}{(s+\\sigma)^2+\\omega_d^2}}$")]
    [InlineData("\\frac{1}{LCs^{2}+RCs+1}", "$\\boxed{\\frac{1}{LC s^2 + RC s + 1}}$")]
    [InlineData("\\cotx", "\\boxed{\\cot x}")]
    [InlineData("\\sin x", "\\boxed{\\sinx}")]
    [InlineData("\\frac{2}{3}", "\\boxed{0.\\overline{6}}")]
    [InlineData("\\frac{1}{3}", "\\boxed{0.\\overline{3}}")]
    [InlineData("\\frac{1}{6}", "\\boxed{0.1\\overline{6}}")]
    [InlineData("\\frac{1}{3}", "\\boxed{0.333\\ldots}")]
    [InlineData("\\frac{1}{3}", "0.333…")]
    [InlineData("\\frac{1}{7}", "\\boxed{0.142857142857...}")]
    [InlineData("(x+1)^2", "x**2+2*x+1")]
    [InlineData("x^{10}", "\\boxed{x**10}")]
    [InlineData("[2,\\infty)", "\\boxed{x \\geq 2}")]
    [InlineData("x \\geq 2", "\\boxed{[2,\\infty)}")]
    [InlineData("x > 2", "\\boxed{(2, \\infty)}")]
    [InlineData("x < 5", "\\boxed{(-\\infty, 5)}")]
    [InlineData("[-3,3]", "\\boxed{-3 \\le x \\le 3}")]
    [InlineData("5", "\\boxed{\\text{5}}")]
    [InlineData("5", "\\boxed{5\\ \\mathrm{m/s}}")]
    [InlineData("5", "\\boxed{5 \\text{ m/s}}")]
    [InlineData("12", "\\boxed{12\\text{ cm}^2}")]
    [InlineData("2, 3", "The solutions are 2 and 3.")]
    public void Right_answers_pass(string gold, string response)
    {
        var verdict = MathVerifier.Verify(gold, response);
        Assert.True(verdict.Passed, verdict.ToString());
    }

    [Fact]
    public void A_cut_off_box_says_why_it_has_no_answer()
    {
        var verdict = MathVerifier.Verify("12", "After all that, the answer is \\boxed{12");
        Assert.Equal(false, verdict.Equal);
        Assert.Equal("no answer in the response", verdict.Reason);
    }
}
