// The generation worker: asks the teachers (OpenAI-compatible endpoints) for each generation task and publishes their responses.
// It reads its stream as a member of a Redis consumer group, so replicas share the work.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
