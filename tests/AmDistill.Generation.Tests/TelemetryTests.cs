using System.Diagnostics;
using AmDistill.Contracts;
using AmDistill.Messaging;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using StackExchange.Redis;
using static AmDistill.Generation.Tests.TestData;
using AmDistill.LocalRedis;

namespace AmDistill.Generation.Tests;

/// <summary>What the services' telemetry exports (service defaults and Redis messaging, as every service composes them).</summary>
public sealed class TelemetryTests
{
    /// <summary>Redis command spans are off by default (half the trace data, read by nobody); turned on, they stay inside
    /// the work they belong to.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Idle_polls_export_no_traces_and_a_task_is_one_trace(bool commandSpans)
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "strong-sim", 0.9, 5)));
        // Listeners are process-wide and other tests run beside this one: this test's task is told apart by its trace.
        using var source = new ActivitySource("AmDistill.TelemetryTests");
        var spans = new List<Activity>();
        ActivityTraceId traceId;
        var configuration = new Dictionary<string, string?>(Teacher("t", sim.V1, "strong-sim"));
        if (commandSpans) configuration["Aspire:StackExchange:Redis:DisableTracing"] = "false";
        await using (var workers = await WorkerHost.StartAsync(redisServer.ConnectionString, configuration,
                         builder => builder.AddGenerationServices(),
                         builder => builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddInMemoryExporter(spans))))
        {
            await Task.Delay(2000); // idle: hundreds of polls
            using (var test = source.StartActivity("test"))
            {
                traceId = test!.TraceId;
                await PublishAsync(redis, [NewTask("tel", Queries[0], "t", 0, 1)]);
            }
            await WaitUntilAsync(async () => await redis.GetDatabase().StreamLengthAsync(Streams.Verification.Name) == 2, TimeSpan.FromSeconds(20), "two samples");
            await Task.Delay(500);
        }

        lock (spans)
        {
            // No Redis command starts a trace of its own (polls, renewals, maintenance, in any test of this process).
            Assert.DoesNotContain(spans, s => s.ParentSpanId == default && s.Source.Name.Contains("Redis", StringComparison.Ordinal));
            var trace = spans.Where(s => s.TraceId == traceId).ToList();
            Assert.Single(trace, s => s.DisplayName == "publish amdistill:generation");
            Assert.Single(trace, s => s.DisplayName == "process amdistill:generation");
            Assert.Equal(commandSpans, trace.Any(s => s.Source.Name.Contains("Redis", StringComparison.Ordinal))); // the task's own commands, when asked for
            Assert.Contains(trace, s => s.Kind == ActivityKind.Client && s.DisplayName.StartsWith("POST", StringComparison.Ordinal)); // the teacher call
        }
    }

    /// <summary>The feeder publishes tasks in batches with no span around them: each task still starts its own trace,
    /// which its generation carries on, rather than one trace for the whole batch.</summary>
    [Fact]
    public async Task Each_task_of_a_published_batch_is_its_own_trace()
    {
        await using var redisServer = await LocalRedisServer.StartAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisServer.ConnectionString);
        await using var sim = await SimHost.StartAsync(new Dictionary<string, string>(SimModel(0, "strong-sim", 0.9, 5)));
        var spans = new List<Activity>();
        await using (var workers = await WorkerHost.StartAsync(redisServer.ConnectionString, new Dictionary<string, string?>(Teacher("t", sim.V1, "strong-sim")),
                         builder => builder.AddGenerationServices(),
                         builder => builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddInMemoryExporter(spans))))
        {
            var parent = Activity.Current;
            Activity.Current = null; // as in the feeder's loop
            try
            {
                await PublishAsync(redis, Queries.Take(3).Select(q => NewTask("batch-traces", q, "t", 0)));
            }
            finally
            {
                Activity.Current = parent;
            }
            await WaitUntilAsync(async () => await redis.GetDatabase().StreamLengthAsync(Streams.Verification.Name) == 3, TimeSpan.FromSeconds(20), "three samples");
            await Task.Delay(500);
        }

        var traces = (await redis.GetDatabase().StreamRangeAsync(Streams.Generation.Name))
            .Select(e => ActivityContext.Parse(e["tp"].ToString(), null).TraceId).ToList();
        Assert.Equal(3, traces.Distinct().Count());
        lock (spans)
            foreach (var trace in traces)
            {
                Assert.Single(spans, s => s.TraceId == trace && s.DisplayName == "publish amdistill:generation" && s.ParentSpanId == default);
                Assert.Single(spans, s => s.TraceId == trace && s.DisplayName == "process amdistill:generation");
            }
    }
}
