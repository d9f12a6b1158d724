using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using System.Text;
using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.LocalRedis;
using AmDistill.TeacherSim.Models;
using StackExchange.Redis;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// The whole pipeline as deployed, on this machine: the Api, generation, verification and scoring services and the
/// teacher simulator, each its own process started from the benchmark's build with its own appsettings.json, on a
/// throwaway redis-server; N synthetic math queries × 3 simulated teachers (zero latency) × 4 passes, driven over the
/// Api's HTTP like a user (create, upload, start, watch to completion). Telemetry is on as in a deployment: every service
/// exports traces, metrics and logs over OTLP (to a sink in this process that only counts the bytes).
/// </summary>
internal static class PipelineBenchmark
{
    public sealed record Settings(int Queries, int Passes, int SettleSeconds, bool Telemetry);

    private static readonly string[] Teachers = ["r1-distill-qwen-1.5b", "r1-distill-qwen-7b", "deepseek-r1"];
    private static readonly string[] Services = ["TeacherSim", "Api", "Generation", "Verification", "Scoring"];

    public static async Task<int> RunAsync(Settings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var repository = RepositoryRoot();
        var root = Directory.CreateTempSubdirectory("amdistill-bench-pipeline-").FullName;
        await using var redisServer = await LocalRedisServer.StartAsync(cancellationToken: cancellationToken);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString + ",allowAdmin=true");
        using var sink = settings.Telemetry ? OtlpSink.Start() : null;
        var processes = new Dictionary<string, ServiceProcess>();
        try
        {
            var ports = Services.ToDictionary(s => s, _ => LoopbackPort.Free());
            foreach (var service in Services)
                processes[service] = ServiceProcess.Start(service, repository, Environment(service, ports, redisServer.ConnectionString, root, sink));
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ports["Api"]}"), Timeout = TimeSpan.FromMinutes(10) };
            foreach (var (service, port) in ports) await WaitHealthyAsync(service, port, processes[service], cancellationToken);

            var queries = Path.Combine(root, "queries.jsonl");
            await WriteQueriesAsync(queries, settings.Queries);
            var run = "bench";
            await CreateAndUploadAsync(http, run, settings, queries, cancellationToken);

            var baseline = await UsedMemoryAsync(redis);
            var cpuBefore = processes.ToDictionary(p => p.Key, p => p.Value.CpuTime);
            var redisCpuBefore = redisServer.Process!.TotalProcessorTime;
            var commandsBefore = await CommandCallsAsync(redis);
            var clock = Stopwatch.StartNew();
            await StartAsync(http, run, cancellationToken);
            var progress = new List<(double Seconds, long Verified)>();
            // Resident memory while samples flow, apart from the finished run's exports (their own peak, in the Api).
            var flowing = processes.ToDictionary(p => p.Key, _ => 0L);
            var status = await WatchAsync(http, run, clock, progress, output, verified =>
            {
                if (verified < (long)settings.Queries * Teachers.Length * settings.Passes)
                    foreach (var (name, process) in processes) flowing[name] = Math.Max(flowing[name], process.ResidentBytes);
            }, cancellationToken);
            clock.Stop();
            var cpu = processes.ToDictionary(p => p.Key, p => (p.Value.CpuTime - cpuBefore[p.Key]).TotalMilliseconds);
            redisServer.Process.Refresh();
            cpu["redis-server"] = (redisServer.Process.TotalProcessorTime - redisCpuBefore).TotalMilliseconds;
            var rss = processes.ToDictionary(p => p.Key, p => p.Value.PeakResidentBytes);
            var peak = long.Parse(await InfoFieldAsync(redis, "used_memory_peak"));
            var atCompletion = await UsedMemoryAsync(redis) - baseline;
            var commands = (await CommandCallsAsync(redis))
                .Select(c => (c.Key, Calls: c.Value - commandsBefore.GetValueOrDefault(c.Key)))
                .Where(c => c.Calls > 0).OrderByDescending(c => c.Calls).ToList();

