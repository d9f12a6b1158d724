using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.Math;

/// <summary>
/// Parses an extracted answer (LaTeX or plain text) into a <see cref="Node"/>. Recursive descent over a normalised
/// string; noise (sizing commands, \text units, currency, degrees) is dropped first. Throws <see cref="FormatException"/>
/// on what it cannot read.
/// </summary>
public sealed partial class Parser
{
    private const int MaxDepth = 200;

    /// <summary>LaTeX's \\ (matrix row break), kept apart from "\ " (a space) while normalising.</summary>
    private const string RowBreak = "⏎";
    private readonly string _s;
    private readonly Budget _budget;
    private int _pos;
    private int _depth;

    private Parser(string text, Budget budget)
    {
        _s = text;
        _budget = budget;
    }

    public static Node Parse(string answer, Budget budget)
    {
        if (answer.Length > 20_000) throw new FormatException("answer too long");
        var parser = new Parser(Normalize(answer), budget);
        parser.SkipSpaces();
        if (parser.AtEnd) throw new FormatException("empty answer");
        var node = parser.ParseList();
        parser.SkipSpaces();
        if (!parser.AtEnd) throw new FormatException($"unexpected '{parser._s[parser._pos..System.Math.Min(parser._s.Length, parser._pos + 10)]}'");
        return node;
    }

    // ---------- normalisation ----------

    private static readonly (string From, string To)[] Replacements =
    [
        ("\\left", ""), ("\\right", ""), ("\\bigl", ""), ("\\bigr", ""), ("\\Bigl", ""), ("\\Bigr", ""), ("\\big", ""), ("\\Big", ""),
        ("\\displaystyle", ""), ("\\!", ""), ("\\,", " "), ("\\;", " "), ("\\:", " "), ("\\ ", " "), ("\\quad", " "), ("\\qquad", " "), ("~", " "),
        ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"), ("\\dbinom", "\\binom"),
        ("\\leqslant", "\\le"), ("\\geqslant", "\\ge"), ("\\leq", "\\le"), ("\\geq", "\\ge"), ("\\lt", "<"), ("\\gt", ">"), ("\\neq", "\\ne"),
        ("\\cdot", "*"), ("\\times", "*"), ("\\div", "/"), ("\\ast", "*"),
        ("−", "-"), ("–", "-"), ("×", "*"), ("÷", "/"), ("≤", "\\le"), ("≥", "\\ge"), ("≠", "\\ne"), ("∞", "\\infty"), ("π", "\\pi"), ("√", "\\sqrt"),
        ("^\\circ", ""), ("^{\\circ}", ""), ("\\circ", ""), ("°", ""), ("\\degree", ""),
        ("\\$", ""), ("€", ""), ("£", ""), ("¥", ""), ("m²", ""),
        ("\\%", "%"), ("\\textstyle", ""), ("\\{", "⦃"), ("\\}", "⦄"), ("\\lbrace", "⦃"), ("\\rbrace", "⦄"),
        ("\\mathrm{e}", "\\e"), ("\\operatorname", ""), ("\\limits", ""),
    ];

    internal static string Normalize(string text)
    {
        // Control characters left by unescaped Python strings: "\frac" read as form feed + "rac".
        var s = text.Replace("\f", "\\f", StringComparison.Ordinal).Replace("\b", "\\b", StringComparison.Ordinal).Replace("\v", "\\v", StringComparison.Ordinal);
        s = TabCommand().Replace(s, "\\t");
        s = ThousandsThinSpace().Replace(s.Trim(), ",");
        s = DoubledBackslash().Replace(s, "\\");
        s = s.Replace("\\\\", RowBreak, StringComparison.Ordinal); // before "\ " and friends are removed
        s = s.Replace("{,}", ",", StringComparison.Ordinal);
        if (s.Contains("**", StringComparison.Ordinal)) s = PythonPower().Replace(s, m => m.Groups[1].Value == "(" ? "^(" : "^{" + m.Groups[1].Value + "}");
        s = ClockTime().Replace(s, "\\text{$1:$2}");
        foreach (var (from, to) in Replacements) s = s.Replace(from, to, StringComparison.Ordinal);
        s = PercentWords().Replace(s, "%");
        s = s.Replace("<=", "\\le", StringComparison.Ordinal).Replace(">=", "\\ge", StringComparison.Ordinal).Replace("!=", "\\ne", StringComparison.Ordinal);
        s = s.Trim().TrimEnd('.', ' ', '\n').Replace("$", " ", StringComparison.Ordinal).Trim();
        // "x \in \boxed{…}" leftovers and trailing words are noise; a trailing "." already went.
        return s;
    }

