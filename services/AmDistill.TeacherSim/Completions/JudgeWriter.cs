using System.Text.RegularExpressions;
using AmDistill.TeacherSim.Models;
using AmDistill.Verifiers.Judging;
using AmDistill.Verifiers.Math;

namespace AmDistill.TeacherSim.Completions;

/// <summary>
/// A simulated grader for AmDistill's judge prompts (<see cref="JudgeProtocol"/>): it grades as a careful judge would
/// (math equivalence by the math verifier, science by whether the reference appears in the response's ending, else word
/// overlap; reward attributes from structure, repetition and length), and errs like a weaker one: with probability
/// (1 − skill) × 0.3 it answers at random. Its replies come in the judge formats, sometimes with a preamble.
/// </summary>
public static partial class JudgeWriter
{
    public static bool IsGradingRequest(string? system) => system?.StartsWith(JudgeProtocol.Marker, StringComparison.Ordinal) == true;

    public static SimulatedAnswer Write(SimModel model, string system, string user, Random random)
    {
        var careless = random.NextDouble() < (1 - model.Skill) * 0.3;
        var response = JudgeProtocol.Section(user, "Response") ?? "";
        var reference = JudgeProtocol.Section(user, "Reference answer") ?? "";
        string verdict;
        if (system.Contains("Coherence", StringComparison.Ordinal))
        {
            var (coherence, correctness, helpfulness) = careless ? (random.Next(5), random.Next(5), random.Next(5)) : RewardAttributes(model.Skill, response, random);
            verdict = $"Coherence: {coherence}\nCorrectness: {correctness}\nHelpfulness: {helpfulness}";
        }
        else if (system.Contains("Equivalent", StringComparison.Ordinal))
        {
            var equal = careless ? random.NextDouble() < 0.5 : MathVerifier.Verify(reference, response).Passed;
            verdict = $"Equivalent: {(equal ? "yes" : "no")}";
        }
        else
        {
            double score = careless ? random.Next(6) : Similarity(reference, response);
            verdict = random.NextDouble() < 0.3 ? $"The response was compared with the reference.\n**Score:** {score}" : $"Score: {score}";
        }
        return new SimulatedAnswer("I compare the response with what was asked.", verdict, !careless);
    }

    /// <summary>Coherence (several sentences, little repetition), correctness (the grader's skill), helpfulness (length), each 0–4.</summary>
    public static (int Coherence, int Correctness, int Helpfulness) RewardAttributes(double skill, string response, Random random)
    {
        var sentences = Sentence().Split(response).Select(s => s.Trim()).Where(s => s.Length > 0).ToList();
        var repeated = sentences.Count == 0 ? 1 : 1 - (double)sentences.Distinct().Count() / sentences.Count;
        var coherence = sentences.Count >= 2 && repeated < 0.3 ? 4 : 2;
        var correctness = random.NextDouble() < skill ? 4 : 2;
        var helpfulness = Math.Min(4, response.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length / 25);
        return (coherence, correctness, helpfulness);
    }

    private static double Similarity(string reference, string response)
    {
        static string Normal(string s) => new([.. s.ToLowerInvariant().Where(char.IsLetterOrDigit)]);
        var ending = response.Length > 300 ? response[^300..] : response;
        if (Normal(reference).Length > 0 && Normal(ending).Contains(Normal(reference), StringComparison.Ordinal)) return 5;
        var a = Words(reference);
        var b = Words(response);
        var overlap = a.Count == 0 ? 0 : (double)a.Intersect(b).Count() / a.Count;
        return Math.Round(overlap * 4 * 2) / 2; // never 5 without the reference itself
    }

    private static HashSet<string> Words(string text) => [.. WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value)];

    [GeneratedRegex(@"(?<=[.!?])\s+")]
    private static partial Regex Sentence();

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordPattern();
}
