namespace AmDistill.Trainer.Tests;

/// <summary>
/// The GPU trainer's own unit tests (services/trainer-gpu/tests: records, formatting, masking, packing, schedule,
/// chunked loss, a tiny model trained and resumed on CPU, the serving protocol and a trained model served), run with a
/// Python that has torch — Debian's <c>python3-torch</c> in CI; <c>AMDISTILL_PYTHON</c> names another.
/// </summary>
public sealed class PythonTrainerTests
{
    [Fact]
    public async Task The_trainer_programs_unit_tests_pass_on_cpu()
    {
        var python = await TorchPython.RequireAsync();
        var (code, output) = await TorchPython.RunAsync(python, ["-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"],
            Path.Combine(RepoFiles.Root, "services", "trainer-gpu"), TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"{python} -m unittest exited with {code}:\n{output}");
        Assert.Matches(@"Ran [1-9]\d* tests", output);
    }
}
