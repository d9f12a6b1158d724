using System.Text.Json;
using AmDistill.Verifiers.Code;

namespace AmDistill.Verifiers.Tests;

public sealed class CodeExtractionTests
{
    [Fact]
    public void The_last_block_of_the_language_after_the_think_part()
    {
        const string response = "<think>\n```python\nprint('draft')\n```\n</think>\nHere:\n```python\nprint(1)\n```\nand a test:\n```text\n1\n```\n";
        Assert.Equal("print(1)\n", CodeExtractor.Extract(response));
    }

    [Fact]
    public void Any_fence_then_an_unclosed_one_then_bare_code()
    {
        Assert.Equal("x = 1\n", CodeExtractor.Extract("```\nx = 1\n```"));
        Assert.Equal("def f():\n    return 2", CodeExtractor.Extract("Solution:\n```python\ndef f():\n    return 2"));
        Assert.Equal("import sys\nprint(sys.stdin.read())", CodeExtractor.Extract("import sys\nprint(sys.stdin.read())\n"));
        Assert.Null(CodeExtractor.Extract("I could not solve it."));
        Assert.Equal("int main(){}\n", CodeExtractor.Extract("```cpp\nint main(){}\n```\n```python\nprint()\n```", "cpp"));
    }
}

public sealed class OutputComparisonTests
{
    [Theory]
    [InlineData("1 2\n3", "1 2 \n3\n\n", OutputComparison.Lcb, true)]
    [InlineData("1.0", "1", OutputComparison.Lcb, true)]           // exact decimals
    [InlineData("0.3333333", "0.33333331", OutputComparison.Lcb, false)] // no tolerance
    [InlineData("YES", "yes", OutputComparison.Lcb, false)]
    [InlineData("YES", "yes", OutputComparison.SandboxFusion, true)] // lower-cased
    [InlineData("0.3333333", "0.33333331", OutputComparison.SandboxFusion, true)] // 1e-5 relative
    [InlineData("1 2.000001", "1 2", OutputComparison.SandboxFusion, false)] // whole lines only
    [InlineData("a\nb", "a\nb\n", OutputComparison.Exact, true)]
    [InlineData("a b", "a  b", OutputComparison.Exact, false)]
    public void Modes(string expected, string actual, OutputComparison mode, bool equal) =>
        Assert.Equal(equal, OutputComparer.Equal(expected, actual, mode));

    [Fact]
    public void Test_case_objects_of_the_shared_schema()
    {
        var stdio = CodeTests.Parse(JsonDocument.Parse("""{"type":"stdio","inputs":["1\n","2\n"],"outputs":["1\n","4\n"]}""").RootElement);
        Assert.Equal(2, Assert.IsType<CodeTests.Stdio>(stdio).Count);
        var leetcode = CodeTests.Parse(JsonDocument.Parse("""{"type":"functional","fn_name":"twoSum","inputs":["[2,7]\n9"],"outputs":["[0, 1]"]}""").RootElement);
        Assert.Equal("twoSum", Assert.IsType<CodeTests.Functional>(leetcode).FunctionName);
        var humaneval = CodeTests.Parse(JsonDocument.Parse("""{"type":"functional","language":"python","entry_point":"f","test":"def check(c):\n    assert c() == 1"}""").RootElement, "def f():\n");
        var asserts = Assert.IsType<CodeTests.Asserts>(humaneval);
        Assert.EndsWith("check(f)", asserts.Tests.Single());
        Assert.Equal("def f():\n", asserts.Prelude);
        var mbpp = CodeTests.Parse(JsonDocument.Parse("""{"type":"assert","test_imports":["import math"],"test_list":["assert g(1) == 1","assert g(2) == 2"]}""").RootElement);
        Assert.Equal(2, mbpp.Take(10).Count);
        Assert.Equal(1, mbpp.Take(1).Count);
    }
}

public sealed class LiveCodeBenchTestsTests
{
    private const string Expected = "[{\"input\": \"1 2\\n\", \"output\": \"3\\n\", \"testtype\": \"stdin\"}, {\"input\": \"5 5\\n\", \"output\": \"10\\n\", \"testtype\": \"stdin\"}]";

    [Theory] // base64(zlib(pickle.dumps(json_str, protocol))) made with CPython 3.11
    [InlineData("eJxrYJlayQABPaXR1UqZeQWlJUpWCkqGCkYxeUo6Ckr5pSVQIWOIQElqcUlJZUEqSKi4JCUzT6lWRwFJp6mCKbpOQwOcWmOn6AEAk/gmmQ==")]
    [InlineData("eJxrYI4oZWBgiK5WyswrKC1RslJQMlQwislT0lFQyi8tgQoZQwRKUotLSioLUkFCxSUpmXlKtToKSDpNFUzRdRoa4NQaW8igBwAWTCUz")]
    [InlineData("eJxrYIooZWBgiK5WyswrKC1RslJQMlQwislT0lFQyi8tgQoZQwRKUotLSioLUkFCxSUpmXlKtToKSDpNFUzRdRoa4NQaW8igBwAVziUy")]
    public void Pickled_private_tests_are_unpacked(string encoded)
    {
        Assert.Equal(Expected, LiveCodeBenchTests.Decode(encoded));
        var tests = Assert.IsType<AmDistill.Verifiers.Code.CodeTests.Stdio>(LiveCodeBenchTests.Parse("[]", encoded, null));
        Assert.Equal(["3\n", "10\n"], tests.Outputs);
    }

    [Fact]
    public void Json_private_tests_and_functional_tests()
    {
        Assert.Equal(Expected, LiveCodeBenchTests.Decode(Expected));
        var functional = LiveCodeBenchTests.Parse("[{\"input\": \"[1,2]\", \"output\": \"3\", \"testtype\": \"functional\"}]", null, "add");
        Assert.Equal("add", Assert.IsType<AmDistill.Verifiers.Code.CodeTests.Functional>(functional).FunctionName);
        Assert.Throws<FormatException>(() => LiveCodeBenchTests.UnpickleString([0x80, 0x04, (byte)'K', 1, (byte)'.'])); // an int, not a str
    }
}
