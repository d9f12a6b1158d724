using System.Text.Json;
using AmDistill.Dataset.Samples;
using ZstdSharp;

namespace AmDistill.Dataset.Store;

/// <summary>
/// Appends JSON lines (samples, or final query records) zstd-compressed to numbered parts (<c>{writer}-{n:D6}.jsonl.zst</c>), starting a new
/// part past the size limit. Each append is flushed through the compressor to the file before it returns, so an
/// acknowledged message's sample survives the process; the compressor keeps its window across flushes, so the ratio
/// stays that of one stream. A crash can leave a torn last frame, which readers skip.
/// Appends that arrive while a flush is under way are written and flushed together by the next one (group commit):
/// one compressor flush and one write per group instead of per line, which is what a busy service's appends cost.
/// </summary>
public sealed class PartWriter : IAsyncDisposable
{
    public const string Extension = ".jsonl.zst";
    private readonly string _directory;
    private readonly string _name;
    private readonly long _maxPartBytes;
    private readonly object _gate = new();
    private List<Pending> _pending = [];
    private bool _flushing;
    private bool _disposed;
    private FileStream? _file;
    private CompressionStream? _zstd;
    private int _part;

    private readonly record struct Pending(byte[] Line, TaskCompletionSource Written);

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

    /// <summary>Appends one JSON value (UTF-8, no newline) as a line; returns once it is flushed to the file.</summary>
    public Task AppendLineAsync(byte[] line, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Completed off the flushing thread: a waiter's continuation must not hold up the next group.
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool lead;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _pending.Add(new Pending(line, written));
            lead = !_flushing;
            _flushing = true;
        }
        // The first to arrive writes its group; whoever arrived meanwhile is written by the next group.
        if (lead) FlushGroup();
        return written.Task;
    }

    private void FlushGroup()
    {
        List<Pending> group;
        lock (_gate)
        {
            group = _pending;
            _pending = [];
        }
        try
        {
            if (_file is null || _file.Length >= _maxPartBytes) Roll();
            foreach (var pending in group)
            {
                _zstd!.Write(pending.Line);
                _zstd.WriteByte((byte)'\n');
            }
            _zstd!.Flush();
            _file!.Flush();
            foreach (var pending in group) pending.Written.TrySetResult();
        }
        catch (Exception e)
        {
            foreach (var pending in group) pending.Written.TrySetException(e);
            // What the compressor holds is unknown now: the next group starts a new part. Closing a broken part may fail
            // too; that must not leave the writer flushing for ever.
            try { Close(); } catch (Exception) { }
        }
        lock (_gate)
        {
            if (_pending.Count == 0)
            {
                _flushing = false;
                Monitor.PulseAll(_gate);
                return;
            }
        }
        // Not on this caller's time: it has its own work to go on with.
        ThreadPool.UnsafeQueueUserWorkItem(static writer => writer.FlushGroup(), this, preferLocal: false);
    }

    private void Roll()
    {
        Close();
        var path = Path.Combine(_directory, $"{_name}-{_part++:D6}{Extension}");
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16);
        _zstd = new CompressionStream(_file, level: 3, leaveOpen: true);
    }

    private void Close()
    {
        try
        {
            _zstd?.Dispose();
            _file?.Dispose();
        }
        finally
        {
            _zstd = null;
            _file = null;
        }
    }

    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _disposed = true;
            while (_flushing) Monitor.Wait(_gate);
        }
        Close();
        return ValueTask.CompletedTask;
    }
}
