// bubblewrap, namespaces, seccomp, rlimits: the sandbox exists on Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
