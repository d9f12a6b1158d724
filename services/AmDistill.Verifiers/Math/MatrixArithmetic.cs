namespace AmDistill.Verifiers.Math;

/// <summary>Sums, differences, scalar multiples and products of matrices, kept symbolic per entry.</summary>
internal static class MatrixArithmetic
{
    /// <summary>The matrix an expression of matrices denotes, or null when it is not one.</summary>
    public static Matrix? Reduce(Node node) => node switch
    {
        Matrix m => m,
        Add a => a.Terms.Select(Reduce).ToList() is { } terms && terms.All(t => t is not null) ? terms.Aggregate((x, y) => Sum(x!, y!)) : null,
        Neg n => Reduce(n.Operand) is { } m ? Map(m, e => new Neg(e)) : null,
        Mul m => Product(m.Factors),
        _ => null,
    };

    private static Matrix? Product(IReadOnlyList<Node> factors)
    {
        Matrix? result = null;
        var scalars = new List<Node>();
        foreach (var factor in factors)
        {
            if (Reduce(factor) is { } matrix) result = result is null ? matrix : Multiply(result, matrix);
            else scalars.Add(factor);
            if (result is null && scalars.Count == factors.Count) return null;
        }
        if (result is null) return null;
        return scalars.Count == 0 ? result : Map(result, e => new Mul([.. scalars, e]));
    }

    private static Matrix? Sum(Matrix a, Matrix b)
    {
        if (a.Rows.Count != b.Rows.Count || a.Rows.Zip(b.Rows).Any(r => r.First.Count != r.Second.Count)) return null;
        return new Matrix([.. a.Rows.Zip(b.Rows, (x, y) => (IReadOnlyList<Node>)[.. x.Zip(y, (p, q) => (Node)new Add([p, q]))])]);
    }

    private static Matrix? Multiply(Matrix a, Matrix b)
    {
        var inner = a.Rows[0].Count;
        if (b.Rows.Count != inner || inner > 16) return null;
        var columns = b.Rows[0].Count;
        return new Matrix([.. a.Rows.Select(row => (IReadOnlyList<Node>)[.. Enumerable.Range(0, columns)
            .Select(c => (Node)new Add([.. Enumerable.Range(0, inner).Select(k => (Node)new Mul([row[k], b.Rows[k][c]]))]))])]);
    }

    private static Matrix Map(Matrix m, Func<Node, Node> f) => new([.. m.Rows.Select(r => (IReadOnlyList<Node>)[.. r.Select(f)])]);
}
