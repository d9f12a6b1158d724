// The scoring worker: aggregates verify scores into pass rates, CV and difficulty grades and applies the selection policies.
// It reads its stream as a member of a Redis consumer group, so replicas share the work.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
