using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace AmDistill.Sandbox;

/// <summary>
/// A SandboxFusion deployment (bytedance/SandboxFusion, <c>POST /run_code</c>) as the place the harness runs: the
/// harness is the code, the job its stdin, the wall limit its run_timeout. The response's run_result carries stdout,
/// the return code and TimeLimitExceeded; status SandboxError (or an HTTP failure) is a sandbox error, never a
/// wrong answer.
/// </summary>
public sealed class SandboxFusionSandbox(HttpClient http) : ICodeSandbox
{
    public async Task<SandboxResult> RunHarnessAsync(string job, TimeSpan wallTimeout, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var request = new JsonObject
        {
            ["code"] = ICodeSandbox.HarnessSource, ["language"] = "python", ["stdin"] = job,
            ["run_timeout"] = wallTimeout.TotalSeconds, ["compile_timeout"] = 10,
        };
        JsonNode? response;
        try
        {
            using var answer = await http.PostAsJsonAsync("run_code", request, cancellationToken);
            if (!answer.IsSuccessStatusCode)
                return new(-1, false, "", "", Stopwatch.GetElapsedTime(started), $"SandboxFusion answered HTTP {(int)answer.StatusCode}");
            response = await answer.Content.ReadFromJsonAsync<JsonNode>(cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException { InnerException: TimeoutException } or System.Text.Json.JsonException)
        {
            return new(-1, false, "", "", Stopwatch.GetElapsedTime(started), $"SandboxFusion unreachable: {e.Message}");
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        var status = response?["status"]?.GetValue<string>();
        var run = response?["run_result"];
        if (status == "SandboxError" || run is null)
            return new(-1, false, "", "", elapsed, $"SandboxFusion: {response?["message"]?.GetValue<string>() ?? status ?? "no run_result"}");
        return new(run["return_code"]?.GetValue<int?>() ?? -1, run["status"]?.GetValue<string>() == "TimeLimitExceeded",
            run["stdout"]?.GetValue<string>() ?? "", run["stderr"]?.GetValue<string>() ?? "", elapsed, null);
    }
}
