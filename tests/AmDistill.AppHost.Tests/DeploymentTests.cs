using System.Diagnostics;

namespace AmDistill.AppHost.Tests;

/// <summary>The Azure Container Apps templates (infra/) compile with the Bicep CLI, without errors or warnings.</summary>
public sealed class DeploymentTests
{
    public static TheoryData<string> Templates() =>
        [.. Directory.EnumerateFiles(Path.Combine(RepoFiles.Root, "infra"), "*.bicep", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(RepoFiles.Root, f))];

    [Theory]
    [MemberData(nameof(Templates))]
    public async Task Every_template_compiles_without_errors_or_warnings(string template)
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var bicep = Path.Combine(packages, "azure.bicep.commandline.linux-x64", "0.49.2", "tools", "bicep");
        Assert.True(File.Exists(bicep), $"Bicep CLI not restored at {bicep}");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(bicep, File.GetUnixFileMode(bicep) | UnixFileMode.UserExecute);

        var info = new ProcessStartInfo(bicep, ["build", Path.Combine(RepoFiles.Root, template), "--stdout"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var diagnostics = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        await output;
        Assert.Equal(0, process.ExitCode);
        Assert.True(diagnostics.Trim().Length == 0, diagnostics);
    }
}
