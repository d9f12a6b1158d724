using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AmDistill.Messaging;

/// <summary>
/// Traces and metrics of the messaging layer. ServiceDefaults subscribes to <see cref="Name"/>.
/// </summary>
public static class MessagingTelemetry
{
    public const string Name = "AmDistill.Messaging";

    internal static readonly ActivitySource Source = new(Name);
    internal static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> Produced = Meter.CreateCounter<long>("amdistill.messaging.produced", "{message}", "Entries added to a stream.");
    internal static readonly Counter<long> Consumed = Meter.CreateCounter<long>("amdistill.messaging.consumed", "{message}", "Entries handled successfully and acknowledged.");
    internal static readonly Counter<long> Failed = Meter.CreateCounter<long>("amdistill.messaging.failed", "{message}", "Handler failures (the entry is retried or dead-lettered).");
    internal static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>("amdistill.messaging.dead_lettered", "{message}", "Entries moved to the dead-letter stream.");
    internal static readonly Counter<long> Reclaimed = Meter.CreateCounter<long>("amdistill.messaging.reclaimed", "{message}", "Entries taken over from a consumer that stopped renewing them.");
    internal static readonly Histogram<double> HandlerDuration = Meter.CreateHistogram<double>("amdistill.messaging.handler.duration", "s", "Time spent in the message handler.");
    internal static readonly Counter<double> BackpressureWait = Meter.CreateCounter<double>("amdistill.messaging.backpressure.wait", "s", "Time producers spent waiting for consumers to catch up.");

    private static readonly ConcurrentDictionary<(string Stream, string Group), long> Backlogs = new();

    static MessagingTelemetry()
    {
        Meter.CreateObservableGauge("amdistill.messaging.lag", ObserveBacklogs, "{message}",
            "Entries of a stream not yet acknowledged by a consumer group (undelivered + pending).");
    }

    internal static void ReportBacklog(string stream, string group, long backlog) => Backlogs[(stream, group)] = backlog;

    private static IEnumerable<Measurement<long>> ObserveBacklogs()
    {
        foreach (var ((stream, group), value) in Backlogs)
            yield return new Measurement<long>(value, new KeyValuePair<string, object?>("messaging.destination.name", stream),
                new KeyValuePair<string, object?>("messaging.consumer.group.name", group));
    }

    internal static KeyValuePair<string, object?> StreamTag(string stream) => new("messaging.destination.name", stream);
}
