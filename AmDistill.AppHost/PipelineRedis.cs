using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AmDistill.AppHost;

/// <summary>The Redis that carries the pipeline's streams, and the resource to wait for before using it.</summary>
public sealed record PipelineRedis(IResourceBuilder<IResourceWithConnectionString> ConnectionString, IResourceBuilder<IResource>? WaitTarget);

public static class PipelineRedisExtensions
{
    /// <summary>
    /// Adds Redis in the mode of <c>AmDistill:Redis</c>: <c>auto</c> (a container when a container runtime answers,
    /// else <c>redis-server</c> from PATH), <c>container</c>, <c>local</c> or <c>external</c> (<c>ConnectionStrings:redis</c>).
    /// Publishing always emits the container, which the deployment maps to a managed Redis.
    /// </summary>
    /// <param name="defaultDataDir">Where a local <c>redis-server</c> keeps its append-only file unless
    /// <c>AmDistill:RedisDataDir</c> says otherwise (<c>none</c>: nothing is kept).</param>
    public static PipelineRedis AddPipelineRedis(this IDistributedApplicationBuilder builder, AppHostOptions settings, string defaultDataDir, string name = "redis")
    {
        var mode = builder.ExecutionContext.IsPublishMode ? "container" : settings.Redis.ToLowerInvariant();
        if (mode == "auto")
            mode = ContainerRuntime.IsAvailable(builder.Configuration) ? "container" : "local";

        return mode switch
        {
            "container" => AddRedisContainer(builder, settings, name),
            "local" => AddLocalRedisServer(builder, settings, name, defaultDataDir),
            _ => new PipelineRedis(builder.AddConnectionString(name), null), // external
        };
    }

    /// <summary>References Redis and starts only once it answers.</summary>
    public static IResourceBuilder<T> WithPipelineRedis<T>(this IResourceBuilder<T> resource, PipelineRedis redis)
        where T : IResourceWithEnvironment, IResourceWithWaitSupport
    {
        resource.WithReference(redis.ConnectionString);
        if (redis.WaitTarget is not null) resource.WaitFor(redis.WaitTarget);
        return resource;
    }

    private static PipelineRedis AddRedisContainer(IDistributedApplicationBuilder builder, AppHostOptions settings, string name)
    {
        var redis = builder.AddRedis(name);
        // Streams and runs are the pipeline's state: keep them across restarts of the container.
        redis.WithDataVolume("amdistill-redis").WithPersistence(TimeSpan.FromSeconds(60), 100);
        if (settings.RedisImage is { Length: > 0 } image)
            redis.WithImage(image, settings.RedisImageTag).WithImagePullPolicy(ImagePullPolicy.Never);
        return new PipelineRedis(redis, redis);
    }

    /// <summary><c>redis-server</c> as a process on a free port: for machines without a container runtime.</summary>
    private static PipelineRedis AddLocalRedisServer(IDistributedApplicationBuilder builder, AppHostOptions settings, string name, string defaultDataDir)
    {
        var path = settings.RedisServerPath ?? AmDistill.Messaging.Executables.Find("redis-server")
            ?? throw new DistributedApplicationException(
                "AmDistill needs Redis. No container runtime answers and no redis-server is on PATH: " +
                "install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis), start Docker, " +
                $"or point at an existing server with --{AppHostOptions.Section}:Redis=external and ConnectionStrings__{name}=host:port.");

        var server = builder.AddExecutable($"{name}-server", path, builder.AppHostDirectory)
            .WithEndpoint(name: "tcp", scheme: "tcp", isProxied: false);
        var endpoint = server.GetEndpoint("tcp");
        var dataDir = settings.RedisDataDir ?? defaultDataDir;
        if (dataDir == "none") dataDir = null;
        server.WithArgs(context =>
        {
            context.Args.Add("--port");
            context.Args.Add(endpoint.Property(EndpointProperty.TargetPort));
            context.Args.Add("--bind");
            context.Args.Add("127.0.0.1");
            context.Args.Add("--save");
            context.Args.Add("");
            // With a data directory runs and streams survive a restart (append-only file, fsync every second).
            context.Args.Add("--appendonly");
            context.Args.Add(dataDir is { Length: > 0 } ? "yes" : "no");
            if (dataDir is { Length: > 0 })
            {
                Directory.CreateDirectory(dataDir);
                context.Args.Add("--dir");
                context.Args.Add(Path.GetFullPath(dataDir));
            }
        });

        var connectionString = builder.AddConnectionString(name,
            ReferenceExpression.Create($"{endpoint.Property(EndpointProperty.HostAndPort)}"));

        var healthCheckKey = $"{name}-server-ping";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(healthCheckKey,
            _ => new RedisPingHealthCheck(() => connectionString.Resource.ConnectionStringExpression.GetValueAsync(default)), HealthStatus.Unhealthy, null));
        server.WithHealthCheck(healthCheckKey);

        return new PipelineRedis(connectionString, server);
    }
}

/// <summary>Healthy once Redis answers PING (RESP over a plain socket: the AppHost needs no Redis client for this).</summary>
internal sealed class RedisPingHealthCheck(Func<ValueTask<string?>> connectionString) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var hostAndPort = (await connectionString().ConfigureAwait(false) ?? "").Split(',')[0];
            var colon = hostAndPort.LastIndexOf(':');
            using var client = new TcpClient();
            await client.ConnectAsync(hostAndPort[..colon], int.Parse(hostAndPort[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            var buffer = new byte[64];
            var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            var reply = Encoding.ASCII.GetString(buffer, 0, read);
            return reply.StartsWith("+PONG", StringComparison.Ordinal) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy($"PING answered {reply.Trim()}");
        }
        catch (Exception e) when (e is SocketException or IOException or FormatException or ArgumentOutOfRangeException)
        {
            return HealthCheckResult.Unhealthy(e.Message);
        }
    }
}
