// The control plane: runs, queries, status and export. Today: the state of the pipeline's queues.
using AmDistill.Api.Queues;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapQueueEndpoints();

app.Run();
