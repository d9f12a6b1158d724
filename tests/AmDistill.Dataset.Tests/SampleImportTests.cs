using System.Text.Json;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Ingestion;
using AmDistill.Runs;
using Parquet;

namespace AmDistill.Dataset.Tests;

/// <summary>Responses people already have, read from the formats they come in and put together into a run's queries and samples.</summary>
public sealed class SampleImportTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-import-").FullName;
    private static readonly HashSet<string> Teachers = new(["DeepSeek-R1", "qwq", "r1"], StringComparer.Ordinal);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string File(string name, params string[] lines)
    {
        var path = Path.Combine(_root, name);
        System.IO.File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void An_am_row_keeps_its_parts_and_takes_its_teacher_from_answer_source_or_model_name()
    {
        var (sample, error) = SampleImport.Parse("""
            {"question": "What is 2+2?", "answer": "<think>\nadd\n</think>\n<answer>\n\\boxed{4}\n</answer>", "category": "math",
             "ground_truth": "4", "question_source": "gsm", "answer_source": "unknown-source", "model_name": "DeepSeek-R1"}
            """.ReplaceLineEndings(" "), Teachers);
        Assert.Null(error);
        Assert.Equal(("DeepSeek-R1", "add", "\\boxed{4}", "4", "math", "gsm"),
            (sample!.Teacher, sample.Thinking, sample.Answer, sample.ReferenceAnswer, sample.Category, sample.Source));
        Assert.Equal(SampleImport.QueryIdOf("What is 2+2?"), sample.QueryId);
        Assert.Matches("^q-[0-9a-f]{16}$", sample.QueryId);

        // test_case may be a JSON object or JSON in a string; a code row's tests travel with it.
        var (code, _) = SampleImport.Parse("""{"question": "Add.", "answer": "```python\nprint(3)\n```", "category": "code", "model_name": "r1", "test_case": {"type": "stdio", "inputs": ["1 2"], "outputs": ["3"]}}""", Teachers);
        Assert.Equal("""{"type":"stdio","inputs":["1 2"],"outputs":["3"]}""", code!.TestCases);
        var (text, _) = SampleImport.Parse("""{"question": "Add.", "answer": "x", "category": "code", "model_name": "r1", "test_case": "{\"type\": \"stdio\", \"inputs\": [], \"outputs\": []}"}""", Teachers);
        Assert.Equal("""{"type":"stdio","inputs":[],"outputs":[]}""", text!.TestCases);
    }

    [Fact]
    public void Chat_and_sharegpt_records_carry_their_thinking_in_any_of_the_usual_places()
    {
        var (reasoning, _) = SampleImport.Parse("""{"model": "qwq", "category": "math", "reference_answer": "5", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+3?"}, {"role": "assistant", "content": "5", "reasoning_content": "two plus three"}]}""", Teachers);
        Assert.Equal(("qwq", "two plus three", "5", "5", "2+3?"), (reasoning!.Teacher, reasoning.Thinking, reasoning.Answer, reasoning.ReferenceAnswer, reasoning.Question));

        var (inline, _) = SampleImport.Parse("""{"model": "qwq", "conversations": [{"from": "human", "value": "2+3?"}, {"from": "gpt", "value": "<think>\nsum\n</think>\n\nIt is 5."}]}""", Teachers);
        Assert.Equal(("sum", "It is 5.", "other"), (inline!.Thinking, inline.Answer, inline.Category)); // none given: other

        // A category is read by the one name table: an alias is its category, a wrong name a bad row (never "other").
        Assert.Equal("if", SampleImport.Parse("""{"question": "Q", "answer": "a", "category": "instruction_following", "model_name": "r1"}""", Teachers).Sample!.Category);
        Assert.Equal("category 'maths' is not one of math, code, science, if, other",
            SampleImport.Parse("""{"question": "Q", "answer": "a", "category": "maths", "model_name": "r1"}""", Teachers).Error);

        // AM-Thinking / AM 1.4M style: the parts and the query's facts in "info".
        var (info, _) = SampleImport.Parse("""
            {"model": "r1", "messages": [{"role": "user", "content": "2+3?", "info": {"source": "gsm", "reference_answer": "5", "category": "math"}},
             {"role": "assistant", "content": "<think>x</think>5", "info": {"think_content": "sum them", "answer_content": "5"}}]}
            """.ReplaceLineEndings(" "), Teachers);
        Assert.Equal(("sum them", "5", "5", "gsm", "math"), (info!.Thinking, info.Answer, info.ReferenceAnswer, info.Source, info.Category));
    }

    [Theory]
    [InlineData("""{"question": "Q", "answer": "A"}""", "no answer_source or model_name")]
    [InlineData("""{"question": "", "answer": "A", "model_name": "r1"}""", "no question")]
    [InlineData("""{"question": "Q", "answer": "", "model_name": "r1"}""", "no answer")]
    [InlineData("""{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}""", "no model")]
    [InlineData("""{"model": "r1", "messages": [{"role": "user", "content": "Q"}]}""", "no assistant turn")]
    [InlineData("""{"prompt": "Q", "completion": "A"}""", "neither an AM row")]
    [InlineData("""[1, 2]""", "not JSON")]
    public void A_row_that_cannot_be_a_response_says_why(string line, string reason)
    {
        var (sample, error) = SampleImport.Parse(line, Teachers);
        Assert.Null(sample);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Files_are_normalised_row_by_row_and_put_together_with_passes_and_expected_samples()
    {
        var upload = File("upload.jsonl",
            """{"question": "Q1", "answer": "a", "category": "math", "model_name": "r1"}""",
            """{"question": "Q2", "answer": "b", "category": "math", "model_name": "r1"}""",
            "",
            """{"question": "Q1", "answer": "c", "category": "math", "model_name": "DeepSeek-R1"}""",
            """{"question": "Q1", "answer": "d", "category": "math", "model_name": "r1"}""",
            """{"question": "Q1", "answer": "e", "category": "math", "model_name": "somebody"}""",
            "{ broken");
        var part = Path.Combine(_root, "part-0.jsonl");
        var report = await SampleImport.NormaliseAsync(upload, parquet: false, Teachers, part, Path.Combine(_root, "rejects.jsonl"), CancellationToken.None);
        Assert.Equal((6L, 4L, 1L), (report.Read, report.Kept, report.BadRows));
        Assert.StartsWith("row 7: not JSON: ", Assert.Single(report.Errors), StringComparison.Ordinal);
        Assert.Single(System.IO.File.ReadAllLines(Path.Combine(_root, "rejects.jsonl")));
        Assert.Equal(new Dictionary<string, long> { ["somebody"] = 1 }, report.Skipped); // another model's answer: left out, not an error

        var totals = await SampleImport.CombineAsync("run", [part], generatedPassesPerQuery: 3, Path.Combine(_root, "queries.jsonl"), Path.Combine(_root, "samples.jsonl"), CancellationToken.None);
        Assert.Equal((2L, 4L), (totals.Queries, totals.Samples));
        Assert.Equal(new Dictionary<string, long> { ["DeepSeek-R1"] = 1, ["r1"] = 3 }, totals.Teachers);
        var queries = System.IO.File.ReadAllLines(Path.Combine(_root, "queries.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([("Q1", 3), ("Q2", 1)], queries.Select(q => (q.GetProperty("question").GetString()!, q.GetProperty("imported_samples").GetInt32())));
        var samples = System.IO.File.ReadAllLines(Path.Combine(_root, "samples.jsonl")).Select(SampleImport.ReadSample).ToList();
        Assert.Equal([("a", 0, 6), ("b", 0, 4), ("c", 0, 6), ("d", 1, 6)], samples.Select(s => (s.Answer, s.Pass, s.ExpectedSamples)));
        Assert.Equal(4, samples.Select(s => s.SampleId).Distinct().Count());
        Assert.All(samples, s => Assert.Matches("^imp-[0-9a-f]{24}$", s.SampleId));
    }

    [Fact]
    public async Task A_sample_named_in_two_files_counts_once()
    {
        string Row(string id, string answer) => $$"""{"question": "Q", "answer": "{{answer}}", "category": "math", "model_name": "r1", "sample_id": "{{id}}"}""";
        var whole = File("all.jsonl", Row("s1", "a"), Row("s2", "b"));
        var selected = File("stage1.jsonl", Row("s2", "b"));
        var parts = new[] { Path.Combine(_root, "p0.jsonl"), Path.Combine(_root, "p1.jsonl") };
        await SampleImport.NormaliseAsync(whole, false, Teachers, parts[0], Path.Combine(_root, "rejects.jsonl"), CancellationToken.None);
        await SampleImport.NormaliseAsync(selected, false, Teachers, parts[1], Path.Combine(_root, "rejects.jsonl"), CancellationToken.None);
        var totals = await SampleImport.CombineAsync("run", parts, 0, Path.Combine(_root, "queries.jsonl"), Path.Combine(_root, "samples.jsonl"), CancellationToken.None);
        Assert.Equal((1L, 2L), (totals.Queries, totals.Samples));
        var samples = System.IO.File.ReadAllLines(Path.Combine(_root, "samples.jsonl")).Select(SampleImport.ReadSample).ToList();
        Assert.Equal([("s1", 0, 2), ("s2", 1, 2)], samples.Select(s => (s.SampleId!, s.Pass, s.ExpectedSamples)));
    }

    [Fact]
    public async Task An_am_parquet_file_of_our_own_export_imports_row_by_row()
    {
        var path = Path.Combine(_root, "rows.parquet");
        var rows = Enumerable.Range(0, 5).Select(i => new AmRecord
        {
            Question = $"Question {i % 2}", Answer = AmRecord.FormatAnswer("think", $"answer {i}"), Category = "math", AnswerSource = "r1", ModelName = "deepseek-r1",
            GroundTruth = "1",
        }).ToList();
        await using (var file = System.IO.File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(AmParquet.Schema, file))
            await AmParquet.WriteRowGroupAsync(writer, rows, CancellationToken.None);
        var part = Path.Combine(_root, "part.jsonl");
        var report = await SampleImport.NormaliseAsync(path, parquet: true, Teachers, part, Path.Combine(_root, "rejects.jsonl"), CancellationToken.None);
        Assert.Equal((5L, 5L, 0L), (report.Read, report.Kept, report.BadRows));
        var samples = System.IO.File.ReadAllLines(part).Select(SampleImport.ReadSample).ToList();
        Assert.All(samples, s => Assert.Equal(("r1", "deepseek-r1", "think"), (s.Teacher, s.Model, s.Thinking)));
        Assert.Equal(2, samples.Select(s => s.QueryId).Distinct().Count());
    }

    [Fact]
    public void A_run_marks_the_teachers_it_imports_and_asks_only_the_others()
    {
        var (configuration, errors) = RunConfiguration.Parse("""{"run": "mixed", "teachers": [{"name": "small", "passes": 2}, {"name": "r1", "imported": true}]}""");
        Assert.Empty(errors);
        Assert.Equal((2, 1), (configuration!.PassesPerQuery, configuration.GeneratingTeachers.Count));
        Assert.Equal(["r1"], configuration.ImportedTeachers);
        Assert.Equal("r1", configuration.Ladder.Strong);
        var (_, cascade) = RunConfiguration.Parse("""{"run": "c", "teachers": [{"name": "small"}, {"name": "r1", "imported": true}], "feeder": {"cascade": true}}""");
        Assert.Contains(cascade, e => e.StartsWith("feeder.cascade", StringComparison.Ordinal));
    }
}