    /// <summary>Python's power, x**2 or 2**(n+1), as LaTeX's (the exponent braced: x**10 is x^{10}, not x^1·0).</summary>
    [GeneratedRegex(@"\*\*\s*(\(|-?\d+(?:\.\d+)?|[A-Za-z]\w*)")]
    private static partial Regex PythonPower();

    [GeneratedRegex(@"\t(?=(imes|ext|frac|an|heta|au)\b)")]
    private static partial Regex TabCommand();

    [GeneratedRegex(@"\b(and|or)\b|;")]
    private static partial Regex ListWords();

    [GeneratedRegex(@"(?<![\d.])(\d{1,2}):(\d{2})(?![\d.])")]
    private static partial Regex ClockTime();

    [GeneratedRegex(@",\\!\s*(?=\d{3})")]
    private static partial Regex ThousandsThinSpace();

    /// <summary>"\\le" written where "\le" was meant (escaped twice on the way).</summary>
    [GeneratedRegex(@"(?<!\\)\\\\(?=[A-Za-z]{2,})")]
    private static partial Regex DoubledBackslash();

    [GeneratedRegex(@"\s*(percentage|percent|pct)\b", RegexOptions.IgnoreCase)]
    private static partial Regex PercentWords();

    // ---------- scanning helpers ----------

    private bool AtEnd => _pos >= _s.Length;
    private char Peek => _pos < _s.Length ? _s[_pos] : '\0';

    private void SkipSpaces()
    {
        while (_pos < _s.Length && (char.IsWhiteSpace(_s[_pos]) || _s[_pos] == '⏎')) _pos++;
    }

    private bool TryConsume(string token)
    {
        SkipSpaces();
        if (string.CompareOrdinal(_s, _pos, token, 0, token.Length) != 0) return false;
        // A command must not be a prefix of a longer command (\in vs \infty).
        if (token[0] == '\\' && char.IsAsciiLetter(token[^1]) && _pos + token.Length < _s.Length && char.IsAsciiLetter(_s[_pos + token.Length])) return false;
        _pos += token.Length;
        return true;
    }

    private void Expect(string token)
    {
        if (!TryConsume(token)) throw new FormatException($"expected '{token}' at {_pos}");
    }

    private T Nest<T>(Func<T> parse)
    {
        _budget.Step();
        if (++_depth > MaxDepth) throw new FormatException("nesting too deep");
        try
        {
            return parse();
        }
        finally
        {
            _depth--;
        }
    }

    // ---------- grammar ----------

    /// <summary>list := rel ((',' | ';' | 'and' | 'or') rel)*</summary>
    private Node ParseList()
    {
        var items = new List<Node> { ParseRelation() };
        while (true)
        {
            _budget.Step();
            SkipSpaces();
            if (TryConsume(",") || TryConsume(";") || TryConsume("\\text{ and }") || TryConsume("\\text{and}") || TryConsume("\\text{ or }") || TryConsume("\\text{or}")
                || TryWord("and") || TryWord("or"))
            {
                SkipSpaces();
                if (TryWord("and") || TryWord("or")) SkipSpaces();
                if (AtEnd || Peek is ')' or ']' or '⦄' or '}') break;
                items.Add(ParseRelation());
                continue;
            }
            break;
        }
        return items.Count == 1 ? items[0] : new Tuple(items, Parenthesised: false);
    }

    private bool TryWord(string word)
    {
        SkipSpaces();
        if (string.CompareOrdinal(_s, _pos, word, 0, word.Length) != 0) return false;
        var end = _pos + word.Length;
        if (end < _s.Length && char.IsLetter(_s[end])) return false;
        if (_pos > 0 && char.IsLetter(_s[_pos - 1])) return false;
        _pos = end;
        return true;
    }

    private static readonly (string Token, string Op)[] RelationOps =
    [
        ("\\le", "<="), ("\\ge", ">="), ("\\ne", "!="), ("\\approx", "≈"), ("\\equiv", "="), ("\\sim", "="), ("=", "="), ("<", "<"), (">", ">"), (":", ":"),
    ];

    /// <summary>rel := set-expr (relop set-expr)* | set-expr \in set-expr</summary>
    private Node ParseRelation() => Nest(() =>
    {
        var first = ParseSetExpression();
        if (TryConsume("\\in")) return new Membership(first, ParseSetExpression());
        var sides = new List<Node> { first };
        var ops = new List<string>();
        while (true)
        {
            _budget.Step();
            var matched = false;
            foreach (var (token, op) in RelationOps)
            {
                if (!TryConsume(token)) continue;
                ops.Add(op);
                sides.Add(ParseSetExpression());
                matched = true;
                break;
            }
            if (!matched) break;
        }
        return sides.Count == 1 ? first : new Relation(sides, ops);
    });

