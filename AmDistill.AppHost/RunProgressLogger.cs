using System.Net.Http.Json;
using AmDistill.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AmDistill.AppHost;

/// <summary>
/// The demo run's progress in the terminal of <c>dotnet run</c> (the dashboard shows the services' own logs and
/// metrics): one line when it changes, at most every 5 s, read from the Api's <c>GET /api/runs/{run}</c>, and where the
/// outputs are once it completes.
/// </summary>
internal sealed partial class RunProgressLogger(EndpointReference api, string run, string datasetRoot, ResourceNotificationService notifications,
    ILogger<RunProgressLogger> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await notifications.WaitForResourceHealthyAsync(api.Resource.Name, stoppingToken);
            using var http = new HttpClient { BaseAddress = new Uri(api.Url), Timeout = TimeSpan.FromSeconds(10) };
            var last = "";
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken);
                RunStatus s;
                try
                {
                    s = (await http.GetFromJsonAsync<RunStatus>($"/api/runs/{run}", ApiJson.Options, stoppingToken))!;
                }
                catch (HttpRequestException)
                {
                    continue; // not created yet, or the Api restarts
                }
                var line = $"{s.State}: fed {s.FedQueries}/{s.Queries} queries, generated {s.Generated} and verified {s.Verified} of {s.ExpectedSamples} samples, " +
                    $"final {s.FinalQueries} queries; {s.SamplesPerSecond} samples/s, ETA {(s.EtaSeconds is { } eta ? $"{eta} s" : "unknown")}";
                if (line != last) LogProgress(run, line);
                last = line;
                if (s.Ended)
                {
                    // The Api names them within the dataset store; this terminal is on the machine that holds it.
                    if (s.Outputs is { } outputs) LogOutputs(run, Path.Combine(datasetRoot, outputs));
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "RUN {Run} {Progress}")]
    private partial void LogProgress(string run, string progress);

    [LoggerMessage(Level = LogLevel.Information, Message = "RUN {Run} outputs (exports and report.html): {Outputs}")]
    private partial void LogOutputs(string run, string outputs);
}
