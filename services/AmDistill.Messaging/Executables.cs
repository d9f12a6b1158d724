namespace AmDistill.Messaging;

/// <summary>The one lookup of a program on PATH (redis-server for the AppHost's local mode and the test helper, bwrap for
/// the code sandbox).</summary>
public static class Executables
{
    /// <summary>The full path of <paramref name="program"/> in the first PATH directory that holds it; null if none does.</summary>
    public static string? Find(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, program))
            .FirstOrDefault(File.Exists);
}
