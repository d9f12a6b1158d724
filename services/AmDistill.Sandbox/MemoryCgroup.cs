using System.Globalization;

namespace AmDistill.Sandbox;

/// <summary>
/// One memory cgroup per sandbox slot, so a program's whole process tree (children, threads, its tmpfs pages) shares one
/// memory limit: rlimits bound each process alone, and 64 processes × 1 GiB of address space is not a bound. cgroup v1
/// (<c>/sys/fs/cgroup/memory</c>) or v2 (a child of this process's own group with the memory controller); where neither
/// can be written (not root, no delegation), <see cref="TryCreate"/> returns null and the rlimits are the bound.
/// The launcher joins the slot's group before it execs bwrap (<see cref="ProcsFile"/>), so nothing runs outside it.
/// </summary>
public sealed class MemoryCgroup : IDisposable
{
    private readonly string[] _slots;
    private static int _instances;

    private MemoryCgroup(string root, string[] slots, string kind)
    {
        Root = root;
        _slots = slots;
        Kind = kind;
    }

    /// <summary>The directory of this sandbox's groups.</summary>
    public string Root { get; }

    /// <summary>"v1" or "v2".</summary>
    public string Kind { get; }

    /// <summary>The file a process writes its pid to, to join the slot's group.</summary>
    public string ProcsFile(int slot) => Path.Combine(_slots[slot], "cgroup.procs");

    public static MemoryCgroup? TryCreate(int slots, long limitBytes)
    {
        if (!OperatingSystem.IsLinux()) return null;
        // Per sandbox, not per process: two sandboxes of one process (test classes run in parallel) must never share,
        // or remove, each other's groups.
        var name = $"amdistill-sandbox-{Environment.ProcessId}-{Interlocked.Increment(ref _instances)}";
        return TryV1(name, slots, limitBytes) ?? TryV2(name, slots, limitBytes);
    }

    private static MemoryCgroup? TryV1(string name, int slots, long limit)
    {
        const string hierarchy = "/sys/fs/cgroup/memory";
        if (!File.Exists(Path.Combine(hierarchy, "cgroup.procs"))) return null;
        return TryMake(Path.Combine(hierarchy, name), slots, "v1", slot =>
        {
            Write(slot, "memory.limit_in_bytes", limit);
            // No swap beyond the limit, where the kernel accounts swap at all.
            if (File.Exists(Path.Combine(slot, "memory.memsw.limit_in_bytes"))) Write(slot, "memory.memsw.limit_in_bytes", limit);
        });
    }

    private static MemoryCgroup? TryV2(string name, int slots, long limit)
    {
        const string hierarchy = "/sys/fs/cgroup";
        if (!File.Exists(Path.Combine(hierarchy, "cgroup.controllers"))) return null;
        // Our own group, e.g. "0::/system.slice/amdistill.service": the sandbox's groups are its children.
        var own = File.ReadLines("/proc/self/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal))?[3..].TrimStart('/');
        if (own is null) return null;
        var parent = Path.Combine(hierarchy, own);
        try
        {
            if (!File.ReadAllText(Path.Combine(parent, "cgroup.subtree_control")).Contains("memory", StringComparison.Ordinal))
                File.WriteAllText(Path.Combine(parent, "cgroup.subtree_control"), "+memory");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null; // not delegated to us (or processes in the group itself forbid it)
        }
        return TryMake(Path.Combine(parent, name), slots, "v2", slot =>
        {
            Write(slot, "memory.max", limit);
            if (File.Exists(Path.Combine(slot, "memory.swap.max"))) Write(slot, "memory.swap.max", 0);
        });
    }

    private static MemoryCgroup? TryMake(string root, int slots, string kind, Action<string> limit)
    {
        try
        {
            // Groups left by a sandbox process that was killed (no Dispose) are empty: removed here.
            foreach (var stale in Directory.EnumerateDirectories(Path.GetDirectoryName(root)!, "amdistill-sandbox-*"))
                if (int.TryParse(Path.GetFileName(stale).Split('-')[2], out var pid) && !Directory.Exists($"/proc/{pid}"))
                    Remove(stale);
            Directory.CreateDirectory(root);
            var paths = new string[slots];
            for (var slot = 0; slot < slots; slot++)
            {
                paths[slot] = Path.Combine(root, $"slot-{slot}");
                Directory.CreateDirectory(paths[slot]);
                limit(paths[slot]);
            }
            return new MemoryCgroup(root, paths, kind);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Remove(root);
            return null;
        }
    }

    private static void Write(string group, string file, long value) =>
        File.WriteAllText(Path.Combine(group, file), value.ToString(CultureInfo.InvariantCulture));

    /// <summary>How often the slot's group has held a run at its limit since it was made: refused charges and
    /// processes the kernel killed for it (v1: failcnt, memsw.failcnt, oom_kill; v2: the max and oom_kill events).</summary>
    public long LimitHits(int slot)
    {
        long Counter(string file, string? key = null)
        {
            var path = Path.Combine(_slots[slot], file);
            if (!File.Exists(path)) return 0;
            return key is null
                ? long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture)
                : File.ReadLines(path).Where(l => l.StartsWith(key + " ", StringComparison.Ordinal))
                    .Select(l => long.Parse(l[(key.Length + 1)..], CultureInfo.InvariantCulture)).FirstOrDefault();
        }
        try
        {
            return Kind == "v1"
                ? Counter("memory.failcnt") + Counter("memory.memsw.failcnt") + Counter("memory.oom_control", "oom_kill")
                : Counter("memory.events", "max") + Counter("memory.events", "oom_kill");
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return 0;
        }
    }

    public void Dispose() => Remove(Root);

    /// <summary>Empty groups are removed with rmdir (their files are the kernel's, not to be deleted).</summary>
    private static void Remove(string root)
    {
        if (!Directory.Exists(root)) return;
        foreach (var slot in Directory.EnumerateDirectories(root))
            try { Directory.Delete(slot); } catch (IOException) { }
        try { Directory.Delete(root); } catch (IOException) { }
    }
}
