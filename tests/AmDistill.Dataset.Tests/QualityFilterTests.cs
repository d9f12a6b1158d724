using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Quality;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Tests;

public sealed class QualityFilterTests : IDisposable
{
    private const string Boilerplate = "as a large language model I must first restate the problem in my own words before I start to solve it";
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-quality-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static string Unique(int i) => string.Join(' ', Enumerable.Range(0, 40).Select(j => $"w{i}x{j}"));

    [Fact]
    public void Counts_each_ngram_once_per_response()
    {
        var counter = new NgramCounter(n: 20);
        for (var i = 0; i < 25; i++) counter.Add($"{Unique(i)} {Boilerplate} {Unique(i + 100)}");
        counter.Add($"{Boilerplate} {Boilerplate} {Boilerplate}"); // repeated inside one response: one more, not three
        Assert.Equal(26, counter.MaxCount(Boilerplate));
        Assert.Equal(1, counter.MaxCount(Unique(3)));
        Assert.Equal(0, counter.MaxCount("too short to hold twenty tokens"));
    }

    [Fact]
    public async Task Repetitive_and_over_long_responses_are_out_before_selection()
    {
        var store = new LocalDatasetStore(_root);
        await using (var writer = store.OpenWriter("r", "w"))
            for (var i = 0; i < 60; i++)
            {
                var thinking = i < 25 ? $"{Unique(i)} {Boilerplate}" : Unique(i);
                var tokens = i == 59 ? 40_000 : 500;
                await writer.AppendAsync(new StoredSample($"s{i}", "r", $"q{i}", QueryCategory.Math, "deepseek-r1", "m", 1, "q", thinking, "a",
                    "stop", false, 10, tokens, 0, "1", 1, true, true, "math"));
            }
        var sink = new CountingSink();
        var report = await new DatasetExporter(store, "r", new DatasetExportOptions { MaxNgramRepeats = 20 }).ExportAsync(sink);
        Assert.Equal((25L, 1L, 34L), (report.FilteredRepetition, report.FilteredLength, report.Exported));
        Assert.DoesNotContain(sink.Ids, id => int.Parse(id[1..]) < 25 || id == "s59");

        var unfiltered = await new DatasetExporter(store, "r", new DatasetExportOptions { MaxTokens = null }).ExportAsync(new CountingSink());
        Assert.Equal(60, unfiltered.Exported);
    }

    private sealed class CountingSink : IExportSink
    {
        public List<string> Ids { get; } = [];

        public Task WriteAsync(StoredSample sample, Annotation annotation, CancellationToken cancellationToken)
        {
            Ids.Add(sample.SampleId);
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
