namespace AmDistill.Verifiers.Math;

/// <summary>The parsed form of an answer.</summary>
public abstract record Node;

/// <summary>A number literal; <see cref="Decimals"/> is how many decimals it was written with (for rounding).</summary>
public sealed record Num(Rational Value, int Decimals = 0) : Node;

/// <summary>A constant with no exact rational value (π, e, ∞).</summary>
public sealed record Const(string Name, double Value) : Node;

public sealed record Sym(string Name) : Node;

public sealed record Add(IReadOnlyList<Node> Terms) : Node;

public sealed record Mul(IReadOnlyList<Node> Factors) : Node;

public sealed record Div(Node Numerator, Node Denominator) : Node;

public sealed record Neg(Node Operand) : Node;

public sealed record Pow(Node Base, Node Exponent) : Node;

public sealed record Func(string Name, Node Argument) : Node;

/// <summary>n-th root.</summary>
public sealed record Root(Node Radicand, Node Degree) : Node;

public sealed record Factorial(Node Operand) : Node;

public sealed record Percent(Node Operand) : Node;

/// <summary>a ± b: both values.</summary>
public sealed record PlusMinus(Node Left, Node Right) : Node;

/// <summary>A chain a op b op c …; <see cref="Ops"/> has one operator fewer than <see cref="Sides"/>.</summary>
public sealed record Relation(IReadOnlyList<Node> Sides, IReadOnlyList<string> Ops) : Node;

/// <summary>Parenthesised comma list, or a plain list (a, b and c).</summary>
public sealed record Tuple(IReadOnlyList<Node> Items, bool Parenthesised) : Node;

public sealed record SetNode(IReadOnlyList<Node> Items) : Node;

public sealed record Interval(Node Low, Node High, bool LowClosed, bool HighClosed) : Node;

public sealed record Union(IReadOnlyList<Node> Parts) : Node;

public sealed record Matrix(IReadOnlyList<IReadOnlyList<Node>> Rows) : Node;

public sealed record Text(string Value) : Node;

/// <summary>x ∈ S.</summary>
public sealed record Membership(Node Element, Node Set) : Node;
