using AmDistill.Contracts;
using AmDistill.Messaging;
using AmDistill.Trainer.Jobs;
using AmDistill.Trainer.Launching;
using AmDistill.Trainer.Serving;

namespace AmDistill.Trainer;

public static class Extensions
{
    /// <summary>The training-job consumer (group "trainer", one job at a time per replica: one replica per GPU machine),
    /// the launcher settings (section <c>Trainer</c>), the job status store, the model servers (<c>Trainer:Serving</c>),
    /// the metrics and the idle shutdown.</summary>
    public static IHostApplicationBuilder AddTrainerServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatasetStore();
        var options = builder.Configuration.GetSection(TrainerOptions.Section).Get<TrainerOptions>() ?? new TrainerOptions();
        builder.Services.AddOptions<TrainerOptions>().BindConfiguration(TrainerOptions.Section)
            .Validate(o => o.Command.Length > 0 && o.JobTimeout > TimeSpan.Zero && (o.ExitAfterIdle is null || o.ExitAfterIdle > TimeSpan.Zero),
                "Trainer: Command is required, JobTimeout and ExitAfterIdle must be > 0")
            .ValidateOnStart();
        builder.Services.AddSingleton<TrainingStatusStore>();
        builder.Services.AddSingleton<TrainerMetrics>();
        builder.Services.AddSingleton<TrainingActivity>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<ServingOptions>().BindConfiguration(ServingOptions.Section)
            .Validate(o => o.StartTimeout > TimeSpan.Zero && o.MaxTokens >= 1, "Trainer:Serving: StartTimeout must be > 0, MaxTokens ≥ 1");
        builder.Services.AddSingleton<ModelServers>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ModelServers>());
        builder.Services.AddStreamProducer(Streams.Training);
        if (options.ExitAfterIdle is not null) builder.Services.AddHostedService<IdleShutdown>();
        if (!options.RunJobs) return builder;
        builder.Services.AddStreamConsumer<TrainingJob, TrainingJobHandler>(Streams.Training, consumer =>
        {
            consumer.Group = "trainer";
            consumer.Concurrency = 1;
            consumer.BatchSize = 1;
            consumer.HandlerTimeout = options.JobTimeout;
            consumer.MaxDeliveries = 3;
        });
        return builder;
    }
}
