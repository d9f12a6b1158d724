using System.Diagnostics;
using System.Text.Json;

namespace AmDistill.AppHost.Tests;

[Collection(AppHostCollection.Name)]
public sealed class ManifestTests
{
    /// <summary>What <c>azd</c> deploys: every service, Redis as a container with a secret password, teachers' keys as secrets, the trainer image build.</summary>
    [Fact]
    public async Task The_manifest_lists_every_service_and_redis_as_a_container()
    {
        var output = Path.Combine(Path.GetTempPath(), $"amdistill-manifest-{Guid.NewGuid():N}.json");
        var appHost = Projects.AmDistill_AppHost.ProjectPath;
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "run", "--project", appHost, "--no-build", "--", "--publisher", "manifest", "--output-path", output,
                     "--AmDistill:Teachers:deepseek:Endpoint=https://api.deepseek.com/v1", "--AmDistill:Teachers:deepseek:Model=deepseek-reasoner" })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var log = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.True(process.ExitCode == 0, await log + await errors);

        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(output));
        File.Delete(output);
        var resources = manifest.RootElement.GetProperty("resources");
        Assert.StartsWith("container.", resources.GetProperty("redis").GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.Contains("{redis-password.value}", resources.GetProperty("redis").GetProperty("connectionString").GetString(), StringComparison.Ordinal);
        Assert.Equal("parameter.v0", resources.GetProperty("redis-password").GetProperty("type").GetString());
        foreach (var service in RunningPipeline.Services)
        {
            Assert.Equal("project.v0", resources.GetProperty(service).GetProperty("type").GetString());
        }
        foreach (var service in RunningPipeline.Services.Except(["teacher-sim"]))
        {
            var environment = resources.GetProperty(service).GetProperty("env");
            Assert.Equal("{redis.connectionString}", environment.GetProperty("ConnectionStrings__redis").GetString());
        }
        // A real teacher's API key is a secret parameter, never a plain value.
        var key = resources.GetProperty("deepseek-api-key");
        Assert.True(key.GetProperty("inputs").GetProperty("value").GetProperty("secret").GetBoolean());
        var generation = resources.GetProperty("generation").GetProperty("env");
        Assert.Equal("{deepseek-api-key.value}", generation.GetProperty("Generation__Teachers__deepseek__ApiKey").GetString());
        Assert.Equal("https://api.deepseek.com/v1", generation.GetProperty("Generation__Teachers__deepseek__Endpoint").GetString());

        var trainer = resources.GetProperty("trainer-gpu");
        Assert.Equal("container.v1", trainer.GetProperty("type").GetString());
        Assert.EndsWith(Path.Combine("services", "trainer-gpu", "Dockerfile"), trainer.GetProperty("build").GetProperty("dockerfile").GetString(), StringComparison.Ordinal);
    }
}
