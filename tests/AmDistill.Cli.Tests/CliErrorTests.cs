using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AmDistill.LocalRedis;

namespace AmDistill.Cli.Tests;

/// <summary>The command line's error paths, run as a user runs it: one clear line on stderr, a non-zero exit code, never
/// a stack trace — without an Api, and against a real Api process with a real redis-server.</summary>
public sealed class CliErrorTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("amdistill-cli-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private Task<CliRun> Cli(params string[] args) => CliRun.RunAsync(_directory, args);

    private string File(string name, string text)
    {
        var path = Path.Combine(_directory, name);
        System.IO.File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task A_run_file_with_three_mistakes_gets_three_errors_in_the_files_words()
    {
        var config = File("bad.json", """
            {"run": "My Run", "teachers": [{"name": "r1", "passes": 0}], "selection": {"policy": "best"}}
            """);
        var run = await Cli("run", "validate", config, "--api", "http://127.0.0.1:9");
        Assert.Equal(2, run.ExitCode);
        var errors = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, errors.Length);
        Assert.All(errors, e => Assert.StartsWith("bad.json: ", e, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("run: 'My Run' is not a run id", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("teachers[0].passes", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("selection.policy", StringComparison.Ordinal));
        run.AssertNoTrace();
    }

    [Fact]
    public async Task An_unreachable_api_and_a_bad_api_url_are_one_line_each()
    {
        var down = await Cli("run", "status", "demo", "--api", $"http://127.0.0.1:{FreePort()}");
        Assert.Equal(1, down.ExitCode);
        Assert.StartsWith("the Api does not answer", down.Stderr, StringComparison.Ordinal);
        Assert.Single(down.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        down.AssertNoTrace();

        var bad = await Cli("run", "status", "demo", "--api", "localhost:5101");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("--api: 'localhost:5101' is not an http(s) URL", bad.Stderr.Trim());
    }

    [Fact]
    public async Task Missing_files_and_bad_values_are_one_line_each()
    {
        foreach (var args in new[]
                 {
                     new[] { "verify", "math" },                                                   // a required option left out
                     ["verify", "math", "--input", Path.Combine(_directory, "nothing.jsonl")],     // a file that is not there
                     ["ingest", "--input", Path.Combine(_directory, "nothing.jsonl"), "--output", Path.Combine(_directory, "out.jsonl")],
                     ["run", "export", "demo", "--policy", "best", "--output", "x.jsonl"],         // a value not among the allowed
                     ["select", "--input", File("records.jsonl", ""), "--cap", "maths=5"],         // a category that does not exist
                 })
        {
            var run = await Cli(args);
            Assert.True(run.ExitCode is 1 or 2, $"{string.Join(' ', args)}: exit {run.ExitCode}\n{run.Stderr}");
            Assert.False(string.IsNullOrWhiteSpace(run.Stderr), string.Join(' ', args));
            run.AssertNoTrace();
        }
        var policy = await Cli("run", "export", "demo", "--policy", "best", "--output", "x.jsonl");
        Assert.Contains("all", policy.Stderr, StringComparison.Ordinal); // the allowed values are named
        Assert.Contains("stage1", policy.Stderr, StringComparison.Ordinal);
        var category = await Cli("select", "--input", File("records.jsonl", ""), "--cap", "maths=5");
        Assert.Contains("category 'maths' is not one of math, code, science, if, other", category.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Against_a_real_api_an_unknown_run_a_validation_without_teachers_and_a_refused_upload_say_what_to_do()
    {
        await using var redis = await LocalRedisServer.StartAsync();
        var port = FreePort();
        var api = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "AmDistill.Api.dll"), $"--urls=http://127.0.0.1:{port}"])
        {
            WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        Set(api, "ConnectionStrings__redis", redis.ConnectionString);
        Set(api, "DatasetStore__Root", Path.Combine(_directory, "store"));
        Set(api, "DemoRun__Enabled", "false");
        Set(api, "Logging__LogLevel__Default", "Warning");
        using var process = Process.Start(api)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var url = $"http://127.0.0.1:{port}";
            using (var http = new HttpClient())
                for (var i = 0; ; i++)
                {
                    try { if ((await http.GetAsync($"{url}/api/runs")).IsSuccessStatusCode) break; }
                    catch (HttpRequestException) when (i < 150) { }
                    await Task.Delay(200);
                }

            var unknown = await Cli("run", "status", "nothing-here", "--api", url);
            Assert.Equal(1, unknown.ExitCode);
            Assert.StartsWith("GET /api/runs/nothing-here: 404", unknown.Stderr, StringComparison.Ordinal);
            unknown.AssertNoTrace();

            var config = File("run.json", """{"run": "mine", "teachers": [{"name": "r1-distill-qwen-7b"}]}""");
            var validate = await Cli("run", "validate", config, "--api", url);
            Assert.Equal(0, validate.ExitCode);
            Assert.Contains("teachers not checked: no generation service has registered its teachers yet", validate.Stdout, StringComparison.Ordinal);

            // A query file that is not JSONL: the run is created, the upload refused with its reason.
            var start = await Cli("run", "start", "--config", config, "--queries", File("queries.jsonl", "\u0000\u0001 not json\n"), "--no-watch", "--api", url);
            Assert.Equal(1, start.ExitCode);
            Assert.Contains("line 1", start.Stderr, StringComparison.Ordinal);
            Assert.Contains("POST /api/runs/mine/start: 409 run 'mine' has no queries: upload them first", start.Stderr, StringComparison.Ordinal); // the Api's words, not its JSON
            start.AssertNoTrace();
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        static void Set(ProcessStartInfo start, string key, string value) => start.Environment[key] = value;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
