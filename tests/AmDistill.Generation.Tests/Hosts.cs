using System.Collections.Concurrent;
using AmDistill.Messaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace AmDistill.Generation.Tests;

internal static class Repo
{
    /// <summary>An empty content root, so that no appsettings.json copied next to the tests leaks into a host.</summary>
    public static string EmptyDirectory() => Directory.CreateTempSubdirectory("amdistill-host-").FullName;
}

/// <summary>The teacher simulator on a real loopback port, with a probe of its concurrent requests.</summary>
internal sealed class SimHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _inFlight;
    private int _maxInFlight;
    private int _completed;

    private SimHost(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public string V1 => BaseUrl + "/v1";

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public int Completed => Volatile.Read(ref _completed);

    public ConcurrentBag<DateTime> RequestTimes { get; } = [];

    /// <summary>The simulator's Batch API (files and batches it holds).</summary>
    public TeacherSim.Batches.SimBatchService Batches => _app.Services.GetRequiredService<TeacherSim.Batches.SimBatchService>();

    /// <summary>Every chat request: when it started, when it ended, its status.</summary>
    public ConcurrentBag<(DateTime Started, DateTime Ended, int Status)> Responses { get; } = [];

    /// <param name="settings">Configuration keys under <c>TeacherSim:</c>, e.g. <c>Models:0:Name</c>.</param>
    public static async Task<SimHost> StartAsync(IDictionary<string, string> settings)
    {
        var args = new List<string> { "--urls=http://127.0.0.1:0", $"--contentRoot={Repo.EmptyDirectory()}", $"--TeacherSim:QueryFiles:0={RepoFiles.DemoQueries}", "--Logging:LogLevel:Default=Warning" };
        args.AddRange(settings.Select(kv => $"--TeacherSim:{kv.Key}={kv.Value}"));
        var app = TeacherSim.TeacherSimApp.Build([.. args]);
        var host = new SimHost(app);
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/v1/chat")) { await next(); return; }
            var started = DateTime.UtcNow;
            host.RequestTimes.Add(started);
            var now = Interlocked.Increment(ref host._inFlight);
            int max;
            while (now > (max = Volatile.Read(ref host._maxInFlight)) && Interlocked.CompareExchange(ref host._maxInFlight, now, max) != max) { }
            try { await next(); }
            finally
            {
                Interlocked.Decrement(ref host._inFlight);
                Interlocked.Increment(ref host._completed);
                host.Responses.Add((started, DateTime.UtcNow, context.Response.StatusCode));
            }
        });
        await app.StartAsync();
        host.BaseUrl = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Worker services' real composition (service defaults, Redis messaging, their own registrations) in this process.</summary>
internal sealed class WorkerHost : IAsyncDisposable
{
    private readonly IHost _host;

    private WorkerHost(IHost host) => _host = host;

    public IServiceProvider Services => _host.Services;

    /// <summary>The generation service.</summary>
    public static Task<WorkerHost> StartAsync(string redis, IDictionary<string, string?> settings) =>
        StartAsync(redis, settings, builder => builder.AddGenerationServices());

    public static async Task<WorkerHost> StartAsync(string redis, IDictionary<string, string?> settings, params Action<IHostApplicationBuilder>[] services)
    {
        var contentRoot = Repo.EmptyDirectory();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = contentRoot, DisableDefaults = false });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis,
            ["Logging:LogLevel:Default"] = "Warning",
            ["DatasetStore:Root"] = Path.Combine(contentRoot, "dataset"),
        });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        builder.AddRedisMessaging();
        foreach (var addServices in services) addServices(builder);
        var host = builder.Build();
        await host.StartAsync();
        return new WorkerHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}

/// <summary>The real generation service as its own process, so it can be killed like a crashed pod.</summary>
internal static class WorkerProcess
{
    /// <param name="settings">Configuration keys (<c>Generation:Teachers:t:Model</c>), passed as environment variables.</param>
    public static System.Diagnostics.Process Start(string redis, IDictionary<string, string?> settings)
    {
        var info = new System.Diagnostics.ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "AmDistill.Generation.dll"), $"--contentRoot={Repo.EmptyDirectory()}"])
        {
            WorkingDirectory = Repo.EmptyDirectory(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        info.Environment["ConnectionStrings__redis"] = redis;
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        info.Environment["Generation__VisibilityTimeout"] = "00:00:02";
        foreach (var (key, value) in settings) info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        var process = System.Diagnostics.Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
