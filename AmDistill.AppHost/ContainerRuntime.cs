using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace AmDistill.AppHost;

/// <summary>Whether a container runtime (Docker or Podman) answers, asked the way Aspire's orchestrator asks it.</summary>
public static class ContainerRuntime
{
    private static bool? _available;

    public static bool IsAvailable(IConfiguration configuration)
    {
        if (_available is { } known) return known;
        var runtime = configuration["ASPIRE_CONTAINER_RUNTIME"] ?? configuration["DOTNET_ASPIRE_CONTAINER_RUNTIME"] ?? "docker";
        if (AmDistill.Messaging.Executables.Find(runtime) is null) return (_available = false).Value;
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null) return (_available = false).Value;
            if (!process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                process.Kill(entireProcessTree: true);
                return (_available = false).Value;
            }
            return (_available = process.ExitCode == 0).Value;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (_available = false).Value;
        }
    }
}
