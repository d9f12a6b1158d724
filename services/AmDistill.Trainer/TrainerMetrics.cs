using System.Diagnostics.Metrics;

namespace AmDistill.Trainer;

/// <summary>The trainer's progress as OpenTelemetry metrics (meter <c>AmDistill.Trainer</c>), tagged by run and job,
/// so loss, learning rate and throughput chart in the dashboard while a job runs.</summary>
public sealed class TrainerMetrics
{
    public const string MeterName = "AmDistill.Trainer";

    private readonly Dictionary<string, Gauge<double>> _gauges;
    private readonly Counter<long> _tokens;
    private readonly Counter<long> _jobs;

    public TrainerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _gauges = new()
        {
            ["loss"] = meter.CreateGauge<double>("amdistill.trainer.loss", null, "Mean token loss of the last optimizer step."),
            ["lr"] = meter.CreateGauge<double>("amdistill.trainer.learning_rate", null, "Learning rate of the last step."),
            ["grad_norm"] = meter.CreateGauge<double>("amdistill.trainer.grad_norm", null, "Gradient norm before clipping."),
            ["tokens_per_s"] = meter.CreateGauge<double>("amdistill.trainer.throughput", "{token}/s", "Tokens per second over all GPUs."),
            ["mfu"] = meter.CreateGauge<double>("amdistill.trainer.mfu", null, "Model FLOPs utilisation (0–1)."),
            ["step"] = meter.CreateGauge<double>("amdistill.trainer.step", "{step}", "Optimizer steps done."),
        };
        _tokens = meter.CreateCounter<long>("amdistill.trainer.tokens", "{token}", "Tokens trained on.");
        _jobs = meter.CreateCounter<long>("amdistill.trainer.jobs", "{job}", "Finished jobs by outcome.");
    }

    public void Step(string run, string job, Func<string, double?> value)
    {
        KeyValuePair<string, object?>[] tags = [new("run", run), new("job", job)];
        foreach (var (name, gauge) in _gauges)
            if (value(name) is { } v) gauge.Record(v, tags);
        if (value("tokens") is { } tokens) _tokens.Add((long)tokens, tags);
    }

    public void Finished(string outcome) => _jobs.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
}
