using System.Text;
using AmDistill.Dataset.Quality;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Export;

/// <summary>Receives the exported samples in store order.</summary>
public interface IExportSink : IAsyncDisposable
{
    Task WriteAsync(StoredSample sample, Annotation annotation, CancellationToken cancellationToken);
}

public sealed record ExportReport(long Samples, long Queries, long Exported, long Duplicates, long BadLines, long TornTails,
    long FilteredLength, long FilteredRepetition);

/// <summary>
/// Selects and exports a run's samples in three streaming passes (four with the repetition filter, whose n-gram counts
/// need the whole run first), so memory does not grow with the dataset:
/// 1. every sample gets an ordinal (its place in the store's order) and a small projection (query, teacher, score)
///    written to one of N partitions by query hash, with the quality filters' verdict (length, repetition);
/// 2. each partition is read alone, grouped into query records, and the policy (all, Stage I, Stage II, band) decides;
///    filtered responses are out of the dataset before selection (the paper's §2.5 comes before §3);
///    the kept ordinals with their query's pass rates, CV and level go to a sorted annotation file per partition;
/// 3. the samples are streamed again and merged with the annotations by ordinal into the sink.
/// Memory: one partition's projections (~100 bytes per sample of 1/N of the run), plus Stage II's bounded heaps.
/// </summary>
public sealed class DatasetExporter(IDatasetStore store, string run, DatasetExportOptions options)
{
    public async Task<ExportReport> ExportAsync(IExportSink sink, CancellationToken cancellationToken = default)
    {
        var work = options.TempDirectory is { } temp
            ? Directory.CreateDirectory(Path.Combine(temp, $"amdistill-export-{Guid.NewGuid():N}"))
            : Directory.CreateTempSubdirectory("amdistill-export-");
        try
        {
            var reader = new SampleReader(store, run);
            var read = new ReadReport();
            var ngrams = options.MaxNgramRepeats is null ? null : await CountNgramsAsync(reader, cancellationToken);
            var filtered = new long[3];
            var samples = await PartitionAsync(reader, read, work.FullName, ngrams, filtered, cancellationToken);
            var (queries, annotationFiles) = Select(work.FullName);
            var exported = await MergeAsync(reader, annotationFiles, sink, cancellationToken);
            return new ExportReport(samples, queries, exported, read.Duplicates, read.BadLines, read.TornTails,
                filtered[(int)FilterReason.Length], filtered[(int)FilterReason.Repetition]);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private string PartitionPath(string work, int k) => Path.Combine(work, $"p{k:D4}.bin");

    private static string ResponseText(StoredSample s) => s.Thinking + "\n" + s.Answer;

    private async Task<NgramCounter> CountNgramsAsync(SampleReader reader, CancellationToken cancellationToken)
    {
        var counter = new NgramCounter(options.NgramTokens);
        await foreach (var s in reader.ReadAsync(cancellationToken: cancellationToken)) counter.Add(ResponseText(s));
        return counter;
    }

    private FilterReason Filter(StoredSample s, NgramCounter? ngrams) =>
        options.MaxTokens is { } maxTokens && s.PromptTokens + s.CompletionTokens > maxTokens ? FilterReason.Length
        : ngrams is not null && ngrams.MaxCount(ResponseText(s)) > options.MaxNgramRepeats ? FilterReason.Repetition
        : FilterReason.None;

    private async Task<long> PartitionAsync(SampleReader reader, ReadReport read, string work, NgramCounter? ngrams, long[] filtered, CancellationToken cancellationToken)
    {
        var writers = new BinaryWriter[options.Partitions];
        for (var k = 0; k < writers.Length; k++)
            writers[k] = new BinaryWriter(new BufferedStream(File.Create(PartitionPath(work, k)), 1 << 16), Encoding.UTF8);
        long ordinal = 0;
        try
        {
            await foreach (var s in reader.ReadAsync(read, cancellationToken))
            {
                var k = (int)((uint)StringComparer.Ordinal.GetHashCode(s.QueryId) % (uint)writers.Length); // per-process hash: partitions live one export
                var reason = Filter(s, ngrams);
                filtered[(int)reason]++;
                new Projection(ordinal++, s.QueryId, s.Teacher, s.SampleId, s.VerifyScore, s.Scored, s.Category, reason).Write(writers[k]);
            }
        }
        finally
        {
            foreach (var w in writers) w.Dispose();
        }
        return ordinal;
    }

    private (long Queries, List<string> Files) Select(string work)
    {
        var files = new List<string>();
        var stageTwo = options.Policy == ExportPolicy.StageTwo ? new StageTwoSelector(options.Selection, options.StageTwoCaps) : null;
        var stageTwoPicks = new Dictionary<string, Annotation>(StringComparer.Ordinal);
        long queries = 0;
        for (var k = 0; k < options.Partitions; k++)
        {
            var byQuery = new Dictionary<string, List<Projection>>(StringComparer.Ordinal);
            using (var r = new BinaryReader(new BufferedStream(File.OpenRead(PartitionPath(work, k)), 1 << 16), Encoding.UTF8))
                while (r.BaseStream.Position < r.BaseStream.Length)
                {
                    var p = Projection.Read(r);
                    if (!byQuery.TryGetValue(p.QueryId, out var list)) byQuery[p.QueryId] = list = [];
                    list.Add(p);
                }
            File.Delete(PartitionPath(work, k));
            queries += byQuery.Count;

            var kept = new List<Annotation>();
            foreach (var (queryId, all) in byQuery)
            {
                List<Projection> projections = [.. all.Where(p => p.Filtered == FilterReason.None)];
                if (projections.Count == 0) continue;
                var record = new QueryRecord(queryId, projections[0].Category, projections.Where(p => p.Scored).GroupBy(p => p.Teacher)
                    .ToDictionary(g => g.Key, g => (IReadOnlyList<ScoredResponse>)[.. g.OrderBy(p => p.Ordinal).Select(p => new ScoredResponse(p.SampleId, p.Score))]));
                var template = Annotate(record);
                var ordinals = projections.ToDictionary(p => p.SampleId, p => p.Ordinal, StringComparer.Ordinal);
                switch (options.Policy)
                {
                    case ExportPolicy.All:
                        kept.AddRange(projections.Select(p => template with { Ordinal = p.Ordinal }));
                        break;
                    case ExportPolicy.StageOne:
                        AddKept(kept, SelectionPolicies.StageOne(record, options.Selection), template, ordinals);
                        break;
                    case ExportPolicy.Band:
                        AddKept(kept, SelectionPolicies.Band(record, options.Selection, options.BandMin, options.BandMax), template, ordinals);
                        break;
                    case ExportPolicy.StageTwo:
                        if (stageTwo!.Offer(record) is { Kept: true, Responses: [var pick] })
                            stageTwoPicks[queryId] = template with { Ordinal = ordinals[pick.SampleId] };
                        break;
                }
            }
            if (stageTwo is null) files.Add(WriteAnnotations(work, $"a{k:D4}.bin", kept));
        }
        if (stageTwo is not null)
            files.Add(WriteAnnotations(work, "stage2.bin", [.. stageTwo.Results().Select(s => stageTwoPicks[s.Query.QueryId])]));
        return (queries, files);
    }

    private static void AddKept(List<Annotation> kept, Selection selection, Annotation template, Dictionary<string, long> ordinals)
    {
        if (selection.Kept) kept.AddRange(selection.Responses.Select(r => template with { Ordinal = ordinals[r.SampleId] }));
    }

    private Annotation Annotate(QueryRecord record)
    {
        var thresholds = options.Selection.Thresholds;
        float? Rate(string teacher) => record.Responses.ContainsKey(teacher) ? (float)record.PassRate(teacher, thresholds) : null;
        float? cv = record.Responses.ContainsKey(options.Selection.Teacher) ? (float)record.CoefficientOfVariation(options.Selection.Teacher, options.Selection.Std) : null;
        return new Annotation(0, Rate(options.Ladder.Strong), Rate(options.Ladder.Middle), Rate(options.Ladder.Weak), cv, options.Ladder.Grade(record, thresholds));
    }

    private static string WriteAnnotations(string work, string name, List<Annotation> annotations)
    {
        annotations.Sort((a, b) => a.Ordinal.CompareTo(b.Ordinal));
        var path = Path.Combine(work, name);
        using var w = new BinaryWriter(new BufferedStream(File.Create(path), 1 << 16));
        foreach (var a in annotations) a.Write(w);
        return path;
    }

    private static async Task<long> MergeAsync(SampleReader reader, List<string> files, IExportSink sink, CancellationToken cancellationToken)
    {
        var readers = files.Select(f => new BinaryReader(new BufferedStream(File.OpenRead(f), 1 << 16))).ToList();
        try
        {
            var next = new PriorityQueue<(Annotation Annotation, BinaryReader Reader), long>();
            foreach (var r in readers) Advance(next, r);
            long ordinal = 0, exported = 0;
            await foreach (var sample in reader.ReadAsync(cancellationToken: cancellationToken))
            {
                if (next.Count == 0) break;
                if (next.Peek().Annotation.Ordinal == ordinal)
                {
                    var (annotation, r) = next.Dequeue();
                    await sink.WriteAsync(sample, annotation, cancellationToken);
                    exported++;
                    Advance(next, r);
                }
                ordinal++;
            }
            return exported;
        }
        finally
        {
            foreach (var r in readers) r.Dispose();
        }
    }

    private static void Advance(PriorityQueue<(Annotation, BinaryReader), long> next, BinaryReader reader)
    {
        if (reader.BaseStream.Position >= reader.BaseStream.Length) return;
        var a = Annotation.Read(reader);
        next.Enqueue((a, reader), a.Ordinal);
    }
}
