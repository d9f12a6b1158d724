using AmDistill.Verifiers.Code;

namespace AmDistill.Sandbox.Tests;

public sealed class HarnessTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>
{
    private readonly CodeVerifier _verifier = new(fixture.Sandbox);

    [Fact]
    public async Task Stdin_tests_run_in_one_sandbox_and_are_compared_outside()
    {
        var inputs = Enumerable.Range(0, 10).Select(i => $"{i} {i * 2}\n").ToList();
        var outputs = Enumerable.Range(0, 10).Select(i => i == 3 ? "wrong" : $"{i * 3}\n").ToList();
        var verdict = await _verifier.VerifyResponseAsync("<think>easy</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```",
            new CodeTests.Stdio(inputs, outputs));
        Assert.Equal((9, 10, 0.9), (verdict.Passed, verdict.Total, verdict.Score));
        Assert.Equal(TestStatus.WrongAnswer, verdict.Tests[3].Status);
    }

    [Fact]
    public async Task Solutions_run_after_the_judges_import_prelude_as_LeetCode_and_LiveCodeBench_run_them()
    {
        const string leetcode = """
            class Solution:
                def kSmallest(self, nums: List[int], k: int) -> Optional[List[int]]:
                    heap = list(nums); heapify(heap)
                    q = deque(heappop(heap) for _ in range(k))
                    return list(q) if reduce(lambda a, b: a and b, [True]) else None
            """;
        var functional = await _verifier.VerifyAsync(leetcode, new CodeTests.Functional("kSmallest", ["[5, 1, 4]\n2"], ["[1, 4]"]));
        Assert.Equal((1, 1), (functional.Passed, functional.Total));
        // stdio: "from sys import *" reads this test's input, not the first one's.
        var stdio = await _verifier.VerifyAsync("n = int(stdin.readline())\nprint(gcd(n, 12), comb(n, 2))", new CodeTests.Stdio(["8\n", "9\n"], ["4 28", "3 36"]));
        Assert.Equal((2, 2), (stdio.Passed, stdio.Total));
    }

    [Fact]
    public async Task Numpy_imports_and_runs_inside_the_sandbox()
    {
        var verdict = await _verifier.VerifyAsync("import numpy as np\na = np.array(list(map(int, input().split())))\nprint(int(a.sum()), int(np.linalg.matrix_rank(np.eye(3))))",
            new CodeTests.Stdio(["1 2 3"], ["6 3"]));
        Assert.True(verdict.Passed == 1, verdict.Tests[0].Detail);
    }

    [Fact]
    public async Task A_program_that_defines_main_but_never_calls_it_prints_nothing_and_fails_as_on_LiveCodeBench()
    {
        var never = await _verifier.VerifyAsync("def main():\n    print(int(input()) * 2)\n", new CodeTests.Stdio(["2"], ["4"]));
        Assert.Equal(TestStatus.WrongAnswer, never.Tests[0].Status);
        var called = await _verifier.VerifyAsync("def main():\n    print(int(input()) * 2)\nif __name__ == '__main__':\n    main()\n", new CodeTests.Stdio(["2"], ["4"]));
        Assert.Equal(1, called.Passed);
    }

    [Fact]
    public async Task Only_the_first_ten_tests_count_as_in_the_paper()
    {
        var verdict = await _verifier.VerifyAsync("print(input())", new CodeTests.Stdio([.. Enumerable.Range(0, 25).Select(i => $"{i}")], [.. Enumerable.Range(0, 25).Select(i => $"{i}")]));
        Assert.Equal((10, 10), (verdict.Passed, verdict.Total));
    }

    [Fact]
    public async Task LeetCode_functional_tests_call_the_solution_with_json_arguments()
    {
        const string code = """
            class Solution:
                def twoSum(self, nums, target):
                    seen = {}
                    for i, n in enumerate(nums):
                        if target - n in seen:
                            return (seen[target - n], i)
                        seen[n] = i
            """;
        var verdict = await _verifier.VerifyAsync(code, new CodeTests.Functional("twoSum", ["[2,7,11,15]\n9", "[3,2,4]\n6", "[3,3]\n6"], ["[0, 1]", "[1,2]", "[1, 0]"]));
        Assert.Equal((2, 3), (verdict.Passed, verdict.Total)); // a tuple result is a list; the last expects another order
    }

