using System.Text.Json;
using AmDistill.Contracts;
using StackExchange.Redis;

namespace AmDistill.Generation.Teachers;

/// <summary>
/// Publishes this service's teachers (name → model, endpoint, sampling, prices; never the key) to
/// <see cref="RunKeys.Teachers"/>, which the control plane checks a run's configuration against. Replaced whole at
/// every start, so a teacher removed from the configuration disappears; retried until Redis answers.
/// </summary>
public sealed class TeacherRegistration(Microsoft.Extensions.Options.IOptions<GenerationOptions> options, IConnectionMultiplexer redis,
    ILogger<TeacherRegistration> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var entries = options.Value.Teachers.Values.Select(t => new HashEntry(t.Name, JsonSerializer.Serialize(new
        {
            model = t.Model,
            endpoint = t.Endpoint,
            provider = t.Provider.ToString(),
            temperature = t.Temperature,
            topP = t.TopP,
            maxTokens = t.MaxTokens,
            pricePerMillionInputTokens = t.PricePerMillionInputTokens,
            pricePerMillionOutputTokens = t.PricePerMillionOutputTokens,
            batch = t.Batch,
        }))).ToArray();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var transaction = redis.GetDatabase().CreateTransaction();
                _ = transaction.KeyDeleteAsync(RunKeys.Teachers);
                if (entries.Length > 0) _ = transaction.HashSetAsync(RunKeys.Teachers, entries);
                await transaction.ExecuteAsync();
                logger.LogInformation("Registered teachers: {Teachers}", string.Join(", ", options.Value.Teachers.Values.Select(t => t.Name)));
                return;
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException)
            {
                logger.LogWarning("Registering the teachers failed ({Error}); retrying", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
    }
}
