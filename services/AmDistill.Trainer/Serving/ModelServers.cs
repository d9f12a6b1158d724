using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Runs;
using AmDistill.Trainer.Jobs;
using AmDistill.Trainer.Launching;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AmDistill.Trainer.Serving;

/// <summary>
/// The model servers this replica runs: each a <c>serve</c> process on a free port, registered as a teacher
/// (<see cref="RunKeys.ServedTeachers"/>) once it answers <c>/health</c>, and unregistered when it stops, dies or this
/// service shuts down.
/// </summary>
public sealed class ModelServers(
    IOptions<TrainerOptions> trainer,
    IOptions<ServingOptions> serving,
    IHostEnvironment environment,
    IConnectionMultiplexer redis,
    TrainingStatusStore jobs,
    ILogger<ModelServers> logger) : IHostedService
{
    private sealed record Server(ServedTeacher Teacher, TrainerProcess Process);

    private static readonly HttpClient Probe = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly ConcurrentDictionary<string, Server> _servers = new(StringComparer.Ordinal);
    // One start or stop at a time per name; different models load side by side.
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    public IReadOnlyList<ServedTeacher> List() => [.. _servers.Values.Select(s => s.Teacher).OrderBy(t => t.Name, StringComparer.Ordinal)];

    /// <summary>Serves the request's model as teacher <c>Name</c> and returns it once it answers; the same model already
    /// served under that name is returned as it is.</summary>
    public async Task<(ServedTeacher? Teacher, string? Problem)> ServeAsync(ServeRequest request, CancellationToken cancellationToken)
    {
        if (!RunIds.IsValid(request.Name)) return (null, $"'{request.Name}' is not a teacher name (1–64 of a-z, 0-9, '-', '_')");
        var (directory, problem) = await ModelDirectoryAsync(request);
        if (directory is null) return (null, problem);

        var gate = _gates.GetOrAdd(request.Name, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (_servers.TryGetValue(request.Name, out var running))
            {
                if (running.Teacher.ModelDirectory == directory && !running.Process.HasExited) return (running.Teacher, null);
                await StopAsync(request.Name, forGood: false);
            }
            return await StartAsync(request, directory, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<(ServedTeacher?, string?)> StartAsync(ServeRequest request, string directory, CancellationToken cancellationToken)
    {
        var options = serving.Value;
        var port = FreePort();
        var launcher = new TrainerOptions
        {
            Command = options.Command ?? trainer.Value.Command,
            Arguments = [.. options.EffectiveArguments],
            Environment = trainer.Value.Environment,
            StderrTailLines = trainer.Value.StderrTailLines,
        };
        var values = new Dictionary<string, string>
        {
            ["model"] = directory, ["name"] = request.Name, ["host"] = options.BindHost,
            ["port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var workingDirectory = Path.GetFullPath(Path.Combine(environment.ContentRootPath, trainer.Value.WorkingDirectory));
        TrainerProcess process;
        try { process = TrainerProcess.Start(launcher, workingDirectory, values, []); }
        catch (System.ComponentModel.Win32Exception e) { return (null, $"cannot start {launcher.Command} in {workingDirectory}: {e.Message}"); }
        _ = DrainAsync(process); // vLLM logs a lot: an unread pipe would stall it

        var health = new Uri($"http://{(options.BindHost is "0.0.0.0" or "::" ? "127.0.0.1" : options.BindHost)}:{port}/health");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.StartTimeout);
        while (!await AnswersAsync(health, timeout.Token))
        {
            if (process.HasExited || timeout.IsCancellationRequested)
            {
                var why = process.HasExited ? $"the server exited: {Last(process.StderrTail)}" : $"it did not answer within {options.StartTimeout}";
                await process.DisposeAsync();
                return (null, $"serving {directory} as {request.Name} failed: {why}");
            }
            try { await Task.Delay(TimeSpan.FromMilliseconds(250), timeout.Token); }
            catch (OperationCanceledException) { }
        }

        var teacher = new ServedTeacher(request.Name, $"http://{options.AdvertisedHost}:{port}/v1", directory,
            request.MaxTokens > 0 ? request.MaxTokens : options.MaxTokens);
        _servers[request.Name] = new Server(teacher, process);
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.HashSetAsync(RunKeys.ServedTeachers, request.Name, JsonSerializer.Serialize(teacher, ContractsJsonContext.Default.ServedTeacher));
        _ = transaction.HashSetAsync(RunKeys.ServeRequests, request.Name, JsonSerializer.Serialize(request, ContractsJsonContext.Default.ServeRequest));
        await transaction.ExecuteAsync();
        _ = UnregisterOnExitAsync(request.Name, process);
        logger.LogInformation("Serving {Directory} as teacher {Name} at {Endpoint}", directory, request.Name, teacher.Endpoint);
        return (teacher, null);
    }

    /// <summary>A succeeded job's model, or an existing directory (relative paths: to the trainer's working directory,
    /// as a job's base model).</summary>
    private async Task<(string?, string?)> ModelDirectoryAsync(ServeRequest request)
    {
        if (request.Job is { } job)
        {
            if (!RunIds.TryParseJob(job, out var runId, out var jobId)) return (null, $"job must be 'run/job' (got '{job}')");
            var status = await jobs.ReadAsync(runId, jobId);
            if (status is null) return (null, $"no training job {job}");
            return status.State == TrainingState.Succeeded && status.Fields.TryGetValue("model", out var model)
                ? (model, null) : (null, $"training job {job} is {status.State}, not Succeeded");
        }
        if (string.IsNullOrWhiteSpace(request.ModelDirectory)) return (null, "give modelDirectory or job");
        var directory = Path.GetFullPath(Path.Combine(environment.ContentRootPath, trainer.Value.WorkingDirectory, request.ModelDirectory));
        return Directory.Exists(directory) ? (directory, null) : (null, $"no model directory {request.ModelDirectory}");
    }

    /// <summary>Stops serving <paramref name="name"/>; <paramref name="forGood"/>: also forgets the request (else a restarted
    /// service serves it again).</summary>
    public async Task<bool> StopAsync(string name, bool forGood = true)
    {
        var db = redis.GetDatabase();
        var asked = forGood && await db.HashDeleteAsync(RunKeys.ServeRequests, name);
        if (!_servers.TryRemove(name, out var server)) return asked;
        await db.HashDeleteAsync(RunKeys.ServedTeachers, name);
        await server.Process.DisposeAsync();
        logger.LogInformation("Stopped serving teacher {Name}", name);
        return true;
    }

    private async Task UnregisterOnExitAsync(string name, TrainerProcess process)
    {
        try { await process.WaitForExitAsync(CancellationToken.None); }
        catch (InvalidOperationException) { return; } // stopped and disposed here
        if (_servers.TryGetValue(name, out var server) && server.Process == process && _servers.TryRemove(name, out _))
        {
            await redis.GetDatabase().HashDeleteAsync(RunKeys.ServedTeachers, name);
            logger.LogWarning("The server of teacher {Name} exited: {Reason}", name, Last(process.StderrTail));
        }
    }

    private static async Task DrainAsync(TrainerProcess process)
    {
        await foreach (var _ in process.EventsAsync(CancellationToken.None)) { }
    }

    private static async Task<bool> AnswersAsync(Uri health, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Probe.GetAsync(health, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Last(string tail) => tail.Length == 0 ? "(no output)" : string.Join('\n', tail.Split('\n').TakeLast(5));

    /// <summary>Serves again, in the background, what this service was asked to serve before it stopped.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                foreach (var entry in await redis.GetDatabase().HashGetAllAsync(RunKeys.ServeRequests))
                {
                    var request = JsonSerializer.Deserialize(entry.Value.ToString(), ContractsJsonContext.Default.ServeRequest)!;
                    var (_, problem) = await ServeAsync(request, _stopping.Token);
                    if (problem is not null) logger.LogWarning("Serving teacher {Name} again failed: {Problem}", request.Name, problem);
                }
            }
            catch (Exception e) when (e is RedisException or OperationCanceledException)
            {
                logger.LogWarning("Serving the requested teachers again failed: {Error}", e.Message);
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    private readonly CancellationTokenSource _stopping = new();

    /// <summary>A stopped service serves nothing: its servers end and leave the teacher list (their requests stay, for
    /// its next start).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        foreach (var name in _servers.Keys.ToList())
        {
            try { await StopAsync(name, forGood: false); }
            catch (RedisException e) { logger.LogWarning("Unregistering teacher {Name} failed: {Error}", name, e.Message); }
        }
    }
}
