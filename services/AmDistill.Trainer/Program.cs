// The trainer service: runs training jobs from amdistill:training with the GPU trainer (a process or a container,
// see the Trainer section), relays their progress into job status and OpenTelemetry metrics, and cancels on request; serves trained (or any)
// model directories over OpenAI chat completions as teachers of the generation service.
using AmDistill.Trainer;
using AmDistill.Trainer.Jobs;
using AmDistill.Trainer.Serving;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddTrainerServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapTrainingEndpoints();
app.MapServingEndpoints();

app.Run();
