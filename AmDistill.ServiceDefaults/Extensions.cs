using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// What every AmDistill service shares: OpenTelemetry (OTLP to the Aspire dashboard), health checks,
/// service discovery and the standard resilience handler on every HttpClient; and the Redis messaging backbone.
/// </summary>
public static class Extensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.AddProblemDetails(); // errors answer as RFC 9457 problems, never with a stack trace
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

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

    /// <summary>The dataset store at <c>DatasetStore:Root</c>: by default <c>.amdistill-data</c> at the repository root
    /// (services run from their project folders); in a container, a mounted volume.</summary>
    public static TBuilder AddDatasetStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var root = builder.Configuration["DatasetStore:Root"] ?? Path.Combine("..", "..", ".amdistill-data");
        builder.Services.AddSingleton<IDatasetStore>(new LocalDatasetStore(Path.Combine(builder.Environment.ContentRootPath, root)));
        return builder;
    }

    /// <summary>The dataset store and this process's writers into it, their parts named after the service's
    /// <paramref name="role"/>, the host and the process (no two processes ever write one file).</summary>
    public static TBuilder AddDatasetWriters<TBuilder>(this TBuilder builder, string role) where TBuilder : IHostApplicationBuilder
    {
        builder.AddDatasetStore();
        builder.Services.AddSingleton(sp => new DatasetWriters(sp.GetRequiredService<IDatasetStore>(), $"{role}-{Environment.MachineName}-{Environment.ProcessId}"));
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                // Each service's own meter is named after it (e.g. "AmDistill.Generation").
                .AddMeter(MessagingTelemetry.Name, builder.Environment.ApplicationName))
            .WithTracing(tracing => tracing
                .AddSource(builder.Environment.ApplicationName)
                .AddSource(MessagingTelemetry.Name)
                .AddAspNetCoreInstrumentation(options =>
                    // Health probes every few seconds would drown the real traces.
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath) &&
                        !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation());

        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            builder.Services.AddOpenTelemetry().UseOtlpExporter();

        return builder;
    }

    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), ["live"]);
        return builder;
    }

    /// <summary>
    /// <c>/health</c> (ready: every check, Redis included) and <c>/alive</c> (live: the process answers).
    /// Mapped in every environment because Azure Container Apps probes them; they report status only.
    /// </summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        // Also in Development: an unhandled error is a 500 problem without the stack trace the developer page would show.
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapHealthChecks(HealthEndpointPath);
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") });
        return app;
    }
}
