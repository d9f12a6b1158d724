using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AmDistill.Messaging;

namespace AmDistill.LocalRedis;

/// <summary>
/// A throwaway <c>redis-server</c> process on a free loopback port, in its own data directory: for tests,
/// benchmarks. Can be killed and restarted on the same port and data.
/// </summary>
public sealed class LocalRedisServer : IAsyncDisposable
{
    private readonly string _executable;
    private readonly bool _appendOnly;
    private Process? _process;

    private LocalRedisServer(string executable, int port, string dataDirectory, bool appendOnly)
    {
        _executable = executable;
        Port = port;
        DataDirectory = dataDirectory;
        _appendOnly = appendOnly;
    }

    public int Port { get; }

    public string DataDirectory { get; }

    /// <summary>The server process (for CPU accounting in benchmarks); null while it is killed.</summary>
    public System.Diagnostics.Process? Process => _process;

    /// <summary>For StackExchange.Redis; <c>abortConnect=false</c> so clients ride out a restart.</summary>
    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false";

    /// <param name="appendOnly">Persist every write to an append-only file, fsynced on each write, so a kill loses nothing.</param>
    public static async Task<LocalRedisServer> StartAsync(bool appendOnly = false, CancellationToken cancellationToken = default)
    {
        var executable = Environment.GetEnvironmentVariable("REDIS_SERVER") ?? Executables.Find("redis-server")
            ?? throw new InvalidOperationException("redis-server is not on PATH: install it (apt-get install -y redis-server) or set REDIS_SERVER.");
        var dataDirectory = Directory.CreateTempSubdirectory("amdistill-redis-").FullName;
        var server = new LocalRedisServer(executable, FreePort(), dataDirectory, appendOnly);
        await server.StartProcessAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    /// <summary>SIGKILL: no shutdown save, exactly like a crashed or OOM-killed server.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            process.WaitForExit();
        }
        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts the server again on the same port and data directory (it reloads its append-only file).</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default)
    {
        Kill();
        return StartProcessAsync(cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        return ValueTask.CompletedTask;
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(_executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--dir", DataDirectory, "--save", "", "--daemonize", "no", "--protected-mode", "yes",
                     "--appendonly", _appendOnly ? "yes" : "no", "--appendfsync", "always",
                 })
            startInfo.ArgumentList.Add(arg);
        _process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {_executable}");
        // Drain its output so a chatty server never blocks on a full pipe.
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await AnswersPingAsync(cancellationToken).ConfigureAwait(false))
        {
            if (_process.HasExited) throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"redis-server on port {Port} did not answer PING");
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> AnswersPingAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, cancellationToken).ConfigureAwait(false);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            var buffer = new byte[32];
            var read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
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
}
