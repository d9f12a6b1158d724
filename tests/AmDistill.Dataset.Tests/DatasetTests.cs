using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Tests;

public sealed class DatasetTests : IDisposable
{
    private const string Run = "run-1";
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-dataset-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static StoredSample Sample(string query, string teacher, int pass, double score, QueryCategory category = QueryCategory.Math, bool redelivered = false) =>
        new($"{query}/{teacher}/{pass}", Run, query, category, teacher, teacher + "-model", pass, $"question {query}", $"thinking {pass}",
            $"answer {pass}", "stop", false, 10, 100, 0.001m, "42", score, score > 0.99, true, "math: test", redelivered);

    /// <summary>R1 and the 7B with mixed results (CV &gt; 0.05), an all-solved query, an unsolved one, an easy "other" one.</summary>
    private static IEnumerable<StoredSample> Crafted()
    {
        string[] ladder = ["r1-distill-qwen-1.5b", "r1-distill-qwen-7b", "deepseek-r1"];
        double[][] scores = [[0, 0, 0, 0], [1, 0, 0, 0], [1, 1, 0, 1]]; // mixed: L2 for the ladder? 7B solves sometimes
        for (var pass = 1; pass <= 4; pass++)
            for (var t = 0; t < 3; t++)
            {
                yield return Sample("mixed", ladder[t], pass, scores[t][pass - 1]);
                yield return Sample("solved", ladder[t], pass, 1);
                yield return Sample("unsolved", ladder[t], pass, 0);
                yield return Sample("chat", ladder[t], pass, 0.9, QueryCategory.Other);
            }
    }

    private async Task WriteAsync(IEnumerable<StoredSample> samples, string writer = "w")
    {
        await using var w = new LocalDatasetStore(_root).OpenWriter(Run, writer);
        foreach (var s in samples) await w.AppendAsync(s);
    }

    private async Task<List<StoredSample>> ReadAsync(ReadReport? report = null)
    {
        var list = new List<StoredSample>();
        await foreach (var s in new SampleReader(new LocalDatasetStore(_root), Run).ReadAsync(report)) list.Add(s);
        return list;
    }

    private async Task<List<T>> ExportLinesAsync<T>(DatasetExportOptions options, ExportFormat format, Func<string, T> parse)
    {
        var path = Path.Combine(_root, $"out-{Guid.NewGuid():N}.jsonl");
        var file = File.Create(path);
        IExportSink sink = format == ExportFormat.Am ? new AmJsonlSink(file) : new TrainingJsonlSink(file, format);
        await using (sink) await new DatasetExporter(new LocalDatasetStore(_root), Run, options).ExportAsync(sink);
        return [.. File.ReadLines(path).Select(parse)];
    }

    private Task<List<AmRecord>> ExportAmAsync(DatasetExportOptions options) =>
        ExportLinesAsync(options, ExportFormat.Am, line => JsonSerializer.Deserialize(line, AmJsonContext.Default.AmRecord)!);

    [Fact]
    public async Task Samples_come_back_in_order_across_parts_and_writers()
    {
        var samples = Crafted().ToList();
        await using (var small = new LocalDatasetStore(_root, maxPartBytes: 600).OpenWriter(Run, "a"))
            foreach (var s in samples.Take(30)) await small.AppendAsync(s);
        await WriteAsync(samples.Skip(30), "b");
        Assert.True(new LocalDatasetStore(_root).Parts(Run).Count > 3);
        Assert.Equal(samples, await ReadAsync());
    }

