using System.Runtime.InteropServices;

namespace AmDistill.Sandbox;

/// <summary>
/// The seccomp BPF program given to bubblewrap (<c>--seccomp FD</c>): sockets, namespaces, mounts, ptrace, kernel
/// keyrings, BPF, module loading and the like fail with EPERM (socketpair stays: harmless inside a net namespace);
/// a foreign architecture (32-bit or x32 syscalls on x86-64) kills the process. Built here as raw <c>sock_filter</c>s, so
/// no libseccomp is needed.
/// </summary>
public static class SeccompFilter
{
    private const ushort LdAbs = 0x20, JeqK = 0x15, JgeK = 0x35, RetK = 0x06;
    private const uint Allow = 0x7fff0000, KillProcess = 0x80000000, ErrnoEperm = 0x00050000 | 1;

    // socket, ptrace, mount, umount2, unshare, setns, keyctl, add_key, request_key, bpf, userfaultfd, perf_event_open,
    // kexec_load, init_module, finit_module, delete_module, pivot_root, chroot, swapon, reboot, and what reads or takes
    // another process's memory or descriptors (the harness's): process_vm_readv, process_vm_writev, kcmp, pidfd_getfd
    private static readonly uint[] X64 = [41, 101, 165, 166, 272, 308, 250, 248, 249, 321, 323, 298, 246, 175, 313, 176, 155, 161, 167, 169, 310, 311, 312, 438];
    private static readonly uint[] Arm64 = [198, 117, 40, 39, 97, 268, 219, 217, 218, 280, 282, 241, 104, 105, 273, 106, 41, 51, 224, 142, 270, 271, 272, 438];

    public static byte[] Build() => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => Build(0xC000003E, X64, x32Check: true),
        Architecture.Arm64 => Build(0xC00000B7, Arm64, x32Check: false),
        var other => throw new PlatformNotSupportedException($"no seccomp filter for {other}"),
    };

    private static byte[] Build(uint auditArch, uint[] denied, bool x32Check)
    {
        var program = new List<(ushort Code, byte Jt, byte Jf, uint K)>
        {
            (LdAbs, 0, 0, 4),            // seccomp_data.arch
            (JeqK, 1, 0, auditArch),
            (RetK, 0, 0, KillProcess),
            (LdAbs, 0, 0, 0),            // seccomp_data.nr
        };
        var checks = (x32Check ? 1 : 0) + denied.Length;
        var denyIndex = program.Count + checks + 1; // after the checks and the allow
        if (x32Check) program.Add((JgeK, (byte)(denyIndex - program.Count - 1), 0, 0x40000000));
        foreach (var nr in denied) program.Add((JeqK, (byte)(denyIndex - program.Count - 1), 0, nr));
        program.Add((RetK, 0, 0, Allow));
        program.Add((RetK, 0, 0, ErrnoEperm));

        var bytes = new byte[program.Count * 8];
        for (var i = 0; i < program.Count; i++)
        {
            var (code, jt, jf, k) = program[i];
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8), code);
            bytes[i * 8 + 2] = jt;
            bytes[i * 8 + 3] = jf;
            BitConverter.TryWriteBytes(bytes.AsSpan(i * 8 + 4), k);
        }
        return bytes;
    }
}
