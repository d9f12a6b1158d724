using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.Code;

/// <summary>The program in a response: the think part dropped, then the last fenced block of the language, else the last
/// fenced block, else an unclosed fence's tail (a truncated answer), else the answer itself when it reads as code.</summary>
public static partial class CodeExtractor
{
    [GeneratedRegex(@"```[ \t]*([A-Za-z0-9+#_-]*)[^\n]*\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex Fenced();

    public static string? Extract(string response, string language = "python")
    {
        var think = response.LastIndexOf("</think>", StringComparison.Ordinal);
        var text = think >= 0 ? response[(think + "</think>".Length)..] : response;

        var blocks = Fenced().Matches(text);
        if (blocks.Count > 0)
        {
            var ofLanguage = blocks.LastOrDefault(m => Aliases(language).Contains(m.Groups[1].Value.ToLowerInvariant()));
            return (ofLanguage ?? blocks[^1]).Groups[2].Value;
        }
        var open = text.LastIndexOf("```", StringComparison.Ordinal);
        if (open >= 0)
        {
            var newline = text.IndexOf('\n', open);
            return newline >= 0 ? text[(newline + 1)..] : null;
        }
        return LooksLikeCode(text, language) ? text.Trim('\n') : null;
    }

    private static string[] Aliases(string language) => language.ToLowerInvariant() switch
    {
        "python" or "py" => ["python", "python3", "py"],
        "cpp" or "c++" => ["cpp", "c++", "cc", "cxx"],
        var other => [other],
    };

    private static bool LooksLikeCode(string text, string language) => language is "python" or "py"
        ? text.Contains("def ", StringComparison.Ordinal) || text.Contains("import ", StringComparison.Ordinal) || text.Contains("print(", StringComparison.Ordinal)
        : text.Contains("#include", StringComparison.Ordinal);
}
