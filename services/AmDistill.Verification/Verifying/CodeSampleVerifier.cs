using System.Text.Json;
using AmDistill.Contracts;
using AmDistill.Sandbox;
using AmDistill.Verifiers.Code;

namespace AmDistill.Verification.Verifying;

/// <summary>The sandbox failed (not the program): the sample is verified again on redelivery, never scored 0.</summary>
public sealed class SandboxFailedException(string message) : Exception(message);

/// <summary>
/// Code samples: the program in the answer runs against the query's first 10 test cases in the bubblewrap sandbox;
/// verify_score = passed / total (paper §2.4.1). Without test cases, or on a machine without the sandbox, the sample
/// is unscored with the reason.
/// </summary>
public sealed class CodeSampleVerifier(CodeVerifier? verifier)
{
    public async Task<SampleVerdict> VerifyAsync(GeneratedResponse sample, CancellationToken cancellationToken)
    {
        if (sample.TestCases is null) return new(0, false, "unscored: the code query has no test cases");
        if (verifier is null) return new(0, false, "unscored: no code sandbox here (Linux with bubblewrap, or Verification:SandboxFusionUrl)");
        CodeTests tests;
        try
        {
            using var document = JsonDocument.Parse(sample.TestCases);
            tests = CodeTests.Parse(document.RootElement, sample.Prompt);
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException)
        {
            return new(0, false, $"unscored: unreadable test cases ({e.Message})");
        }
        var verdict = await verifier.VerifyResponseAsync(sample.Answer, tests, cancellationToken);
        if (verdict.SandboxError is not null) throw new SandboxFailedException($"sandbox error: {verdict.SandboxError}");
        var firstFailure = verdict.Tests.FirstOrDefault(t => t.Status != TestStatus.Passed);
        var why = verdict.Reason ?? (firstFailure is null ? "all passed" : $"test {firstFailure.Index + 1}: {firstFailure.Status} {firstFailure.Detail}".TrimEnd());
        return new(verdict.Score, true, $"code: {verdict.Passed}/{verdict.Total} tests passed; {why}");
    }
}
