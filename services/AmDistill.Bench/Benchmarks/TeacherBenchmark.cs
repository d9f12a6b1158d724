using System.Diagnostics;
using System.Globalization;
using System.Net;
using AmDistill.Contracts;
using AmDistill.Generation;
using AmDistill.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;
using AmDistill.Scoring.Core;
using AmDistill.LocalRedis;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// The generation path at full load: tasks in Redis → the generation service (in this process) → the teacher simulator
/// (a child process answering every request after a fixed latency) → samples in Redis. With L requests in flight and a
/// latency of W seconds, Little's law caps throughput at L / W; the figure is how close the client side gets.
/// </summary>
internal static class TeacherBenchmark
{
    public sealed record Settings(int Requests, int InFlight, int LatencyMs);

    public static async Task<int> RunAsync(Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        await using var redisServer = await LocalRedisServer.StartAsync(cancellationToken: cancellationToken);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        using var sim = await StartSimulatorAsync(settings.LatencyMs, cancellationToken);
        var limit = settings.InFlight / (settings.LatencyMs / 1000.0);
        output.WriteLine($"amdistill-bench teacher: {settings.Requests:N0} requests, {settings.InFlight:N0} in flight, {settings.LatencyMs} ms latency, {Environment.ProcessorCount} cores; Little's-law limit {limit:N0} responses/s");

        var producer = new StreamProducer<GenerationTask>(redis, Streams.Generation, new StreamProducerOptions { HighWaterMark = 0 });
        foreach (var chunk in Enumerable.Range(0, settings.Requests).Chunk(500))
            await producer.PublishBatchAsync([.. chunk.Select(i => new GenerationTask("bench", $"q{i}", QueryCategory.Math, "bench", [0], $"Question {i}: what is {i} + {i}?")).Select(t => (t, t.Key))], cancellationToken);

        var self = Process.GetCurrentProcess();
        var workerCpu = self.TotalProcessorTime;
        var simCpu = sim.Process.TotalProcessorTime;
        var redisCpu = redisServer.Process!.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        using var host = await StartGenerationAsync(redisServer.ConnectionString, sim.Endpoint, settings.InFlight, cancellationToken);
        var started = clock.Elapsed;
        var db = redis.GetDatabase();

        // Stands in for the verification service: takes samples off the stream so that backpressure never stops generation.
        var samples = new CountingHandler<GeneratedResponse>();
        using var stopDrain = new CancellationTokenSource();
        var drain = new StreamConsumer<GeneratedResponse>(redis, Streams.Verification, samples,
            new StreamConsumerOptions { Group = "verification", Concurrency = 64, BatchSize = 256 }).RunAsync(stopDrain.Token);
        TimeSpan? firstResponse = null;
        while (samples.Count < settings.Requests)
        {
            if (samples.Count > 0) firstResponse ??= clock.Elapsed;
            await Task.Delay(10, cancellationToken);
        }
        var elapsed = clock.Elapsed;
        self.Refresh();
        sim.Process.Refresh();
        redisServer.Process.Refresh();
        var perThousand = 1000.0 / settings.Requests;
        var rate = settings.Requests / elapsed.TotalSeconds;
        output.WriteLine($"  responses/s              {rate,10:N0}  ({rate / limit:P1} of the limit; {settings.Requests:N0} in {elapsed.TotalSeconds:F1} s)");
        output.WriteLine($"  service start {started.TotalSeconds:F2} s, first response after {firstResponse?.TotalSeconds:F2} s");
        output.WriteLine($"  CPU per 1,000 responses  worker {(self.TotalProcessorTime - workerCpu).TotalMilliseconds * perThousand:N0} ms, " +
                         $"simulator {(sim.Process.TotalProcessorTime - simCpu).TotalMilliseconds * perThousand:N0} ms, redis {(redisServer.Process.TotalProcessorTime - redisCpu).TotalMilliseconds * perThousand:N0} ms");
        var dead = await db.StreamLengthAsync(Streams.Generation.DeadLetterName);
        if (dead > 0) output.WriteLine($"  {dead} tasks dead-lettered");
        await host.StopAsync(CancellationToken.None);
        await stopDrain.CancelAsync();
        await drain;
        return dead == 0 ? 0 : 1;
    }

    private static async Task<IHost> StartGenerationAsync(string redis, string endpoint, int inFlight, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = Directory.CreateTempSubdirectory("amdistill-bench-").FullName });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis,
            ["Logging:LogLevel:Default"] = "Warning",
            // More tasks than slots to the teacher: the next task is prepared (deduplicated, leased) while it waits for a slot.
            ["Generation:Concurrency"] = (inFlight * 5 / 4).ToString(CultureInfo.InvariantCulture),
            ["Generation:Teachers:bench:Endpoint"] = endpoint,
            ["Generation:Teachers:bench:Model"] = "bench-sim",
            ["Generation:Teachers:bench:MaxInFlight"] = inFlight.ToString(CultureInfo.InvariantCulture),
        });
        builder.AddServiceDefaults();
        builder.AddRedisMessaging();
        builder.AddGenerationServices();
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }

    private sealed record Simulator(Process Process, string Endpoint) : IDisposable
    {
        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }

    /// <summary>The simulator in its own process, so its CPU is measured apart from the worker's.</summary>
    private static async Task<Simulator> StartSimulatorAsync(int latencyMs, CancellationToken cancellationToken)
    {
        var port = LoopbackPort.Free();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Directory.CreateTempSubdirectory("amdistill-sim-").FullName,
        };
        foreach (var arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "AmDistill.TeacherSim.dll"), $"--urls=http://127.0.0.1:{port}", $"--contentRoot={Path.GetTempPath()}",
                     "--Logging:LogLevel:Default=Warning", "--TeacherSim:Models:0:Name=bench-sim", $"--TeacherSim:Models:0:FixedLatencyMs={latencyMs}",
                 })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var endpoint = $"http://127.0.0.1:{port}/v1";
        using var http = new HttpClient();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(endpoint + "/models"), cancellationToken);
                if (response.IsSuccessStatusCode) break;
            }
            catch (HttpRequestException) when (attempt < 100)
            {
            }
            await Task.Delay(100, cancellationToken);
        }
        return new Simulator(process, endpoint);
    }
}
