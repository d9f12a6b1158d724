using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AmDistill.Dataset.Ingestion;

/// <summary>The paper's query filters (§2.2): empty or incomplete text, URLs, tables and figures, a high ratio of
/// unusual Unicode characters. Each returns why a query is dropped, or null.</summary>
public static partial class QueryFilters
{
    public static string? Reject(string question, double maxUnusualRatio = 0.3, int minLength = 10)
    {
        var text = question.Trim();
        if (text.Length == 0) return "empty";
        if (text.Length < minLength) return "incomplete: too short";
        if (text.EndsWith("...", StringComparison.Ordinal) || text.EndsWith('…')) return "incomplete: trails off";
        if (Url().IsMatch(text)) return "url";
        if (TableRow().IsMatch(text)) return "table";
        if (Figure().IsMatch(text)) return "figure";
        var unusual = text.Count(c => CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate or UnicodeCategory.Format || c == '\uFFFD');
        if ((double)unusual / text.Length > maxUnusualRatio) return "unicode: unusual characters";
        return null;
    }

    [GeneratedRegex(@"https?://|www\.[a-z0-9-]+\.[a-z]", RegexOptions.IgnoreCase)]
    private static partial Regex Url();

    [GeneratedRegex(@"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"\[(image|figure|img)\]|<img\b|!\[[^\]]*\]\(|\b(in|see|shown in|from) the (figure|diagram|image|picture) (below|above)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Figure();
}

/// <summary>Text normalised for duplicate detection: lower case, letters and digits, single spaces.</summary>
public static class TextNormal
{
    public static string Of(string text)
    {
        var builder = new StringBuilder(text.Length);
        var space = false;
        foreach (var c in text.Normalize(NormalizationForm.FormKC).ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c)) { builder.Append(c); space = false; }
            else if (!space && builder.Length > 0) { builder.Append(' '); space = true; }
        }
        return builder.ToString().TrimEnd();
    }

    public static string[] Words(string text) => Of(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A 64-bit FNV-1a hash, stable across processes (a run's dedup state may be saved and compared later).</summary>
    public static ulong Hash(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text)) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }
}

/// <summary>Exact duplicates: the normalised text's hash seen before (8 bytes per query kept).</summary>
public sealed class ExactDeduplicator
{
    private readonly HashSet<ulong> _seen = [];

    public bool IsDuplicate(string question) => !_seen.Add(TextNormal.Hash(TextNormal.Of(question)));
}

/// <summary>
/// Near duplicates by MinHash over word 3-gram shingles and LSH banding: a query whose estimated Jaccard similarity to
/// a kept one reaches the threshold is a duplicate. Bands × rows are chosen so the LSH's S-curve steps up around the
/// threshold; candidates are then checked on the signatures themselves.
/// </summary>
public sealed class NearDeduplicator
{
    private const int Permutations = 128;
    private readonly double _threshold;
    private readonly int _rows;
    private readonly int _bands;
    private readonly ulong[] _a;
    private readonly ulong[] _b;
    private readonly List<Dictionary<ulong, List<int>>> _buckets;
    private readonly List<uint[]> _signatures = [];

    public NearDeduplicator(double threshold = 0.8, int seed = 1)
    {
        _threshold = threshold;
        // (1/b)^(1/r) ≈ threshold, with b·r = 128: more rows for a higher threshold.
        (_bands, _rows) = new[] { (64, 2), (32, 4), (16, 8), (8, 16) }.MinBy(br => Math.Abs(Math.Pow(1.0 / br.Item1, 1.0 / br.Item2) - (threshold - 0.1)));
        var random = new Random(seed);
        _a = [.. Enumerable.Range(0, Permutations).Select(_ => (ulong)random.NextInt64(1, long.MaxValue) | 1)];
        _b = [.. Enumerable.Range(0, Permutations).Select(_ => (ulong)random.NextInt64(0, long.MaxValue))];
        _buckets = [.. Enumerable.Range(0, _bands).Select(_ => new Dictionary<ulong, List<int>>())];
    }

    /// <summary>True when the query nearly duplicates one kept before; otherwise it is kept (remembered).</summary>
    public bool IsDuplicate(string question)
    {
        var signature = Signature(question);
        if (signature is null) return false; // too short to shingle: exact dedup covers it
        var keys = new ulong[_bands];
        for (var band = 0; band < _bands; band++)
        {
            var key = 14695981039346656037UL;
            for (var r = 0; r < _rows; r++) key = (key ^ signature[band * _rows + r]) * 1099511628211UL;
            keys[band] = key;
            if (_buckets[band].TryGetValue(key, out var candidates) && candidates.Any(c => Similarity(_signatures[c], signature) >= _threshold))
                return true;
        }
        var id = _signatures.Count;
        _signatures.Add(signature);
        for (var band = 0; band < _bands; band++)
        {
            if (!_buckets[band].TryGetValue(keys[band], out var list)) _buckets[band][keys[band]] = list = [];
            list.Add(id);
        }
        return false;
    }

    public static double Similarity(uint[] x, uint[] y) => (double)x.Zip(y).Count(p => p.First == p.Second) / x.Length;

    private uint[]? Signature(string question)
    {
        var words = TextNormal.Words(question);
        if (words.Length < 3) return null;
        var signature = Enumerable.Repeat(uint.MaxValue, Permutations).ToArray();
        for (var i = 0; i + 3 <= words.Length; i++)
        {
            var shingle = TextNormal.Hash($"{words[i]} {words[i + 1]} {words[i + 2]}");
            for (var p = 0; p < Permutations; p++)
            {
                var h = (uint)((_a[p] * shingle + _b[p]) >> 32);
                if (h < signature[p]) signature[p] = h;
            }
        }
        return signature;
    }
}

/// <summary>Benchmark contamination: a query sharing an n-gram of words (13 by default, as in GPT-3's and open-r1's
/// decontamination; shorter questions compare whole) with a benchmark question.</summary>
public sealed class Decontaminator
{
    private readonly int _n;
    private readonly Dictionary<ulong, string> _ngrams = [];

    public Decontaminator(IEnumerable<(string Id, string Question)> benchmark, int n = 13)
    {
        _n = n;
        foreach (var (id, question) in benchmark)
            foreach (var g in Grams(question)) _ngrams.TryAdd(g, id);
    }

    public int Benchmarks => _ngrams.Values.Distinct().Count();

    /// <summary>The benchmark question this one overlaps, or null.</summary>
    public string? Match(string question) => Grams(question).Select(g => _ngrams.GetValueOrDefault(g)).FirstOrDefault(id => id is not null);

    private IEnumerable<ulong> Grams(string text)
    {
        var words = TextNormal.Words(text);
        if (words.Length == 0) yield break;
        if (words.Length < _n)
        {
            yield return TextNormal.Hash(string.Join(' ', words));
            yield break;
        }
        for (var i = 0; i + _n <= words.Length; i++)
            yield return TextNormal.Hash(string.Join(' ', words, i, _n));
    }
}
