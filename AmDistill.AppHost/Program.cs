using AmDistill.AppHost;
using Microsoft.Extensions.DependencyInjection;

var builder = DistributedApplication.CreateBuilder(args);
var settings = AppHostOptions.Read(builder.Configuration); // docs/configuration.md

// With no container runtime, containers (the GPU trainer) must neither block nor fail the start.
if (builder.ExecutionContext.IsRunMode && !ContainerRuntime.IsAvailable(builder.Configuration))
    builder.Configuration["DcpPublisher:ContainerRuntimeInitializationTimeout"] = "00:00:00";

// The dataset store: verified samples (written by verification) and final query records (by scoring), read by the
// api (export) and the trainer.
var datasetRoot = settings.DatasetRoot ?? Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", ".amdistill-data"));

// Redis Streams carry every message between the services; runs and their state live there too, persisted under the
// data root so that a second start finds them.
var redis = builder.AddPipelineRedis(settings, Path.Combine(datasetRoot, "_redis"));
// The trainer's jobs (training files, checkpoints, models): {TrainingRoot}/{run}/{job}.
var trainingRoot = settings.TrainingRoot ?? Path.GetFullPath(Path.Combine(builder.AppHostDirectory, "..", ".training-runs"));

// The embedded default teacher: an OpenAI-compatible simulator of weak, medium and strong models.
var teacherSim = builder.AddProject<Projects.AmDistill_TeacherSim>("teacher-sim")
    .WithEnvironment("TeacherSim__RunDirectories__0", datasetRoot) // it learns the queries of your runs too
    .WithHttpHealthCheck("/health");

// Control plane: runs (configuration, queries, feeding, status, exports, report); starts the demo run
// (data/demo/run.json; AmDistill:DemoRun, on by default for `dotnet run`) and reports its progress here.
var demoRun = builder.ExecutionContext.IsRunMode && settings.DemoRun;
var api = builder.AddProject<Projects.AmDistill_Api>("api")
    .WithPipelineRedis(redis)
    .WithEnvironment("DatasetStore__Root", datasetRoot)
    .WithEnvironment("DemoRun__Enabled", demoRun ? "true" : "false")
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");
if (demoRun) api.WithRunControls(builder, "demo", datasetRoot);

// amdistill:generation → generation → amdistill:verification
// Teachers: the three simulated ones of its appsettings.json, and the real ones of AmDistill:Teachers:{name}.
builder.AddProject<Projects.AmDistill_Generation>("generation")
    .WithPipelineRedis(redis)
    .WithReference(teacherSim).WaitFor(teacherSim)
    .WithTeachers(builder)
    .WithHttpHealthCheck("/health");

// amdistill:verification → verification → amdistill:scoring
builder.AddProject<Projects.AmDistill_Verification>("verification")
    .WithPipelineRedis(redis)
    .WithEnvironment("DatasetStore__Root", datasetRoot)
    .WithReference(teacherSim).WaitFor(teacherSim) // judge and reward model for the free-form categories
    .WithHttpHealthCheck("/health");

// amdistill:scoring → scoring → pass rates, CV, grades, selection
builder.AddProject<Projects.AmDistill_Scoring>("scoring")
    .WithPipelineRedis(redis)
    .WithEnvironment("DatasetStore__Root", datasetRoot)
    .WithHttpHealthCheck("/health");

// amdistill:training → trainer → the GPU trainer container (or python3 here); it also serves trained models as
// teachers of the generation service for their evaluation runs
var trainer = builder.AddProject<Projects.AmDistill_Trainer>("trainer")
    .WithPipelineRedis(redis)
    .WithEnvironment("DatasetStore__Root", datasetRoot)
    .WithEnvironment("Trainer__OutputRoot", trainingRoot)
    .WithHttpHealthCheck("/health");
if (settings.TrainerPython is { } python) trainer.WithEnvironment("Trainer__Command", python);

// A completed run with a training section submits its SFT job to the trainer's API, and asks it to serve the trained
// model for the evaluation run.
api.WithReference(trainer);

// PyTorch + transformers SFT with the paper's recipe; started on demand, never blocks the rest.
builder.AddGpuTrainer(settings);

builder.Services.AddHostedService<ResourceStateLogger>();
builder.Services.AddHostedService<GracefulShutdown>();
builder.Services.AddHostedService<ServiceSupervisor>();

builder.Build().Run();
