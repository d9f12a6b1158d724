namespace AmDistill.Verifiers.Math;

/// <summary>Settings of a verdict; the defaults are Math-Verify's.</summary>
public sealed record MathVerifyOptions
{
    /// <summary>Numbers are equal when they agree rounded to this many decimals (after an exact rational check).</summary>
    public int Precision { get; init; } = 6;

    /// <summary>Whether gold "x ∈ [a, b]" may match an answer written as "a ≤ x ≤ b" (the reverse always may).</summary>
    public bool AllowSetRelation { get; init; }

    public TimeSpan Budget { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Strict: variables must have the same names (f(x) ≠ f(y)); otherwise a consistent renaming is allowed.</summary>
    public bool Strict { get; init; } = true;

    /// <summary>Whether a plain number in running text counts as an answer (Math-Verify's "expr" extraction); off: LaTeX only.</summary>
    public bool PlainNumbers { get; init; } = true;
}

/// <summary>Whether two parsed answers mean the same; every rule is one of a few small methods below.</summary>
internal sealed class Equivalence(Budget budget, MathVerifyOptions options)
{
    private const int RandomPoints = 5;

    private int _depth;

    /// <summary>The rule of the last comparison that decided something: reported with the verdict.</summary>
    public string Rule { get; private set; } = "structure";

    public bool Equal(Node gold, Node pred)
    {
        budget.Step();
        if (++_depth > 64) throw new BudgetExceededException("comparison nested too deeply");
        try
        {
            return EqualCore(gold, pred);
        }
        finally
        {
            _depth--;
        }
    }

    private bool EqualCore(Node gold, Node pred)
    {
        gold = Simplify(gold);
        pred = Simplify(pred);

        if (gold is Membership gm)
            return pred switch
            {
                Membership pm => Equal(gm.Set, pm.Set),
                Relation pr => options.AllowSetRelation && Equal(gm.Set, RelationAsSet(pr) ?? new Text("")),
                _ => Equal(gm.Set, pred),
            };
        if (pred is Membership pmem) return gold is Relation grel ? Equal(RelationAsSet(grel) ?? new Text(""), pmem.Set) : Equal(gold, pmem.Set);

        if (gold is Relation g && pred is Relation p) return RelationsEqual(g, p);
        if (gold is Relation goldRelation)
            return EquationValue(goldRelation) is { } gv ? Equal(gv, pred) : RelationAsSet(goldRelation) is { } gs && Equal(gs, pred);
        if (pred is Relation predRelation)
            return EquationValue(predRelation) is { } pv ? Equal(gold, pv) : RelationAsSet(predRelation) is { } ps && Equal(gold, ps);

        // ± inside an expression: the answer is both values.
        if (ContainsPlusMinus(gold) || ContainsPlusMinus(pred))
        {
            var goldValues = ContainsPlusMinus(gold) ? ExpandPlusMinus(gold) : [.. Items(gold) ?? [gold]];
            var predValues = ContainsPlusMinus(pred) ? ExpandPlusMinus(pred) : [.. Items(pred) ?? [pred]];
            if (goldValues.Count > 1 || predValues.Count > 1) return Unordered(goldValues, predValues);
        }

        if (gold is Text || pred is Text) return TextEqual(gold, pred);
        if (MatrixArithmetic.Reduce(gold) is { } gm2 && MatrixArithmetic.Reduce(pred) is { } pm2) return MatricesEqual(gm2, pm2);
        if (IsCollection(gold) || IsCollection(pred)) return CollectionsEqual(gold, pred);
        return ScalarEqual(gold, pred);
    }

    /// <summary>Drops what does not change the value: x = a ≈ b keeps x = a; a : b is a ratio.</summary>
    private static Node Simplify(Node node)
    {
        if (node is not Relation r) return node;
        var sides = new List<Node>(r.Sides);
        var ops = new List<string>(r.Ops);
        // Ratios bind tighter than "=": V_1 : V_2 = 11 : 21.
        for (var i = 0; i < ops.Count; i++)
        {
            if (ops[i] != ":") continue;
            sides[i] = new Div(sides[i], sides[i + 1]);
            sides.RemoveAt(i + 1);
            ops.RemoveAt(i);
            i--;
        }
        var approx = ops.IndexOf("≈");
        if (approx > 0)
        {
            sides.RemoveRange(approx + 1, sides.Count - approx - 1);
            ops.RemoveRange(approx, ops.Count - approx);
        }
        else if (approx == 0) ops[0] = "=";
        return sides.Count == 1 ? sides[0] : new Relation(sides, ops);
    }

