using AmDistill.Contracts;
using AmDistill.Messaging;
using AmDistill.Verification.Verifying;

namespace AmDistill.Verification;

public static class Extensions
{
    /// <summary>The verification consumer (group "verification") and the scoring producer.</summary>
    public static IHostApplicationBuilder AddVerificationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<VerificationMetrics>();
        builder.Services.AddStreamProducer(Streams.Scoring);
        builder.Services.AddStreamConsumer<GeneratedResponse, VerificationHandler>(Streams.Verification, consumer =>
        {
            consumer.Group = "verification";
            consumer.Concurrency = builder.Configuration.GetValue("Verification:Concurrency", Environment.ProcessorCount * 2);
        });
        return builder;
    }
}
