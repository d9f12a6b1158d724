namespace AmDistill.Tests;

/// <summary>Files of this repository, found from the test binaries: the tests need nothing outside the clone.</summary>
internal static class RepoFiles
{
    public static string Root { get; } = FindRoot();

    /// <summary>A benchmark set of <c>data/benchmarks/</c> (origins and licences in its README).</summary>
    public static string Benchmark(string file) => Path.Combine(Root, "data", "benchmarks", file);

    public static string DemoQueries => Path.Combine(Root, "data", "demo", "queries.jsonl");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "AmDistill.sln"))) return dir.FullName;
        throw new InvalidOperationException("AmDistill.sln not found above the test binaries");
    }
}