            // What stays after the run: finished runs are compacted a while after they complete (done-markers, records).
            var end = atCompletion;
            var settle = Stopwatch.StartNew();
            while (settle.Elapsed < TimeSpan.FromSeconds(settings.SettleSeconds))
            {
                await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
                end = Math.Min(end, await UsedMemoryAsync(redis) - baseline);
            }
            var kept = await KeptKeysAsync(redis);
            var memory = (await redis.GetServers()[0].InfoAsync("memory")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);

            var samples = status.Verified;
            var seconds = clock.Elapsed.TotalSeconds;
            var steady = SteadyRate(progress, samples);
            var storeBytes = new DirectoryInfo(Path.Combine(root, "store")).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            await output.WriteLineAsync();
            await output.WriteLineAsync($"amdistill-bench pipeline: {settings.Queries:N0} queries × {Teachers.Length} teachers × {settings.Passes} passes, " +
                $"{System.Environment.ProcessorCount} cores, telemetry {(settings.Telemetry ? $"on (OTLP exported: {sink!.Summary})" : "off")}");
            await output.WriteLineAsync($"  {samples:N0} samples verified, {status.FinalQueries:N0} queries final in {seconds:N1} s = {samples / seconds:N0} samples/s " +
                $"({steady:N0} samples/s from 10 % to 90 % of the samples); dataset store {storeBytes / (double)samples:N0} B/sample on disk");
            double At(long verified) => progress.FirstOrDefault(p => p.Verified >= verified, (seconds, 0)).Seconds;
            await output.WriteLineAsync($"  timeline: first sample verified at {At(1):N1} s, 10 % at {At(samples / 10):N1} s, 90 % at {At(samples * 9 / 10):N1} s, " +
                $"all at {At(samples):N1} s; completed (exports and report written) at {seconds:N1} s");
            await output.WriteLineAsync($"  {"process",-14} {"CPU ms/sample",14} {"CPU share",10} {"peak RSS MB",12} {"while flowing",14}");
            var cpuTotal = cpu.Values.Sum();
            foreach (var (name, ms) in cpu.OrderByDescending(c => c.Value))
                await output.WriteLineAsync($"  {name,-14} {ms / samples,14:N3} {ms / cpuTotal,10:P0} {(rss.TryGetValue(name, out var bytes) ? (bytes / 1e6).ToString("N0") : "-"),12} " +
                    $"{(flowing.TryGetValue(name, out var resident) ? (resident / 1e6).ToString("N0") : "-"),14}");
            await output.WriteLineAsync($"  Redis: used_memory_peak {peak / 1e6:N1} MB; after the run {atCompletion / (double)samples:N0} B/sample at completion, " +
                $"{end / (double)samples:N1} B/sample after {settings.SettleSeconds} s");
            await output.WriteLineAsync($"  Redis keys left: {string.Join(", ", kept.Take(6).Select(k => $"{k.Prefix} {k.Keys:N0} keys {k.Bytes / 1e3:N0} kB"))}; " +
                string.Join(", ", new[] { "used_memory_dataset", "mem_clients_normal", "used_memory_scripts", "mem_replication_backlog", "used_memory_startup" }
                    .Where(memory.ContainsKey).Select(f => $"{f} {long.Parse(memory[f]) / 1e3:N0} kB")));
            await output.WriteLineAsync($"  Redis commands: {commands.Sum(c => c.Calls) / (double)samples:N1} per sample (" +
                string.Join(", ", commands.Take(8).Select(c => $"{c.Key} {c.Calls / (double)samples:N2}")) + ")");
            await output.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["queries"] = settings.Queries,
                ["samples"] = samples,
                ["seconds"] = Math.Round(seconds, 2),
                ["samples_per_s"] = Math.Round(samples / seconds, 1),
                ["steady_samples_per_s"] = Math.Round(steady, 1),
                ["cpu_ms_per_sample"] = cpu.ToDictionary(c => c.Key, c => Math.Round(c.Value / samples, 4)),
                ["peak_rss_bytes"] = rss,
                ["peak_rss_bytes_while_flowing"] = flowing,
                ["redis_used_memory_peak_bytes"] = peak,
                ["redis_bytes_per_sample_at_completion"] = Math.Round(atCompletion / (double)samples, 1),
                ["redis_bytes_per_sample_end"] = Math.Round(end / (double)samples, 1),
                ["store_bytes_per_sample"] = Math.Round(storeBytes / (double)samples, 1),
                ["redis_commands_per_sample"] = Math.Round(commands.Sum(c => c.Calls) / (double)samples, 2),
                ["telemetry"] = settings.Telemetry,
            }));
            return status.Verified == (long)settings.Queries * Teachers.Length * settings.Passes ? 0 : 1;
        }
        finally
        {
            foreach (var process in processes.Values) process.Dispose();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>What the AppHost gives each service, with the simulator's models at zero latency.</summary>
    private static Dictionary<string, string> Environment(string service, Dictionary<string, int> ports, string redis, string root, OtlpSink? sink)
    {
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{ports[service]}",
            ["ConnectionStrings__redis"] = redis,
            ["DatasetStore__Root"] = Path.Combine(root, "store"),
            ["services__teacher-sim__http__0"] = $"http://127.0.0.1:{ports["TeacherSim"]}",
            ["DemoRun__Enabled"] = "false",
        };
        if (sink is not null)
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.Endpoint;
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        }
        if (service == "TeacherSim")
        {
            environment["TeacherSim__RunDirectories__0"] = Path.Combine(root, "store");
            var models = SimModel.DefaultLadder;
            for (var i = 0; i < models.Count; i++)
            {
                environment[$"TeacherSim__Models__{i}__Name"] = models[i].Name;
                environment[$"TeacherSim__Models__{i}__Skill"] = models[i].Skill.ToString(System.Globalization.CultureInfo.InvariantCulture);
                environment[$"TeacherSim__Models__{i}__ThinkTokens"] = models[i].ThinkTokens.ToString(System.Globalization.CultureInfo.InvariantCulture);
                environment[$"TeacherSim__Models__{i}__ThinkFormat"] = models[i].ThinkFormat.ToString();
                environment[$"TeacherSim__Models__{i}__FixedLatencyMs"] = "0";
            }
        }
        return environment;
    }

    /// <summary>Math questions with exact answers (a power and a product modulo a number), each different enough to pass
    /// near-duplicate removal, none from the decontamination sets.</summary>
    private static async Task WriteQueriesAsync(string path, int count)
    {
        await using var writer = new StreamWriter(path);
        for (var i = 0; i < count; i++)
        {
            int a = i % 97 + 3, b = i % 89 + 2, c = i * 7919 % 10007, m = i % 991 + 7;
            var answer = (BigInteger.ModPow(a, b, m) + (BigInteger)i * c % m) % m;
            await writer.WriteLineAsync(JsonSerializer.Serialize(new
            {
                id = $"q{i}",
                category = "math",
                question = $"Let n = {i}. Find the remainder when {a} to the power {b} plus {i} times {c} is divided by {m}, and explain each step.",
                reference_answer = answer.ToString(),
            }));
        }
    }

    private static async Task CreateAndUploadAsync(HttpClient http, string run, Settings settings, string queries, CancellationToken cancellationToken)
    {
        var configuration = JsonSerializer.Serialize(new
        {
            run,
            teachers = Teachers.Select(name => new { name, passes = settings.Passes }),
            selection = new { exports = new[] { new { policy = "stage1", format = "am", file = "parquet" } } },
        });
        using (var created = await http.PostAsync("/api/runs", new StringContent(configuration, Encoding.UTF8, "application/json"), cancellationToken))
            await EnsureAsync(created, "create the run");
        await using var body = File.OpenRead(queries);
        using var upload = await http.PutAsync($"/api/runs/{run}/queries", new StreamContent(body) { Headers = { ContentType = new("application/jsonl") } }, cancellationToken);
        await EnsureAsync(upload, "upload the queries");
        var report = (await upload.Content.ReadFromJsonAsync<QueryUpload>(ApiJson.Options, cancellationToken))!;
        if (report.Kept != settings.Queries) throw new InvalidOperationException($"ingestion kept {report.Kept} of {settings.Queries} queries");
    }

    /// <summary>503 until the generation service has registered its teachers.</summary>
    private static async Task StartAsync(HttpClient http, string run, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var started = await http.PostAsync($"/api/runs/{run}/start", null, cancellationToken);
            if (started.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == 120) { await EnsureAsync(started, "start the run"); return; }
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
        }
    }

    private static async Task<RunStatus> WatchAsync(HttpClient http, string run, Stopwatch clock, List<(double, long)> progress, TextWriter output,
        Action<long> onProgress, CancellationToken cancellationToken)
    {
        var shown = Stopwatch.StartNew();
        while (true)
        {
            var status = (await http.GetFromJsonAsync<RunStatus>($"/api/runs/{run}", ApiJson.Options, cancellationToken))!;
            progress.Add((clock.Elapsed.TotalSeconds, status.Verified));
            onProgress(status.Verified);
            if (status.Ended) return status;
            if (shown.Elapsed > TimeSpan.FromSeconds(10))
            {
                await output.WriteLineAsync($"  {status.Generated:N0} generated, {status.Verified:N0} verified of {status.ExpectedSamples:N0}, {status.FinalQueries:N0} queries final");
                shown.Restart();
            }
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken);
        }
    }

    /// <summary>Samples/s between the moments 10 % and 90 % of the samples were verified: the rate once the pipeline is
    /// full, without its start (JIT, first answers) and its tail (the last queries).</summary>
    private static double SteadyRate(List<(double Seconds, long Verified)> progress, long samples)
    {
        var from = progress.First(p => p.Verified >= samples / 10);
        var to = progress.First(p => p.Verified >= samples * 9 / 10);
        return to.Seconds > from.Seconds ? (to.Verified - from.Verified) / (to.Seconds - from.Seconds) : 0;
    }

    private static async Task EnsureAsync(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"could not {what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task WaitHealthyAsync(string service, int port, ServiceProcess process, CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        for (var attempt = 0; attempt < 600; attempt++)
        {
            if (process.HasExited) throw new InvalidOperationException($"{service} exited at its start:\n{process.Output}");
            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{port}/health", cancellationToken);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
        throw new TimeoutException($"{service} was not healthy within a minute:\n{process.Output}");
    }

    private static async Task<long> UsedMemoryAsync(ConnectionMultiplexer redis) => long.Parse(await InfoFieldAsync(redis, "used_memory"));

    /// <summary>The keys left in Redis, by prefix (up to the run's name or the stream's), largest first: what the run kept.</summary>
    private static async Task<List<(string Prefix, long Keys, long Bytes)>> KeptKeysAsync(ConnectionMultiplexer redis)
    {
        var db = redis.GetDatabase();
        var totals = new Dictionary<string, (long Keys, long Bytes)>();
        await foreach (var key in redis.GetServers()[0].KeysAsync(pattern: "*", pageSize: 1000))
        {
            var name = key.ToString();
            var prefix = string.Join(':', name.Split(':').Take(3));
            var bytes = (long)await db.ExecuteAsync("MEMORY", "USAGE", key);
            var (keys, sum) = totals.GetValueOrDefault(prefix);
            totals[prefix] = (keys + 1, sum + bytes);
        }
        return [.. totals.Select(t => (t.Key, t.Value.Keys, t.Value.Bytes)).OrderByDescending(t => t.Bytes)];
    }

    /// <summary>Calls per Redis command so far (INFO commandstats), e.g. xadd → 36,000.</summary>
    private static async Task<Dictionary<string, long>> CommandCallsAsync(ConnectionMultiplexer redis) =>
        (await redis.GetServers()[0].InfoAsync("commandstats")).SelectMany(g => g).ToDictionary(
            p => p.Key["cmdstat_".Length..],
            p => long.Parse(p.Value.Split(',')[0]["calls=".Length..], System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<string> InfoFieldAsync(ConnectionMultiplexer redis, string field) =>
        (await redis.GetServers()[0].InfoAsync("memory")).SelectMany(g => g).Single(p => p.Key == field).Value;

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(Directory.GetCurrentDirectory()); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "AmDistill.sln"))) return directory.FullName;
        throw new InvalidOperationException("run it from the repository (the services' appsettings.json are read from services/)");
    }

    /// <summary>A service process from the benchmark's build, with its own directory as content root (its appsettings.json).</summary>
    private sealed class ServiceProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private ServiceProcess(Process process) => _process = process;

        public static ServiceProcess Start(string service, string repository, Dictionary<string, string> environment)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.Combine(repository, "services", $"AmDistill.{service}") };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, $"AmDistill.{service}.dll"));
            info.ArgumentList.Add($"--contentRoot={info.WorkingDirectory}");
            foreach (var (key, value) in environment) info.Environment[key] = value;
            var process = new ServiceProcess(Process.Start(info)!);
            process._process.OutputDataReceived += (_, e) => process.Keep(e.Data);
            process._process.ErrorDataReceived += (_, e) => process.Keep(e.Data);
            process._process.BeginOutputReadLine();
            process._process.BeginErrorReadLine();
            return process;
        }

        private void Keep(string? line)
        {
            if (line is null) return;
            lock (_output) if (_output.Length < 64_000) _output.AppendLine(line);
        }

        public string Output { get { lock (_output) return _output.ToString(); } }
        public bool HasExited => _process.HasExited;

        public TimeSpan CpuTime
        {
            get { _process.Refresh(); return _process.TotalProcessorTime; }
        }

        /// <summary>VmHWM: the most resident memory the process ever had.</summary>
        public long PeakResidentBytes => Status("VmHWM:");

        /// <summary>VmRSS: its resident memory now.</summary>
        public long ResidentBytes => Status("VmRSS:");

        private long Status(string field) =>
            File.ReadLines($"/proc/{_process.Id}/status").Where(l => l.StartsWith(field, StringComparison.Ordinal))
                .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024).FirstOrDefault();

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    /// <summary>An OTLP/HTTP receiver that accepts every export and counts its bytes, so the services pay what exporting costs.</summary>
    private sealed class OtlpSink : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _bytesBySignal = new();

        public string Endpoint { get; }
        public long Bytes => _bytesBySignal.Values.Sum();

        /// <summary>Megabytes per signal (traces, metrics, logs).</summary>
        public string Summary => string.Join(", ", _bytesBySignal.OrderBy(s => s.Key).Select(s => $"{s.Key} {s.Value / 1e6:N1} MB"));

        private OtlpSink(int port)
        {
            Endpoint = $"http://127.0.0.1:{port}";
            _listener.Prefixes.Add(Endpoint + "/");
            _listener.Start();
            _ = Task.Run(AcceptAsync);
        }

        public static OtlpSink Start() => new(LoopbackPort.Free());

        private async Task AcceptAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await _listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                _ = Task.Run(async () =>
                {
                    try
                    {
                        var buffer = new byte[64 * 1024];
                        var signal = context.Request.Url?.AbsolutePath.Split('/').LastOrDefault() ?? "";
                        long total = 0;
                        int read;
                        while ((read = await context.Request.InputStream.ReadAsync(buffer)) > 0) total += read;
                        _bytesBySignal.AddOrUpdate(signal, total, (_, sum) => sum + total);
                        context.Response.StatusCode = 200;
                        context.Response.ContentType = "application/x-protobuf";
                        context.Response.Close();
                    }
                    catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException) { }
                });
            }
        }

        public void Dispose() => _listener.Close();
    }
}
