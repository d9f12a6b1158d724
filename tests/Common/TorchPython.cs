using System.Diagnostics;

namespace AmDistill.Tests;

/// <summary>
/// A Python with torch and numpy, which the trainer program needs (Debian's <c>python3-torch</c> in CI;
/// <c>AMDISTILL_PYTHON</c> names another), and a way to run it on the CPU.
/// </summary>
internal static class TorchPython
{
    private static readonly Lazy<Task<string?>> Found = new(FindAsync);

    public static async Task<string> RequireAsync() => await Found.Value
        ?? throw new InvalidOperationException("no Python with torch found: apt-get install python3-torch, or set AMDISTILL_PYTHON");

    private static async Task<string?> FindAsync()
    {
        string?[] candidates = [Environment.GetEnvironmentVariable("AMDISTILL_PYTHON"), "python3", "/usr/bin/python3"];
        foreach (var candidate in candidates.OfType<string>().Distinct())
        {
            try
            {
                if ((await RunAsync(candidate, ["-c", "import torch, numpy"], ".", TimeSpan.FromMinutes(1))).Code == 0) return candidate;
            }
            catch (System.ComponentModel.Win32Exception) { } // not installed
        }
        return null;
    }

    /// <summary>Runs <paramref name="file"/> with no GPU visible; its exit code and its output, stdout then stderr.</summary>
    public static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, string directory, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["CUDA_VISIBLE_DEVICES"] = "";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { process.Kill(entireProcessTree: true); throw new TimeoutException($"{file} ran past {timeout}"); }
        return (process.ExitCode, await stdout + await stderr);
    }
}
