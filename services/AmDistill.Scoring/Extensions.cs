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
        builder.Services.AddSingleton(sp => new ScoreStore(sp.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>(),
            sp.GetRequiredService<Dataset.Store.IDatasetStore>()));
        builder.Services.AddSingleton<ScoringMetrics>();
        builder.Services.AddStreamConsumer<VerifiedResponse, ScoringHandler>(Streams.Scoring, consumer => consumer.Group = "scoring");
        return builder;
    }
}
