using System.Diagnostics;

namespace AmDistill.Trainer.Tests;

/// <summary>
/// The GPU trainer's own unit tests (services/trainer-gpu/tests: records, formatting, masking, packing, schedule,
/// chunked loss, a tiny model trained and resumed on CPU), run with a Python that has torch — Debian's
/// <c>python3-torch</c> in CI; <c>AMDISTILL_PYTHON</c> names another.
/// </summary>
public sealed class PythonTrainerTests
{
    [Fact]
    public async Task The_trainer_programs_unit_tests_pass_on_cpu()
    {
        var python = await FindPythonWithTorchAsync()
            ?? throw new InvalidOperationException("no Python with torch found: apt-get install python3-torch, or set AMDISTILL_PYTHON");
        var (code, output) = await RunAsync(python, ["-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"],
            Path.Combine(RepoFiles.Root, "services", "trainer-gpu"), TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"{python} -m unittest exited with {code}:\n{output}");
        Assert.Matches(@"Ran [1-9]\d* tests", output);
    }

    private static async Task<string?> FindPythonWithTorchAsync()
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

    private static async Task<(int Code, string Output)> RunAsync(string file, string[] arguments, string directory, TimeSpan timeout)
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
