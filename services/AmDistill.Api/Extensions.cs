using AmDistill.Api.Runs;
using AmDistill.Contracts;
using AmDistill.Messaging;

namespace AmDistill.Api;

public static class Extensions
{
    public static IHostApplicationBuilder AddApiServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatasetStore();
        builder.Services.AddOptions<DemoRunOptions>().BindConfiguration("DemoRun");
        builder.Services.AddStreamProducer(Streams.Generation);
        builder.Services.AddHostedService<DemoRunFeeder>();
        return builder;
    }
}