    /// <summary>
    /// The value an equation states: the last side of a chain (x = 5+5+1 = 11), or the right side when the left is
    /// only a name (k = 1, NO/BO = 1/√6, (p, q) = (3, 2)). Null for anything else (2x + z = 1 states no single value).
    /// </summary>
    private static Node? EquationValue(Relation relation)
    {
        if (relation.Ops.Any(op => op != "=")) return null;
        if (relation.Sides.Count > 2) return relation.Sides[^1];
        // k = 1 names a value; 1 + 2 = 3 or A + B = C (computations without unknowns) end in one.
        return IsNameLike(relation.Sides[0]) || (!HasSymbols(relation.Sides[0]) && !HasSymbols(relation.Sides[1])) ? relation.Sides[1] : null;
    }

    private static bool ContainsPlusMinus(Node node) => node switch
    {
        PlusMinus => true,
        Add a => a.Terms.Any(ContainsPlusMinus),
        Mul m => m.Factors.Any(ContainsPlusMinus),
        Div d => ContainsPlusMinus(d.Numerator) || ContainsPlusMinus(d.Denominator),
        Neg n => ContainsPlusMinus(n.Operand),
        _ => false,
    };

    /// <summary>The values of an expression with ± in it (one ± gives two; nested ones are expanded one at a time, at most 8).</summary>
    private static List<Node> ExpandPlusMinus(Node node)
    {
        List<Node> Expand(Node n) => n switch
        {
            PlusMinus pm => [.. Expand(pm.Left).SelectMany(l => Expand(pm.Right).SelectMany(r => new Node[] { new Add([l, r]), new Add([l, new Neg(r)]) }))],
            Add a => Combine(a.Terms, terms => new Add(terms)),
            Mul m => Combine(m.Factors, factors => new Mul(factors)),
            Div d => [.. Expand(d.Numerator).SelectMany(x => Expand(d.Denominator).Select(y => (Node)new Div(x, y)))],
            Neg g => [.. Expand(g.Operand).Select(x => (Node)new Neg(x))],
            _ => [n],
        };
        List<Node> Combine(IReadOnlyList<Node> parts, Func<List<Node>, Node> make)
        {
            var results = new List<List<Node>> { new() };
            foreach (var part in parts)
            {
                var options = Expand(part);
                results = [.. results.SelectMany(r => options.Select(o => new List<Node>(r) { o })).Take(8)];
            }
            return [.. results.Select(make)];
        }
        return Expand(node);
    }

    private static bool HasSymbols(Node node) => node switch
    {
        Sym => true,
        Add a => a.Terms.Any(HasSymbols),
        Mul m => m.Factors.Any(HasSymbols),
        Div d => HasSymbols(d.Numerator) || HasSymbols(d.Denominator),
        Neg n => HasSymbols(n.Operand),
        Pow p => HasSymbols(p.Base) || HasSymbols(p.Exponent),
        Func f => HasSymbols(f.Argument),
        Root r => HasSymbols(r.Radicand),
        _ => false,
    };

    private static bool IsNameLike(Node node) => node switch
    {
        Sym => true,
        Tuple t => t.Items.All(IsNameLike),
        Div d => IsNameLike(d.Numerator) && IsNameLike(d.Denominator),
        Mul m => m.Factors.All(IsNameLike),
        Func f => IsNameLike(f.Argument),
        _ => false,
    };

