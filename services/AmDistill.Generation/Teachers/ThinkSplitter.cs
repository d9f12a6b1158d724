namespace AmDistill.Generation.Teachers;

/// <summary>Thinking and final answer, apart, whatever format the teacher used.</summary>
public static class ThinkSplitter
{
    private const string Open = "<think>";
    private const string Close = "</think>";

    /// <summary>
    /// A separate reasoning field (DeepSeek, vLLM reasoning parsers) wins; otherwise <c>&lt;think&gt;…&lt;/think&gt;</c>
    /// inline, including the R1 habit of omitting the opening tag. An unclosed think part (a truncated answer) is all
    /// thinking and no answer.
    /// </summary>
    public static (string? Thinking, string Answer) Split(string? content, string? reasoning)
    {
        content ??= "";
        if (!string.IsNullOrEmpty(reasoning)) return (reasoning, content.Trim());

        var close = content.IndexOf(Close, StringComparison.Ordinal);
        var open = content.IndexOf(Open, StringComparison.Ordinal);
        if (close >= 0)
        {
            var start = open >= 0 && open < close ? open + Open.Length : 0;
            return (content[start..close].Trim(), content[(close + Close.Length)..].Trim());
        }
        if (open >= 0) return (content[(open + Open.Length)..].Trim(), "");
        return (null, content.Trim());
    }
}
