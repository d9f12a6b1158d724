// The verification worker: scores every generated sample with its category's verifier (math equivalence, multiple
// choice, code in the sandbox, IFEval; the judge or reward model where no rule decides) and publishes each verdict,
// once, to the scoring stream.
using AmDistill.Verification;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddVerificationServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
