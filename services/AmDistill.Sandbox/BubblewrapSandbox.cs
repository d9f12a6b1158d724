using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;

namespace AmDistill.Sandbox;

/// <summary>What one sandboxed run did.</summary>
/// <param name="SandboxError">The sandbox itself failed (bwrap missing, namespaces refused): not the program's fault, retry.</param>
public sealed record SandboxResult(int ExitCode, bool TimedOut, string Stdout, string Stderr, TimeSpan Elapsed, string? SandboxError);

/// <summary>
/// Runs a command under bubblewrap, launched with the settings that contained every hostile program on this kind of machine (docs/sandbox.md):
/// <c>sh</c> opens the seccomp program on fd 3, <c>prlimit</c> sets the rlimits (CPU, address space, processes, file
/// size, open files, no core), <c>setpriv</c> drops to the slot's own unprivileged uid (when running as root: bwrap as
/// root without a user namespace is escapable), and bwrap adds user/pid/net/ipc/uts namespaces, no capabilities, a
/// read-only root of /usr only, a size-capped tmpfs as the work dir, an empty environment and pid 1 = the program
/// (no init left as a zombie). The wall-clock limit kills the whole tree; the pid namespace takes daemons with it.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // bubblewrap, namespaces, seccomp, rlimits
public sealed class BubblewrapSandbox : ICodeSandbox, IDisposable
{
    private readonly SandboxOptions _options;
    private readonly Channel<int> _slots;
    private readonly string _root;
    private readonly bool _asRoot;
    private readonly MemoryCgroup? _cgroup;

