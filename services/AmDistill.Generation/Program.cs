// The generation worker: asks the teachers (OpenAI-compatible endpoints, Azure OpenAI) for every pass of every
// generation task and publishes each sample, once, to the verification stream. Replicas share the work through
// the "generation" consumer group.
using AmDistill.Generation;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddGenerationServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
