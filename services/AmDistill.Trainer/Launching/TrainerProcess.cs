using System.Diagnostics;

namespace AmDistill.Trainer.Launching;

/// <summary>One run of the trainer command: its events as they come, the tail of its stderr, its exit code.</summary>
public sealed class TrainerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _stderrTail = new();
    private readonly int _tailLines;
    private readonly Task _stderrPump;

    private TrainerProcess(Process process, int tailLines)
    {
        _process = process;
        _tailLines = tailLines;
        _stderrPump = PumpStderrAsync();
    }

    public static TrainerProcess Start(TrainerOptions options, string workingDirectory, IReadOnlyDictionary<string, string> values, IEnumerable<string> extraArguments)
    {
        var start = new ProcessStartInfo(options.Command)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in options.EffectiveArguments.Concat(extraArguments))
            start.ArgumentList.Add(values.Aggregate(argument, (text, kv) => text.Replace("{" + kv.Key + "}", kv.Value)));
        // The trainer runs user code paths (a model's remote code, a Docker image): it gets no secret of this service's.
        foreach (var name in start.Environment.Keys.Where(IsSecret).ToList())
            start.Environment.Remove(name);
        foreach (var (name, value) in options.Environment)
            start.Environment[name] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {options.Command}");
        return new TrainerProcess(process, options.StderrTailLines);
    }

    /// <summary>Environment variables that carry credentials: Aspire parameters and connection strings, keys, tokens, passwords.</summary>
    public static bool IsSecret(string name) =>
        name.StartsWith("Parameters__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase)
        || new[] { "KEY", "TOKEN", "SECRET", "PASSWORD" }.Any(word => name.Contains(word, StringComparison.OrdinalIgnoreCase));

    /// <summary>The protocol's events, until stdout closes.</summary>
    public async IAsyncEnumerable<TrainerEvent> EventsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await _process.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
            if (TrainerEvent.Parse(line) is { } trainerEvent)
                yield return trainerEvent;
    }

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        await _stderrPump;
        return _process.ExitCode;
    }

    public bool HasExited
    {
        get { try { return _process.HasExited; } catch (InvalidOperationException) { return true; } } // disposed
    }

    public string StderrTail
    {
        get { lock (_stderrTail) return string.Join('\n', _stderrTail); }
    }

    /// <summary>Ends the trainer and everything it started (torchrun workers, docker client).</summary>
    public void Kill()
    {
        try { _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // already exited
    }

    private async Task PumpStderrAsync()
    {
        while (await _process.StandardError.ReadLineAsync() is { } line)
            lock (_stderrTail)
            {
                _stderrTail.Enqueue(line);
                if (_stderrTail.Count > _tailLines) _stderrTail.Dequeue();
            }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
