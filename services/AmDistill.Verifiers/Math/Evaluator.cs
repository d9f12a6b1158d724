using System.Numerics;

namespace AmDistill.Verifiers.Math;

/// <summary>A scalar value: exact when every step was rational, always with a double approximation.</summary>
public readonly record struct Value(Rational? Exact, double Approx)
{
    public static Value Of(Rational r) => new(r, r.ToDouble());
    public static Value Of(double d) => new(null, d);
}

/// <summary>Evaluates scalar expressions: exact rationals where possible, doubles otherwise; symbols from an assignment.</summary>
public sealed class Evaluator(Budget budget, IReadOnlyDictionary<string, double>? symbols = null)
{
    public Value Eval(Node node)
    {
        budget.Step();
        switch (node)
        {
            case Num n: return Value.Of(n.Value);
            case Const c: return Value.Of(c.Value);
            case Sym s:
                if (symbols is not null && symbols.TryGetValue(s.Name, out var v)) return Value.Of(v);
                throw new NotScalarException($"free symbol {s.Name}");
            case Neg neg:
            {
                var x = Eval(neg.Operand);
                return x.Exact is { } e ? Value.Of(-e) : Value.Of(-x.Approx);
            }
            case Add add:
            {
                Rational? exact = Rational.Zero;
                var approx = 0.0;
                foreach (var term in add.Terms)
                {
                    var x = Eval(term);
                    exact = exact is { } a && x.Exact is { } b ? a + b : null;
                    approx += x.Approx;
                }
                return new Value(exact, exact?.ToDouble() ?? approx);
            }
            case Mul mul:
            {
                Rational? exact = Rational.One;
                var approx = 1.0;
                foreach (var factor in mul.Factors)
                {
                    var x = Eval(factor);
                    exact = exact is { } a && x.Exact is { } b ? a * b : null;
                    approx *= x.Approx;
                }
                return new Value(exact, exact?.ToDouble() ?? approx);
            }
            case Div div:
            {
                var a = Eval(div.Numerator);
                var b = Eval(div.Denominator);
                if (a.Exact is { } x && b.Exact is { } y && !y.IsZero) return Value.Of(x / y);
                return Value.Of(b.Approx == 0 ? double.NaN : a.Approx / b.Approx); // 12:00 is not 1:00
            }
            case Pow pow: return Power(Eval(pow.Base), Eval(pow.Exponent));
            case Root root:
            {
                var radicand = Eval(root.Radicand);
                var degree = Eval(root.Degree);
                if (radicand.Exact is { } r && degree.Exact is { IsInteger: true } d && d.Numerator > 0 && d.Numerator <= 64
                    && ExactRoot(r, (int)d.Numerator) is { } exactRoot)
                    return Value.Of(exactRoot);
                var n = degree.Approx;
                return Value.Of(radicand.Approx < 0 && n % 2 == 1 ? -System.Math.Pow(-radicand.Approx, 1 / n) : System.Math.Pow(radicand.Approx, 1 / n));
            }
            case Percent p:
            {
                var x = Eval(p.Operand);
                return x.Exact is { } e ? Value.Of(e / Rational.FromInteger(100)) : Value.Of(x.Approx / 100);
            }
            case Factorial f:
            {
                var x = Eval(f.Operand);
                if (x.Exact is not { IsInteger: true } e || e.Numerator < 0 || e.Numerator > 2000) throw new NotScalarException("factorial of a non-small integer");
                BigInteger result = 1;
                for (var i = 2; i <= (int)e.Numerator; i++)
                {
                    budget.Step();
                    result *= i;
                }
                return Value.Of(Rational.FromInteger(result));
            }
            case Func f: return Function(f.Name, f.Argument);
            default: throw new NotScalarException(node.GetType().Name);
        }
    }

