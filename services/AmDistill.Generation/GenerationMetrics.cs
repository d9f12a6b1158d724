using System.Diagnostics.Metrics;

namespace AmDistill.Generation;

/// <summary>Per-model generation metrics for the dashboard (meter <c>AmDistill.Generation</c>).</summary>
public sealed class GenerationMetrics
{
    public const string MeterName = "AmDistill.Generation";

    private readonly Counter<long> _samples;
    private readonly Counter<long> _tokens;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<long> _errors;
    private readonly UpDownCounter<long> _inFlight;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _batches;

    public GenerationMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _samples = meter.CreateCounter<long>("amdistill.generation.samples", "{sample}", "Samples generated, by model and finish reason.");
        _tokens = meter.CreateCounter<long>("amdistill.generation.tokens", "{token}", "Tokens by model and type (input, output).");
        _cost = meter.CreateCounter<double>("amdistill.generation.cost", "USD", "Spend by model, from the configured prices.");
        _rateLimited = meter.CreateCounter<long>("amdistill.generation.rate_limited", "{response}", "429 answers by model.");
        _errors = meter.CreateCounter<long>("amdistill.generation.errors", "{request}", "Failed requests by model and kind.");
        _inFlight = meter.CreateUpDownCounter<long>("amdistill.generation.in_flight", "{request}", "Requests waiting for a teacher's answer.");
        _batches = meter.CreateCounter<long>("amdistill.generation.batches", "{batch}", "Batches by model and outcome (submitted, completed, failed, expired, cancelled).");
        _latency = meter.CreateHistogram<double>("amdistill.generation.request.duration", "s", "Teacher request latency by model.");
    }

    private static KeyValuePair<string, object?> Model(string teacher) => new("model", teacher);

    public void Sample(string teacher, string finishReason) => _samples.Add(1, Model(teacher), new("finish_reason", finishReason));

    public void Usage(string teacher, int input, int output, decimal cost)
    {
        _tokens.Add(input, Model(teacher), new("type", "input"));
        _tokens.Add(output, Model(teacher), new("type", "output"));
        _cost.Add((double)cost, Model(teacher));
    }

    public void RateLimited(string teacher) => _rateLimited.Add(1, Model(teacher));

    public void Error(string teacher, string kind) => _errors.Add(1, Model(teacher), new("kind", kind));

    public void InFlight(string teacher, int delta) => _inFlight.Add(delta, Model(teacher));

    public void Batch(string teacher, string outcome) => _batches.Add(1, Model(teacher), new("outcome", outcome));

    public void Latency(string teacher, TimeSpan elapsed) => _latency.Record(elapsed.TotalSeconds, Model(teacher));
}
