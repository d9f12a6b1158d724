using Microsoft.Extensions.Configuration;

namespace AmDistill.AppHost;

/// <summary>Section <c>AmDistill</c> of the AppHost (command line <c>--AmDistill:Key=value</c>, user secrets,
/// <c>AmDistill__Key</c> in the environment). Real teachers are <c>AmDistill:Teachers:{name}:…</c> (<see cref="TeacherExtensions"/>).</summary>
public sealed class AppHostOptions
{
    public const string Section = "AmDistill";

    /// <summary>The dataset store (samples, records, run inputs, exports) and the local Redis's data; null:
    /// <c>.amdistill-data</c> at the repository root.</summary>
    public string? DatasetRoot { get; set; }

    /// <summary>The trainer's jobs: training files, checkpoints, models; null: <c>.training-runs</c> at the repository root.</summary>
    public string? TrainingRoot { get; set; }

    /// <summary>Start the demo run (data/demo/run.json on the simulated teachers) with <c>dotnet run</c>.</summary>
    public bool DemoRun { get; set; } = true;

    /// <summary>auto (a container where a container runtime answers, else redis-server from PATH), container, local, or
    /// external (ConnectionStrings:redis). Publishing always emits the container.</summary>
    public string Redis { get; set; } = "auto";

    /// <summary>A prebuilt local Redis image for container mode (never pulled); null: Aspire's default image.</summary>
    public string? RedisImage { get; set; }

    public string RedisImageTag { get; set; } = "latest";

    /// <summary>The redis-server executable in local mode; null: found on PATH.</summary>
    public string? RedisServerPath { get; set; }

    /// <summary>Where a local redis-server keeps its append-only file; null: <c>{DatasetRoot}/_redis</c>; <c>none</c>: nothing is kept.</summary>
    public string? RedisDataDir { get; set; }

    /// <summary>explicit: the GPU trainer container is declared and waits for its Start button (only where a container
    /// runtime answers); off: left out anyway.</summary>
    public string Trainer { get; set; } = "explicit";

    /// <summary>A prebuilt local image of the GPU trainer (never pulled); null: built from services/trainer-gpu/Dockerfile.</summary>
    public string? TrainerImage { get; set; }

    /// <summary>The Python (with torch; transformers for Hugging Face models) that the trainer service starts to train and
    /// to serve models on this machine; null: <c>python3</c> from PATH.</summary>
    public string? TrainerPython { get; set; }

    /// <summary>Give the GPU trainer container every GPU (<c>--gpus all</c>).</summary>
    public bool TrainerGpus { get; set; } = true;

    /// <summary>The section, bound and checked once: a value that does not read (DemoRun=maybe) stops the start with its key.</summary>
    public static AppHostOptions Read(IConfiguration configuration)
    {
        var options = configuration.GetSection(Section).Get<AppHostOptions>() ?? new AppHostOptions();
        if (options.Redis.ToLowerInvariant() is not ("auto" or "container" or "local" or "external"))
            throw new DistributedApplicationException($"{Section}:Redis is '{options.Redis}'; use auto, container, local or external.");
        if (options.Trainer.ToLowerInvariant() is not ("explicit" or "off"))
            throw new DistributedApplicationException($"{Section}:Trainer is '{options.Trainer}'; use explicit or off.");
        return options;
    }
}
