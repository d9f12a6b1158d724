using AmDistill.Verifiers.Choice;
using AmDistill.Verifiers.Math;

namespace AmDistill.Verifiers.Tests;

public sealed class MathVerifierTests
{
    [Theory]
    [InlineData("\\frac{1}{2}", "The answer is $\\boxed{0.5}$.")]
    [InlineData("2", "<think>Maybe \\boxed{3}?</think> So \\boxed{2}.")]
    [InlineData("\\sqrt{2}/2", "$\\boxed{\\frac{1}{\\sqrt{2}}}$")]
    [InlineData("(1, 2]", "\\boxed{\\left(1,2\\right]}")]
    [InlineData("\\{1, 2, 3\\}", "\\boxed{\\{3, 2, 1\\}}")]
    [InlineData("x^2 - 1", "\\boxed{(x-1)(x+1)}")]
    [InlineData("2x + 4y = 6", "\\boxed{x + 2y = 3}")]
    [InlineData("1010_2", "\\boxed{10}")]
    [InlineData("45^\\circ", "\\boxed{45}")]
    [InlineData("\\$1,000.50", "\\boxed{1000.5}")]
    [InlineData("\\pm 3", "\\boxed{3, -3}")]
    [InlineData("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\boxed{\\begin{bmatrix} 1 \\\\ 2 \\end{bmatrix}}")]
    [InlineData("\\text{(B)}", "\\boxed{B}")]
    [InlineData("3\\frac{1}{2}", "\\boxed{7/2}")]
    public void Equivalent_answers_pass(string gold, string response) =>
        Assert.True(MathVerifier.Verify(gold, response).Passed, MathVerifier.Verify(gold, response).ToString());

    [Theory]
    [InlineData("\\frac{1}{2}", "\\boxed{0.4}")]
    [InlineData("(1, 2]", "\\boxed{[1, 2]}")]
    [InlineData("x^2 - 1", "\\boxed{(x-1)^2}")]
    [InlineData("x > 5", "\\boxed{x < 5}")]
    [InlineData("(3, 1)", "\\boxed{(1, 3)}")]
    [InlineData("12:00", "\\boxed{1:00}")]
    public void Different_answers_fail(string gold, string response) => Assert.False(MathVerifier.Verify(gold, response).Passed);

    [Theory]
    [InlineData("<think>long reasoning and then the budget ran out")]
    [InlineData("so the answer is \\boxed{\\frac{1}{")]
    [InlineData("")]
    public void A_response_without_a_complete_answer_fails_with_a_reason(string response)
    {
        var verdict = MathVerifier.Verify("1/2", response);
        Assert.False(verdict.Passed);
        Assert.False(string.IsNullOrEmpty(verdict.Reason));
    }

    [Theory]
    [InlineData("The answer is (B).", 'B')]
    [InlineData("Therefore \\boxed{C}", 'C')]
    [InlineData("Answer: D", 'D')]
    [InlineData("<think>It is not (A)</think> The correct option is (B) because …", 'B')]
    public void The_chosen_letter_is_found(string response, char letter) => Assert.Equal(letter, ChoiceVerifier.Extract(response));

    [Fact]
    public void A_multiple_choice_answer_is_verified_by_its_letter()
    {
        Assert.True(ChoiceVerifier.Verify("B", "so the answer is \\textbf{(B)}"));
        Assert.False(ChoiceVerifier.Verify("B", "so the answer is (C)"));
    }
}
