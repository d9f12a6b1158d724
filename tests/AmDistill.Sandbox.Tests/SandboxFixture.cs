using System.Text.Json;

namespace AmDistill.Sandbox.Tests;

/// <summary>One sandbox (its seccomp program and harness written once) for a test class.</summary>
public sealed class SandboxFixture : IDisposable
{
    private static int _fixtures;

    /// <summary>Each fixture (and each test process) its own uids: test classes run in parallel, and leftovers are counted by uid.</summary>
    public SandboxOptions Options { get; } = new() { Slots = 2, FirstUid = 61000 + 100 * (Environment.ProcessId % 300) + 10 * Interlocked.Increment(ref _fixtures) };

    public BubblewrapSandbox Sandbox { get; }

    public SandboxFixture() => Sandbox = new BubblewrapSandbox(Options);

    public void Dispose() => Sandbox.Dispose();

    public static IEnumerable<JsonElement> Records(string file) =>
        File.ReadLines(RepoFiles.Benchmark(file)).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement);

    /// <summary>Processes of the sandbox uids still alive (zombies excluded).</summary>
    public IReadOnlyList<string> Leftovers()
    {
        var left = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var status = File.ReadAllLines(Path.Combine(dir, "status"));
                var uid = int.Parse(status.First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1]);
                var state = status.First(l => l.StartsWith("State:", StringComparison.Ordinal));
                if (uid >= Options.FirstUid && uid < Options.FirstUid + Options.Slots && !state.Contains('Z'))
                    left.Add($"{Path.GetFileName(dir)} {File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ')}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException) { }
        }
        return left;
    }
}