    private Value Function(string name, Node argument)
    {
        if (name == "binom" && argument is Tuple { Items.Count: 2 } pair)
        {
            var n = Eval(pair.Items[0]);
            var k = Eval(pair.Items[1]);
            if (n.Exact is { IsInteger: true } ne && k.Exact is { IsInteger: true } ke && ke.Numerator >= 0 && ke.Numerator <= 1000 && ne.Numerator >= ke.Numerator)
            {
                BigInteger result = 1;
                for (var i = 0; i < (int)ke.Numerator; i++)
                {
                    budget.Step();
                    result = result * (ne.Numerator - i) / (i + 1);
                }
                return Value.Of(Rational.FromInteger(result));
            }
            throw new NotScalarException("binomial of non-integers");
        }
        var x = Eval(argument);
        if (name == "abs") return x.Exact is { } e ? Value.Of(e.Numerator.Sign < 0 ? -e : e) : Value.Of(System.Math.Abs(x.Approx));
        if (name == "floor" && x.Exact is { } fl) return Value.Of(Rational.FromInteger(BigInteger.Divide(fl.Numerator - (fl.Numerator.Sign < 0 ? fl.Denominator - 1 : 0), fl.Denominator)));
        var a = x.Approx;
        return Value.Of(name switch
        {
            "sin" => System.Math.Sin(a),
            "cos" => System.Math.Cos(a),
            "tan" => System.Math.Tan(a),
            "sec" => 1 / System.Math.Cos(a),
            "csc" => 1 / System.Math.Sin(a),
            "cot" => 1 / System.Math.Tan(a),
            "asin" => System.Math.Asin(a),
            "acos" => System.Math.Acos(a),
            "atan" => System.Math.Atan(a),
            "sinh" => System.Math.Sinh(a),
            "cosh" => System.Math.Cosh(a),
            "tanh" => System.Math.Tanh(a),
            "ln" => System.Math.Log(a),
            "log" => System.Math.Log10(a),
            "exp" => System.Math.Exp(a),
            "floor" => System.Math.Floor(a),
            "ceil" => System.Math.Ceiling(a),
            // A function the evaluator does not know (a sum with symbolic bounds, f(x)): some fixed smooth function
            // per name, so that equal arguments give equal values and random points still separate different ones.
            _ => System.Math.Sin(a * 1.37 + NameSeed(name)) + a * 0.5,
        });
    }

    private static double NameSeed(string name)
    {
        var hash = 17L;
        foreach (var c in name) hash = hash * 31 + c;
        return (hash % 1000) / 100.0;
    }

    private Value Power(Value b, Value e)
    {
        if (b.Exact is { } exactBase && e.Exact is { } exactExponent)
        {
            if (exactExponent.IsInteger && BigInteger.Abs(exactExponent.Numerator) <= 4096)
            {
                var n = (int)exactExponent.Numerator;
                var bits = (BigInteger.Abs(exactBase.Numerator).GetBitLength() + exactBase.Denominator.GetBitLength()) * System.Math.Abs(n);
                if (bits < 200_000 && !(exactBase.IsZero && n < 0))
                {
                    budget.Step((int)(bits / 1000) + 1);
                    return Value.Of(Rational.Pow(exactBase, n));
                }
            }
            else if (!exactExponent.IsInteger && exactExponent.Denominator <= 64 && BigInteger.Abs(exactExponent.Numerator) <= 64
                     && ExactRoot(exactBase, (int)exactExponent.Denominator) is { } root)
            {
                return Value.Of(Rational.Pow(root, (int)exactExponent.Numerator));
            }
        }
        return Value.Of(System.Math.Pow(b.Approx, e.Approx));
    }

    /// <summary>The exact n-th root of a rational when numerator and denominator are perfect powers.</summary>
    private static Rational? ExactRoot(Rational value, int n)
    {
        if (value.Numerator.Sign < 0 && n % 2 == 0) return null;
        var num = IntegerRoot(BigInteger.Abs(value.Numerator), n);
        var den = IntegerRoot(value.Denominator, n);
        if (num is null || den is null) return null;
        return new Rational(value.Numerator.Sign < 0 ? -num.Value : num.Value, den.Value);
    }

    private static BigInteger? IntegerRoot(BigInteger value, int n)
    {
        if (value.IsZero || value.IsOne) return value;
        if (value.GetBitLength() > 4000) return null;
        var guess = new BigInteger(System.Math.Round(System.Math.Pow((double)value, 1.0 / n)));
        for (var candidate = guess - 1; candidate <= guess + 1; candidate++)
            if (candidate.Sign > 0 && BigInteger.Pow(candidate, n) == value) return candidate;
        return null;
    }
}

public sealed class NotScalarException(string message) : Exception(message);
