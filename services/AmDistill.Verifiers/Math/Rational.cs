using System.Globalization;
using System.Numerics;

namespace AmDistill.Verifiers.Math;

/// <summary>An exact fraction of BigIntegers, always reduced, denominator positive.</summary>
public readonly record struct Rational : IComparable<Rational>
{
    public BigInteger Numerator { get; }
    public BigInteger Denominator { get; }

    public Rational(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.IsZero) throw new DivideByZeroException();
        if (denominator.Sign < 0) (numerator, denominator) = (-numerator, -denominator);
        var gcd = BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!gcd.IsOne && !gcd.IsZero) (numerator, denominator) = (numerator / gcd, denominator / gcd);
        Numerator = numerator;
        Denominator = denominator.IsZero ? BigInteger.One : denominator;
    }

    public static Rational Zero { get; } = new(0, 1);
    public static Rational One { get; } = new(1, 1);

    public bool IsInteger => Denominator.IsOne;
    public bool IsZero => Numerator.IsZero;

    public static Rational FromInteger(BigInteger value) => new(value, BigInteger.One);

    /// <summary>Exact value of a decimal literal like "1000.99" or "1.5e-3".</summary>
    public static Rational ParseDecimal(string text)
    {
        var exponent = 0;
        var e = text.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            exponent = int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var digits = dot < 0 ? text : text.Remove(dot, 1);
        if (digits.Length == 0) digits = "0";
        var scale = dot < 0 ? 0 : text.Length - dot - 1;
        var value = BigInteger.Parse(digits, CultureInfo.InvariantCulture);
        scale -= exponent;
        return scale >= 0 ? new Rational(value, BigInteger.Pow(10, scale)) : new Rational(value * BigInteger.Pow(10, -scale), 1);
    }

    public double ToDouble()
    {
        var value = (double)Numerator / (double)Denominator;
        if (double.IsFinite(value)) return value;
        // Very large parts: scale down before dividing.
        var shift = (int)System.Math.Max(0, BigInteger.Abs(Numerator).GetBitLength() - 1000);
        var denShift = (int)System.Math.Max(0, Denominator.GetBitLength() - 1000);
        return (double)(Numerator >> shift) / (double)(Denominator >> denShift) * System.Math.Pow(2, shift - denShift);
    }

    public static Rational operator +(Rational a, Rational b) => new(a.Numerator * b.Denominator + b.Numerator * a.Denominator, a.Denominator * b.Denominator);
    public static Rational operator -(Rational a, Rational b) => new(a.Numerator * b.Denominator - b.Numerator * a.Denominator, a.Denominator * b.Denominator);
    public static Rational operator *(Rational a, Rational b) => new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);
    public static Rational operator /(Rational a, Rational b) => new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);
    public static Rational operator -(Rational a) => new(-a.Numerator, a.Denominator);

    public static Rational Pow(Rational value, int exponent) => exponent >= 0
        ? new Rational(BigInteger.Pow(value.Numerator, exponent), BigInteger.Pow(value.Denominator, exponent))
        : new Rational(BigInteger.Pow(value.Denominator, -exponent), BigInteger.Pow(value.Numerator, -exponent));

    public int CompareTo(Rational other) => (Numerator * other.Denominator).CompareTo(other.Numerator * Denominator);

    public override string ToString() => IsInteger ? Numerator.ToString(CultureInfo.InvariantCulture) : $"{Numerator}/{Denominator}";
}
