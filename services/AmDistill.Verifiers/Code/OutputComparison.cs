using System.Globalization;

namespace AmDistill.Verifiers.Code;

/// <summary>How a program's stdout is compared with the expected output.</summary>
public enum OutputComparison
{
    /// <summary>Trailing whitespace of the whole output ignored, nothing else.</summary>
    Exact,

    /// <summary>LiveCodeBench: lines stripped and counted; a line equal as text, or token by token as exact decimals (1.0 = 1, no tolerance).</summary>
    Lcb,

    /// <summary>SandboxFusion: lines lower-cased and stripped, one trailing empty line forgiven; whole lines as floats with relative tolerance 1e-5.</summary>
    SandboxFusion,
}

public static class OutputComparer
{
    public static OutputComparison Parse(string name) => name.ToLowerInvariant() switch
    {
        "exact" => OutputComparison.Exact,
        "lcb" => OutputComparison.Lcb,
        "sandboxfusion" => OutputComparison.SandboxFusion,
        _ => throw new ArgumentException($"unknown comparison '{name}' (exact, lcb, sandboxfusion)"),
    };

    public static bool Equal(string expected, string actual, OutputComparison mode) => mode switch
    {
        OutputComparison.Exact => expected.TrimEnd() == actual.TrimEnd(),
        OutputComparison.Lcb => Lcb(expected, actual),
        _ => SandboxFusion(expected, actual),
    };

    private static string[] Lines(string text) => text.Trim().Split('\n');

    private static bool Lcb(string expected, string actual)
    {
        var (e, a) = (Lines(expected), Lines(actual));
        if (e.Length != a.Length) return false;
        for (var i = 0; i < e.Length; i++)
        {
            var (x, y) = (e[i].Trim(), a[i].Trim());
            if (x == y) continue;
            var (xs, ys) = (x.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), y.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            if (xs.Length != ys.Length) return false;
            for (var j = 0; j < xs.Length; j++)
                if (!decimal.TryParse(xs[j], NumberStyles.Float, CultureInfo.InvariantCulture, out var dx)
                    || !decimal.TryParse(ys[j], NumberStyles.Float, CultureInfo.InvariantCulture, out var dy) || dx != dy)
                    return false;
        }
        return true;
    }

    private static bool SandboxFusion(string expected, string actual)
    {
        var e = expected.Trim().Split('\n').Select(l => l.Trim().ToLowerInvariant()).ToList();
        var a = actual.Trim().Split('\n').Select(l => l.Trim().ToLowerInvariant()).ToList();
        if (e.Count != a.Count) return false;
        for (var i = 0; i < e.Count; i++)
        {
            if (e[i] == a[i]) continue;
            if (!double.TryParse(e[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var b)
                || !double.TryParse(a[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var x)
                || System.Math.Abs(x - b) / System.Math.Max(System.Math.Abs(b), 1e-10) >= 1e-5)
                return false;
        }
        return true;
    }
}
