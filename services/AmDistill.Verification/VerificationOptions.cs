namespace AmDistill.Verification;

/// <summary>Section <c>Verification</c> (the judge and the reward model have their own sections below it).</summary>
public sealed class VerificationOptions
{
    public const string Section = "Verification";

    /// <summary>Samples verified at once by this replica. Mostly waiting (judge and reward-model calls, the sandbox, Redis,
    /// the store), each bounded by its own budget: at 2 per core, judge latency capped the demo at ~45 samples/s.</summary>
    public int Concurrency { get; set; } = 64;

    /// <summary>Programs run at once in the local bubblewrap sandbox; 0: one per core.</summary>
    public int Sandboxes { get; set; }

    /// <summary>A SandboxFusion deployment's URL: code runs there instead of in the local sandbox. Empty: local.</summary>
    public string SandboxFusionUrl { get; set; } = "";
}