    private bool RelationsEqual(Relation gold, Relation pred)
    {
        if (gold.Ops.All(op => op == "=") && pred.Ops.All(op => op == "="))
        {
            if (gold.Sides.Count > 2 || pred.Sides.Count > 2)
                return Equal(gold.Sides[0], pred.Sides[0]) && Equal(gold.Sides[^1], pred.Sides[^1]);
            if (IsNameLike(gold.Sides[0]) && IsNameLike(pred.Sides[0]) && Equal(gold.Sides[0], pred.Sides[0]))
                return Equal(gold.Sides[1], pred.Sides[1]);
            return Decided("equation up to rearrangement and scaling", Proportional(Difference(gold), Difference(pred), requirePositive: false));
        }
        if (gold.Sides.Count == 3 && pred.Sides.Count == 3 && RelationAsSet(gold) is { } gi && RelationAsSet(pred) is { } pi)
            return Equal(gi, pi);
        if (gold.Ops.SequenceEqual(pred.Ops) && gold.Sides.Count > 2 && Ordered(gold.Sides, pred.Sides)) return true;
        if (gold.Sides.Count != 2 || pred.Sides.Count != 2) return false;
        var (ge, gop) = Normalized(gold);
        var (pe, pop) = Normalized(pred);
        if (gop != pop) return false;
        return Decided("inequality up to positive scaling", Proportional(ge, pe, requirePositive: gop != "!="));
    }

    /// <summary>lhs − rhs with the operator turned to &lt;, &lt;=, = or != (a &gt; b becomes b − a &lt; 0).</summary>
    private static (Node Expression, string Op) Normalized(Relation relation)
    {
        var (lhs, rhs, op) = (relation.Sides[0], relation.Sides[1], relation.Ops[0]);
        return op switch
        {
            ">" => (new Add([rhs, new Neg(lhs)]), "<"),
            ">=" => (new Add([rhs, new Neg(lhs)]), "<="),
            _ => (new Add([lhs, new Neg(rhs)]), op),
        };
    }

    private static Node Difference(Relation relation) => new Add([relation.Sides[0], new Neg(relation.Sides[^1])]);

    /// <summary>a ≤ x ≤ b (any mix of &lt; and ≤, either direction) as the interval it describes.</summary>
    private static Node? RelationAsSet(Relation relation)
    {
        if (relation.Sides.Count == 2) return HalfLine(relation);
        if (relation.Sides.Count != 3 || !HasSymbols(relation.Sides[1]) || HasSymbols(relation.Sides[0]) || HasSymbols(relation.Sides[2])) return null;
        var (a, b) = (relation.Ops[0], relation.Ops[1]);
        if (a is "<" or "<=" && b is "<" or "<=") return new Interval(relation.Sides[0], relation.Sides[2], a == "<=", b == "<=");
        if (a is ">" or ">=" && b is ">" or ">=") return new Interval(relation.Sides[2], relation.Sides[0], b == ">=", a == ">=");
        return null;
    }

    /// <summary>x ≥ a, a &lt; x, … (a single variable against a constant) as the half-line it describes: [a, ∞), (a, ∞).</summary>
    private static Node? HalfLine(Relation relation)
    {
        var (left, right, op) = (relation.Sides[0], relation.Sides[1], relation.Ops[0]);
        if (op is not ("<" or "<=" or ">" or ">=")) return null;
        if (left is not Sym && right is Sym)
        {
            (left, right) = (right, left);
            op = op switch { "<" => ">", "<=" => ">=", ">" => "<", _ => "<=" };
        }
        if (left is not Sym || HasSymbols(right)) return null;
        var infinity = new Const("oo", double.PositiveInfinity);
        return op is ">" or ">="
            ? new Interval(right, infinity, op == ">=", false)
            : new Interval(new Neg(infinity), right, false, op == "<=");
    }

    private static bool IsCollection(Node node) => node is Tuple or SetNode or Interval or Union or PlusMinus or Matrix;

