using System.Diagnostics;

namespace AmDistill.Verifiers.Math;

/// <summary>Thrown when a verdict runs out of its step or time budget; caught at the top and reported as undecided.</summary>
public sealed class BudgetExceededException(string message) : Exception(message);

/// <summary>
/// Steps and time left for one verdict. Parsing and evaluation call <see cref="Step"/> in every loop and recursion,
/// so no input can hang a worker: the budget is enforced inside the algorithm, never by killing a thread.
/// </summary>
public sealed class Budget(TimeSpan time, long steps = 2_000_000)
{
    private readonly long _deadline = Stopwatch.GetTimestamp() + (long)(time.TotalSeconds * Stopwatch.Frequency);
    private long _steps = steps;

    public void Step(int cost = 1)
    {
        _steps -= cost;
        if (_steps < 0) throw new BudgetExceededException("step budget exhausted");
        if ((_steps & 0xFF) == 0 && Stopwatch.GetTimestamp() > _deadline) throw new BudgetExceededException("time budget exhausted");
    }
}
