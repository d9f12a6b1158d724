using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AmDistill.Verifiers.Math;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// Math verdicts on one core: the Math-Verify cases, repeated, with latency percentiles; then random LaTeX and garbage,
/// counting verdicts over the budget (none may be).
/// </summary>
internal static class MathBenchmark
{
    public static Task<int> RunAsync(FileInfo cases, int verdicts, int randomInputs, TextWriter output)
    {
        var pairs = File.ReadLines(cases.FullName).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return (Gold: document.RootElement.GetProperty("gold").GetString()!, Pred: document.RootElement.GetProperty("pred").GetString()!);
        }).ToArray();
        var options = new MathVerifyOptions();
        output.WriteLine($"amdistill-bench math: {pairs.Length} cases from {cases.Name}, {verdicts:N0} verdicts on one thread, budget {options.Budget.TotalMilliseconds} ms");

        foreach (var (gold, pred) in pairs) MathVerifier.Verify(gold, pred, options); // warm-up: JIT
        Latency.Measure(verdicts, i =>
        {
            var (gold, pred) = pairs[i % pairs.Length];
            MathVerifier.Verify(gold, pred, options);
        }, output);

        string[] tokens =
        [
            "\\frac", "\\sqrt", "{", "}", "(", ")", "[", "]", "\\{", "\\}", "^", "_", "+", "-", "*", "/", "=", "<", "\\le", ",", "x", "y", "\\pi",
            "1", "2", "0", "9", "3.5", "1,000", "\\boxed{", "\\text{", "\\left(", "\\right)", "\\begin{pmatrix}", "\\end{pmatrix}", "&", "\\\\",
            "\\pm", "\\infty", "\\cup", "\\in", "%", "!", "|", "$", " ", "\\sin", "\\cdot", "\\", "and", ":", ".",
        ];
        var random = new Random(2504);
        var over = 0;
        var undecided = 0;
        var worst = 0.0;
        for (var i = 0; i < randomInputs; i++)
        {
            var builder = new StringBuilder();
            var length = random.Next(1, 60);
            for (var t = 0; t < length; t++) builder.Append(tokens[random.Next(tokens.Length)]);
            var text = builder.ToString();
            var verdict = MathVerifier.Verify(random.Next(2) == 0 ? text : "\\frac{x+1}{2}", text, options);
            if (verdict.Equal is null) undecided++;
            if (verdict.Elapsed > options.Budget) over++;
            worst = Math.Max(worst, verdict.Elapsed.TotalMicroseconds);
        }
        output.WriteLine($"  random inputs   {randomInputs:N0}: no exception, {over} over the budget, {undecided} undecided, slowest {worst:N0} µs");
        return Task.FromResult(over == 0 ? 0 : 1);
    }
}
