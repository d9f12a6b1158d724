// The scoring worker: records every verdict in its query's score record (idempotently), from which pass rates, CV,
// difficulty levels and the selection policies are computed.
using AmDistill.Scoring;
using AmDistill.Scoring.Scores;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddRedisMessaging();
builder.AddScoringServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapScoreEndpoints();

app.Run();
