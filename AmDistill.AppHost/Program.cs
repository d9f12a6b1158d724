using AmDistill.AppHost;
using Microsoft.Extensions.DependencyInjection;

var builder = DistributedApplication.CreateBuilder(args);

// With no container runtime, containers (the GPU trainer) must neither block nor fail the start.
if (builder.ExecutionContext.IsRunMode && !ContainerRuntime.IsAvailable(builder.Configuration))
    builder.Configuration["DcpPublisher:ContainerRuntimeInitializationTimeout"] = "00:00:00";

// Redis Streams carry every message between the services.
var redis = builder.AddPipelineRedis();

// The embedded default teacher: an OpenAI-compatible simulator of weak, medium and strong models.
var teacherSim = builder.AddProject<Projects.AmDistill_TeacherSim>("teacher-sim")
    .WithHttpHealthCheck("/health");

// Control plane: runs, queries, status, export; feeds the demo run (AmDistill:DemoRun, on by default).
builder.AddProject<Projects.AmDistill_Api>("api")
    .WithPipelineRedis(redis)
    .WithEnvironment("DemoRun__Enabled", builder.ExecutionContext.IsPublishMode ? "false" : builder.Configuration["AmDistill:DemoRun"] ?? "true")
    .WithExternalHttpEndpoints()
    .WithHttpHealthCheck("/health");

// amdistill:generation → generation → amdistill:verification
// Teachers: the three simulated ones of its appsettings.json, then the real ones of AmDistill:Teachers.
builder.AddProject<Projects.AmDistill_Generation>("generation")
    .WithPipelineRedis(redis)
    .WithReference(teacherSim).WaitFor(teacherSim)
    .WithTeachers(builder, firstIndex: 3)
    .WithHttpHealthCheck("/health");

// amdistill:verification → verification → amdistill:scoring
builder.AddProject<Projects.AmDistill_Verification>("verification")
    .WithPipelineRedis(redis)
    .WithReference(teacherSim).WaitFor(teacherSim) // judge and reward model for the free-form categories
    .WithHttpHealthCheck("/health");

// amdistill:scoring → scoring → pass rates, CV, grades, selection
builder.AddProject<Projects.AmDistill_Scoring>("scoring")
    .WithPipelineRedis(redis)
    .WithHttpHealthCheck("/health");

// amdistill:training → trainer → the GPU trainer container
builder.AddProject<Projects.AmDistill_Trainer>("trainer")
    .WithPipelineRedis(redis)
    .WithHttpHealthCheck("/health");

// PyTorch + transformers SFT with the paper's recipe; started on demand, never blocks the rest.
builder.AddGpuTrainer();

builder.Services.AddHostedService<ResourceStateLogger>();

builder.Build().Run();
