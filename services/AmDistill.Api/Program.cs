// The control plane: runs, queries, status and export. Today: the state of the pipeline's queues, and the demo run
// that `dotnet run` performs on the embedded teacher simulator.
using AmDistill.Api;
using AmDistill.Api.Queues;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddApiServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapQueueEndpoints();

app.Run();
