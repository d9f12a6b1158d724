// The trainer service: runs training jobs from amdistill:training with the GPU trainer (a process or a container,
// see the Trainer section), relays their progress into job status and OpenTelemetry metrics, and cancels on request.
using AmDistill.Trainer;
using AmDistill.Trainer.Jobs;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddTrainerServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapTrainingEndpoints();

app.Run();
