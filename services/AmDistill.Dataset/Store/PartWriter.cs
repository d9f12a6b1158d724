using System.Text.Json;
using AmDistill.Dataset.Samples;
using ZstdSharp;

namespace AmDistill.Dataset.Store;

/// <summary>
/// Appends JSON lines (samples, or final query records) zstd-compressed to numbered parts (<c>{writer}-{n:D6}.jsonl.zst</c>), starting a new
/// part past the size limit. Each append is flushed through the compressor to the file before it returns, so an
/// acknowledged message's sample survives the process; the compressor keeps its window across flushes, so the ratio
/// stays that of one stream. A crash can leave a torn last frame, which readers skip.
/// </summary>
public sealed class PartWriter : IAsyncDisposable
{
    public const string Extension = ".jsonl.zst";
    private readonly string _directory;
    private readonly string _name;
    private readonly long _maxPartBytes;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private FileStream? _file;
    private CompressionStream? _zstd;
    private int _part;

    internal PartWriter(string directory, string name, long maxPartBytes)
    {
        _directory = directory;
        _name = name;
        _maxPartBytes = maxPartBytes;
        // Continue after the parts an earlier process of the same name left.
        _part = Directory.EnumerateFiles(directory, $"{name}-*{Extension}").Count();
    }

    public Task AppendAsync(StoredSample sample, CancellationToken cancellationToken = default) =>
        AppendLineAsync(JsonSerializer.SerializeToUtf8Bytes(sample, DatasetJsonContext.Default.StoredSample), cancellationToken);

    /// <summary>Appends one JSON value (UTF-8, no newline) as a line.</summary>
    public async Task AppendLineAsync(byte[] line, CancellationToken cancellationToken = default)
    {
        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (_file is null || _file.Length >= _maxPartBytes) await RollAsync();
            await _zstd!.WriteAsync(line, cancellationToken);
            _zstd.WriteByte((byte)'\n');
            await _zstd.FlushAsync(cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task RollAsync()
    {
        await CloseAsync();
        var path = Path.Combine(_directory, $"{_name}-{_part++:D6}{Extension}");
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
        _zstd = new CompressionStream(_file, level: 3, leaveOpen: true);
    }

    private async Task CloseAsync()
    {
        if (_zstd is not null) await _zstd.DisposeAsync();
        if (_file is not null) await _file.DisposeAsync();
        _zstd = null;
        _file = null;
    }

    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync();
        try { await CloseAsync(); }
        finally { _lock.Release(); }
    }
}
