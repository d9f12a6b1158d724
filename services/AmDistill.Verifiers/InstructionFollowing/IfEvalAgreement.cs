namespace AmDistill.Verifiers.InstructionFollowing;

/// <summary>Agreement of our verdicts with expected ones (the official implementation's), per mode and instruction type.</summary>
public sealed class IfEvalAgreement
{
    private readonly SortedDictionary<(string Mode, string Type), (int Agree, int All)> _counts = new();

    /// <summary>Counts one response's verdicts; true when any differs from the expected ones. Nothing expected, nothing counted.</summary>
    public bool Add(string mode, IfEvalVerdict verdict, IReadOnlyList<bool>? expected)
    {
        if (expected is null) return false;
        if (expected.Count != verdict.Results.Count)
            throw new FormatException($"{expected.Count} expected {mode} verdicts for {verdict.Results.Count} instructions");
        var differs = false;
        for (var i = 0; i < expected.Count; i++)
        {
            var (id, followed) = verdict.Results[i];
            var (agree, all) = _counts.GetValueOrDefault((mode, id));
            _counts[(mode, id)] = (agree + (followed == expected[i] ? 1 : 0), all + 1);
            differs |= followed != expected[i];
        }
        return differs;
    }

    public (int Agree, int All) Total(string mode) =>
        _counts.Where(c => c.Key.Mode == mode).Aggregate((0, 0), (sum, c) => (sum.Item1 + c.Value.Agree, sum.Item2 + c.Value.All));

    public IEnumerable<(string Type, int Agree, int All)> ByType(string mode) =>
        _counts.Where(c => c.Key.Mode == mode).Select(c => (c.Key.Type, c.Value.Agree, c.Value.All));

    /// <summary>One line per instruction type and mode, then the totals; empty when nothing was expected.</summary>
    public IEnumerable<string> Table()
    {
        foreach (var mode in _counts.Keys.Select(k => k.Mode).Distinct())
        {
            foreach (var (type, agree, all) in ByType(mode))
                yield return $"{mode,-7} {type,-45} {agree,5} / {all,-5} {100.0 * agree / all,6:F2} %";
            var (a, n) = Total(mode);
            yield return $"{mode,-7} {"all",-45} {a,5} / {n,-5} {100.0 * a / n,6:F2} %";
        }
    }
}
