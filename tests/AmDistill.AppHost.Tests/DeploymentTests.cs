using System.Diagnostics;
using System.Text.Json.Nodes;

namespace AmDistill.AppHost.Tests;

/// <summary>The Azure Container Apps templates (infra/) compile with the Bicep CLI, without errors or warnings, and
/// grant each app only what it needs.</summary>
public sealed class DeploymentTests
{
    public static TheoryData<string> Templates() =>
        [.. Directory.EnumerateFiles(Path.Combine(RepoFiles.Root, "infra"), "*.bicep", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(RepoFiles.Root, f))];

    [Theory]
    [MemberData(nameof(Templates))]
    public async Task Every_template_compiles_without_errors_or_warnings(string template)
    {
        var (exitCode, _, diagnostics) = await BuildAsync(template);
        Assert.Equal(0, exitCode);
        Assert.True(diagnostics.Trim().Length == 0, diagnostics);
    }

    /// <summary>
    /// What the compiled deployment grants (an ARM template: expressions, read as text): one identity per app; Key Vault
    /// access only per secret, never on the vault; the teacher keys to generation's identity alone; verification, which
    /// runs untrusted code, without ingress and with no secret beyond the Redis connection every worker has.
    /// </summary>
    [Fact]
    public async Task Each_app_has_its_own_identity_and_reads_only_its_own_secrets()
    {
        var (exitCode, json, diagnostics) = await BuildAsync(Path.Combine("infra", "main.bicep"));
        Assert.True(exitCode == 0, diagnostics);
        var deployments = Resources(JsonNode.Parse(json)!)
            .Where(r => (string?)r["type"] == "Microsoft.Resources/deployments")
            .ToDictionary(r => (string)r["name"]!, r => r["properties"]!);

        var vaultScoped = deployments.Values.SelectMany(d => Resources(d["template"]!))
            .Where(r => (string?)r["type"] == "Microsoft.Authorization/roleAssignments" && ((string?)r["scope"])?.Contains("Microsoft.KeyVault") == true)
            .Select(r => (string)r["scope"]!).ToList();
        Assert.NotEmpty(vaultScoped);
        Assert.All(vaultScoped, scope => Assert.StartsWith("[resourceId('Microsoft.KeyVault/vaults/secrets'", scope));

        Assert.EndsWith(".generation.principalId]", (string)deployments["vault"]["parameters"]!["teacherKeyReader"]!["value"]!);

        var apps = deployments["apps"]["template"]!;
        var teacherSecrets = apps["variables"]!["copy"]!.AsArray().Single(v => (string?)v!["name"] == "teacherSecrets")!;
        Assert.EndsWith("parameters('identities').generation.id)]", (string)teacherSecrets["input"]!);
        var identities = Resources(apps).Where(r => ((string)r["type"]!).StartsWith("Microsoft.App/", StringComparison.Ordinal) && r["identity"] is not null)
            .Select(r => Assert.Single(r["identity"]!["userAssignedIdentities"]!.AsObject()).Key).ToList();
        Assert.Equal(5, identities.Count); // the workers (one per worker by name), teacher-sim, api, trainer, trainer-gpu
        Assert.All(identities, id => Assert.Contains("parameters('identities')", id));
        Assert.Equal(identities.Count, identities.Distinct().Count());

        var verification = apps["variables"]!["workers"]!.AsArray().Single(w => (string?)w!["name"] == "verification")!;
        Assert.Empty(verification["secrets"]!.AsArray());
        Assert.False((bool)verification["ingress"]!);
    }

    private static IEnumerable<JsonNode> Resources(JsonNode template) => template["resources"] switch
    {
        JsonObject byName => byName.Select(r => r.Value!),
        JsonArray list => list.Select(r => r!),
        _ => [],
    };

    private static async Task<(int ExitCode, string Json, string Diagnostics)> BuildAsync(string template)
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
        return (process.ExitCode, await output, diagnostics);
    }
}