    /// <summary>set-expr := sum (\cup sum)*</summary>
    private Node ParseSetExpression()
    {
        var parts = new List<Node> { ParseSum() };
        while (TryConsume("\\cup") || TryConsume("∪"))
        {
            _budget.Step();
            parts.Add(ParseSum());
        }
        return parts.Count == 1 ? parts[0] : new Union(parts);
    }

    private Node ParseSum() => Nest(() =>
    {
        var terms = new List<Node> { ParseTerm() };
        while (true)
        {
            _budget.Step();
            SkipSpaces();
            if (TryConsume("\\pm") || TryConsume("±"))
            {
                var right = ParseTerm();
                var left = terms.Count == 1 ? terms[0] : new Add([.. terms]);
                terms = [new PlusMinus(left, right)];
            }
            else if (TryConsume("\\mp"))
            {
                var right = ParseTerm();
                var left = terms.Count == 1 ? terms[0] : new Add([.. terms]);
                terms = [new PlusMinus(left, new Neg(right))];
            }
            else if (Peek == '+' && !NextIsOperatorRun()) { _pos++; terms.Add(ParseTerm()); }
            else if (Peek == '-') { _pos++; terms.Add(new Neg(ParseTerm())); }
            else break;
        }
        return terms.Count == 1 ? terms[0] : new Add(terms);
    });

    private bool NextIsOperatorRun() => _pos + 1 < _s.Length && _s[_pos + 1] == '+';

    private Node ParseTerm() => Nest(() =>
    {
        var node = ParseUnary();
        while (true)
        {
            _budget.Step();
            SkipSpaces();
            if (Peek == '*') { _pos++; node = Multiply(node, ParseUnary()); }
            else if (Peek == '/' ) { _pos++; node = new Div(node, ParseUnary()); }
            else if (StartsPrimary())
            {
                // "11 6/6" or "32 349": two numbers side by side are no product, and no answer.
                if (node is Num && char.IsAsciiDigit(Peek)) throw new FormatException("two numbers side by side");
                node = Multiply(node, ParseUnary(implicitFactor: true));
            }
            else break;
        }
        return node;
    });

    private static Node Multiply(Node left, Node right)
    {
        // Units and words after a number are noise: "125 \text{miles}", "10 cm" keep their number.
        if (right is Text) return left;
        if (left is Text) return right;
        return left is Mul m ? new Mul([.. m.Factors, right]) : new Mul([left, right]);
    }

    private bool StartsPrimary()
    {
        SkipSpaces();
        if (AtEnd) return false;
        var c = Peek;
        if (AtConnective()) return false;
        if (char.IsAsciiDigit(c) || char.IsLetter(c) || c is '(' or '⦃' || (c == '.' && _pos + 1 < _s.Length && char.IsAsciiDigit(_s[_pos + 1]))) return true;
        if (c == '{') return true;
        if (c == '\\')
        {
            var name = PeekCommand();
            return name is not ("le" or "ge" or "ne" or "approx" or "in" or "cup" or "pm" or "mp" or "equiv" or "sim" or "end" or "\\" or "text" or "textbf" or "mbox" or "textnormal" or "mathrm" or "mathbf" or "quad")
                   || (name is "text" or "textbf" or "mbox" or "textnormal" or "mathrm" or "mathbf" && !TextIsConnective());
        }
        return false;
    }

    private bool TextIsConnective()
    {
        var save = _pos;
        try
        {
            _pos++;
            ReadCommandName();
            var content = ReadGroupRaw().Trim();
            return content is "and" or "or" or "," || content.Length == 0;
        }
        catch (FormatException)
        {
            return false;
        }
        finally
        {
            _pos = save;
        }
    }

    /// <summary>At "and" / "or" as words: list separators, not the product a·n·d.</summary>
    private bool AtConnective()
    {
        foreach (var word in new[] { "and", "or" })
        {
            if (string.CompareOrdinal(_s, _pos, word, 0, word.Length) != 0) continue;
            var end = _pos + word.Length;
            if ((end >= _s.Length || !char.IsLetter(_s[end])) && (_pos == 0 || !char.IsLetter(_s[_pos - 1]))) return true;
        }
        return false;
    }

    private string PeekCommand()
    {
        var i = _pos + 1;
        var start = i;
        while (i < _s.Length && char.IsAsciiLetter(_s[i])) i++;
        return i == start ? (i < _s.Length ? _s[i].ToString() : "") : _s[start..i];
    }