    private bool CollectionsEqual(Node gold, Node pred)
    {
        switch (gold, pred)
        {
            case (Interval g, Interval p):
                return g.LowClosed == p.LowClosed && g.HighClosed == p.HighClosed && Equal(g.Low, p.Low) && Equal(g.High, p.High);
            case (Interval g, Tuple { Parenthesised: true, Items.Count: 2 } p):
                return !g.LowClosed && !g.HighClosed && Equal(g.Low, p.Items[0]) && Equal(g.High, p.Items[1]);
            case (Tuple { Parenthesised: true, Items.Count: 2 } g, Interval p):
                return !p.LowClosed && !p.HighClosed && Equal(g.Items[0], p.Low) && Equal(g.Items[1], p.High);
            case (Union g, Union p):
                return Unordered(g.Parts, p.Parts);
            case (Union g, _):
                return g.Parts.Count == 1 && Equal(g.Parts[0], pred);
            case (_, Union p):
                return p.Parts.Count == 1 && Equal(gold, p.Parts[0]);
            case (Tuple { Parenthesised: true } g, Tuple { Parenthesised: true } p):
                return Ordered(g.Items, p.Items);
            case (Tuple { Parenthesised: true } g, SetNode p):
                return Ordered(g.Items, p.Items); // Math-Verify: (1, 3) matches {1, 3}, (3, 1) does not
            case (SetNode g, Tuple { Parenthesised: true } p):
                return Ordered(g.Items, p.Items);
            case (Matrix g, Tuple p):
                return Ordered(Flatten(g), p.Items);
            case (Tuple g, Matrix p):
                return Ordered(g.Items, Flatten(p));
        }
        var goldItems = Items(gold);
        var predItems = Items(pred);
        if (goldItems is null || predItems is null) return false;
        // A collection of one against a scalar: compare the item; nothing else reduces further.
        if (goldItems.Count == 1 && predItems.Count == 1 && ReferenceEquals(goldItems[0], gold) && ReferenceEquals(predItems[0], pred)) return false;
        return Unordered(goldItems, predItems);
    }

    private static List<Node> Flatten(Matrix matrix) => [.. matrix.Rows.SelectMany(r => r)];

    /// <summary>Items of an unordered collection: a set, a bare list "a, b and c", a ± b; a scalar is a list of one.</summary>
    private static IReadOnlyList<Node>? Items(Node node) => node switch
    {
        SetNode s => s.Items,
        Tuple { Parenthesised: false } t when GroupAssignments(t.Items) is { } groups => groups,
        Tuple { Parenthesised: false } t => [.. t.Items.SelectMany(i => i is PlusMinus pm ? Expand(pm) : [i])],
        PlusMinus pm => Expand(pm),
        Tuple { Parenthesised: true } => [node],
        Interval or Union or Matrix => null,
        _ => [node],
    };

    /// <summary>"p=5, q=2; p=7, q=2": assignments whose names repeat are solutions, (5, 2) and (7, 2).</summary>
    private static List<Node>? GroupAssignments(IReadOnlyList<Node> items)
    {
        if (items.Count < 4 || !items.All(i => i is Relation { Ops: ["="], Sides: [Sym, _] })) return null;
        var names = items.Select(i => ((Sym)((Relation)i).Sides[0]).Name).ToList();
        var width = names.Skip(1).ToList().IndexOf(names[0]) + 1;
        if (width < 2 || items.Count % width != 0) return null;
        var groups = new List<Node>();
        for (var start = 0; start < items.Count; start += width)
        {
            if (!names.Skip(start).Take(width).SequenceEqual(names.Take(width))) return null;
            groups.Add(new Tuple([.. items.Skip(start).Take(width).Select(i => ((Relation)i).Sides[1])], Parenthesised: true));
        }
        return groups;
    }

    private static Node[] Expand(PlusMinus pm) => [new Add([pm.Left, pm.Right]), new Add([pm.Left, new Neg(pm.Right)])];

    private bool Ordered(IReadOnlyList<Node> gold, IReadOnlyList<Node> pred)
    {
        if (gold.Count != pred.Count) return false;
        for (var i = 0; i < gold.Count; i++)
            if (!Equal(gold[i], pred[i])) return false;
        return true;
    }

    /// <summary>Set equality: every item of each side has an equal on the other (repeats collapse, as in a set).</summary>
    private bool Unordered(IReadOnlyList<Node> gold, IReadOnlyList<Node> pred)
    {
        if (gold.Count == 0 || pred.Count == 0) return gold.Count == pred.Count;
        if (System.Math.Max(gold.Count, pred.Count) > 4 * System.Math.Min(gold.Count, pred.Count)) return false;
        var matched = new bool[pred.Count];
        foreach (var g in gold)
        {
            var found = false;
            for (var j = 0; j < pred.Count; j++)
            {
                if (!Equal(g, pred[j])) continue;
                matched[j] = found = true;
            }
            if (!found) return false;
        }
        return matched.All(m => m);
    }

    private bool MatricesEqual(Matrix gold, Matrix pred)
    {
        if (gold.Rows.Count != pred.Rows.Count) return false;
        for (var i = 0; i < gold.Rows.Count; i++)
            if (!Ordered(gold.Rows[i], pred.Rows[i])) return false;
        return true;
    }

