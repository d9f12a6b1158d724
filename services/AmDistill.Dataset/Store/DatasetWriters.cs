using System.Collections.Concurrent;
using AmDistill.Dataset.Samples;

namespace AmDistill.Dataset.Store;

/// <summary>This process's writer per run, opened on first use and closed (last frame finished) on disposal.</summary>
public sealed class DatasetWriters(IDatasetStore store, string writerName) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<SampleWriter>> _writers = new(StringComparer.Ordinal);

    public IDatasetStore Store => store;

    public Task AppendAsync(StoredSample sample, CancellationToken cancellationToken = default) =>
        _writers.GetOrAdd(sample.RunId, run => new Lazy<SampleWriter>(() => store.OpenWriter(run, writerName))).Value
            .AppendAsync(sample, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        foreach (var writer in _writers.Values.Where(w => w.IsValueCreated))
            await writer.Value.DisposeAsync();
    }
}
