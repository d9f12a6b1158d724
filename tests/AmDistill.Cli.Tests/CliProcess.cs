using System.Diagnostics;

namespace AmDistill.Cli.Tests;

/// <summary>One run of <c>amdistill</c> as a process: its exit code and what it wrote.</summary>
public sealed record CliRun(int ExitCode, string Stdout, string Stderr)
{
    public static async Task<CliRun> RunAsync(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "amdistill.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["AMDISTILL_API"] = null; // the default, unless a test passes --api
        info.Environment["AMDISTILL_DEBUG"] = null;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return new CliRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>What a user must never see: a stack trace or a .NET type where words belong.</summary>
    public void AssertNoTrace()
    {
        Assert.DoesNotContain("   at ", Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", Stderr, StringComparison.Ordinal);
        Assert.NotEqual(70, ExitCode); // an unexpected failure, reported as a bug
    }
}