    [Fact]
    public void Json_results_compare_like_python()
    {
        Assert.True(CodeVerifier.JsonEqual("[1, 2.0, {\"a\": true}]", "[1.0, 2, {\"a\": true}]"));
        Assert.False(CodeVerifier.JsonEqual("[1, 2]", "[2, 1]"));
        Assert.False(CodeVerifier.JsonEqual("\"1\"", "1"));
    }

    [Fact]
    public async Task A_runtime_error_a_timeout_and_a_syntax_error_are_told_apart()
    {
        var slow = new CodeVerifier(fixture.Sandbox, new CodeVerifierOptions { TestTimeout = TimeSpan.FromSeconds(1) });
        var verdict = await slow.VerifyAsync("n = int(input())\nif n == 1: raise ValueError('boom')\nwhile n == 2: pass\nprint(n)",
            new CodeTests.Stdio(["0", "1", "2", "3"], ["0", "1", "2", "3"]));
        Assert.Equal([TestStatus.Passed, TestStatus.RuntimeError, TestStatus.Timeout, TestStatus.Passed], verdict.Tests.Select(t => t.Status));
        Assert.Contains("ValueError: boom", verdict.Tests[1].Detail);
        var syntax = await _verifier.VerifyAsync("def broken(:\n", new CodeTests.Stdio(["1"], ["1"]));
        Assert.Contains("SyntaxError", syntax.Tests.Single().Detail);
    }

    [Fact]
    public async Task The_shared_code_sets_parse_and_run_without_sandbox_errors()
    {
        foreach (var file in new[] { "apps_stdio.jsonl", "livecodebench_v5.jsonl" })
        {
            var records = SandboxFixture.Records(file).Take(20).ToList();
            var verdicts = await Task.WhenAll(records.Select(r => _verifier.VerifyAsync("print(0)", CodeTests.Parse(r.GetProperty("test_cases")))));
            Assert.All(verdicts, v => Assert.Null(v.SandboxError));
            Assert.All(verdicts, v => Assert.InRange(v.Total, 1, 10));
        }
    }
}

public sealed class CppHarnessTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>
{
    private readonly CodeVerifier _verifier = new(fixture.Sandbox, new CodeVerifierOptions { TestTimeout = TimeSpan.FromSeconds(2) });

    private static CodeTests.Stdio Tests(params (string In, string Out)[] cases) => new([.. cases.Select(c => c.In)], [.. cases.Select(c => c.Out)], "cpp");

    [Fact]
    public async Task Cpp_is_compiled_in_the_sandbox_and_run_per_test()
    {
        var verdict = await _verifier.VerifyResponseAsync("```cpp\n#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b<<\"\\n\";}\n```",
            Tests(("1 2", "3"), ("10 20", "30"), ("5 5", "11")));
        Assert.Equal((2, 3), (verdict.Passed, verdict.Total));
        Assert.Equal(TestStatus.WrongAnswer, verdict.Tests[2].Status);
    }

    [Fact]
    public async Task A_compile_error_a_crash_and_a_hang_are_failures()
    {
        var broken = await _verifier.VerifyAsync("int main( {", Tests(("1", "1")));
        Assert.Contains("compile:", broken.Tests.Single().Detail);
        var crash = await _verifier.VerifyAsync("#include <cstdlib>\nint main(){ int* p = nullptr; return *p; }", Tests(("1", "1")));
        Assert.Equal(TestStatus.RuntimeError, crash.Tests.Single().Status);
        var hang = await _verifier.VerifyAsync("int main(){ for(;;); }", Tests(("1", "1")));
        Assert.Equal(TestStatus.Timeout, hang.Tests.Single().Status);
        var forks = await _verifier.VerifyAsync("#include <unistd.h>\nint main(){ for(;;) fork(); }", Tests(("1", "1")));
        Assert.Equal("failed", forks.Status);
        for (var i = 0; i < 50 && fixture.Leftovers().Count > 0; i++) await Task.Delay(100);
        Assert.Empty(fixture.Leftovers());
    }
}
