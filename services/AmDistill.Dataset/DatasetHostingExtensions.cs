using Microsoft.Extensions.Configuration;
using AmDistill.Dataset.Store;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

public static class DatasetHostingExtensions
{
    /// <summary>The dataset store at <c>DatasetStore:Root</c>: by default <c>.amdistill-data</c> at the repository root
    /// (services run from their project folders); in a container, a mounted volume.</summary>
    public static TBuilder AddDatasetStore<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var options = builder.Configuration.GetSection(DatasetStoreOptions.Section).Get<DatasetStoreOptions>() ?? new DatasetStoreOptions();
        builder.Services.AddSingleton<IDatasetStore>(new LocalDatasetStore(Path.Combine(builder.Environment.ContentRootPath, options.Root)));
        return builder;
    }

    /// <summary>The dataset store and this process's writers into it, their parts named after the service's
    /// <paramref name="role"/>, the host and the process (no two processes ever write one file).</summary>
    public static TBuilder AddDatasetWriters<TBuilder>(this TBuilder builder, string role) where TBuilder : IHostApplicationBuilder
    {
        builder.AddDatasetStore();
        builder.Services.AddSingleton(sp => new DatasetWriters(sp.GetRequiredService<IDatasetStore>(), $"{role}-{Environment.MachineName}-{Environment.ProcessId}"));
        return builder;
    }
}
