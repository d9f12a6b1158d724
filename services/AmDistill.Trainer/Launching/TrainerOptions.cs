namespace AmDistill.Trainer.Launching;

/// <summary>
/// Section <c>Trainer</c>. How the GPU trainer is started: a command and its arguments, with <c>{placeholders}</c>
/// filled from the job. The same shape runs it as a local process (<c>python3 -m amdistill_trainer …</c> on a GPU box),
/// as a container (<c>docker run --gpus all … amdistill-trainer …</c>) or through a job launcher script.
/// </summary>
public sealed class TrainerOptions
{
    public const string Section = "Trainer";

    /// <summary>False: the API only (submit, status, cancel), where jobs run elsewhere (a GPU job in Azure).</summary>
    public bool RunJobs { get; set; } = true;

    /// <summary>A job's limit: it runs for hours or days, its lease renewed all along, so only a dead replica loses it.</summary>
    public TimeSpan JobTimeout { get; set; } = TimeSpan.FromDays(14);

    /// <summary>Stop the process once no job has run for this long (an event-driven Container Apps job on a GPU profile);
    /// null: never.</summary>
    public TimeSpan? ExitAfterIdle { get; set; }

    public string Command { get; set; } = "python3";

    /// <summary>Placeholders: {trainingFile} {baseModel} {output} {recipe} {run} {job}. Empty: <see cref="PythonModuleArguments"/>.
    /// (No list default here: configuration binding appends to a list instead of replacing it.)</summary>
    public List<string> Arguments { get; set; } = [];

    public static IReadOnlyList<string> PythonModuleArguments { get; } =
    [
        "-m", "amdistill_trainer", "train", "--data", "{trainingFile}", "--base-model", "{baseModel}",
        "--output", "{output}", "--recipe", "{recipe}",
    ];

    public IReadOnlyList<string> EffectiveArguments => Arguments.Count > 0 ? Arguments : PythonModuleArguments;

    /// <summary>Where the command runs; relative paths are relative to the service's content root.</summary>
    public string WorkingDirectory { get; set; } = ".";

    /// <summary>Each job writes below <c>{OutputRoot}/{run}/{job}</c>: the same directory on a rerun, so it resumes.</summary>
    public string OutputRoot { get; set; } = "training-runs";

    public Dictionary<string, string> Environment { get; set; } = new() { ["PYTHONUNBUFFERED"] = "1" };

    /// <summary>Lines of the trainer's stderr kept to explain a failure.</summary>
    public int StderrTailLines { get; set; } = 40;

    /// <summary>How often a running job looks for a cancel request.</summary>
    public TimeSpan CancelPollInterval { get; set; } = TimeSpan.FromSeconds(1);
}
