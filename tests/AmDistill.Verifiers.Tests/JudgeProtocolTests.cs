using AmDistill.Verifiers.Judging;

namespace AmDistill.Verifiers.Tests;

public sealed class JudgeProtocolTests
{
    [Theory]
    [InlineData("Score: 4", 4.0)]
    [InlineData("<think>maybe Score: 1</think>\nAfter review, **Score:** 5", 5.0)]
    [InlineData("The answer deserves 3.5/5.", 3.5)]
    [InlineData("Final: \\boxed{2}", 2.0)]
    [InlineData("Rating: [[0]]", 0.0)]
    [InlineData("3", 3.0)]
    [InlineData("Score: 7 (out of range), then Score: 4", 4.0)]
    public void Scores_are_read_from_messy_judge_output(string output, double expected) => Assert.Equal(expected, JudgeProtocol.ParseScore(output, 5));

    [Theory]
    [InlineData("I cannot grade this.")]
    [InlineData("Score: 9")]
    [InlineData("<think>Score: 4</think> no verdict")]
    public void No_score_is_better_than_a_guessed_one(string output) => Assert.Null(JudgeProtocol.ParseScore(output, 5));

    [Theory]
    [InlineData("Equivalent: yes", true)]
    [InlineData("<think>Equivalent: yes?</think>Equivalent: **no**", false)]
    [InlineData("yes.", true)]
    [InlineData("Equivalent: maybe", null)]
    public void Equivalence_verdicts(string output, bool? expected) => Assert.Equal(expected, JudgeProtocol.ParseEquivalent(output));

    [Fact]
    public void Reward_attributes_combine_as_the_paper_does()
    {
        var reward = JudgeProtocol.ParseReward("Coherence: 4\nCorrectness: 3\n**Helpfulness:** 2");
        Assert.Equal((4.0, 3.0, 2.0, 0.75), reward);
        Assert.Null(JudgeProtocol.ParseReward("Coherence: 4, Correctness: 3"));
        Assert.Null(JudgeProtocol.ParseReward("Coherence: 5\nCorrectness: 3\nHelpfulness: 2"));
    }

    [Fact]
    public void Prompts_carry_their_sections()
    {
        var (system, user) = JudgeProtocol.Science("Which gas?", "CO2", "It is carbon dioxide (CO2).");
        Assert.StartsWith(JudgeProtocol.Marker, system);
        Assert.Equal("CO2", JudgeProtocol.Section(user, "Reference answer"));
        Assert.Equal("It is carbon dioxide (CO2).", JudgeProtocol.Section(user, "Response"));
    }
}
