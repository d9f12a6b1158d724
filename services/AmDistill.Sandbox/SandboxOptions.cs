namespace AmDistill.Sandbox;

/// <summary>Limits of one sandboxed run (docs/sandbox.md: the settings that contained every attack).</summary>
public sealed record SandboxOptions
{
    public TimeSpan WallTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public int CpuSeconds { get; init; } = 20;
    public long AddressSpaceBytes { get; init; } = 1L << 30;

    /// <summary>The memory of a run's whole process tree together (a memory cgroup per slot, where one can be made; the
    /// other limits are per process).</summary>
    public long MemoryBytes { get; init; } = 1L << 30;
    public int Processes { get; init; } = 64;
    public long FileSizeBytes { get; init; } = 16 << 20;
    public int OpenFiles { get; init; } = 64;
    public long TmpfsBytes { get; init; } = 64 << 20;

    /// <summary>The private /dev/shm (POSIX semaphores and shared memory); the rest of /dev is read-only.</summary>
    public long ShmBytes { get; init; } = 4 << 20;

    /// <summary>Sandboxes at once; each slot has its own unprivileged uid (<see cref="FirstUid"/> + slot) when run as root,
    /// so process limits count per slot.</summary>
    public int Slots { get; init; } = Environment.ProcessorCount;

    public int FirstUid { get; init; } = 61000;

    /// <summary>The most stdout read back per run; the rest is dropped (a program printing forever is not a memory bomb for us).</summary>
    public int MaxOutputBytes { get; init; } = 16 << 20;
}
