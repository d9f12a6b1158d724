using System.CommandLine;

namespace AmDistill.Bench.Benchmarks;

/// <summary><c>amdistill-bench …</c>: throughput figures of the parts that must never slow the teachers down.</summary>
internal static class BenchCommand
{
    public static RootCommand Create()
    {
        var messages = new Option<int>("--messages") { Description = "Entries per phase.", DefaultValueFactory = _ => 200_000 };
        var payload = new Option<int>("--payload") { Description = "Payload size in bytes.", DefaultValueFactory = _ => 1024 };
        var concurrency = new Option<int>("--concurrency") { Description = "Handlers running at once in the consumer.", DefaultValueFactory = _ => 16 };
        var consumers = new Option<int>("--consumers") { Description = "Consumers in the group (each with its own connection).", DefaultValueFactory = _ => 2 };
        var redis = new Option<string?>("--redis") { Description = "Redis connection string; default: a throwaway redis-server started from PATH." };

        var queue = new Command("queue", "Messages/s through produce → consume → ack over Redis Streams.")
        {
            messages, payload, concurrency, consumers, redis,
        };
        queue.SetAction((result, cancellationToken) => QueueBenchmark.RunAsync(new QueueBenchmark.Settings(
            result.GetValue(messages), result.GetValue(payload), result.GetValue(concurrency), result.GetValue(consumers), result.GetValue(redis)),
            Console.Out, cancellationToken));

        var requests = new Option<int>("--requests") { Description = "Generation requests in all.", DefaultValueFactory = _ => 10_000 };
        var inFlight = new Option<int>("--in-flight") { Description = "Requests in flight to the teacher.", DefaultValueFactory = _ => 1000 };
        var latency = new Option<int>("--latency-ms") { Description = "The simulated teacher's latency per request.", DefaultValueFactory = _ => 2000 };
        var teacher = new Command("teacher", "Responses/s through the generation service against the teacher simulator, against Little's law.")
        {
            requests, inFlight, latency,
        };
        teacher.SetAction((result, cancellationToken) => TeacherBenchmark.RunAsync(new TeacherBenchmark.Settings(
            result.GetValue(requests), result.GetValue(inFlight), result.GetValue(latency)), Console.Out, cancellationToken));

        var cases = new Option<FileInfo>("--cases") { Description = "gold/pred JSONL (default: Math-Verify's own cases in the repository).", DefaultValueFactory = _ => new FileInfo("tests/AmDistill.Verifiers.Tests/Fixtures/math-verify/cases.jsonl") };
        var verdicts = new Option<int>("--verdicts") { Description = "Verdicts to time.", DefaultValueFactory = _ => 200_000 };
        var randomInputs = new Option<int>("--random") { Description = "Random LaTeX/garbage inputs to check against the budget.", DefaultValueFactory = _ => 100_000 };
        var math = new Command("math", "Math verdicts/s on one core, latency percentiles, and random inputs against the budget.") { cases, verdicts, randomInputs };
        math.SetAction(result => MathBenchmark.RunAsync(result.GetValue(cases)!, result.GetValue(verdicts), result.GetValue(randomInputs), Console.Out));

        var ifResponses = new Option<FileInfo>("--responses") { Description = "IFEval-style responses (default: GPT-4's, data/real-outputs).", DefaultValueFactory = _ => new FileInfo("data/real-outputs/ifeval-gpt4.jsonl") };
        var ifVerdicts = new Option<int>("--verdicts") { Description = "Strict+loose verdicts to time.", DefaultValueFactory = _ => 5_000 };
        var instructionFollowing = new Command("if", "Instruction-following verdicts/s on one core and latency percentiles, on real responses.") { ifResponses, ifVerdicts };
        instructionFollowing.SetAction(result => IfEvalBenchmark.RunAsync(result.GetValue(ifResponses)!, result.GetValue(ifVerdicts), Console.Out));

        var samples = new Option<int>("--samples") { Description = "Synthetic verified samples.", DefaultValueFactory = _ => 1_000_000 };
        var textChars = new Option<int>("--text-chars") { Description = "Characters of thinking + answer per sample.", DefaultValueFactory = _ => 2000 };
        var directory = new Option<string?>("--directory") { Description = "Keep the store and the exports here (default: a temporary directory, deleted)." };
        var export = new Command("export", "Dataset store writes and exports (Stage I Parquet, all JSONL): samples/s and peak RSS.") { samples, textChars, directory };
        export.SetAction((result, cancellationToken) => ExportBenchmark.RunAsync(new ExportBenchmark.Settings(
            result.GetValue(samples), result.GetValue(textChars), result.GetValue(directory)), Console.Out, cancellationToken));

        var rows = new Option<int>("--rows") { Description = "Synthetic AM rows to import.", DefaultValueFactory = _ => 1_000_000 };
        var rowChars = new Option<int>("--text-chars") { Description = "Characters of thinking + answer per row.", DefaultValueFactory = _ => 2000 };
        var import = new Command("import", "Importing responses (AM rows): rows/s and peak RSS of normalising and putting together.") { rows, rowChars };
        import.SetAction((result, cancellationToken) => ImportBenchmark.RunAsync(result.GetValue(rows), result.GetValue(rowChars), Console.Out, cancellationToken));

        var runs = new Option<int>("--runs") { Description = "Serial runs per start measurement.", DefaultValueFactory = _ => 100 };
        var programs = new Option<int>("--programs") { Description = "Trivial programs for the batched harness.", DefaultValueFactory = _ => 200 };
        var casesPerProgram = new Option<int>("--cases") { Description = "stdin cases per trivial program.", DefaultValueFactory = _ => 100 };
        var apps = new Option<FileInfo>("--apps") { Description = "The APPS stdio set.", DefaultValueFactory = _ => new FileInfo("data/benchmarks/apps_stdio.jsonl") };
        var code = new Command("code", "Sandbox start overhead and stdin test cases/s through the batched harness.") { runs, programs, casesPerProgram, apps };
        code.SetAction((result, cancellationToken) => CodeBenchmark.RunAsync(result.GetValue(runs), result.GetValue(programs), result.GetValue(casesPerProgram),
            result.GetValue(apps)!, Console.Out, cancellationToken));

        var feedQueries = new Option<int>("--queries") { Description = "Synthetic queries to ingest and feed.", DefaultValueFactory = _ => 200_000 };
        var feed = new Command("feed", "The control plane: queries/s ingested, and queries/s the feeder expands into generation tasks.") { feedQueries };
        feed.SetAction((result, cancellationToken) => FeedBenchmark.RunAsync(result.GetValue(feedQueries), Console.Out, cancellationToken));

        var pipelineQueries = new Option<int>("--queries") { Description = "Synthetic math queries (× 3 teachers × passes samples).", DefaultValueFactory = _ => 3000 };
        var passes = new Option<int>("--passes") { Description = "Passes per teacher.", DefaultValueFactory = _ => 4 };
        var settle = new Option<int>("--settle-seconds") { Description = "How long to watch Redis memory after the run completes (finished runs are compacted after 2 minutes).", DefaultValueFactory = _ => 150 };
        var noTelemetry = new Option<bool>("--no-telemetry") { Description = "Run the services without an OTLP exporter." };
        var pipeline = new Command("pipeline", "The services as processes on Redis and the simulated teachers at zero latency: samples/s, CPU per sample and peak RSS per service, Redis memory.")
        {
            pipelineQueries, passes, settle, noTelemetry,
        };
        pipeline.SetAction((result, cancellationToken) => PipelineBenchmark.RunAsync(new PipelineBenchmark.Settings(
            result.GetValue(pipelineQueries), result.GetValue(passes), result.GetValue(settle), !result.GetValue(noTelemetry)), Console.Out, cancellationToken));

        return new RootCommand("amdistill-bench: measure throughput on this machine.") { queue, teacher, math, instructionFollowing, export, import, code, feed, pipeline };
    }
}
