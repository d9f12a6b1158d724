using AmDistill.Messaging;

namespace Microsoft.Extensions.Hosting;

public static class MessagingHostingExtensions
{
    /// <summary>
    /// Registers the Redis client (connection string <c>redis</c>, with its health check, logs and traces)
    /// that the stream producers and consumers of <see cref="MessagingServiceCollectionExtensions"/> use.
    /// </summary>
    public static TBuilder AddRedisMessaging<TBuilder>(this TBuilder builder, string connectionName = "redis") where TBuilder : IHostApplicationBuilder
    {
        builder.AddRedisClient(connectionName, configureOptions: options =>
        {
            // Keep retrying while Redis restarts instead of failing the process.
            options.AbortOnConnectFail = false;
        });
        return builder;
    }
}
