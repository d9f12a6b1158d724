using System.Text.Json;
using AmDistill.Dataset.Ingestion;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// <c>amdistill-bench import</c>: writes N synthetic AM-schema rows (3 models × 4 answers per question, like the
/// paper's files), then imports them as a run would: normalised row by row into a part, then put together into queries
/// and samples. Prints rows/s, MB/s and the peak resident memory of each phase (VmHWM, reset between phases).
/// </summary>
internal static class ImportBenchmark
{
    public static async Task<int> RunAsync(int rows, int textChars, TextWriter output, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("amdistill-bench-import-").FullName;
        try
        {
            var upload = Path.Combine(root, "rows.jsonl");
            await WriteRowsAsync(upload, rows, textChars, cancellationToken);
            var size = new FileInfo(upload).Length;
            string[] models = ["DeepSeek-R1-Distill-Qwen-1.5B", "DeepSeek-R1-Distill-Qwen-7B", "DeepSeek-R1"];
            var part = Path.Combine(root, "part-0.jsonl");
            await output.WriteLineAsync($"{rows:N0} AM rows ({rows / 12:N0} questions × 3 models × 4 answers, {textChars:N0} characters of thinking + answer each), {size / 1e6:N0} MB of JSONL");
            await output.WriteLineAsync("| phase | rows/s | MB/s | seconds | peak RSS |");
            await output.WriteLineAsync("|---|---|---|---|---|");
            await ExportBenchmark.MeasureAsync("normalise (parse, check, write the part)", rows, output,
                () => SampleImport.NormaliseAsync(upload, parquet: false, models.ToHashSet(), part, Path.Combine(root, "rejects.jsonl"), cancellationToken), () => size, " read");
            await ExportBenchmark.MeasureAsync("put together (queries and samples, two passes)", rows, output,
                () => SampleImport.CombineAsync("bench", [part], 0, Path.Combine(root, "queries.jsonl"), Path.Combine(root, "samples.jsonl"), cancellationToken),
                () => new FileInfo(part).Length, " read, twice");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task WriteRowsAsync(string path, int rows, int textChars, CancellationToken cancellationToken)
    {
        string[] models = ["DeepSeek-R1-Distill-Qwen-1.5B", "DeepSeek-R1-Distill-Qwen-7B", "DeepSeek-R1"];
        var random = new Random(3);
        var words = "let me check the derivative again carefully so that the sign is right and the bound holds for every n".Split(' ');
        await using var writer = new StreamWriter(path);
        for (var i = 0; i < rows; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (question, slot) = Math.DivRem(i, 12);
            var text = new System.Text.StringBuilder(textChars + 16);
            while (text.Length < textChars) text.Append(words[random.Next(words.Length)]).Append(' ');
            await writer.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["question"] = $"Question {question}: find the smallest n such that the sum of the first n odd numbers exceeds {question * 31 + 7}.",
                ["answer"] = $"<think>\n{text}\n</think>\n<answer>\nThe answer is \\boxed{{{question % 97}}}\n</answer>",
                ["question_source"] = "bench", ["answer_source"] = "", ["category"] = "math", ["ground_truth"] = $"{question % 97}",
                ["test_case"] = "", ["instruction_constrain"] = "", ["verify_score"] = 1.0, ["model_name"] = models[slot / 4],
            }));
        }
    }
}
