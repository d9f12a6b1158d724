using System.Text.Json;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Store;

namespace AmDistill.Dataset.Tests;

/// <summary>AM-schema rows imported as a run's samples and exported again come back field for field.</summary>
public sealed class AmRoundTripTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-am-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A query of each category, answered 4 times by each teacher of the paper's ladder, with the pass rates the
    /// paper's thresholds give for those verify_scores (science on its 0–5 scale, other above 0.7).</summary>
    private static List<AmRecord> Rows()
    {
        (string Teacher, string Model)[] ladder = [("r1-distill-qwen-1.5b", "DeepSeek-R1-Distill-Qwen-1.5B"), ("r1-distill-qwen-7b", "DeepSeek-R1-Distill-Qwen-7B"), ("deepseek-r1", "DeepSeek-R1")];
        (string Category, string Source, float[][] Scores, string GroundTruth, string TestCase, string Constraint)[] queries =
        [
            ("math", "NuminaMath", [[0, 0, 1, 0], [1, 0, 1, 1], [1, 1, 1, 1]], "\\frac{3}{4}", "", ""),
            ("code", "codeforces", [[0, 0, 0, 0], [0, 1, 0, 0], [1, 1, 0, 1]], "",
                """{"inputs": ["1 2\n"], "outputs": ["3\n"], "fn_name": null}""", ""),
            ("science", "GPQA-like", [[3, 5, 2, 5], [5, 5, 4, 5], [5, 5, 5, 5]], "B", "", ""),
            ("if", "IFEval-like", [[1, 1, 0, 1], [1, 1, 1, 1], [1, 1, 1, 1]], "", "",
                """{"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}"""),
            ("other", "ShareGPT", [[0.5f, 0.8f, 0.6f, 0.9f], [0.8f, 0.9f, 0.75f, 0.6f], [0.9f, 0.95f, 0.85f, 0.8f]], "", "", ""),
        ];
        var rows = new List<AmRecord>();
        foreach (var (category, source, scores, groundTruth, testCase, constraint) in queries)
        {
            var threshold = category switch { "science" => 4.99, "other" => 0.7, _ => 0.99 };
            float PassRate(int teacher) => scores[teacher].Count(s => s > threshold) / 4f;
            for (var t = 0; t < ladder.Length; t++)
                for (var pass = 0; pass < 4; pass++)
                    rows.Add(new AmRecord
                    {
                        Question = $"A {category} question, with \"quotes\", a newline\nand ünïcödé ∑.",
                        Answer = AmRecord.FormatAnswer($"Thinking about {category}, pass {pass}…\n\nstep 2", $"The answer of {ladder[t].Teacher}: \\boxed{{{pass}}}"),
                        QuestionSource = source,
                        AnswerSource = ladder[t].Teacher,
                        Category = category,
                        GroundTruth = groundTruth,
                        TestCase = testCase,
                        InstructionConstrain = constraint,
                        PassRateR1 = PassRate(2),
                        PassRate7B = PassRate(1),
                        PassRate15B = PassRate(0),
                        VerifyScore = scores[t][pass],
                        Ppl = 1.25f + pass / 8f,
                        ModelName = ladder[t].Model,
                    });
        }
        return rows;
    }

    [Theory]
    [InlineData("jsonl")]
    [InlineData("parquet")]
    public async Task Every_AM_field_of_every_category_comes_back_from_an_import_and_an_export(string file)
    {
        var rows = Rows();
        await using (var writer = new LocalDatasetStore(_root).OpenWriter("am", "import"))
            foreach (var group in rows.GroupBy(r => (r.Question, r.AnswerSource)))
            {
                var pass = 0;
                foreach (var row in group) await writer.AppendAsync(AmRecords.ToSample(row, "am", pass++));
            }

        var path = Path.Combine(_root, $"export.{file}");
        var report = await DatasetExport.ToFileAsync(new LocalDatasetStore(_root), "am", new DatasetExportOptions(), ExportFormat.Am, path);
        Assert.Equal(rows.Count, report.Exported);
        var exported = new List<AmRecord>();
        if (file == "parquet")
        {
            await using var stream = File.OpenRead(path);
            await foreach (var row in AmParquet.ReadAsync(stream)) exported.Add(row);
        }
        else
        {
            exported.AddRange(File.ReadLines(path).Select(l => JsonSerializer.Deserialize(l, AmJsonContext.Default.AmRecord)!));
        }

        // The 14 fields of the schema; ours (query_id, sample_id, cv, difficulty) are the run's own.
        static object?[] Fields(AmRecord r) =>
        [
            r.Question, r.Answer, r.QuestionSource, r.AnswerSource, r.Category, r.GroundTruth, r.TestCase, r.InstructionConstrain,
            r.PassRateR1, r.PassRate7B, r.PassRate15B, r.VerifyScore, r.Ppl, r.ModelName,
        ];
        string Key(AmRecord r) => $"{r.Category}|{r.AnswerSource}|{r.Answer}";
        Assert.Equal(rows.Count, exported.Select(Key).Distinct().Count());
        var byKey = exported.ToDictionary(Key);
        foreach (var row in rows) Assert.Equal(Fields(row), Fields(byKey[Key(row)]));
        Assert.Equal(5, exported.Select(r => r.QueryId).Distinct().Count());
    }

    [Theory]
    [InlineData("<think>\nreason\n</think>\n<answer>\n42\n</answer>", "reason", "42")]
    [InlineData("<think>reason</think> <answer>42</answer>", "reason", "42")]
    [InlineData("<think>\nreason\n</think>\n\nThe answer is 42.", "reason", "The answer is 42.")]
    [InlineData("no tags at all", null, "no tags at all")]
    public void The_answer_of_an_AM_row_splits_into_thinking_and_answer(string text, string? thinking, string answer) =>
        Assert.Equal((thinking, answer), AmRecords.SplitAnswer(text));
}
