using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmDistill.AppHost;

/// <summary>
/// One console line per resource state change, so a terminal user (and a CI log) sees the system come up
/// without opening the dashboard.
/// </summary>
internal sealed partial class ResourceStateLogger(ResourceNotificationService notifications, ILogger<ResourceStateLogger> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var last = new Dictionary<string, string>();
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken).ConfigureAwait(false))
            {
                var snapshot = update.Snapshot;
                if (snapshot.IsHidden) continue; // Aspire's own helpers (e.g. *-rebuilder)
                var state = string.IsNullOrEmpty(snapshot.State?.Text) ? "Starting" : snapshot.State.Text;
                var line = $"{state}{(snapshot.HealthStatus is { } health ? $" health={health}" : "")}";
                if (last.TryGetValue(update.ResourceId, out var previous) && previous == line) continue;
                last[update.ResourceId] = line;
                LogState(update.Resource.Name, snapshot.ResourceType, line);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "RESOURCE {Name} ({Type}): {State}")]
    private partial void LogState(string name, string type, string state);
}
