using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AmDistill.Verifiers.Code;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AmDistill.Sandbox.Tests;

/// <summary>
/// The SandboxFusion backend against a server that speaks SandboxFusion's <c>/run_code</c> API (request and response
/// fields as bytedance/SandboxFusion defines them) and really runs the code, in the
/// local bubblewrap sandbox: SandboxFusion itself cannot be installed here (no Docker engine, no PyPI).
/// </summary>
public sealed class SandboxFusionTests(SandboxFixture fixture) : IClassFixture<SandboxFixture>, IAsyncLifetime
{
    private WebApplication _server = null!;
    private HttpClient _http = null!;
    private volatile bool _failing;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _server = builder.Build();
        _server.MapPost("/run_code", async (HttpContext context) =>
        {
            var request = (await context.Request.ReadFromJsonAsync<JsonNode>())!;
            if (_failing) return Results.Json(new { status = "SandboxError", message = "no runner available", run_result = (object?)null });
            var run = await fixture.Sandbox.RunAsync(["/usr/bin/python3", "-I", "-c", request["code"]!.GetValue<string>()],
                request["stdin"]?.GetValue<string>() ?? "", TimeSpan.FromSeconds(request["run_timeout"]!.GetValue<double>()));
            return Results.Json(new
            {
                status = run.ExitCode == 0 ? "Success" : "Failed",
                message = "",
                run_result = new
                {
                    status = run.TimedOut ? "TimeLimitExceeded" : run.ExitCode == 0 ? "Finished" : "Error",
                    execution_time = run.Elapsed.TotalSeconds, return_code = run.ExitCode, stdout = run.Stdout, stderr = run.Stderr,
                },
            });
        });
        await _server.StartAsync();
        var address = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address + "/"), Timeout = TimeSpan.FromMinutes(2) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task The_harness_runs_remotely_with_the_same_verdicts()
    {
        var verifier = new CodeVerifier(new SandboxFusionSandbox(_http), new CodeVerifierOptions { TestTimeout = TimeSpan.FromSeconds(1) });
        var records = SandboxFixture.Records("humaneval.jsonl").Take(10).ToList();
        foreach (var r in records)
        {
            var tests = CodeTests.Parse(r.GetProperty("test_cases"), r.GetProperty("question").GetString());
            var verdict = await verifier.VerifyAsync(r.GetProperty("meta").GetProperty("canonical_solution").GetString()!, tests);
            Assert.Equal("passed", verdict.Status);
        }
        var mixed = await verifier.VerifyAsync("n = int(input())\nwhile n == 2: pass\nprint(n * 2)", new CodeTests.Stdio(["1", "2", "3"], ["2", "4", "7"]));
        Assert.Equal([TestStatus.Passed, TestStatus.Timeout, TestStatus.WrongAnswer], mixed.Tests.Select(t => t.Status));
    }

    [Fact]
    public async Task A_sandbox_error_is_never_a_wrong_answer()
    {
        _failing = true;
        var verdict = await new CodeVerifier(new SandboxFusionSandbox(_http)).VerifyAsync("print(1)", new CodeTests.Stdio(["x"], ["1"]));
        Assert.Equal("sandbox_error", verdict.Status);
        Assert.Contains("no runner available", verdict.SandboxError);
        using var nowhere = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:9/") };
        Assert.Equal("sandbox_error", (await new CodeVerifier(new SandboxFusionSandbox(nowhere)).VerifyAsync("print(1)", new CodeTests.Stdio(["x"], ["1"]))).Status);
    }
}
