namespace AmDistill.Dataset.Quality;

/// <summary>
/// The paper's repetition filter (§2.5: drop responses with a 20-token string seen more than 20 times across the
/// dataset) in fixed memory: a count-min sketch of hashed whitespace-token n-grams, each n-gram counted once per
/// response. Counts can only be over-estimated (a false drop), never under (a missed one); with the default sketch
/// (4 × 4M counters, 64 MB) a 1M-response set's over-estimates stay rare.
/// </summary>
public sealed class NgramCounter
{
    private const ulong Base = 1_000_003;
    private readonly int _n;
    private readonly uint[][] _rows;
    private readonly int _mask;
    private readonly ulong _topPower;

    public NgramCounter(int n = 20, int widthBits = 22, int depth = 4)
    {
        _n = n;
        _mask = (1 << widthBits) - 1;
        _rows = [.. Enumerable.Range(0, depth).Select(_ => new uint[1 << widthBits])];
        _topPower = 1;
        for (var i = 1; i < n; i++) _topPower *= Base;
    }

    /// <summary>Counts each distinct n-gram of the text once.</summary>
    public void Add(string text)
    {
        foreach (var h in DistinctShingles(text))
            for (var d = 0; d < _rows.Length; d++)
            {
                ref var cell = ref _rows[d][Index(h, d)];
                if (cell < uint.MaxValue) cell++;
            }
    }

    /// <summary>The highest count of any of the text's n-grams (0 for a text shorter than n tokens).</summary>
    public long MaxCount(string text)
    {
        uint max = 0;
        foreach (var h in DistinctShingles(text))
        {
            var estimate = uint.MaxValue;
            for (var d = 0; d < _rows.Length; d++) estimate = Math.Min(estimate, _rows[d][Index(h, d)]);
            max = Math.Max(max, estimate);
        }
        return max;
    }

    private int Index(ulong hash, int row)
    {
        var mixed = (hash ^ ((ulong)row * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;
        return (int)((mixed ^ (mixed >> 31)) & (ulong)_mask);
    }

    /// <summary>Rolling polynomial hashes of every window of n whitespace tokens.</summary>
    private HashSet<ulong> DistinctShingles(string text)
    {
        var shingles = new HashSet<ulong>();
        var window = new Queue<ulong>(_n);
        ulong hash = 0;
        foreach (var token in text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            var t = (ulong)(uint)StringComparer.Ordinal.GetHashCode(token) + 1;
            if (window.Count == _n) hash -= window.Dequeue() * _topPower;
            hash = hash * Base + t;
            window.Enqueue(t);
            if (window.Count == _n) shingles.Add(hash);
        }
        return shingles;
    }
}
