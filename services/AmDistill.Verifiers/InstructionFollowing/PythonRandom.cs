namespace AmDistill.Verifiers.InstructionFollowing;

/// <summary>
/// CPython's <c>random.Random</c> (MT19937, seeded from an integer as <c>random.seed(n)</c> does) for the calls
/// langdetect makes: <c>random()</c>, <c>gauss()</c> and <c>choice()</c>, so the port draws the same samples.
/// </summary>
internal sealed class PythonRandom
{
    private const int N = 624;
    private readonly uint[] _state = new uint[N];
    private int _index;
    private double? _nextGauss;

    public PythonRandom(uint seed) => Seed(seed);

    /// <summary><c>random.seed(n)</c> for 0 ≤ n &lt; 2³²: init_by_array with the one key word n; the cached gauss is dropped.</summary>
    public void Seed(uint seed)
    {
        InitGenrand(19650218U);
        uint i = 1;
        for (var k = N; k > 0; k--)
        {
            _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1664525U)) + seed;
            i++;
            if (i >= N) { _state[0] = _state[N - 1]; i = 1; }
        }
        for (var k = N - 1; k > 0; k--)
        {
            _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1566083941U)) - i;
            i++;
            if (i >= N) { _state[0] = _state[N - 1]; i = 1; }
        }
        _state[0] = 0x80000000U;
        _nextGauss = null;
    }

    private void InitGenrand(uint seed)
    {
        _state[0] = seed;
        for (uint i = 1; i < N; i++)
            _state[i] = 1812433253U * (_state[i - 1] ^ (_state[i - 1] >> 30)) + i;
        _index = N;
    }

    private uint NextUInt32()
    {
        if (_index >= N)
        {
            for (var k = 0; k < N; k++)
            {
                var y = (_state[k] & 0x80000000U) | (_state[(k + 1) % N] & 0x7fffffffU);
                _state[k] = _state[(k + 397) % N] ^ (y >> 1) ^ ((y & 1U) != 0 ? 0x9908b0dfU : 0U);
            }
            _index = 0;
        }
        var x = _state[_index++];
        x ^= x >> 11;
        x ^= (x << 7) & 0x9d2c5680U;
        x ^= (x << 15) & 0xefc60000U;
        x ^= x >> 18;
        return x;
    }

    /// <summary><c>random()</c>: 53 random bits in [0, 1).</summary>
    public double NextDouble()
    {
        var a = NextUInt32() >> 5;
        var b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /// <summary><c>gauss(mu, sigma)</c>: Box–Muller, the second value kept for the next call.</summary>
    public double Gauss(double mu, double sigma)
    {
        var z = _nextGauss;
        _nextGauss = null;
        if (z is null)
        {
            var x2Pi = NextDouble() * (2 * System.Math.PI);
            var g2Rad = System.Math.Sqrt(-2.0 * System.Math.Log(1.0 - NextDouble()));
            z = System.Math.Cos(x2Pi) * g2Rad;
            _nextGauss = System.Math.Sin(x2Pi) * g2Rad;
        }
        return mu + z.Value * sigma;
    }

    /// <summary><c>choice(seq)</c>'s index: <c>_randbelow(n)</c>, rejection sampling on n.bit_length() bits.</summary>
    public int Below(int n)
    {
        var bits = 32 - uint.LeadingZeroCount((uint)n);
        uint r;
        do r = NextUInt32() >> (int)(32 - bits);
        while (r >= n);
        return (int)r;
    }
}
