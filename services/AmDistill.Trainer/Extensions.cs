using AmDistill.Contracts;
using AmDistill.Messaging;
using AmDistill.Trainer.Jobs;
using AmDistill.Trainer.Launching;

namespace AmDistill.Trainer;

public static class Extensions
{
    /// <summary>The training-job consumer (group "trainer", one job at a time per replica: one replica per GPU machine),
    /// the launcher settings (section <c>Trainer</c>), the job status store, the metrics and the idle shutdown.</summary>
    public static IHostApplicationBuilder AddTrainerServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatasetStore();
        builder.Services.AddOptions<TrainerLauncherOptions>().Bind(builder.Configuration.GetSection("Trainer"));
        builder.Services.AddSingleton<TrainingStatusStore>();
        builder.Services.AddSingleton<TrainerMetrics>();
        builder.Services.AddSingleton<TrainingActivity>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddStreamProducer(Streams.Training);
        if (builder.Configuration.GetValue<TimeSpan?>("Trainer:ExitAfterIdle") is not null)
            builder.Services.AddHostedService<IdleShutdown>();
        // Trainer:RunJobs=false: the API only (submit, status, cancel), where jobs run elsewhere (a GPU job in Azure).
        if (!builder.Configuration.GetValue("Trainer:RunJobs", true)) return builder;
        builder.Services.AddStreamConsumer<TrainingJob, TrainingJobHandler>(Streams.Training, consumer =>
        {
            consumer.Group = "trainer";
            consumer.Concurrency = 1;
            consumer.BatchSize = 1;
            // A job runs for hours or days; its lease is renewed all along, so only a dead replica loses it.
            consumer.HandlerTimeout = builder.Configuration.GetValue("Trainer:JobTimeout", TimeSpan.FromDays(14));
            consumer.MaxDeliveries = 3;
        });
        return builder;
    }
}