    public BubblewrapSandbox(SandboxOptions? options = null)
    {
        _options = options ?? new SandboxOptions();
        _slots = Channel.CreateBounded<int>(_options.Slots);
        for (var slot = 0; slot < _options.Slots; slot++) _slots.Writer.TryWrite(slot);
        _asRoot = geteuid() == 0;
        _cgroup = MemoryCgroup.TryCreate(_options.Slots, _options.MemoryBytes);
        _root = Directory.CreateTempSubdirectory("amdistill-sandbox-").FullName;
        File.WriteAllBytes(SeccompPath, SeccompFilter.Build());
        File.WriteAllText(HarnessPath, ICodeSandbox.HarnessSource);
        const UnixFileMode readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.SetUnixFileMode(SeccompPath, readable);
        File.SetUnixFileMode(HarnessPath, readable);
        File.SetUnixFileMode(_root, readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
    }

    /// <summary>The slots' memory cgroup; null where none could be made (then each process's rlimits are the bound).</summary>
    public MemoryCgroup? Cgroup => _cgroup;

    private string SeccompPath => Path.Combine(_root, "seccomp.bpf");
    private string HarnessPath => Path.Combine(_root, "harness.py");

    /// <summary>Inside the sandbox the harness is <c>/sandbox/harness.py</c>.</summary>
    public const string Harness = "/sandbox/harness.py";

    [DllImport("libc", SetLastError = true)]
    private static extern uint geteuid();

    public Task<SandboxResult> RunHarnessAsync(string job, TimeSpan wallTimeout, CancellationToken cancellationToken) =>
        RunAsync(["/usr/bin/python3", "-I", Harness], job, wallTimeout, cancellationToken);

    /// <param name="wallTimeout">This run's wall-clock limit, at most <see cref="SandboxOptions.WallTimeout"/>.</param>
    public async Task<SandboxResult> RunAsync(IReadOnlyList<string> command, string stdin, TimeSpan? wallTimeout = null, CancellationToken cancellationToken = default)
    {
        var slot = await _slots.Reader.ReadAsync(cancellationToken);
        try
        {
            var wall = wallTimeout is { } w && w < _options.WallTimeout ? w : _options.WallTimeout;
            return await RunInSlotAsync(slot, command, stdin, wall, cancellationToken);
        }
        finally
        {
            _slots.Writer.TryWrite(slot);
        }
    }

    private IEnumerable<string> Arguments(int slot, IReadOnlyList<string> command)
    {
        string N(long value) => value.ToString(CultureInfo.InvariantCulture);
        var o = _options;
        // sh joins the slot's memory cgroup (as root, before any uid drop) and opens the seccomp program, then execs the rest.
        string[] launch = ["-c", "if [ -n \"$2\" ]; then echo $$ > \"$2\" || exit 125; fi; exec 3< \"$1\"; shift 2; exec \"$@\"", "sh", SeccompPath,
            _cgroup?.ProcsFile(slot) ?? "",
            "prlimit", $"--as={N(o.AddressSpaceBytes)}", $"--cpu={N(o.CpuSeconds)}:{N(o.CpuSeconds)}", $"--nproc={N(o.Processes)}",
            $"--fsize={N(o.FileSizeBytes)}", $"--nofile={N(o.OpenFiles)}", "--core=0", "--"];
        string[] dropUid = _asRoot
            ? ["setpriv", $"--reuid={N(o.FirstUid + slot)}", $"--regid={N(o.FirstUid + slot)}", "--clear-groups", "--inh-caps=-all", "--"]
            : [];
        string[] bwrap =
        [
            "bwrap", "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--as-pid-1", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            // /dev is a tmpfs the size of half the RAM: read-only below, with a small /dev/shm of its own (semaphores).
            "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache", "--dev", "/dev", "--size", N(o.ShmBytes), "--tmpfs", "/dev/shm", "--proc", "/proc",
            // Debian's BLAS and LAPACK (numpy's C extensions) are symlinks through the alternatives system.
            "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
            "--size", N(o.TmpfsBytes), "--tmpfs", "/tmp", "--ro-bind", _root, "/sandbox", "--chdir", "/tmp",
            "--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
            // One BLAS thread: a thread per core would each reserve memory under the address-space limit, and the
            // process limit counts threads.
            "--setenv", "OPENBLAS_NUM_THREADS", "1", "--setenv", "OMP_NUM_THREADS", "1",
            "--seccomp", "3", "--remount-ro", "/dev", "--remount-ro", "/",
        ];
        return [.. launch, .. dropUid, .. bwrap, .. command];
    }

    private async Task<SandboxResult> RunInSlotAsync(int slot, IReadOnlyList<string> command, string stdin, TimeSpan wallTimeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in Arguments(slot, command)) start.ArgumentList.Add(argument);
        var started = Stopwatch.GetTimestamp();
        Process process;
        try { process = await Launcher.StartAsync(start); }
        catch (System.ComponentModel.Win32Exception e) { return new(-1, false, "", "", TimeSpan.Zero, $"cannot start the sandbox: {e.Message}"); }

        using (process)
        using (var wall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            wall.CancelAfter(wallTimeout);
            var stdout = ReadCappedAsync(process.StandardOutput.BaseStream, _options.MaxOutputBytes);
            var stderr = ReadCappedAsync(process.StandardError.BaseStream, 64 << 10);
            try
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), wall.Token);
                process.StandardInput.Close();
            }
            catch (IOException) { } // the program exited without reading its input
            var timedOut = false;
            try
            {
                await process.WaitForExitAsync(wall.Token);
            }
            catch (OperationCanceledException)
            {
                timedOut = !cancellationToken.IsCancellationRequested;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }
            var (output, error) = (await stdout, await stderr);
            var elapsed = Stopwatch.GetElapsedTime(started);
            cancellationToken.ThrowIfCancellationRequested();
            var sandboxError = !timedOut && process.ExitCode != 0 && output.Length == 0 && IsLauncherError(error) ? error.Trim() : null;
            return new(process.ExitCode, timedOut, output, error, elapsed, sandboxError);
        }
    }

    private static bool IsLauncherError(string stderr) =>
        stderr.StartsWith("bwrap:", StringComparison.Ordinal) || stderr.StartsWith("prlimit:", StringComparison.Ordinal)
        || stderr.StartsWith("setpriv:", StringComparison.Ordinal) || stderr.StartsWith("sh:", StringComparison.Ordinal);

    private static async Task<string> ReadCappedAsync(Stream stream, int cap)
    {
        var kept = new MemoryStream();
        var buffer = new byte[1 << 16];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
            if (kept.Length < cap) kept.Write(buffer, 0, (int)Math.Min(n, cap - kept.Length)); // keep draining so the writer never blocks
        return Encoding.UTF8.GetString(kept.GetBuffer(), 0, (int)kept.Length);
    }

    public void Dispose()
    {
        _cgroup?.Dispose();
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>
/// Starts processes from one thread that lives as long as the process. bwrap's <c>--die-with-parent</c> is
/// PR_SET_PDEATHSIG, which fires when the *thread* that forked it exits: started from a thread-pool thread, a sandbox
/// is SIGKILLed whenever the pool retires that thread (seen: random exit 137 in the MBPP suite).
/// </summary>
internal static class Launcher
{
    private static readonly System.Collections.Concurrent.BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Started)> Requests = [];

    static Launcher()
    {
        new Thread(() =>
        {
            foreach (var (start, started) in Requests.GetConsumingEnumerable())
            {
                try { started.SetResult(Process.Start(start)!); }
                catch (Exception e) { started.SetException(e); }
            }
        }) { IsBackground = true, Name = "sandbox launcher" }.Start();
    }

    public static Task<Process> StartAsync(ProcessStartInfo start)
    {
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((start, started));
        return started.Task;
    }
}
