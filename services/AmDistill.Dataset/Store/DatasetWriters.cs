using System.Collections.Concurrent;
using AmDistill.Dataset.Samples;

namespace AmDistill.Dataset.Store;

/// <summary>This process's writer per run, opened on first use and closed (last frame finished) on disposal.</summary>
public sealed class DatasetWriters(IDatasetStore store, string writerName) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<PartWriter>> _writers = new(StringComparer.Ordinal);

    public IDatasetStore Store => store;

    public Task AppendAsync(StoredSample sample, CancellationToken cancellationToken = default) =>
        Writer(sample.RunId, DatasetKinds.Samples).AppendAsync(sample, cancellationToken);

    public Task AppendLineAsync(string run, string kind, byte[] line, CancellationToken cancellationToken = default) =>
        Writer(run, kind).AppendLineAsync(line, cancellationToken);

    private PartWriter Writer(string run, string kind) =>
        _writers.GetOrAdd($"{kind}/{run}", _ => new Lazy<PartWriter>(() => store.OpenWriter(run, writerName, kind))).Value;

    public async ValueTask DisposeAsync()
    {
        foreach (var writer in _writers.Values.Where(w => w.IsValueCreated))
            await writer.Value.DisposeAsync();
    }
}
