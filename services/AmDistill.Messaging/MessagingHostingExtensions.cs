using AmDistill.Messaging;
using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.Hosting;

public static class MessagingHostingExtensions
{
    /// <summary>
    /// Registers the Redis client (connection string <c>redis</c>, with its health check and logs) that the stream
    /// producers and consumers of <see cref="MessagingServiceCollectionExtensions"/> use.
    /// </summary>
    /// <remarks>
    /// A span per Redis command is off unless <c>Aspire:StackExchange:Redis:DisableTracing=false</c>: several commands per
    /// sample made up half of all exported trace data (84 MB against 45 MB for 36,000 samples, <c>amdistill-bench pipeline</c>), a
    /// load on the collector or dashboard for spans nobody reads; a task's trace keeps its publish and process spans.
    /// </remarks>
    public static TBuilder AddRedisMessaging<TBuilder>(this TBuilder builder, string connectionName = "redis") where TBuilder : IHostApplicationBuilder
    {
        var commandSpans = !builder.Configuration.GetValue("Aspire:StackExchange:Redis:DisableTracing", defaultValue: true);
        builder.AddRedisClient(connectionName, configureSettings: settings => settings.DisableTracing = !commandSpans, configureOptions: options =>
        {
            // Keep retrying while Redis restarts instead of failing the process.
            options.AbortOnConnectFail = false;
            // Socket reads on the .NET thread pool instead of the client's own scheduler threads: on a small node those
            // threads' wake-ups and hand-offs to the pool cost more CPU than the commands (amdistill-bench pipeline).
            options.SocketManager = StackExchange.Redis.SocketManager.ThreadPool;
        });
        return builder;
    }
}
