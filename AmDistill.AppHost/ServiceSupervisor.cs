using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmDistill.AppHost;

/// <summary>
/// Brings a crashed service back under <c>dotnet run</c>, as Container Apps does in Azure: Aspire has no restart policy
/// for projects (dotnet/aspire#1708). A service that exits with a non-zero code while the system runs is started again
/// after a backoff (1, 2, 4 … 30 s), at most <see cref="MaxRestarts"/> times in <see cref="Window"/>; a clean exit
/// (code 0, e.g. a stop from the dashboard) is left alone. Its unfinished messages are taken over by the new process
/// once their visibility timeout passes.
/// </summary>
internal sealed class ServiceSupervisor(ResourceNotificationService notifications, ResourceCommandService commands, IHostApplicationLifetime lifetime,
    ILogger<ServiceSupervisor> logger) : BackgroundService
{
    public const int MaxRestarts = 5;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var handled = new HashSet<(string Resource, DateTime? Stopped)>();
        var restarts = new Dictionary<string, List<DateTime>>();
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken).ConfigureAwait(false))
            {
                var snapshot = update.Snapshot;
                if (update.Resource is not ProjectResource || lifetime.ApplicationStopping.IsCancellationRequested) continue;
                if (snapshot.State?.Text != KnownResourceStates.Exited && snapshot.State?.Text != KnownResourceStates.Finished || snapshot.ExitCode is null or 0) continue;
                if (!handled.Add((update.Resource.Name, snapshot.StopTimeStamp))) continue; // one exit, reported again

                var name = update.Resource.Name;
                var recent = restarts.TryGetValue(name, out var list) ? list : restarts[name] = [];
                recent.RemoveAll(t => DateTime.UtcNow - t > Window);
                if (recent.Count >= MaxRestarts)
                {
                    logger.LogError("RESTART {Resource}: exited with code {ExitCode} after {Count} restarts in {Minutes} min; left stopped (see its logs in the dashboard)",
                        name, snapshot.ExitCode, recent.Count, Window.TotalMinutes);
                    continue;
                }
                recent.Add(DateTime.UtcNow);
                var delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, recent.Count - 1)));
                logger.LogWarning("RESTART {Resource}: exited with code {ExitCode}; starting it again in {Delay} s (restart {Count} of {Max} in {Minutes} min)",
                    name, snapshot.ExitCode, delay.TotalSeconds, recent.Count, MaxRestarts, Window.TotalMinutes);
                _ = RestartAsync(update.Resource, delay, stoppingToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RestartAsync(IResource resource, TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, stoppingToken).ConfigureAwait(false);
            var result = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, stoppingToken).ConfigureAwait(false);
            if (!result.Success) logger.LogError("RESTART {Resource} failed: {Message}", resource.Name, result.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
