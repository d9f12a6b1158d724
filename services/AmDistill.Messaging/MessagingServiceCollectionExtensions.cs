using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AmDistill.Messaging;

public static class MessagingServiceCollectionExtensions
{
    /// <summary>Registers a <see cref="StreamProducer{T}"/> for <paramref name="stream"/> (one contract per stream, so one producer per type).</summary>
    public static IServiceCollection AddStreamProducer<T>(this IServiceCollection services, MessageStream<T> stream,
        Action<StreamProducerOptions>? configure = null)
    {
        var options = new StreamProducerOptions();
        configure?.Invoke(options);
        services.AddSingleton(sp => new StreamProducer<T>(sp.GetRequiredService<IConnectionMultiplexer>(), stream, options,
            sp.GetService<ILogger<StreamProducer<T>>>()));
        return services;
    }

    /// <summary>Runs <typeparamref name="THandler"/> over <paramref name="stream"/> as a hosted service for the life of the process.</summary>
    public static IServiceCollection AddStreamConsumer<T, THandler>(this IServiceCollection services, MessageStream<T> stream,
        Action<StreamConsumerOptions>? configure = null)
        where THandler : class, IMessageHandler<T>
    {
        var options = new StreamConsumerOptions();
        configure?.Invoke(options);
        services.AddSingleton<THandler>();
        services.AddSingleton<IHostedService>(sp => new StreamConsumerService<T>(new StreamConsumer<T>(
            sp.GetRequiredService<IConnectionMultiplexer>(), stream, sp.GetRequiredService<THandler>(), options,
            sp.GetService<ILogger<StreamConsumer<T>>>())));
        return services;
    }
}

/// <summary>Hosts a consumer; the host's shutdown becomes the consumer's graceful stop.</summary>
public sealed class StreamConsumerService<T>(StreamConsumer<T> consumer) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => consumer.RunAsync(stoppingToken);
}
