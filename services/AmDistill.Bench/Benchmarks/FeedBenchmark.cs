using System.Diagnostics;
using System.Text.Json;
using AmDistill.Api.Runs;
using AmDistill.Contracts;
using AmDistill.Runs;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using AmDistill.LocalRedis;

namespace AmDistill.Bench.Benchmarks;

/// <summary>
/// The control plane's own speed: a synthetic query file uploaded and ingested (the paper's filters, exact and
/// near-duplicate removal, decontamination against the bundled benchmarks) through the Api's run registry, then expanded
/// by the real feeder into generation tasks (3 teachers × 4 passes) on a throwaway redis-server, with a consumer that
/// acknowledges tasks as fast as it can, so the feeder is what is measured.
/// </summary>
internal static class FeedBenchmark
{
    public static async Task<int> RunAsync(int queries, TextWriter output, CancellationToken cancellationToken)
    {
        await using var server = await LocalRedisServer.StartAsync(cancellationToken: cancellationToken);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString);
        var root = Directory.CreateTempSubdirectory("amdistill-bench-feed-").FullName;
        try
        {
            var runs = new RunRegistry(redis, new LocalDatasetStore(root));
            var db = redis.GetDatabase();
            await db.HashSetAsync(RunKeys.Teachers, [new("weak", "{}"), new("middle", "{}"), new("strong", "{}")]);
            var (run, _) = RunConfiguration.Parse("""
                {"run": "bench", "teachers": [{"name": "weak"}, {"name": "middle"}, {"name": "strong"}],
                 "feeder": {"batchQueries": 500, "maxQueuedTasks": 20000}}
                """);
            await runs.CreateAsync(run!);

            var file = Path.Combine(root, "queries.jsonl");
            await using (var writer = new StreamWriter(file))
                for (var i = 0; i < queries; i++)
                    await writer.WriteLineAsync(JsonSerializer.Serialize(new
                    {
                        id = $"q{i}",
                        category = "math",
                        question = $"Let n = {i}. Find the remainder when {i % 97 + 3} to the power {i % 89 + 2} plus {i} times {(i * 7919) % 10007} is divided by {i % 991 + 7}, and explain each step.",
                        reference_answer = "1",
                    }));
            var ingestion = Stopwatch.StartNew();
            await using (var body = File.OpenRead(file))
            {
                var (report, problem) = await runs.UploadAsync("bench", body, parquet: false, cancellationToken);
                if (problem is not null) throw new InvalidOperationException(problem.Message);
                ingestion.Stop();
                await output.WriteLineAsync($"ingest: {report!.Read:N0} queries read, {report.Kept:N0} kept in {ingestion.Elapsed.TotalSeconds:0.00} s = {report.Read / ingestion.Elapsed.TotalSeconds:N0} queries/s " +
                    $"(filters, decontamination against {QueryIngestionBenchmarks()} benchmark questions, exact + near-duplicate removal)");
            }
            var kept = (await runs.GetAsync("bench"))!.Queries;

            await db.StreamCreateConsumerGroupAsync(Streams.Generation.Name, "generation", "0", createStream: true);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var acked = 0L;
            var consumer = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var entries = await db.StreamReadGroupAsync(Streams.Generation.Name, "generation", "bench", ">", 2000);
                    if (entries.Length == 0) { await Task.Delay(5, CancellationToken.None); continue; }
                    await db.StreamAcknowledgeAsync(Streams.Generation.Name, "generation", [.. entries.Select(e => e.Id)]);
                    await db.StreamDeleteAsync(Streams.Generation.Name, [.. entries.Select(e => e.Id)]);
                    Interlocked.Add(ref acked, entries.Length);
                }
            }, CancellationToken.None);

            var services = new ServiceCollection().AddMetrics().AddHttpClient().BuildServiceProvider();
            using var feeder = new RunFeeder(runs, new RunOutputs(runs, new LocalDatasetStore(root), services.GetRequiredService<IHttpClientFactory>(), NullLogger<RunOutputs>.Instance),
                new TrainingEvaluation(runs, services.GetRequiredService<IHttpClientFactory>(), redis, NullLogger<TrainingEvaluation>.Instance),
                new StreamProducer<GenerationTask>(redis, Streams.Generation), new StreamProducer<GeneratedResponse>(redis, Streams.Verification), redis,
                services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), TimeProvider.System, NullLogger<RunFeeder>.Instance);
            var feeding = Stopwatch.StartNew();
            await runs.StartAsync("bench");
            await feeder.StartAsync(cancellationToken);
            while ((await runs.GetAsync("bench"))!.Cursor < kept) await Task.Delay(20, cancellationToken);
            feeding.Stop();
            await feeder.StopAsync(cancellationToken);
            while (Interlocked.Read(ref acked) < kept * 3) await Task.Delay(20, cancellationToken);
            await stop.CancelAsync();
            await consumer;
            await output.WriteLineAsync($"feed: {kept:N0} queries → {kept * 3:N0} generation tasks ({kept * 12:N0} samples to come) in {feeding.Elapsed.TotalSeconds:0.00} s = " +
                $"{kept / feeding.Elapsed.TotalSeconds:N0} queries/s, {kept * 3 / feeding.Elapsed.TotalSeconds:N0} tasks/s (batches of 500 queries, backpressure at 20,000 queued tasks)");
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static int QueryIngestionBenchmarks() =>
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "data", "benchmarks", "decontamination.jsonl")).Count(l => l.Trim().Length > 0);
}
