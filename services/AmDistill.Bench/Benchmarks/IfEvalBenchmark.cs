using System.Diagnostics;
using System.Text.Json;
using AmDistill.Verifiers.InstructionFollowing;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// Instruction-following verdicts on one core: real responses (GPT-4's to IFEval's 541 prompts by default), each verified
/// strict and loose as the verification service does, repeated, with latency percentiles; loading the langdetect
/// profiles and the punkt model is timed on its own.
/// </summary>
internal static class IfEvalBenchmark
{
    public static Task<int> RunAsync(FileInfo responses, int verdicts, TextWriter output)
    {
        var records = File.ReadLines(responses.FullName).Select(line =>
        {
            using var document = JsonDocument.Parse(line);
            return (Instructions: IfEvalChecker.Parse(document.RootElement), Response: document.RootElement.GetProperty("response").GetString()!);
        }).ToArray();
        output.WriteLine($"amdistill-bench if: {records.Length} responses from {responses.Name} (median {records.Select(r => r.Response.Length).Order().ElementAt(records.Length / 2):N0} characters), {verdicts:N0} strict+loose verdicts on one thread");

        var loading = Stopwatch.StartNew();
        LanguageDetector.Detect("Loads the language profiles.");
        PunktSentenceTokenizer.CountSentences("Loads the punkt model.");
        output.WriteLine($"  models loaded   {loading.Elapsed.TotalMilliseconds:N0} ms (langdetect's profiles and punkt's English model, once per process)");
        foreach (var record in records) Verify(record); // warm-up: JIT

        Latency.Measure(verdicts, i => Verify(records[i % records.Length]), output);
        return Task.FromResult(0);

        static void Verify((IReadOnlyList<Instruction> Instructions, string Response) record)
        {
            IfEvalChecker.Verify(record.Instructions, record.Response);
            IfEvalChecker.Verify(record.Instructions, record.Response, loose: true);
        }
    }
}
