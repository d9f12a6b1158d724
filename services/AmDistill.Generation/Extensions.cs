using AmDistill.Contracts;
using AmDistill.Generation.Batches;
using AmDistill.Generation.Samples;
using AmDistill.Generation.Teachers;
using AmDistill.Messaging;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

namespace AmDistill.Generation;

public static class Extensions
{
    /// <summary>Teachers with their limits and HTTP pipelines, the generation consumer and the verification producer.</summary>
    public static IHostApplicationBuilder AddGenerationServices(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(GenerationOptions.Section);
        var options = (section.Get<GenerationOptions>() ?? new GenerationOptions()).Named();
        builder.Services.AddOptions<GenerationOptions>().Bind(section).PostConfigure(o => o.Named())
            .Validate(o => o.Teachers.Values.All(t => Uri.IsWellFormedUriString(t.Endpoint, UriKind.Absolute) && t.Model.Length > 0),
                "every teacher (Generation:Teachers:{name}) needs an absolute Endpoint and a Model")
            .Validate(o => o.Concurrency >= 1 && o.MaxDeliveries >= 1 && o.VisibilityTimeout > TimeSpan.Zero,
                "Generation: Concurrency and MaxDeliveries must be ≥ 1, VisibilityTimeout > 0")
            .ValidateOnStart();

        builder.Services.AddSingleton<GenerationMetrics>();
        builder.Services.AddSingleton<TeacherLimitsRegistry>();
        builder.Services.AddSingleton<TeacherClient>();
        builder.Services.AddSingleton<ServedTeachers>();
        // Served models (the trainer service's): local, so a short retry and no circuit breaker tuned for a provider.
        var served = new TeacherOptions();
#pragma warning disable EXTEXP0001
        builder.Services.AddHttpClient(ServedTeachers.HttpClientName).RemoveAllResilienceHandlers()
#pragma warning restore EXTEXP0001
            .AddStandardResilienceHandler(resilience =>
            {
                resilience.AttemptTimeout.Timeout = served.RequestTimeout;
                resilience.TotalRequestTimeout.Timeout = served.RequestTimeout * 3;
                resilience.CircuitBreaker.SamplingDuration = served.RequestTimeout * 2;
            });
        foreach (var teacher in options.Teachers.Values)
        {
            var http = builder.Services.AddHttpClient(TeacherClient.HttpClientName(teacher.Name));
            // Teachers think for minutes: the service defaults' 10 s attempt timeout would kill every answer, so this
            // client's standard handler is replaced by one with the teacher's timeouts (the supported way, still marked experimental).
#pragma warning disable EXTEXP0001
            http.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
            http.AddStandardResilienceHandler(resilience =>
                {
                    resilience.Retry.MaxRetryAttempts = Math.Max(1, teacher.MaxRetries);
                    resilience.Retry.UseJitter = true;
                    resilience.AttemptTimeout.Timeout = teacher.RequestTimeout;
                    resilience.TotalRequestTimeout.Timeout = teacher.RequestTimeout * (teacher.MaxRetries + 2);
                    resilience.CircuitBreaker.SamplingDuration = teacher.RequestTimeout * 2;
                    resilience.CircuitBreaker.MinimumThroughput = 20;
                    resilience.CircuitBreaker.FailureRatio = 0.5;
                    resilience.CircuitBreaker.BreakDuration = TimeSpan.FromSeconds(15);
                    // The standard handler's own concurrency limiter (1,000, no queue) must not refuse what MaxInFlight allows.
                    resilience.RateLimiter.DefaultRateLimiterOptions.PermitLimit = Math.Max(1000, teacher.MaxInFlight * 2);
                });
            http.AddHttpMessageHandler(sp => new RateLimitPauseHandler(sp.GetRequiredService<TeacherLimitsRegistry>().For(teacher.Name), sp.GetRequiredService<GenerationMetrics>()));
            if (teacher.Batch) AddBatchClient(builder, teacher);
        }

        builder.Services.AddSingleton<SampleCommitter>();
        builder.Services.AddSingleton<BatchQueue>();
        builder.Services.AddHostedService<BatchRunner>();
        builder.Services.AddHostedService<TeacherRegistration>();
        builder.Services.AddStreamProducer(Streams.Verification);
        builder.Services.AddStreamProducer(Streams.Scoring); // dead-lettered tasks settle as unscored outcomes
        builder.Services.AddStreamConsumer<GenerationTask, GenerationHandler>(Streams.Generation, consumer =>
        {
            consumer.Group = "generation";
            consumer.Concurrency = options.Concurrency;
            consumer.MaxDeliveries = options.MaxDeliveries;
            consumer.VisibilityTimeout = options.VisibilityTimeout;
        });
        return builder;
    }

    /// <summary>The Files and Batch APIs' client: retries only what is safe to repeat (a batch created twice is paid twice;
    /// a create whose answer was lost is found again by its tag).</summary>
    private static void AddBatchClient(IHostApplicationBuilder builder, TeacherOptions teacher)
    {
        var http = builder.Services.AddHttpClient(BatchApi.HttpClientName(teacher.Name));
#pragma warning disable EXTEXP0001
        http.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        http.AddStandardResilienceHandler(resilience =>
        {
            resilience.Retry.DisableForUnsafeHttpMethods();
            resilience.AttemptTimeout.Timeout = teacher.RequestTimeout;
            resilience.TotalRequestTimeout.Timeout = teacher.RequestTimeout * 4;
            resilience.CircuitBreaker.SamplingDuration = teacher.RequestTimeout * 2;
        });
    }
}
