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
/// What every AmDistill service shares, and nothing of the domain: OpenTelemetry (OTLP to the Aspire dashboard), health
/// checks, who may call (<see cref="AccessOptions"/>), service discovery, problem details and the standard resilience handler on every HttpClient. Redis messaging
/// (<c>AddRedisMessaging</c>) and the dataset store (<c>AddDatasetWriters</c>) register from their own libraries.
/// </summary>
public static class Extensions
{
    private const string HealthEndpointPath = "/health";
    private const string AlivenessEndpointPath = "/alive";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.AddDefaultAccess();
        builder.Services.AddServiceDiscovery();
        builder.Services.AddProblemDetails(); // errors answer as RFC 9457 problems, never with a stack trace
        // Stop within the few seconds an orchestrator waits after SIGTERM (Aspire's DCP kills soon after), so that every
        // store part is closed with its zstd end frame and unfinished messages are handed back rather than killed.
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            // The factory's per-request logging handlers log below Warning only, which is filtered out (see
            // ConfigureOpenTelemetry), yet cost a scope and four log calls per teacher request.
            http.RemoveAllLoggers();
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
        // Per-request lines on the hot path (1–3 from the resilience pipeline per teacher or judge call; HttpClient's own
        // logging handlers are removed below) buried the logs: only warnings and errors are kept. The metrics count every request.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);

        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                // Every meter and activity source of ours is named AmDistill.* (the service's own, the messaging library's).
                .AddMeter("AmDistill.*", builder.Environment.ApplicationName))
            .WithTracing(tracing => tracing
                .AddSource("AmDistill.*", builder.Environment.ApplicationName)
                .AddAspNetCoreInstrumentation(options =>
                    // Health probes every few seconds would drown the real traces.
                    options.Filter = context =>
                        !context.Request.Path.StartsWithSegments(HealthEndpointPath) &&
                        !context.Request.Path.StartsWithSegments(AlivenessEndpointPath))
                .AddHttpClientInstrumentation()
                .AddProcessor(new DropRootRedisSpans()));

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
        app.UseAuthentication();
        app.UseAuthorization();
        // The platform's probes come without a caller.
        app.MapHealthChecks(HealthEndpointPath).AllowAnonymous();
        app.MapHealthChecks(AlivenessEndpointPath, new HealthCheckOptions { Predicate = r => r.Tags.Contains("live") }).AllowAnonymous();
        return app;
    }
}

/// <summary>
/// Redis commands are traced inside the work they belong to (a handler, a request); on their own they are the consumers'
/// polls, renewals and maintenance, thousands of one-span traces an hour that buried the real ones in the dashboard.
/// Such root spans are not recorded, so they are never exported.
/// </summary>
public sealed class DropRootRedisSpans : BaseProcessor<System.Diagnostics.Activity>
{
    public override void OnStart(System.Diagnostics.Activity data)
    {
        if (data.Parent is null && data.ParentSpanId == default && data.Source.Name.Contains("Redis", StringComparison.Ordinal))
        {
            data.ActivityTraceFlags &= ~System.Diagnostics.ActivityTraceFlags.Recorded;
            data.IsAllDataRequested = false;
        }
    }
}

