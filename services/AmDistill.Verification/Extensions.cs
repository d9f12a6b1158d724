using AmDistill.Contracts;
using AmDistill.Messaging;
using AmDistill.Sandbox;
using AmDistill.Verification.Verifying;

namespace AmDistill.Verification;

public static class Extensions
{
    /// <summary>The verification consumer (group "verification"), the scoring producer and the dataset store the
    /// verified samples are written to.</summary>
    public static IHostApplicationBuilder AddVerificationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatasetWriters("verification");
        var options = builder.Configuration.GetSection(VerificationOptions.Section).Get<VerificationOptions>() ?? new VerificationOptions();
        builder.Services.AddOptions<VerificationOptions>().BindConfiguration(VerificationOptions.Section)
            .Validate(o => o.Concurrency >= 1 && o.Sandboxes >= 0, "Verification:Concurrency must be ≥ 1 and Verification:Sandboxes ≥ 0")
            .Validate(o => o.SandboxFusionUrl.Length == 0 || Uri.IsWellFormedUriString(o.SandboxFusionUrl, UriKind.Absolute), "Verification:SandboxFusionUrl must be an absolute URL")
            .ValidateOnStart();
        builder.Services.AddSingleton<VerificationMetrics>();
        builder.Services.AddOptions<JudgeOptions>().BindConfiguration(JudgeOptions.Section)
            .Validate(o => o.Endpoint.Length == 0 || Uri.IsWellFormedUriString(o.Endpoint, UriKind.Absolute), "Verification:Judge:Endpoint must be an absolute URL")
            .Validate(o => o.MaxInFlight >= 1 && o.RequestsPerMinute >= 0 && o.RequestTimeout > TimeSpan.Zero, "Verification:Judge: MaxInFlight ≥ 1, RequestsPerMinute ≥ 0, RequestTimeout > 0")
            .ValidateOnStart();
        builder.Services.AddOptions<RewardModelOptions>().BindConfiguration(RewardModelOptions.Section)
            .Validate(o => o.Endpoint.Length == 0 || Uri.IsWellFormedUriString(o.Endpoint, UriKind.Absolute), "Verification:RewardModel:Endpoint must be an absolute URL")
            .ValidateOnStart();
        var judge = builder.Configuration.GetSection(JudgeOptions.Section).Get<JudgeOptions>() ?? new JudgeOptions();
        var judgeTimeout = judge.RequestTimeout;
        var judgeHttp = builder.Services.AddHttpClient(JudgeScorer.HttpClientName);
        // A grader thinks longer than the service defaults' 10 s attempt timeout allows.
#pragma warning disable EXTEXP0001
        judgeHttp.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        judgeHttp.AddStandardResilienceHandler(r =>
        {
            r.AttemptTimeout.Timeout = judgeTimeout;
            r.TotalRequestTimeout.Timeout = judgeTimeout * 3;
            r.CircuitBreaker.SamplingDuration = judgeTimeout * 2;
            // Pacing: the standard pipeline's outermost strategy, so a request (not each retry) takes one permit.
            if (judge.RequestsPerMinute > 0)
            {
                var paced = new System.Threading.RateLimiting.TokenBucketRateLimiter(new()
                {
                    TokenLimit = Math.Max(1, judge.RequestsPerMinute / 60), // a second's worth of burst
                    TokensPerPeriod = 1,
                    ReplenishmentPeriod = TimeSpan.FromMinutes(1.0 / judge.RequestsPerMinute),
                    QueueLimit = int.MaxValue,
                    AutoReplenishment = true,
                });
                r.RateLimiter.RateLimiter = args => paced.AcquireAsync(1, args.Context.CancellationToken);
            }
        });
        builder.Services.AddSingleton<JudgeScorer>();
        // Code runs in a SandboxFusion deployment when one is configured, else in the local bubblewrap sandbox.
        if (options.SandboxFusionUrl is { Length: > 0 } sandboxFusion) AddSandboxFusion(builder, sandboxFusion);
        else if (OperatingSystem.IsLinux() && SandboxAvailable()) AddCodeSandbox(builder, options.Sandboxes > 0 ? options.Sandboxes : Environment.ProcessorCount);
        else builder.Services.AddSingleton(new CodeSampleVerifier(null));
        builder.Services.AddStreamProducer(Streams.Scoring);
        builder.Services.AddStreamConsumer<GeneratedResponse, VerificationHandler>(Streams.Verification, consumer =>
        {
            consumer.Group = "verification";
            consumer.Concurrency = options.Concurrency;
        });
        return builder;
    }

    private static void AddSandboxFusion(IHostApplicationBuilder builder, string url)
    {
        var http = builder.Services.AddHttpClient("sandboxfusion", client =>
        {
            client.BaseAddress = new Uri(url.TrimEnd('/') + "/");
            client.Timeout = TimeSpan.FromMinutes(5); // a program's whole test batch: (6 s + 1) × 10 + 5 s, and queueing
        });
        // The standard handler's 10 s attempt timeout would cut every batch; a sandbox error is retried by the stream instead.
#pragma warning disable EXTEXP0001
        http.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        builder.Services.AddSingleton(sp => new CodeSampleVerifier(new CodeVerifier(
            new SandboxFusionSandbox(sp.GetRequiredService<IHttpClientFactory>().CreateClient("sandboxfusion")))));
    }

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    private static void AddCodeSandbox(IHostApplicationBuilder builder, int slots)
    {
        builder.Services.AddSingleton(_ => new BubblewrapSandbox(new SandboxOptions { Slots = slots }));
        builder.Services.AddSingleton(sp => new CodeSampleVerifier(new CodeVerifier(sp.GetRequiredService<BubblewrapSandbox>())));
    }

    /// <summary>bubblewrap on PATH: code is only ever run inside it.</summary>
    private static bool SandboxAvailable() => Executables.Find("bwrap") is not null;
}
