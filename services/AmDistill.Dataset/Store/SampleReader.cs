using System.Text;
using System.Text.Json;
using AmDistill.Dataset.Samples;
using ZstdSharp;

namespace AmDistill.Dataset.Store;

/// <summary>What a read of the store met besides samples.</summary>
public sealed class ReadReport
{
    public long Samples { get; set; }
    public long Duplicates { get; set; }
    public long BadLines { get; set; }
    public long TornTails { get; set; }
}

/// <summary>
/// Streams a run's samples in a stable order, each sample once: a sample written again on a redelivery (flagged
/// <see cref="StoredSample.Redelivered"/>) is dropped when a copy came first. Only flagged ids are remembered, so memory
/// stays small however many samples there are. The parts and their lengths are fixed when the reader is made, so
/// every read of one reader sees the same samples in the same order while writers go on appending.
/// </summary>
public sealed class SampleReader(IDatasetStore store, string run)
{
    private readonly IReadOnlyList<(string Part, long Length)> _snapshot = [.. store.Parts(run).Select(p => (p, store.Length(p)))];

    public async IAsyncEnumerable<StoredSample> ReadAsync(ReadReport? report = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        report ??= new ReadReport();
        // Ids that were written on a redelivery: only these can have a second copy.
        var redelivered = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var sample in ReadRawAsync(null, cancellationToken))
            if (sample.Redelivered) redelivered.Add(sample.SampleId);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var sample in ReadRawAsync(report, cancellationToken))
        {
            if (redelivered.Contains(sample.SampleId) && !seen.Add(sample.SampleId))
            {
                report.Duplicates++;
                continue;
            }
            report.Samples++;
            yield return sample;
        }
    }

    private async IAsyncEnumerable<StoredSample> ReadRawAsync(ReadReport? report, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var line in DatasetLines.ReadAsync(store, _snapshot, report, cancellationToken))
        {
            StoredSample? sample = null;
            try { sample = JsonSerializer.Deserialize(line, DatasetJsonContext.Default.StoredSample); }
            catch (JsonException) { }
            if (sample is null)
            {
                if (report is not null) report.BadLines++;
                continue;
            }
            yield return sample;
        }
    }
}

/// <summary>The lines of a run's parts of one kind, whole frames only (a torn tail is counted, not read).</summary>
public static class DatasetLines
{
    public static IAsyncEnumerable<string> ReadAsync(IDatasetStore store, string run, string kind, ReadReport? report = null, CancellationToken cancellationToken = default) =>
        ReadAsync(store, [.. store.Parts(run, kind).Select(p => (p, store.Length(p)))], report, cancellationToken);

    internal static async IAsyncEnumerable<string> ReadAsync(IDatasetStore store, IReadOnlyList<(string Part, long Length)> parts, ReadReport? report,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var (part, length) in parts)
        {
            await using var file = new PrefixStream(store.OpenRead(part), length);
            await using var zstd = new DecompressionStream(file);
            using var text = new StreamReader(zstd, Encoding.UTF8, false, 1 << 16);
            while (true)
            {
                string? line;
                try
                {
                    line = await text.ReadLineAsync(cancellationToken);
                }
                catch (Exception e) when (e is ZstdException or EndOfStreamException)
                {
                    if (report is not null) report.TornTails++; // the writer died mid-frame: what came before is whole
                    break;
                }
                if (line is null) break;
                yield return line;
            }
        }
    }
}

/// <summary>The first <c>length</c> bytes of a stream.</summary>
internal sealed class PrefixStream(Stream inner, long length) : Stream
{
    private long _left = length;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
        _left -= n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _left)], cancellationToken);
        _left -= n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// A run's final query records, one per query: the last one written. A query is written twice when a crash came between
/// its append and its done-marker (the same record), or when a redrive reopened it (the newer record wins).
/// </summary>
public static class QueryRecordLines
{
    public static async IAsyncEnumerable<string> ReadLatestAsync(IDatasetStore store, string run,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Two passes over the (small) records rather than holding them: count each query's records, then yield its last.
        var remaining = new Dictionary<ulong, int>();
        await foreach (var line in DatasetLines.ReadAsync(store, run, DatasetKinds.Queries, cancellationToken: cancellationToken))
            if (QueryId(line) is { } id) remaining[id] = remaining.GetValueOrDefault(id) + 1;
        await foreach (var line in DatasetLines.ReadAsync(store, run, DatasetKinds.Queries, cancellationToken: cancellationToken))
            if (QueryId(line) is not { } id || --remaining[id] == 0)
                yield return line; // a line without an id is left to the caller's parser to report
    }

    /// <summary>One query's latest final record, or null: a scan of the run's records (for looking one up, not for bulk reads).</summary>
    public static async Task<string?> FindLatestAsync(IDatasetStore store, string run, string queryId, CancellationToken cancellationToken = default)
    {
        var wanted = Ingestion.TextNormal.Hash(queryId);
        string? latest = null;
        await foreach (var line in DatasetLines.ReadAsync(store, run, DatasetKinds.Queries, cancellationToken: cancellationToken))
            if (QueryId(line) == wanted) latest = line;
        return latest;
    }

    private static ulong? QueryId(string line)
    {
        try
        {
            using var json = JsonDocument.Parse(line);
            return json.RootElement.TryGetProperty("query_id", out var id) && id.ValueKind == JsonValueKind.String
                ? Ingestion.TextNormal.Hash(id.GetString()!) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