    private bool TextEqual(Node gold, Node pred) =>
        Decided("text", AsText(gold) is { } g && AsText(pred) is { } p && string.Equals(g, p, StringComparison.OrdinalIgnoreCase));

    /// <summary>Text, or letters written as math ("odd" parsed as o·d·d), as a comparable word; numbers stay numbers.</summary>
    private static string? AsText(Node node) => node switch
    {
        Text t => t.Value.Trim().Trim('(', ')', '.', ' ').Replace(" ", "", StringComparison.Ordinal),
        Sym s => s.Name,
        Mul m when m.Factors.All(f => f is Sym) => string.Concat(m.Factors.Cast<Sym>().Select(s => s.Name)),
        Const { Name: "e" } => "e",
        _ => null,
    };

    private bool ScalarEqual(Node gold, Node pred)
    {
        // A reference of "28%" accepts the bare 28 (Math-Verify); an answer of "4 4/9%" is 40/900, never 40/9.
        if (gold is Percent gp && pred is not Percent && ScalarEqual(gp.Operand, pred)) return true;
        if (AsNumber(gold) is { } a && AsNumber(pred) is { } b) return ExactNumbersEqual(a.Value, b.Value);

        var symbols = new SortedSet<string>(StringComparer.Ordinal);
        CollectSymbols(gold, symbols);
        CollectSymbols(pred, symbols);
        if (symbols.Count == 0)
        {
            try
            {
                var evaluator = new Evaluator(budget);
                var g = evaluator.Eval(gold);
                var p = evaluator.Eval(pred);
                if (g.Exact is { } ge && p.Exact is { } pe) return ExactNumbersEqual(ge, pe);
                return Decided($"numeric, rounded to {options.Precision} decimals", NumbersEqual(g.Approx, p.Approx));
            }
            catch (Exception e) when (e is NotScalarException or ArithmeticException or OverflowException)
            {
                return false;
            }
        }
        return Decided("evaluation at random points", Proportional(gold, pred, requirePositive: true, exactRatio: 1));
    }

    private bool Decided(string rule, bool equal)
    {
        Rule = rule;
        return equal;
    }

    /// <summary>A literal number, possibly negated: the common case, compared without evaluating.</summary>
    private static Num? AsNumber(Node node) => node switch
    {
        Num n => n,
        Neg { Operand: Num n } => n with { Value = -n.Value },
        _ => null,
    };

    /// <summary>
    /// Two exact values: equal only when equal, if both are integers (10^20 + 1 is not 10^20); otherwise as
    /// <see cref="NumbersEqual"/> compares approximations (0.333333 may stand for 1/3).
    /// </summary>
    private bool ExactNumbersEqual(Rational a, Rational b)
    {
        if (a.Equals(b)) return Decided("exact rational", true);
        if (a.IsInteger && b.IsInteger) return Decided("exact integer", false);
        return Decided($"numeric, rounded to {options.Precision} decimals", NumbersEqual(a.ToDouble(), b.ToDouble()));
    }

    /// <summary>
    /// Equal when they agree rounded to <see cref="MathVerifyOptions.Precision"/> decimals (Math-Verify's rule) and are
    /// also relatively close: rounding alone makes every tiny number 0 (1.36e-10 "equal" to 1.39e-10).
    /// </summary>
    private bool NumbersEqual(double a, double b)
    {
        if (double.IsNaN(a) || double.IsNaN(b)) return false;
        if (double.IsInfinity(a) || double.IsInfinity(b)) return a.Equals(b);
        var scale = System.Math.Max(System.Math.Abs(a), System.Math.Abs(b));
        if (System.Math.Abs(a - b) <= 1e-12 * scale) return true;
        var digits = System.Math.Clamp(options.Precision, 0, 15);
        return System.Math.Round(a, digits, MidpointRounding.AwayFromZero) == System.Math.Round(b, digits, MidpointRounding.AwayFromZero)
               && System.Math.Abs(a - b) <= System.Math.Pow(10, 1 - digits) * scale;
    }

