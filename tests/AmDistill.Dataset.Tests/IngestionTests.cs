using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Dataset.Ingestion;

namespace AmDistill.Dataset.Tests;

public sealed class IngestionTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-ingest-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Line(string id, string question, string category = "math") =>
        new JsonObject { ["id"] = id, ["category"] = category, ["source"] = "test", ["question"] = question }.ToJsonString();

    private const string Long = "A farmer has a rectangular field whose length is three times its width and whose perimeter is 240 metres; " +
        "he fences it and then divides it into two equal parts with one more fence parallel to the width. How long is that fence?";

    [Fact]
    public async Task Query_ids_must_be_ids_and_a_duplicate_id_is_a_bad_line_with_its_first_line()
    {
        string[] lines =
        [
            Line("q-1", Long), Line("q-1", Long + " Again, but the id is the same."), Line("../../etc/passwd", Long + " Path."),
            Line("has space", Long + " Space."), Line(new string('x', 201), Long + " Long id."), Line("q-2", Long + " Fine."),
            Line("q-3", new string('y', QueryIngestion.MaxQuestionChars + 1)),
        ];
        var input = Path.Combine(_root, "ids.jsonl");
        await File.WriteAllLinesAsync(input, lines);
        var report = await new QueryIngestion(new IngestOptions { NearDuplicateThreshold = 0 }, null).RunAsync(input, Path.Combine(_root, "ids-out.jsonl"), null);
        Assert.Equal((2, 5), (report.Kept, report.BadLines));
        Assert.Contains("line 7: question longer than 100,000 characters", report.Errors);
        Assert.Contains("line 2: duplicate id 'q-1' (first on line 1)", report.Errors);
        Assert.Contains(report.Errors, e => e.StartsWith("line 3: id '../../etc/passwd' is not a query id", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.StartsWith("line 4: id 'has space' is not a query id", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.StartsWith("line 5: id 'xxx", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_line_or_field_past_its_cap_is_a_bad_line_and_is_never_held_whole()
    {
        string[] lines =
        [
            Line("ok", Long),
            Line("huge", new string('z', QueryIngestion.MaxLineChars)), // the line is longer than the cap: skipped as it is read
            Line("cat", Long + " Category.", category: new string('c', 65)),
            new JsonObject { ["id"] = "src", ["category"] = "math", ["source"] = new string('s', 1_001), ["question"] = Long + " Source." }.ToJsonString(),
            new JsonObject { ["id"] = "ref", ["category"] = "math", ["question"] = Long + " Reference.", ["reference_answer"] = new string('r', 100_001) }.ToJsonString(),
            Line("ok-2", Long + " Still read after all that."),
            """{"id": "seven", "category": 7, "question": "What is 3 + 4?"}""",
            Line("typo", Long + " Typo.", category: "maths"),
            Line("alias", Long + " An alias of another dataset.", category: "Instruction_Following"),
        ];
        var input = Path.Combine(_root, "caps.jsonl");
        await File.WriteAllLinesAsync(input, lines);
        var report = await new QueryIngestion(new IngestOptions { NearDuplicateThreshold = 0 }, null).RunAsync(input, Path.Combine(_root, "caps-out.jsonl"), null);
        Assert.Equal((3, 6), (report.Kept, report.BadLines));
        Assert.Equal(["line 2: line longer than 67,108,864 characters", "line 3: category longer than 64 characters",
            "line 4: source longer than 1,000 characters", "line 5: reference_answer longer than 100,000 characters",
            "line 7: category 7 is not a name (math, code, science, if, other)",
            "line 8: category 'maths' is not one of math, code, science, if, other"], report.Errors);
        // Kept under the one name every reader writes.
        Assert.Contains("\"category\":\"if\"", File.ReadLines(Path.Combine(_root, "caps-out.jsonl")).Last(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_parquet_file_that_declares_more_rows_per_group_than_are_read_is_refused_before_reading_them()
    {
        var input = Path.Combine(_root, "bomb.parquet");
        var id = new Parquet.Schema.DataField<string>("id");
        await using (var file = File.Create(input))
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(id), file))
        using (var group = writer.CreateRowGroup())
            await group.WriteAsync(id, new string?[QueryIngestion.MaxRowsPerGroup + 1], null); // nulls: a few bytes on disk
        Assert.True(new FileInfo(input).Length < 100_000);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() =>
            new QueryIngestion(new IngestOptions(), null).RunAsync(input, Path.Combine(_root, "bomb-out.jsonl"), null));
        Assert.StartsWith("row group 1 holds 1,048,577 rows; at most 1,048,576 per row group are read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_drop_has_its_reason_and_bad_lines_their_number()
    {
        var aime = JsonNode.Parse(File.ReadLines(RepoFiles.Benchmark("decontamination.jsonl")).First())!;
        string[] lines =
        [
            Line("ok-1", Long),
            Line("exact", "  " + Long.ToUpperInvariant().Replace(";", " ;") + "  "),       // same text, other case and spacing
            Line("near", Long.Replace("240 metres", "240 meters")),                         // one word changed
            Line("ok-2", "Find all real x such that x^2 - 5x + 6 = 0, and give their sum as a fraction."),
            "{not json",
            """{"id": "no-question", "category": "math"}""",
            Line("contaminated", "Please solve: " + aime["question"]!.GetValue<string>()),
            Line("url", "Summarise the article at https://example.com/a and give three key points."),
            Line("table", "Given the table\n| a | b |\n|---|---|\n| 1 | 2 |\nwhat is a + b for the first row?"),
            Line("empty", "   "),
            Line("figure", "In the figure below, triangle ABC is right-angled at C. Find the area of ABC."),
            Line("ok-3", "Write a Python function that returns the n-th Fibonacci number using iteration.", "code"),
        ];
        var input = Path.Combine(_root, "in.jsonl");
        await File.WriteAllLinesAsync(input, lines);
        var benchmarks = QueryIngestion.LoadBenchmarks([RepoFiles.Benchmark("decontamination.jsonl")], 13);
        Assert.Equal(560, benchmarks.Benchmarks);

        var output = Path.Combine(_root, "out.jsonl");
        var rejects = Path.Combine(_root, "rejects.jsonl");
        var report = await new QueryIngestion(new IngestOptions(), benchmarks).RunAsync(input, output, rejects);

        Assert.Equal(["ok-1", "ok-2", "ok-3"], File.ReadLines(output).Select(l => JsonNode.Parse(l)!["id"]!.ToString()));
        Assert.Equal((12L, 3L, 2L), (report.Read, report.Kept, report.BadLines));
        Assert.Equal(new Dictionary<string, long>
        {
            ["contaminated"] = 1, ["duplicate"] = 1, ["empty"] = 1, ["figure"] = 1, ["near-duplicate"] = 1, ["table"] = 1, ["url"] = 1,
        }, report.Dropped);
        Assert.Contains(report.Errors, e => e.StartsWith("line 5: invalid JSON", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e == "line 6: no question text");
        var reasons = File.ReadLines(rejects).Select(l => JsonNode.Parse(l)!).ToDictionary(r => r["line"]!.GetValue<long>(), r => r["reason"]!.ToString());
        Assert.StartsWith("contaminated: overlaps " + aime["id"], reasons[7]);
    }

    [Fact]
    public async Task A_run_keeps_only_its_categories()
    {
        var input = Path.Combine(_root, "in.jsonl");
        await File.WriteAllLinesAsync(input, [Line("m", Long), Line("c", "Write a Python function that reverses a linked list in place.", "code"),
            Line("g", "Explain why the sky looks blue at noon and red at sunset, briefly.", "general")]);
        var report = await new QueryIngestion(new IngestOptions { Categories = ["math", "other"] }, null).RunAsync(input, Path.Combine(_root, "out.jsonl"), null);
        Assert.Equal((3L, 2L), (report.Read, report.Kept)); // "general" is the AM files' "other"
        Assert.Equal(new Dictionary<string, long> { ["category"] = 1 }, report.Dropped);
    }

    [Fact]
    public void Near_duplicates_by_threshold()
    {
        var near = new NearDeduplicator(0.8);
        Assert.False(near.IsDuplicate(Long));
        Assert.True(near.IsDuplicate(Long.Replace("three times", "3 times")));
        Assert.False(near.IsDuplicate("A completely different question about prime numbers and their gaps below one million, asked twice over."));
        var loose = new NearDeduplicator(0.3);
        Assert.False(loose.IsDuplicate(Long));
        Assert.True(loose.IsDuplicate(Long[..(Long.Length * 2 / 3)]));
    }

    [Fact]
    public async Task The_shared_benchmarks_are_caught_in_their_own_words()
    {
        var decontaminator = QueryIngestion.LoadBenchmarks([RepoFiles.Benchmark("decontamination.jsonl")], 13);
        var questions = File.ReadLines(RepoFiles.Benchmark("decontamination.jsonl")).Select(l => JsonNode.Parse(l)!["question"]!.GetValue<string>()).ToList();
        Assert.All(questions, q => Assert.NotNull(decontaminator.Match(q)));
        Assert.Null(decontaminator.Match(Long));
        await Task.CompletedTask;
    }
}
