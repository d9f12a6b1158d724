// The control plane: the state of the pipeline's queues, a run's progress (counts, tokens, cost, ETA), and the demo run
// that `dotnet run` performs on the embedded teacher simulator.
using AmDistill.Api;
using AmDistill.Api.Queues;
using AmDistill.Api.Runs;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddApiServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapOpenApi();
app.MapQueueEndpoints();
app.MapRunEndpoints();

app.Run();

public partial class Program; // the entry point, for the Api's HTTP tests
