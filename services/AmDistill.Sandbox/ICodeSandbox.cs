namespace AmDistill.Sandbox;

/// <summary>
/// Where the test harness runs: it gets the job (JSON) on stdin and writes its nonce-tagged result lines to stdout.
/// <see cref="BubblewrapSandbox"/> runs it locally; <see cref="SandboxFusionSandbox"/> sends it to a SandboxFusion
/// deployment; an Azure Container Apps dynamic-sessions backend fills the same method.
/// </summary>
public interface ICodeSandbox
{
    Task<SandboxResult> RunHarnessAsync(string job, TimeSpan wallTimeout, CancellationToken cancellationToken);

    /// <summary>The harness's source (embedded): what a remote sandbox is given to run.</summary>
    public static string HarnessSource { get; } = ReadHarness();

    private static string ReadHarness()
    {
        using var stream = typeof(ICodeSandbox).Assembly.GetManifestResourceStream("harness.py")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
