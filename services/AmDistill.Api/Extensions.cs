using Microsoft.Extensions.DependencyInjection.Extensions;
using AmDistill.Api.Runs;
using AmDistill.Contracts;
using AmDistill.Messaging;

namespace AmDistill.Api;

public static class Extensions
{
    public static IHostApplicationBuilder AddApiServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(); // GET /openapi/v1.json: the contract of Contracts/RunApi.cs
        // Numbers are numbers: the web defaults would also read them from strings, and say so in every schema.
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict);
        builder.AddDatasetStore();
        builder.Services.AddSingleton<RunRegistry>();
        builder.Services.AddSingleton<RunOutputs>();
        builder.Services.AddHttpClient(RunOutputs.TrainerClient, http => http.BaseAddress = new Uri("https+http://trainer")).AddServiceToken();
        builder.Services.AddSingleton<TrainingEvaluation>();
#pragma warning disable EXTEXP0001 // a model's load takes minutes: no 10 s attempt timeout here
        builder.Services.AddHttpClient(TrainingEvaluation.ServingClient, http =>
            {
                http.BaseAddress = new Uri("https+http://trainer");
                http.Timeout = TimeSpan.FromMinutes(20);
            }).AddServiceToken().RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        builder.Services.AddStreamProducer(Streams.Generation);
        builder.Services.AddStreamProducer(Streams.Verification); // imported responses enter where teachers' answers do
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHostedService<RunFeeder>();
        builder.Services.AddOptions<DemoRunOptions>().BindConfiguration(DemoRunOptions.Section)
            .Validate(o => !o.Enabled || (File.Exists(DemoRun.InData(o.ConfigFile)) && File.Exists(DemoRun.InData(o.QueryFile))),
                "DemoRun: ConfigFile and QueryFile must exist when the demo run is enabled")
            .ValidateOnStart();
        builder.Services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.Section)
            .Validate(o => o.MaxUploadBytes > 0, "Api:MaxUploadBytes must be > 0").ValidateOnStart();
        builder.Services.AddHostedService<DemoRun>();
        return builder;
    }
}
