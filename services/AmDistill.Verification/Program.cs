// The verification worker: scores every generated sample with its category's verifier (math equivalence, multiple
// choice; code, IFEval, judge and reward model to come) and publishes each verdict, once, to the scoring stream.
using AmDistill.Verification;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddVerificationServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
