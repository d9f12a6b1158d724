using AmDistill.Contracts;
using AmDistill.Messaging;
using AmDistill.Scoring.Scores;

namespace AmDistill.Scoring;

public static class Extensions
{
    /// <summary>The scoring consumer (group "scoring") and the score store it writes.</summary>
    public static IHostApplicationBuilder AddScoringServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatasetWriters("scoring");
        var options = builder.Configuration.GetSection(ScoringOptions.Section).Get<ScoringOptions>() ?? new ScoringOptions();
        builder.Services.AddOptions<ScoringOptions>().BindConfiguration(ScoringOptions.Section)
            .Validate(o => o.Concurrency >= 1, "Scoring:Concurrency must be ≥ 1").ValidateOnStart();
        builder.Services.AddSingleton(sp => new ScoreStore(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(),
            sp.GetRequiredService<Dataset.Store.IDatasetStore>()));
        builder.Services.AddSingleton<ScoringMetrics>();
        builder.Services.AddStreamConsumer<VerifiedResponse, ScoringHandler>(Streams.Scoring, consumer =>
        {
            consumer.Group = "scoring";
            consumer.Concurrency = options.Concurrency;
        });
        return builder;
    }
}
