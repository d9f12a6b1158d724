using System.Diagnostics;

namespace AmDistill.Bench.Benchmarks;

/// <summary>Verdicts on one thread, each timed: the rate, the CPU share, and the latency percentiles.</summary>
internal static class Latency
{
    public static void Measure(int count, Action<int> verdict, TextWriter output)
    {
        var latencies = new double[count];
        var clock = Stopwatch.StartNew();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        for (var i = 0; i < count; i++)
        {
            var started = Stopwatch.GetTimestamp();
            verdict(i);
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
        }
        var elapsed = clock.Elapsed;
        var cpuUsed = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Array.Sort(latencies);
        output.WriteLine($"  verdicts/s      {count / elapsed.TotalSeconds,10:N0}  (CPU {cpuUsed.TotalSeconds / elapsed.TotalSeconds:P0} of one core)");
        output.WriteLine($"  latency         median {latencies[count / 2]:N0} µs, p99 {latencies[(int)(count * 0.99)]:N0} µs, max {latencies[^1]:N0} µs");
    }
}
