namespace AmDistill.Trainer.Serving;

/// <summary>
/// Section <c>Trainer:Serving</c>. How a model directory is served over OpenAI chat completions (the trainer image's
/// <c>python -m amdistill_trainer serve</c>: vLLM where installed, else batched sampling with the model's forward), and
/// under which address the generation service reaches it.
/// </summary>
public sealed class ServingOptions
{
    public const string Section = "Trainer:Serving";

    /// <summary>Null: the trainer's own <c>Trainer:Command</c> (the same Python, in the same working directory).</summary>
    public string? Command { get; set; }

    /// <summary>Placeholders: {model} {name} {host} {port}. Empty: <see cref="PythonModuleArguments"/>.</summary>
    public List<string> Arguments { get; set; } = [];

    public static IReadOnlyList<string> PythonModuleArguments { get; } =
        ["-m", "amdistill_trainer", "serve", "--model", "{model}", "--name", "{name}", "--host", "{host}", "--port", "{port}"];

    public IReadOnlyList<string> EffectiveArguments => Arguments.Count > 0 ? Arguments : PythonModuleArguments;

    /// <summary>The address the server listens on.</summary>
    public string BindHost { get; set; } = "127.0.0.1";

    /// <summary>The host name others reach it by (a container app's name in Azure); the endpoint is <c>http://{AdvertisedHost}:{port}/v1</c>.</summary>
    public string AdvertisedHost { get; set; } = "localhost";

    /// <summary>A model's load (vLLM compiles and captures graphs for minutes) until it answers <c>/health</c>.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>The served teacher's answer limit unless a serve request or a run says otherwise.</summary>
    public int MaxTokens { get; set; } = 32_768;
}
