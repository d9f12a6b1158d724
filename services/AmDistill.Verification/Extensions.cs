using AmDistill.Contracts;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using AmDistill.Verification.Verifying;

namespace AmDistill.Verification;

public static class Extensions
{
    /// <summary>The verification consumer (group "verification"), the scoring producer and the dataset store the
    /// verified samples are written to.</summary>
    public static IHostApplicationBuilder AddVerificationServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatasetStore();
        builder.Services.AddSingleton(sp => new DatasetWriters(sp.GetRequiredService<IDatasetStore>(), $"verification-{Environment.MachineName}-{Environment.ProcessId}"));
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
