// The trainer worker: turns a selected dataset into training jobs for the GPU trainer container and relays their progress.
// It reads its stream as a member of a Redis consumer group, so replicas share the work.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