    private Node ParseUnary(bool implicitFactor = false) => Nest(() =>
    {
        SkipSpaces();
        if (!implicitFactor && Peek == '-') { _pos++; return new Neg(ParseUnary()); }
        if (!implicitFactor && Peek == '+') { _pos++; return ParseUnary(); }
        if (!implicitFactor && (TryConsume("\\pm") || TryConsume("±"))) return new PlusMinus(new Num(Rational.Zero), ParseUnary());
        return ParsePower();
    });

    private Node ParsePower() => Nest(() =>
    {
        var node = ParsePostfix(ParsePrimary());
        SkipSpaces();
        if (Peek == '^')
        {
            _pos++;
            var exponent = ParseExponent();
            node = node is Text ? node : ParsePostfix(new Pow(node, exponent)); // cm^2: a unit stays noise
        }
        return node;
    });

    private Node ParseExponent()
    {
        SkipSpaces();
        if (Peek == '{') return ParseGroup();
        if (Peek == '-') { _pos++; return new Neg(ParseExponent()); }
        if (char.IsAsciiDigit(Peek)) return new Num(Rational.FromInteger(_s[_pos++] - '0'));
        return ParsePrimary();
    }

    private Node ParsePostfix(Node node)
    {
        while (true)
        {
            _budget.Step();
            SkipSpaces();
            if (Peek == '!') { _pos++; node = new Factorial(node); }
            else if (Peek == '%') { _pos++; node = new Percent(node); }
            else if (Peek == '\'' && node is Sym prime) { _pos++; node = new Sym(prime.Name + "'"); }
            else break;
        }
        return node;
    }

    private Node ParseGroup()
    {
        Expect("{");
        SkipSpaces();
        if (Peek == '}') { _pos++; return new Text(""); }
        _bracketDepth++;
        var inner = ParseList();
        _bracketDepth--;
        Expect("}");
        // {1,3}: braces around a comma list read as a set, as Math-Verify does.
        return inner is Tuple { Parenthesised: false } t ? new SetNode(t.Items) : inner;
    }

    private Node ParsePrimary() => Nest(() =>
    {
        SkipSpaces();
        if (AtEnd) throw new FormatException("unexpected end");
        var c = Peek;
        if (char.IsAsciiDigit(c) || (c == '.' && _pos + 1 < _s.Length && char.IsAsciiDigit(_s[_pos + 1]))) return ParseNumber();
        if (c == '{') return ParseGroup();
        if (c is '(' or '[') return ParseBracket();
        if (c == '⦃')
        {
            _pos++;
            SkipSpaces();
            if (Peek == '⦄') { _pos++; return new SetNode([]); }
            var inner = ParseList();
            Expect("⦄");
            return new SetNode(inner is Tuple t ? t.Items : [inner]);
        }
        if (c == '|')
        {
            _pos++;
            var inner = ParseSum();
            Expect("|");
            return new Func("abs", inner);
        }
        if (c == '\\') return ParseCommand();
        if (char.IsLetter(c)) return ParseIdentifier();
        throw new FormatException($"unexpected '{c}'");
    });

    private Node ParseIdentifier()
    {
        // A word ("miles", "Answer") is text, not a product of four or more variables.
        var run = _pos;
        while (run < _s.Length && char.IsAsciiLetter(_s[run])) run++;
        if (run - _pos >= 4 && PlainFunction(_s[_pos..run]) is { } function) return function;
        if (run - _pos >= 4)
        {
            var word = _s[_pos..run];
            _pos = run;
            return new Text(word);
        }
        if (run - _pos >= 2 && PlainFunction(_s[_pos..run]) is { } plain) return plain;
        return new Sym(_s[_pos++] + Subscript());
    }

    /// <summary>A subscript belongs to the name before it: x_1, S_{ABC}, \omega_{d}.</summary>
    private string Subscript()
    {
        var save = _pos;
        SkipSpaces();
        if (Peek != '_' || _pos + 1 >= _s.Length)
        {
            _pos = save;
            return "";
        }
        _pos++;
        return "_" + (Peek == '{' ? ReadGroupRaw() : _s[_pos++].ToString());
    }

    /// <summary>Plain-text math as models write it outside LaTeX: pi, sqrt(2), exp(0), ln(3).</summary>
    private Node? PlainFunction(string word)
    {
        if (word == "pi")
        {
            _pos += 2;
            return new Const("pi", System.Math.PI);
        }
        var end = _pos + word.Length;
        while (end < _s.Length && _s[end] == ' ') end++;
        if (end >= _s.Length || _s[end] != '(') return null;
        if (word == "sqrt")
        {
            _pos += word.Length;
            return new Root(ParseBracket(), new Num(Rational.FromInteger(2)));
        }
        if (word == "abs")
        {
            _pos += word.Length;
            return new Func("abs", ParseBracket());
        }
        if (!Functions.TryGetValue(word, out var function)) return null;
        _pos += word.Length;
        return ParseFunction(function);
    }

