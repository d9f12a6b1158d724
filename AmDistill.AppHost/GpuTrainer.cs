namespace AmDistill.AppHost;

public static class GpuTrainerExtensions
{
    /// <summary>
    /// The GPU trainer container (PyTorch + transformers, <c>services/trainer-gpu</c>; with no arguments it reports its
    /// torch, CUDA and GPUs), started explicitly
    /// (dashboard Start button) so that a machine without a GPU runs the rest. Where no container runtime answers,
    /// <c>dotnet run</c> leaves it out: it could not start, and a container in the model makes the dashboard warn on every
    /// page that the runtime is unhealthy. <c>AmDistill:Trainer=off</c> leaves it out anyway; <c>AmDistill:TrainerImage</c>
    /// names a prebuilt local image. Publishing always declares it.
    /// </summary>
    public static IResourceBuilder<ContainerResource>? AddGpuTrainer(this IDistributedApplicationBuilder builder, AppHostOptions settings, string name = "trainer-gpu")
    {
        if (string.Equals(settings.Trainer, "off", StringComparison.OrdinalIgnoreCase)) return null;
        if (builder.ExecutionContext.IsRunMode && !ContainerRuntime.IsAvailable(builder.Configuration)) return null;

        var image = settings.TrainerImage;
        var trainer = image is { Length: > 0 } && builder.ExecutionContext.IsRunMode
            ? builder.AddContainer(name, image).WithImagePullPolicy(ImagePullPolicy.Never)
            : builder.AddDockerfile(name, "..", Path.Combine("services", "trainer-gpu", "Dockerfile")); // context: the repository (the image holds the trainer service too)

        if (settings.TrainerGpus)
            trainer.WithContainerRuntimeArgs("--gpus", "all");
        return trainer
            .WithEnvironment("NVIDIA_VISIBLE_DEVICES", "all")
            .WithExplicitStart();
    }
}
