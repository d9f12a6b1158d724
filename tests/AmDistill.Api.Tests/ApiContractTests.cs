using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Contracts;
using AmDistill.Messaging;
using Microsoft.AspNetCore.Mvc.Testing;
using AmDistill.LocalRedis;

namespace AmDistill.Api.Tests;

/// <summary>
/// The Api over HTTP (the real app in process, a real redis-server): its OpenAPI document is the one checked in at
/// <c>docs/api/openapi.json</c>, and a client reads every answer with the contract's types.
/// </summary>
public sealed class ApiContractTests : IAsyncLifetime
{
    private LocalRedisServer _redis = null!;
    private WebApplicationFactory<Program> _factory = null!;
    private HttpClient _api = null!;
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-api-http-").FullName;

    public async Task InitializeAsync()
    {
        _redis = await LocalRedisServer.StartAsync();
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:redis", _redis.ConnectionString)
            .UseSetting("DatasetStore:Root", _root)
            .UseSetting("DemoRun:Enabled", "false"));
        _api = _factory.CreateClient();
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _factory.DisposeAsync();
        await _redis.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>A change to the contract is a change to this file, seen in review. To accept one:
    /// <c>AMDISTILL_UPDATE_OPENAPI=1 dotnet test tests/AmDistill.Api.Tests</c>.</summary>
    [Fact]
    public async Task The_served_openapi_document_is_the_checked_in_one()
    {
        var served = JsonNode.Parse(await _api.GetStringAsync("/openapi/v1.json"))!;
        served["servers"] = null; // the test server's address
        var text = served.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        var path = Path.Combine(RepoFiles.Root, "docs", "api", "openapi.json");
        if (Environment.GetEnvironmentVariable("AMDISTILL_UPDATE_OPENAPI") == "1") await File.WriteAllTextAsync(path, text);
        Assert.Equal(await File.ReadAllTextAsync(path), text);

        // Every field of the status record is in its schema, under the name the wire uses.
        var schema = served["components"]!["schemas"]!["RunStatus"]!["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal);
        var record = typeof(RunStatus).GetConstructors().Single().GetParameters().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name!)).Order(StringComparer.Ordinal);
        Assert.Equal(record, schema);
    }

    [Fact]
    public async Task A_client_creates_fills_and_reads_a_run_with_the_contracts_types()
    {
        using var bad = await _api.PostAsync("/api/runs", Json("""{"run": "Bad Id", "teachers": []}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains((await bad.Content.ReadFromJsonAsync<ConfigurationErrors>(ApiJson.Options))!.Errors, e => e.StartsWith("run: ", StringComparison.Ordinal));

        using var created = await _api.PostAsync("/api/runs", Json("""
            {"run": "typed", "teachers": [{"name": "weak", "passes": 2}, {"name": "strong", "passes": 3}], "ingestion": {"decontaminateAgainst": []}}
            """));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(new RunState("typed", RunStates.Created), await created.Content.ReadFromJsonAsync<RunState>(ApiJson.Options));

        var lines = Enumerable.Range(1, 4).Select(i => JsonSerializer.Serialize(new
        {
            id = $"q{i}", category = "math", reference_answer = $"{i}",
            question = $"Problem {i}: how many ordered pairs of positive integers (a, b) satisfy a + b = {i + 10} with a even?",
        })).Append("{ not json");
        using var upload = await _api.PutAsync("/api/runs/typed/queries", new StringContent(string.Join('\n', lines), Encoding.UTF8, "application/jsonl"));
        var ingest = (await upload.Content.ReadFromJsonAsync<QueryUpload>(ApiJson.Options))!;
        Assert.Equal(("typed", 5L, 4L, 1L), (ingest.Run, ingest.Read, ingest.Kept, ingest.BadLines));
        Assert.StartsWith("line 5: ", Assert.Single(ingest.Errors), StringComparison.Ordinal);

        var status = (await _api.GetFromJsonAsync<RunStatus>("/api/runs/typed", ApiJson.Options))!;
        Assert.Equal((RunStates.Created, 4L, 20L, 0L), (status.State, status.Queries, status.ExpectedSamples, status.Verified));
        Assert.Equal((ingest.Read, ingest.Kept, ingest.BadLines), (status.Ingest!.Queries!.Read, status.Ingest.Queries.Kept, status.Ingest.Queries.BadLines));
        Assert.Null(status.EtaSeconds);
        Assert.Empty(status.Models);

        // Refusals are problem details: a message, never a stack trace.
        using var start = await _api.PostAsync("/api/runs/typed/start", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, start.StatusCode); // no generation service registered its teachers
        var problem = (await start.Content.ReadFromJsonAsync<JsonElement>())!;
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        Assert.DoesNotContain("   at ", problem.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(new RunState("typed", RunStates.Cancelled), await (await _api.PostAsync("/api/runs/typed/cancel", null)).Content.ReadFromJsonAsync<RunState>(ApiJson.Options));
        Assert.Equal(HttpStatusCode.NotFound, (await _api.GetAsync("/api/runs/nothing-here")).StatusCode);
        Assert.Equal(["typed"], (await _api.GetFromJsonAsync<string[]>("/api/runs"))!);
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");
}