    /// <summary>
    /// Whether pred = k · gold at random points for one constant k (exactRatio: k must be that value; requirePositive: k &gt; 0),
    /// i.e. the same expression (k = 1) or the same equation up to scaling.
    /// </summary>
    private bool Proportional(Node gold, Node pred, bool requirePositive, double? exactRatio = null)
    {
        var symbols = new SortedSet<string>(StringComparer.Ordinal);
        CollectSymbols(gold, symbols);
        CollectSymbols(pred, symbols);
        if (!options.Strict)
        {
            // Non-strict: f(x) may equal f(y). Rename the answer's variables onto the reference's, in sorted order.
            var goldSymbols = new SortedSet<string>(StringComparer.Ordinal);
            var predSymbols = new SortedSet<string>(StringComparer.Ordinal);
            CollectSymbols(gold, goldSymbols);
            CollectSymbols(pred, predSymbols);
            if (goldSymbols.Count == predSymbols.Count && !goldSymbols.SetEquals(predSymbols))
            {
                pred = Rename(pred, predSymbols.Zip(goldSymbols).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal));
                symbols = goldSymbols;
            }
        }
        var random = new Random(symbols.Count * 7919 + 17);
        double? ratio = exactRatio;
        var valid = 0;
        for (var point = 0; point < RandomPoints * 2 && valid < RandomPoints; point++)
        {
            budget.Step(10);
            var assignment = symbols.ToDictionary(s => s, _ => 0.3 + random.NextDouble() * 2, StringComparer.Ordinal);
            double g, p;
            try
            {
                var evaluator = new Evaluator(budget, assignment);
                g = evaluator.Eval(gold).Approx;
                p = evaluator.Eval(pred).Approx;
            }
            catch (Exception e) when (e is NotScalarException or ArithmeticException or OverflowException)
            {
                return false;
            }
            if (!double.IsFinite(g) || !double.IsFinite(p)) continue;
            valid++;
            if (System.Math.Abs(g) < 1e-12)
            {
                if (System.Math.Abs(p) > 1e-9) return false;
                continue;
            }
            var r = p / g;
            if (ratio is null) ratio = r;
            else if (System.Math.Abs(r - ratio.Value) > 1e-6 * System.Math.Max(1, System.Math.Abs(ratio.Value))) return false;
        }
        if (valid < 2 && symbols.Count > 0) return false;
        if (ratio is null) return true; // both identically zero
        if (System.Math.Abs(ratio.Value) < 1e-12) return false;
        return !requirePositive || ratio.Value > 0;
    }

    private static Node Rename(Node node, IReadOnlyDictionary<string, string> names) => node switch
    {
        Sym s => names.TryGetValue(s.Name, out var to) ? new Sym(to) : s,
        Add a => new Add([.. a.Terms.Select(t => Rename(t, names))]),
        Mul m => new Mul([.. m.Factors.Select(f => Rename(f, names))]),
        Div d => new Div(Rename(d.Numerator, names), Rename(d.Denominator, names)),
        Neg n => new Neg(Rename(n.Operand, names)),
        Pow p => new Pow(Rename(p.Base, names), Rename(p.Exponent, names)),
        Func f => new Func(f.Name, Rename(f.Argument, names)),
        Root r => new Root(Rename(r.Radicand, names), Rename(r.Degree, names)),
        _ => node,
    };

    private void CollectSymbols(Node node, ISet<string> symbols)
    {
        budget.Step();
        switch (node)
        {
            case Sym s: symbols.Add(s.Name); break;
            case Add a: foreach (var t in a.Terms) CollectSymbols(t, symbols); break;
            case Mul m: foreach (var f in m.Factors) CollectSymbols(f, symbols); break;
            case Div d: CollectSymbols(d.Numerator, symbols); CollectSymbols(d.Denominator, symbols); break;
            case Neg n: CollectSymbols(n.Operand, symbols); break;
            case Pow p: CollectSymbols(p.Base, symbols); CollectSymbols(p.Exponent, symbols); break;
            case Func f: CollectSymbols(f.Argument, symbols); break;
            case Root r: CollectSymbols(r.Radicand, symbols); CollectSymbols(r.Degree, symbols); break;
            case Factorial f: CollectSymbols(f.Operand, symbols); break;
            case Percent p: CollectSymbols(p.Operand, symbols); break;
            case Tuple t: foreach (var i in t.Items) CollectSymbols(i, symbols); break;
        }
    }
}