    private Node ParseNumber()
    {
        var start = _pos;
        var text = new StringBuilder();
        while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) text.Append(_s[_pos++]);
        // Thousands groups: 7,425,000 / 1 000 / 11,111,111,100 (not "0,111", not "32, 349").
        var grouped = false;
        if (text.Length is > 0 and <= 3 && text[0] != '0')
        {
            while (true)
            {
                if (_pos + 4 > _s.Length || _s[_pos] is not (',' or ' ')) break;
                if (_s[_pos] == ',' && _bracketDepth > 0) break; // (12,102) is a pair, not 12102
                if (!(char.IsAsciiDigit(_s[_pos + 1]) && char.IsAsciiDigit(_s[_pos + 2]) && char.IsAsciiDigit(_s[_pos + 3]))) break;
                if (_pos + 4 < _s.Length && char.IsAsciiDigit(_s[_pos + 4])) break;
                // "1, 2" style lists use ", "; "1 000" uses a bare space; a comma group must be followed by a non-digit.
                text.Append(_s, _pos + 1, 3);
                _pos += 4;
                grouped = true;
            }
        }
        var decimals = 0;
        if (_pos + 1 < _s.Length && (_s[_pos] == '.' || (_s[_pos] == ',' && !grouped && IsDecimalComma())) && (char.IsAsciiDigit(_s[_pos + 1]) || _s[_pos + 1] == '\\'))
        {
            var dot = _pos;
            _pos++;
            text.Append('.');
            while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) { text.Append(_s[_pos++]); decimals++; }
            if (RepeatingDecimal(text.ToString()) is { } repeating) return new Num(repeating);
            if (decimals == 0) _pos = dot;
        }
        if (_pos + 1 < _s.Length && (_s[_pos] is 'e' or 'E') && (char.IsAsciiDigit(_s[_pos + 1]) || (_s[_pos + 1] is '-' or '+' && _pos + 2 < _s.Length && char.IsAsciiDigit(_s[_pos + 2]))))
        {
            var save = _pos;
            var exp = new StringBuilder("e");
            _pos++;
            if (_s[_pos] is '-' or '+') exp.Append(_s[_pos++]);
            while (_pos < _s.Length && char.IsAsciiDigit(_s[_pos])) exp.Append(_s[_pos++]);
            if (_pos < _s.Length && char.IsAsciiLetter(_s[_pos])) _pos = save; // "2e x" is 2·e·x, not an exponent
            else text.Append(exp);
        }
        if (text.Length > 400) throw new FormatException("number too long");
        var value = Rational.ParseDecimal(text.ToString());
        // Base subscripts: 1010_2, 123_{8}
        var afterNumber = _pos;
        SkipSpaces();
        if (Peek != '_') _pos = afterNumber;
        if (Peek == '_' && decimals == 0)
        {
            var save = _pos;
            var digits = _s[start.._pos].Trim();
            _pos++;
            var baseText = Peek == '{' ? ReadGroupRaw() : _pos < _s.Length ? _s[_pos++].ToString() : ""; // "1_" ends the text
            if (int.TryParse(baseText, NumberStyles.None, CultureInfo.InvariantCulture, out var radix) && radix is >= 2 and <= 36)
                return new Num(FromBase(digits, radix));
            _pos = save;
        }
        // Mixed number: 4 4/9 or 4\frac{4}{9}
        if (decimals == 0 && MixedFraction() is { } fraction) return new Num(value + fraction);
        return new Num(value, decimals);
    }

    /// <summary>
    /// A repeating decimal at the parser's position after "<paramref name="written"/>": 0.\overline{6}, 0.1\overline{36},
    /// 0.\dot{3}, or digits that repeat before an ellipsis (0.333…, 0.142857142857...). Null when none follows.
    /// </summary>
    private Rational? RepeatingDecimal(string written)
    {
        var save = _pos;
        var fixedPart = written;
        string? period = null;
        if (TryConsume("\\overline") || TryConsume("\\dot") || TryConsume("\\bar"))
        {
            period = ReadGroupRaw().Trim();
            if (period.Length == 0 || !period.All(char.IsAsciiDigit)) period = null;
        }
        else if (Ellipsis().Match(_s, _pos) is { Success: true } ellipsis && ellipsis.Index == _pos)
        {
            // The shortest period the written digits repeat at least twice (one digit: three times, 0.33… is not 0.3̄ enough).
            var decimals = written[(written.IndexOf('.') + 1)..];
            for (var length = 1; length <= 6 && period is null; length++)
            {
                var times = length == 1 ? 3 : 2;
                if (decimals.Length < length * times) continue;
                var tail = decimals[^length..];
                if (Enumerable.Range(1, times).All(k => decimals.AsSpan(decimals.Length - k * length, length).SequenceEqual(tail)))
                {
                    period = tail;
                    fixedPart = written[..^(length * times)];
                }
            }
            if (period is not null) _pos = ellipsis.Index + ellipsis.Length;
        }
        if (period is null)
        {
            _pos = save;
            return null;
        }
        // x = fixed + 0.(period) shifted past the fixed decimals: period / (10^len − 1) / 10^fixedDecimals.
        var fixedDecimals = fixedPart.Length - fixedPart.IndexOf('.') - 1;
        var repeating = new Rational(BigInteger.Parse(period, CultureInfo.InvariantCulture), BigInteger.Pow(10, period.Length) - 1)
                        / Rational.FromInteger(BigInteger.Pow(10, fixedDecimals));
        return Rational.ParseDecimal(fixedPart.EndsWith('.') ? fixedPart + "0" : fixedPart) + repeating;
    }

    [GeneratedRegex(@"\s*(?:\\ldots|\\dots|\\cdots|\.\.\.|…)")]
    private static partial Regex Ellipsis();

    /// <summary>
    /// "1000,99", "1,22", "0,111": a decimal comma only when it is the answer's only comma, outside brackets, with two
    /// digits after it (or three after a leading 0, or after more than three digits); otherwise a list separator.
    /// </summary>
    private bool IsDecimalComma()
    {
        if (_bracketDepth > 0 || _s.Count(c => c == ',') != 1 || ListWords().IsMatch(_s)) return false;
        var i = _pos + 1;
        var n = 0;
        while (i < _s.Length && char.IsAsciiDigit(_s[i])) { i++; n++; }
        if (n == 0) return false;
        var before = _pos - 1;
        while (before >= 0 && char.IsAsciiDigit(_s[before])) before--;
        var intDigits = _pos - before - 1;
        return n == 2 || (n == 3 && intDigits == 1 && _s[before + 1] == '0') || (n != 1 && intDigits > 3);
    }

    private int _bracketDepth;

    private Rational? MixedFraction()
    {
        var save = _pos;
        if (_pos >= _s.Length) return null;
        var spaced = _s[_pos] == ' ';
        SkipSpaces();
        var m = !spaced ? System.Text.RegularExpressions.Match.Empty : MixedPattern().Match(_s, _pos);
        if (m.Success && m.Index == _pos && (m.Index + m.Length == _s.Length || !char.IsAsciiDigit(_s[m.Index + m.Length])))
        {
            var num = BigInteger.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            var den = BigInteger.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            if (!den.IsZero && num < den)
            {
                _pos += m.Length;
                return new Rational(num, den);
            }
        }
        if (_pos + 5 < _s.Length && string.CompareOrdinal(_s, _pos, "\\frac", 0, 5) == 0)
        {
            var fracStart = _pos;
            try
            {
                _pos += 5;
                var n = ReadGroupRaw();
                var d = ReadGroupRaw();
                if (BigInteger.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var num) && BigInteger.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out var den) && !den.IsZero && num < den)
                    return new Rational(num, den);
            }
            catch (FormatException)
            {
            }
            _pos = fracStart;
        }
        _pos = save;
        return null;
    }

    [GeneratedRegex(@"(\d+)\s*/\s*(\d+)")]
    private static partial Regex MixedPattern();

    [GeneratedRegex(@"^-?\d+(?:[.,]\d+)?$")]
    private static partial Regex NumberText();

    /// <summary>A unit in \mathrm{…}: two or more letters, maybe with / ^ digits (m/s, km^2, kg m/s^2).</summary>
    [GeneratedRegex(@"\{\s*((?=[^{}]*[A-Za-z]{2}|[^{}]*[A-Za-z][ /*^][A-Za-z])[A-Za-z][A-Za-z /*^0-9.-]*)\s*\}")]
    private static partial Regex UnitText();

    private static Rational FromBase(string digits, int radix)
    {
        BigInteger value = 0;
        foreach (var d in digits.Replace(",", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal))
        {
            var v = char.IsAsciiDigit(d) ? d - '0' : char.ToUpperInvariant(d) - 'A' + 10;
            if (v >= radix) throw new FormatException($"digit {d} in base {radix}");
            value = value * radix + v;
        }
        return Rational.FromInteger(value);
    }

    /// <summary>( … ), [ … ], ( … ], [ … ): tuples, intervals, groups.</summary>
    private Node ParseBracket()
    {
        var open = _s[_pos++];
        SkipSpaces();
        _bracketDepth++;
        var inner = ParseList();
        _bracketDepth--;
        SkipSpaces();
        var close = Peek;
        if (close is not (')' or ']')) throw new FormatException("unclosed bracket");
        _pos++;
        var items = inner is Tuple { Parenthesised: false } t ? t.Items : [inner];
        if (items.Count == 2 && (open == '[' || close == ']'))
            return new Interval(items[0], items[1], open == '[', close == ']');
        if (items.Count == 1 && open == '(' && close == ')') return items[0];
        if (items.Count == 1) return open == '[' && close == ']' ? items[0] : throw new FormatException("half-open group");
        return new Tuple(items, Parenthesised: true);
    }

    private string ReadCommandName()
    {
        var start = _pos;
        while (_pos < _s.Length && char.IsAsciiLetter(_s[_pos])) _pos++;
        if (_pos == start && _pos < _s.Length) _pos++;
        return _s[start.._pos];
    }

    /// <summary>The raw text of a {…} group (balanced), or of a single character argument.</summary>
    private string ReadGroupRaw()
    {
        SkipSpaces();
        if (Peek != '{')
        {
            if (AtEnd) throw new FormatException("missing argument");
            if (Peek == '\\') { var s = _pos; _pos++; ReadCommandName(); return _s[s.._pos]; }
            return _s[_pos++].ToString();
        }
        var depth = 0;
        var start = _pos + 1;
        for (; _pos < _s.Length; _pos++)
        {
            _budget.Step();
            if (_s[_pos] == '{') depth++;
            else if (_s[_pos] == '}' && --depth == 0)
            {
                _pos++;
                return _s[start..(_pos - 1)];
            }
        }
        throw new FormatException("unbalanced braces");
    }

    private Node ParseArgument()
    {
        SkipSpaces();
        if (Peek == '{') return ParseGroup();
        if (char.IsAsciiDigit(Peek)) return new Num(Rational.FromInteger(_s[_pos++] - '0')); // \frac12, \sqrt3
        return ParsePrimary();
    }

    private static readonly Dictionary<string, string> Functions = new(StringComparer.Ordinal)
    {
        ["sin"] = "sin", ["cos"] = "cos", ["tan"] = "tan", ["sec"] = "sec", ["csc"] = "csc", ["cot"] = "cot",
        ["arcsin"] = "asin", ["arccos"] = "acos", ["arctan"] = "atan", ["sinh"] = "sinh", ["cosh"] = "cosh", ["tanh"] = "tanh",
        ["ln"] = "ln", ["log"] = "log", ["exp"] = "exp", ["lg"] = "log",
    };

    private static readonly Dictionary<string, string> Greek = new(StringComparer.Ordinal)
    {
        ["alpha"] = "α", ["beta"] = "β", ["gamma"] = "γ", ["delta"] = "δ", ["epsilon"] = "ε", ["varepsilon"] = "ε", ["zeta"] = "ζ", ["eta"] = "η",
        ["theta"] = "θ", ["vartheta"] = "θ", ["iota"] = "ι", ["kappa"] = "κ", ["lambda"] = "λ", ["mu"] = "μ", ["nu"] = "ν", ["xi"] = "ξ",
        ["rho"] = "ρ", ["sigma"] = "σ", ["tau"] = "τ", ["phi"] = "φ", ["varphi"] = "φ", ["chi"] = "χ", ["psi"] = "ψ", ["omega"] = "ω",
        ["Gamma"] = "Γ", ["Delta"] = "Δ", ["Theta"] = "Θ", ["Lambda"] = "Λ", ["Sigma"] = "Σ", ["Phi"] = "Φ", ["Psi"] = "Ψ", ["Omega"] = "Ω",
    };

    private Node ParseCommand()
    {
        _pos++; // backslash
        var name = ReadCommandName();
        switch (name)
        {
            case "frac":
                return new Div(ParseArgument(), ParseArgument());
            case "binom":
                return new Func("binom", new Tuple([ParseArgument(), ParseArgument()], true));
            case "sqrt":
            {
                SkipSpaces();
                Node degree = new Num(Rational.FromInteger(2));
                if (Peek == '[')
                {
                    _pos++;
                    degree = ParseSum();
                    Expect("]");
                }
                return new Root(ParseArgument(), degree);
            }
            case "pi": return new Const("pi", System.Math.PI);
            case "e": return new Const("e", System.Math.E);
            case "infty" or "inf": return new Const("oo", double.PositiveInfinity);
            case "emptyset" or "varnothing": return new SetNode([]);
            case "boxed" or "fbox" or "mathbf" or "mathbb" or "mathit" or "mathcal" or "bm" or "boldsymbol" or "overline" or "hat" or "vec" or "widehat" or "mathrm":
            {
                SkipSpaces();
                if (Peek != '{') return ParsePrimary();
                // \mathrm{m/s}, \mathrm{km^2}: a unit, noise after its number.
                if (name == "mathrm" && UnitText().Match(_s, _pos) is { Success: true } unit && unit.Index == _pos)
                {
                    _pos += unit.Length;
                    return new Text(unit.Groups[1].Value);
                }
                var inner = ParseGroup();
                return name == "mathrm" && inner is Sym { Name.Length: > 1 } word ? new Text(word.Name) : inner;
            }
            case "text" or "textbf" or "textit" or "mbox" or "textnormal" or "texttt" or "textrm" or "mathtt":
            {
                var content = Regex.Replace(ReadGroupRaw().Trim(), @"\s+", " ");
                // \text{5}: a number written as text is still the number.
                return NumberText().IsMatch(content) ? Parse(content, _budget) : new Text(content);
            }
            case "begin":
                return ParseEnvironment();
            case "sum" or "prod":
            {
                var bounds = "";
                SkipSpaces();
                if (Peek == '_') { _pos++; bounds += "_" + ReadGroupRaw(); }
                SkipSpaces();
                if (Peek == '^') { _pos++; bounds += "^" + ReadGroupRaw(); }
                return new Func(name + bounds, ParseTerm());
            }
            case "lfloor":
            {
                var inner = ParseSum();
                Expect("\\rfloor");
                return new Func("floor", inner);
            }
            case "lceil":
            {
                var inner = ParseSum();
                Expect("\\rceil");
                return new Func("ceil", inner);
            }
            case "lvert" or "vert" or "mid":
            {
                var inner = ParseSum();
                if (!TryConsume("\\rvert") && !TryConsume("\\vert") && !TryConsume("\\mid")) Expect("|");
                return new Func("abs", inner);
            }
            case "langle":
            {
                var inner = ParseList();
                Expect("\\rangle");
                return new Tuple(inner is Tuple t ? t.Items : [inner], true);
            }
        }
        if (Functions.TryGetValue(name, out var function)) return ParseFunction(function);
        if (Greek.TryGetValue(name, out var letter)) return new Sym(letter + Subscript());
        // "\cotx", "\sinx": a function name run into its argument.
        if (Functions.Keys.Where(f => name.StartsWith(f, StringComparison.Ordinal)).MaxBy(f => f.Length) is { } prefix)
        {
            _pos -= name.Length - prefix.Length;
            return ParseFunction(Functions[prefix]);
        }
        if (name.Length > 1 && char.IsAsciiLetter(name[0])) return new Sym("\\" + name + Subscript()); // an unknown name stays a name
        throw new FormatException($"unknown command \\{name}");
    }

    private Node ParseFunction(string function)
    {
        SkipSpaces();
        Node? power = null;
        if (Peek == '^')
        {
            _pos++;
            power = ParseExponent();
        }
        SkipSpaces();
        if (function == "log" && Peek == '_')
        {
            _pos++;
            var logBase = ParseArgument();
            var argument = ParseFunctionArgument();
            Node log = new Div(new Func("ln", argument), new Func("ln", logBase));
            return power is null ? log : new Pow(log, power);
        }
        var arg = ParseFunctionArgument();
        Node call = new Func(function, arg);
        return power is null ? call : power is Neg { Operand: Num { Value.IsInteger: true } one } && one.Value == Rational.One && function is "sin" or "cos" or "tan"
            ? new Func("a" + function, arg)
            : new Pow(call, power);
    }

    private Node ParseFunctionArgument()
    {
        SkipSpaces();
        if (Peek == '(') return ParseBracket();
        if (Peek == '{') return ParseGroup();
        // \sin 2x: the argument is the next product of plain factors.
        var node = ParsePower();
        while (StartsPrimary() && Peek != '\\') node = Multiply(node, ParsePower());
        return node;
    }

    private Node ParseEnvironment()
    {
        var environment = ReadGroupRaw();
        if (environment == "array") ReadGroupRaw(); // column spec
        var end = $"\\end{{{environment}}}";
        var close = _s.IndexOf(end, _pos, StringComparison.Ordinal);
        if (close < 0) throw new FormatException($"unclosed {environment}");
        var body = _s[_pos..close];
        _pos = close + end.Length;
        if (environment is "align" or "align*" or "aligned" or "cases" or "gather" or "gather*")
            throw new FormatException($"environment {environment} is not an answer");
        var rows = new List<IReadOnlyList<Node>>();
        foreach (var row in body.Split(RowBreak))
        {
            _budget.Step();
            if (string.IsNullOrWhiteSpace(row)) continue;
            rows.Add([.. row.Split('&').Select(cell => Parse(cell, _budget))]);
        }
        if (rows.Count == 0) throw new FormatException("empty matrix");
        return new Matrix(rows);
    }
}