    [Fact]
    public async Task Concurrent_appends_are_each_on_disk_when_they_return_and_read_once()
    {
        // Appends that meet are flushed together (group commit); each must still be readable as soon as its own call
        // returns, before the writer is closed, across part rolls.
        var samples = Enumerable.Range(0, 40).SelectMany(q => Crafted().Select(s => s with { SampleId = $"{q}/{s.SampleId}", QueryId = $"{q}-{s.QueryId}" })).ToList();
        var writer = new LocalDatasetStore(_root, maxPartBytes: 4_000).OpenWriter(Run, "busy");
        await Parallel.ForEachAsync(samples, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (sample, _) => await writer.AppendAsync(sample));
        var read = await ReadAsync();
        Assert.Equal(samples.Select(s => s.SampleId).Order(StringComparer.Ordinal), read.Select(s => s.SampleId).Order(StringComparer.Ordinal));
        Assert.True(new LocalDatasetStore(_root).Parts(Run).Count > 3);
        await writer.DisposeAsync();
        Assert.Equal(samples.Count, (await ReadAsync()).Count);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.AppendAsync(samples[0]));
    }

    [Fact]
    public async Task A_torn_tail_loses_only_the_unfinished_sample()
    {
        var samples = Crafted().Take(10).ToList();
        await WriteAsync(samples);
        var part = new LocalDatasetStore(_root).Parts(Run).Single();
        var bytes = await File.ReadAllBytesAsync(part);
        Assert.True(ZstdFrames.AreComplete(bytes)); // closed by its writer
        // The process died after a flush (a frame without its last block), or while the last frame was being written.
        Assert.False(ZstdFrames.AreComplete(await FlushedNotClosedAsync()));
        Assert.False(ZstdFrames.AreComplete(bytes[..^7]));
        await File.WriteAllBytesAsync(part, bytes[..^7]);
        var report = new ReadReport();
        var read = await ReadAsync(report);
        Assert.Equal(samples.Take(read.Count), read);
        Assert.InRange(read.Count, 8, 9);
        Assert.Equal(1, report.TornTails + report.BadLines);
    }

    private static async Task<byte[]> FlushedNotClosedAsync()
    {
        var file = new MemoryStream();
        var zstd = new ZstdSharp.CompressionStream(file, level: 3, leaveOpen: true);
        await zstd.WriteAsync("{\"line\": 1}\n"u8.ToArray());
        await zstd.FlushAsync();
        return file.ToArray(); // never disposed: no end of frame
    }

    [Fact]
    public async Task A_sample_written_again_on_redelivery_is_read_once()
    {
        var first = Sample("q", "deepseek-r1", 1, 1);
        await WriteAsync([first, Sample("q", "deepseek-r1", 2, 0)]);
        await WriteAsync([first with { Redelivered = true }, Sample("q", "deepseek-r1", 3, 1, redelivered: true)], "other");
        var report = new ReadReport();
        var read = await ReadAsync(report);
        Assert.Equal(["q/deepseek-r1/1", "q/deepseek-r1/2", "q/deepseek-r1/3"], read.Select(s => s.SampleId).Order(StringComparer.Ordinal));
        Assert.Equal(1, report.Duplicates);
    }

    [Fact]
    public async Task A_reader_sees_the_parts_as_they_were_when_it_was_made()
    {
        await WriteAsync(Crafted().Take(5));
        var reader = new SampleReader(new LocalDatasetStore(_root), Run);
        await WriteAsync(Crafted().Skip(5).Take(5), "later");
        var count = 0;
        await foreach (var _ in reader.ReadAsync()) count++;
        Assert.Equal(5, count);
    }

    [Fact]
    public async Task Export_all_carries_the_am_schema_with_pass_rates_cv_and_difficulty()
    {
        await WriteAsync(Crafted());
        var rows = await ExportAmAsync(new DatasetExportOptions());
        Assert.Equal(48, rows.Count);
        var mixed = rows.First(r => r.QueryId == "mixed" && r.AnswerSource == "deepseek-r1");
        Assert.Equal("question mixed", mixed.Question);
        Assert.Equal("<think>\nthinking 1\n</think>\n<answer>\nanswer 1\n</answer>", mixed.Answer);
        Assert.Equal(("math", "42", "deepseek-r1-model"), (mixed.Category, mixed.GroundTruth, mixed.ModelName));
        Assert.Equal((0.75f, 0.25f, 0f), (mixed.PassRateR1!.Value, mixed.PassRate7B!.Value, mixed.PassRate15B!.Value));
        Assert.Equal(Statistics.CoefficientOfVariation([1, 1, 0, 1], StdConvention.Sample), mixed.Cv!.Value, 5);
        Assert.Equal(DifficultyLevel.L2.ToString(), mixed.Difficulty);
        Assert.Null(mixed.Ppl);
        Assert.Equal("other", rows.First(r => r.QueryId == "chat").Category);
    }

    [Fact]
    public async Task Stage_one_export_equals_algorithm_1_on_the_same_records()
    {
        await WriteAsync(Crafted());
        var options = new DatasetExportOptions { Policy = ExportPolicy.StageOne, Selection = new SelectionOptions { Seed = 7 } };
        var rows = await ExportAmAsync(options);

        // The same decisions from the pure policy over hand-built records.
        var expected = Crafted().GroupBy(s => s.QueryId).SelectMany(q =>
        {
            var record = new QueryRecord(q.Key, q.First().Category, q.GroupBy(s => s.Teacher)
                .ToDictionary(t => t.Key, t => (IReadOnlyList<ScoredResponse>)[.. t.Select(s => new ScoredResponse(s.SampleId, s.VerifyScore))]));
            var selection = SelectionPolicies.StageOne(record, options.Selection);
            return selection.Kept ? selection.Responses.Select(r => r.SampleId) : [];
        }).Order(StringComparer.Ordinal);
        Assert.Equal(expected, rows.Select(r => r.SampleId).Order(StringComparer.Ordinal));
        Assert.Equal(["mixed/deepseek-r1/1", "mixed/deepseek-r1/2", "mixed/deepseek-r1/4"], rows.Where(r => r.QueryId == "mixed").Select(r => r.SampleId));
        Assert.DoesNotContain(rows, r => r.QueryId is "solved" or "unsolved");
    }

    [Fact]
    public async Task Stage_two_exports_one_passing_response_per_high_cv_query()
    {
        await WriteAsync(Crafted());
        var rows = await ExportAmAsync(new DatasetExportOptions { Policy = ExportPolicy.StageTwo });
        var only = Assert.Single(rows);
        Assert.Equal("mixed", only.QueryId);
        Assert.Equal(1f, only.VerifyScore);
    }

    [Fact]
    public async Task Partitioning_does_not_change_the_export()
    {
        await WriteAsync(Crafted());
        var one = await ExportAmAsync(new DatasetExportOptions { Policy = ExportPolicy.StageOne, Partitions = 1 });
        var many = await ExportAmAsync(new DatasetExportOptions { Policy = ExportPolicy.StageOne, Partitions = 7 });
        Assert.Equal(one, many);
    }

    [Fact]
    public async Task Code_and_instruction_rows_carry_their_tests_so_the_dataset_can_be_verified_again()
    {
        const string code = """{"type":"assert","language":"python","test_imports":[],"test_list":["assert add(1, 2) == 3"]}""";
        const string instructions = """{"type":"ifeval","instruction_id_list":["punctuation:no_comma"],"kwargs":[{}]}""";
        await WriteAsync(
        [
            Sample("code-q", "deepseek-r1", 1, 1, QueryCategory.Code) with { TestCases = code, Source = "MBPP" },
            Sample("if-q", "deepseek-r1", 1, 1, QueryCategory.InstructionFollowing) with { TestCases = instructions },
            Sample("math-q", "deepseek-r1", 1, 1),
        ]);
        var rows = (await ExportAmAsync(new DatasetExportOptions())).ToDictionary(r => r.QueryId);
        Assert.Equal((code, "", "MBPP"), (rows["code-q"].TestCase, rows["code-q"].InstructionConstrain, rows["code-q"].QuestionSource));
        Assert.Equal(("", instructions), (rows["if-q"].TestCase, rows["if-q"].InstructionConstrain));
        Assert.Equal(("", "", "42"), (rows["math-q"].TestCase, rows["math-q"].InstructionConstrain, rows["math-q"].GroundTruth));
    }

    [Fact]
    public async Task Am_jsonl_and_parquet_import_back_to_the_exported_records()
    {
        await WriteAsync(Crafted());
        var jsonl = await ExportAmAsync(new DatasetExportOptions());
        var parquetPath = Path.Combine(_root, "out.parquet");
        await using (var sink = new AmParquetSink(File.Create(parquetPath), rowGroupSize: 10))
            await new DatasetExporter(new LocalDatasetStore(_root), Run, new DatasetExportOptions()).ExportAsync(sink);

        var fromParquet = new List<AmRecord>();
        await using (var input = File.OpenRead(parquetPath))
            await foreach (var r in AmParquet.ReadAsync(input)) fromParquet.Add(r);
        Assert.Equal(jsonl, fromParquet);

        var jsonlPath = Path.Combine(_root, "again.jsonl");
        await File.WriteAllLinesAsync(jsonlPath, [.. jsonl.Select(r => JsonSerializer.Serialize(r, AmJsonContext.Default.AmRecord)), "{broken"]);
        var imported = new List<(long Line, AmRecord? Record, string? Error)>();
        using (var text = File.OpenText(jsonlPath))
            await foreach (var r in AmJsonl.ReadAsync(text)) imported.Add(r);
        Assert.Equal(jsonl, imported.Where(r => r.Record is not null).Select(r => r.Record!));
        var bad = Assert.Single(imported, r => r.Error is not null);
        Assert.Equal(49, bad.Line);
    }

    [Fact]
    public async Task Training_formats_keep_the_thinking_in_the_assistant_turn()
    {
        await WriteAsync(Crafted().Take(1));
        var messages = await ExportLinesAsync(new DatasetExportOptions(), ExportFormat.Messages, line => JsonDocument.Parse(line));
        var turns = messages.Single().RootElement.GetProperty("messages");
        Assert.Equal("user", turns[0].GetProperty("role").GetString());
        Assert.Equal("<think>\nthinking 1\n</think>\n\nanswer 1", turns[1].GetProperty("content").GetString());
        var sharegpt = await ExportLinesAsync(new DatasetExportOptions(), ExportFormat.ShareGpt, line => JsonDocument.Parse(line));
        Assert.Equal("gpt", sharegpt.Single().RootElement.GetProperty("conversations")[1].GetProperty("from").GetString());
    }
}
