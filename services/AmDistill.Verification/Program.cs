// The verification worker: scores each response with its category's verifier (math, code sandbox, choice, IFEval, judge, reward model).
// It reads its stream as a member of a Redis consumer group, so replicas share the work.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
