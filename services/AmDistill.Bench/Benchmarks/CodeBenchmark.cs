using System.Diagnostics;
using System.Text.Json;
using AmDistill.Sandbox;
using AmDistill.Verifiers.Code;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// <c>amdistill-bench code</c>: the sandbox's start overhead (bwrap + seccomp + rlimits + uid drop around
/// <c>/usr/bin/true</c> and around Python, against plain Python), then stdin test cases/s through the batched harness
/// on every core: trivial programs with many small cases, and the APPS stdio set (first 10 tests of each problem).
/// </summary>
internal static class CodeBenchmark
{
    public static async Task<int> RunAsync(int runs, int programs, int casesPerProgram, FileInfo apps, TextWriter output, CancellationToken cancellationToken)
    {
        using var sandbox = new BubblewrapSandbox(new SandboxOptions { Slots = Environment.ProcessorCount });
        await output.WriteLineAsync($"{Environment.ProcessorCount} cores; {runs} serial runs per start measurement");
        var plainPython = await TimeAsync(runs, () => RunPlainAsync("/usr/bin/python3", "-I", "-c", "pass"));
        var sandboxTrue = await TimeAsync(runs, async () => await sandbox.RunAsync(["/usr/bin/true"], "", cancellationToken: cancellationToken));
        var sandboxPython = await TimeAsync(runs, async () => await sandbox.RunAsync(["/usr/bin/python3", "-I", "-c", "pass"], "", cancellationToken: cancellationToken));
        await output.WriteLineAsync($"| start | median | p90 |\n|---|---|---|");
        await output.WriteLineAsync($"| python3 -I -c pass, no sandbox | {plainPython.Median:0.0} ms | {plainPython.P90:0.0} ms |");
        await output.WriteLineAsync($"| sandbox around /usr/bin/true | {sandboxTrue.Median:0.0} ms | {sandboxTrue.P90:0.0} ms |");
        await output.WriteLineAsync($"| sandbox around python3 -I -c pass | {sandboxPython.Median:0.0} ms | {sandboxPython.P90:0.0} ms |");
        await output.WriteLineAsync($"sandbox start overhead (sandboxed python − plain python): {sandboxPython.Median - plainPython.Median:0.0} ms");

        var verifier = new CodeVerifier(sandbox, new CodeVerifierOptions { MaxTests = casesPerProgram });
        var inputs = Enumerable.Range(0, casesPerProgram).Select(i => $"{i} {i + 1}\n").ToList();
        var outputs = Enumerable.Range(0, casesPerProgram).Select(i => $"{2 * i + 1}\n").ToList();
        var trivial = new CodeTests.Stdio(inputs, outputs);
        var started = Stopwatch.GetTimestamp();
        var verdicts = await Task.WhenAll(Enumerable.Range(0, programs).Select(_ =>
            verifier.VerifyAsync("a, b = map(int, input().split())\nprint(a + b)", trivial, cancellationToken)));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await output.WriteLineAsync($"trivial programs: {programs} × {casesPerProgram} stdin cases in {seconds:0.00} s = {programs * casesPerProgram / seconds:N0} cases/s " +
            $"({verdicts.Count(v => v.Status == "passed")} of {programs} passed)");

        var problems = File.ReadLines(apps.FullName).Where(l => l.Length > 0)
            .Select(l => CodeTests.Parse(JsonDocument.Parse(l).RootElement.GetProperty("test_cases")).Take(10)).ToList();
        var appsVerifier = new CodeVerifier(sandbox);
        started = Stopwatch.GetTimestamp();
        var appsVerdicts = await Task.WhenAll(problems.Select(p => appsVerifier.VerifyAsync("import sys\nprint(len(sys.stdin.read().split()))", p, cancellationToken)));
        seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cases = problems.Sum(p => p.Count);
        await output.WriteLineAsync($"APPS stdio: {problems.Count} problems, {cases} cases (inputs up to {problems.OfType<CodeTests.Stdio>().Max(p => p.Inputs.Max(i => i.Length)):N0} characters) " +
            $"in {seconds:0.00} s = {cases / seconds:N0} cases/s; sandbox errors: {appsVerdicts.Count(v => v.SandboxError is not null)}");
        return 0;
    }

    private static async Task RunPlainAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
    }

    private static async Task<(double Median, double P90)> TimeAsync(int runs, Func<Task> run)
    {
        await run(); // warm-up
        var times = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var started = Stopwatch.GetTimestamp();
            await run();
            times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        times.Sort();
        return (times[times.Count / 2], times[(int)(times.Count * 0.9)]);
    }
}
