using Microsoft.Extensions.DependencyInjection;

namespace AmDistill.AppHost;

public static class RunControlExtensions
{
    /// <summary>
    /// A run made visible and controllable from the dashboard: its report and status as links on the api resource,
    /// pause, resume and cancel as the resource's commands (each a POST to the Api), and its progress in the terminal.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithRunControls(this IResourceBuilder<ProjectResource> api, IDistributedApplicationBuilder builder, string run, string datasetRoot)
    {
        api.WithUrlForEndpoint("http", endpoint => new ResourceUrlAnnotation { Url = $"{endpoint.Url}/api/runs/{run}/report", DisplayText = $"Report of run {run}" })
            .WithUrlForEndpoint("http", endpoint => new ResourceUrlAnnotation { Url = $"{endpoint.Url}/api/runs/{run}", DisplayText = $"Status of run {run}" });
        foreach (var (action, icon) in new[] { ("pause", "Pause"), ("resume", "Play"), ("cancel", "Dismiss") })
            api.WithHttpCommand($"/api/runs/{run}/{action}", $"{char.ToUpperInvariant(action[0])}{action[1..]} run {run}", endpointName: "http",
                commandName: $"{action}-run-{run}", commandOptions: new HttpCommandOptions
                {
                    Method = HttpMethod.Post,
                    IconName = icon,
                    ConfirmationMessage = action == "cancel" ? $"Cancel run {run}? Its remaining tasks are skipped." : null,
                });
        builder.Services.AddHostedService(sp => ActivatorUtilities.CreateInstance<RunProgressLogger>(sp, api.GetEndpoint("http"), run, datasetRoot));
        return api;
    }
}
