using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmDistill.AppHost;

/// <summary>
/// Ctrl-C (or SIGTERM) as a clean stop. Left to the orchestrator, the services' <c>dotnet run</c> wrappers are not
/// signalled in a way that reaches the services, the AppHost returns at once, and ~10 s later they are killed with their
/// store parts unfinished. So the AppHost sends SIGTERM to every service itself (a <c>dotnet run</c> wrapper passes it on)
/// and waits while they hand back their messages and close their parts; then the orchestrator stops Redis and the rest,
/// and the AppHost waits for every process it started, kills what is left after <see cref="Limit"/>, and says so.
/// </summary>
internal sealed class GracefulShutdown(ResourceNotificationService notifications, IHostApplicationLifetime lifetime, ILogger<GracefulShutdown> logger)
    : BackgroundService
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    private sealed record Tracked(int Id, string Resource, bool IsProject, DateTime Started);

    // Resource name → its process id and kind, as last reported (a restarted resource gets a new process).
    private readonly ConcurrentDictionary<string, (int Id, bool IsProject)> _resources = new();
    private Stopwatch _stopping = new();
    private List<Tracked> _tree = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lifetime.ApplicationStopping.Register(SignalServices);
        lifetime.ApplicationStopped.Register(WaitForProcesses);
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken).ConfigureAwait(false))
            {
                var pid = update.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value;
                // 0 (not started yet) or 1 would make every process on the machine a descendant.
                if (pid is not null && int.TryParse(Convert.ToString(pid, CultureInfo.InvariantCulture), out var id) && id > 1 && id != Environment.ProcessId)
                    _resources[update.Resource.Name] = (id, update.Resource is ProjectResource);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void SignalServices()
    {
        _stopping = Stopwatch.StartNew();
        // Taken now, while the services still run under their wrappers: each tree followed down, with start times so
        // that a process id reused meanwhile is never taken for ours.
        _tree = [.. _resources.SelectMany(r => Descendants(r.Value.Id).Prepend(r.Value.Id).Select(id => (Id: id, Resource: r.Key, r.Value.IsProject)))
            .DistinctBy(p => p.Id)
            .Select(p => StartTime(p.Id) is { } started ? new Tracked(p.Id, p.Resource, p.IsProject, started) : null)
            .OfType<Tracked>()];
        foreach (var (id, _) in _resources.Values.Where(r => r.IsProject)) Terminate(id);
        // Blocking here holds the orchestrator's own shutdown back (this callback, registered last, runs first), so Redis
        // is still there while the services acknowledge and hand back their messages.
        var services = _tree.Where(p => p.IsProject).ToList();
        WaitUntil(() => services.All(p => !IsAlive(p)), Limit - TimeSpan.FromSeconds(2));
    }

    private void WaitForProcesses()
    {
        foreach (var (id, _) in _resources.Values.Where(r => !r.IsProject && StartTime(r.Id) is not null)) Terminate(id);
        WaitUntil(() => _tree.All(p => !IsAlive(p)), Limit);

        var alive = _tree.Where(IsAlive).ToList();
        if (alive.Count == 0)
        {
            logger.LogInformation("STOPPED: all {Count} processes of AmDistill exited {Seconds:0.0} s after the stop was asked for", _tree.Count, _stopping.Elapsed.TotalSeconds);
            return;
        }
        foreach (var process in alive) Kill(process.Id);
        logger.LogWarning("STOPPED: {Count} processes still ran {Limit} s after the stop was asked for and were killed: {Names}",
            alive.Count, Limit.TotalSeconds, string.Join(", ", alive.Select(p => p.Resource).Distinct()));
    }

    private void WaitUntil(Func<bool> done, TimeSpan deadline)
    {
        while (!done() && _stopping.Elapsed < deadline) Thread.Sleep(100);
    }

    /// <summary>SIGTERM through kill(1): .NET can only SIGKILL another process.</summary>
    private static void Terminate(int id)
    {
        if (OperatingSystem.IsWindows()) return;
        try
        {
            using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
            kill?.WaitForExit(1000);
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    private static void Kill(int id)
    {
        try
        {
            using var process = Process.GetProcessById(id);
            process.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
        }
    }

    private static bool IsAlive(Tracked process) => StartTime(process.Id) == process.Started;

    private static DateTime? StartTime(int id)
    {
        try
        {
            using var process = Process.GetProcessById(id);
            return process.HasExited ? null : process.StartTime;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <summary>Child processes, from /proc (Linux); none elsewhere, where the orchestrator's own tree kill has to do.</summary>
    private static List<int> Descendants(int root)
    {
        var result = new List<int>();
        if (!Directory.Exists("/proc")) return result;
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var id)) continue;
            try
            {
                // "pid (comm) state ppid …"; comm may hold spaces and parentheses, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], CultureInfo.InvariantCulture);
                if (!children.TryGetValue(parent, out var list)) children[parent] = list = [];
                list.Add(id);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
            }
        }
        var queue = new Queue<int>([root]);
        while (queue.TryDequeue(out var id))
            foreach (var child in children.GetValueOrDefault(id) ?? [])
            {
                result.Add(child);
                queue.Enqueue(child);
            }
        return result;
    }
}
