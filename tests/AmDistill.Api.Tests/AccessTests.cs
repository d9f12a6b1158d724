using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AmDistill.Api.Runs;
using AmDistill.LocalRedis;
using Azure.Core;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AmDistill.Api.Tests;

/// <summary>
/// Who may do what on the Api where callers sign in (Azure Container Apps' authentication hands the caller's claims to
/// the app in <c>X-MS-CLIENT-PRINCIPAL</c>): readers read, operators change runs, the listed service identities do both,
/// anonymous callers and forged headers get nothing but the health probes. The real Api in process, a real redis-server.
/// </summary>
public sealed class AccessTests : IAsyncLifetime
{
    private const string ServiceIdentity = "6f1c1d3e-7a2b-4c5d-9e8f-0a1b2c3d4e5f";
    private LocalRedisServer _redis = null!;
    private WebApplicationFactory<Program> _factory = null!;
    private readonly string _root = Directory.CreateTempSubdirectory("amdistill-api-access-").FullName;
    private readonly RecordingCredential _credential = new();
    private readonly List<(Uri? Uri, AuthenticationHeaderValue? Authorization)> _trainerCalls = [];

    public async Task InitializeAsync()
    {
        _redis = await LocalRedisServer.StartAsync();
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:redis", _redis.ConnectionString)
            .UseSetting("DatasetStore:Root", _root)
            .UseSetting("DemoRun:Enabled", "false")
            .UseSetting("Access:Mode", "ContainerApps")
            .UseSetting("Access:ServiceCallers:0", ServiceIdentity)
            .UseSetting("Access:TokenAudience", "api://amdistill")
            .UseSetting("services:trainer:http:0", "http://trainer.internal")
            .ConfigureServices(services =>
            {
                services.Replace(ServiceDescriptor.Singleton<TokenCredential>(_credential));
                // The trainer as the network sees it: what arrives, with which Authorization header.
                services.AddHttpClient(RunOutputs.TrainerClient).ConfigurePrimaryHttpMessageHandler(() => new TrainerEndpoint(_trainerCalls));
            }));
        await _factory.Services.GetRequiredService<IHost>().StartAsync(); // start-time validation passes with this configuration
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        await _redis.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>A client whose requests carry the header the platform writes for a signed-in caller.</summary>
    private HttpClient Caller(params (string Type, string Value)[] claims)
    {
        var client = _factory.CreateClient();
        if (claims.Length > 0) client.DefaultRequestHeaders.Add("X-MS-CLIENT-PRINCIPAL", Principal(claims));
        return client;
    }

    private static string Principal((string Type, string Value)[] claims) => Convert.ToBase64String(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
    {
        auth_typ = "aad",
        name_typ = "name",
        role_typ = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
        claims = claims.Select(c => new { typ = c.Type, val = c.Value }),
    })));

    private static StringContent Run(string id) => new($$"""{"run": "{{id}}", "teachers": [{"name": "weak", "passes": 1}]}""", Encoding.UTF8, "application/json");

    [Fact]
    public async Task Anonymous_callers_reach_only_the_health_probes()
    {
        using var anonymous = Caller();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/alive")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health")).StatusCode);
        foreach (var path in new[] { "/api/runs", "/api/queues", "/api/runs/demo", "/api/runs/demo/report", "/openapi/v1.json" })
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(path)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/runs", Run("anonymous"))).StatusCode);
    }

    [Theory]
    [InlineData("not base64 at all")]
    [InlineData("bm90IGpzb24=")]                 // "not json"
    [InlineData("eyJjbGFpbXMiOltdfQ==")]         // {"claims":[]}: no identity provider, no claims
    public async Task A_header_that_is_not_a_client_principal_signs_nobody_in(string header)
    {
        using var forged = _factory.CreateClient();
        forged.DefaultRequestHeaders.TryAddWithoutValidation("X-MS-CLIENT-PRINCIPAL", header);
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/api/runs")).StatusCode);
    }

    [Fact]
    public async Task A_reader_reads_and_changes_nothing()
    {
        using var reader = Caller(("name", "reader@example.com"), ("roles", "AmDistill.Reader"));
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/runs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/api/queues")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.PostAsync("/api/runs/validate", Run("checked"))).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsync("/api/runs", Run("by-reader"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PutAsync("/api/runs/by-reader/queries", new StringContent("{}", Encoding.UTF8, "application/jsonl"))).StatusCode);
        foreach (var action in new[] { "start", "pause", "resume", "cancel", "redrive" })
            Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsync($"/api/runs/by-reader/{action}", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.DeleteAsync("/api/runs/by-reader")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("/api/runs/by-reader")).StatusCode); // nothing was created
    }

    [Fact]
    public async Task A_signed_in_user_without_a_role_gets_nothing()
    {
        using var stranger = Caller(("name", "someone@example.com"), ("oid", Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.Forbidden, (await stranger.GetAsync("/api/runs")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await stranger.PostAsync("/api/runs", Run("by-stranger"))).StatusCode);
    }

    [Fact]
    public async Task An_operator_and_a_listed_service_identity_run_the_pipeline()
    {
        using var operatorUser = Caller(("name", "operator@example.com"), ("roles", "AmDistill.Operator"));
        Assert.Equal(HttpStatusCode.Created, (await operatorUser.PostAsync("/api/runs", Run("by-operator"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await operatorUser.GetAsync("/api/runs/by-operator")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await operatorUser.PostAsync("/api/runs/by-operator/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await operatorUser.DeleteAsync("/api/runs/by-operator")).StatusCode);

        using var service = Caller(("oid", ServiceIdentity));
        Assert.Equal(HttpStatusCode.Created, (await service.PostAsync("/api/runs", Run("by-service"))).StatusCode);
        using var otherIdentity = Caller(("oid", Guid.NewGuid().ToString()));
        Assert.Equal(HttpStatusCode.Forbidden, (await otherIdentity.GetAsync("/api/runs/by-service")).StatusCode);
    }

    [Fact]
    public async Task Calls_to_the_trainer_carry_a_token_of_the_managed_identity_for_the_configured_audience()
    {
        var client = _factory.Services.GetRequiredService<IHttpClientFactory>().CreateClient(RunOutputs.TrainerClient);
        using var response = await client.GetAsync("/api/training");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (uri, authorization) = Assert.Single(_trainerCalls);
        Assert.Equal("http://trainer.internal/api/training", uri?.ToString());
        Assert.Equal(("Bearer", RecordingCredential.Token), (authorization?.Scheme, authorization?.Parameter));
        Assert.Equal(["api://amdistill/.default"], _credential.Scopes.Distinct());
    }

    private sealed class TrainerEndpoint(List<(Uri?, AuthenticationHeaderValue?)> calls) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (calls) calls.Add((request.RequestUri, request.Headers.Authorization));
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("[]") });
        }
    }

    /// <summary>Stands in for the managed identity endpoint, which only Azure serves.</summary>
    private sealed class RecordingCredential : TokenCredential
    {
        public const string Token = "token-of-the-api-identity";
        public List<string> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            lock (Scopes) Scopes.AddRange(requestContext.Scopes);
            return new AccessToken(Token, DateTimeOffset.UtcNow.AddHours(1));
        }

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            ValueTask.FromResult(GetToken(requestContext, cancellationToken));
    }
}

/// <summary>The Api refuses to start in ContainerApps mode without an audience for its calls to the trainer, or with a service caller that is no object id.</summary>
public sealed class AccessConfigurationTests
{
    [Theory]
    [InlineData(null, "6f1c1d3e-7a2b-4c5d-9e8f-0a1b2c3d4e5f", "Access:TokenAudience")]
    [InlineData("api://amdistill", "the-api", "Access:ServiceCallers")]
    public void A_wrong_access_configuration_stops_the_start(string? audience, string caller, string named)
    {
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web => web
            .UseSetting("ConnectionStrings:redis", "localhost:1,abortConnect=false")
            .UseSetting("DemoRun:Enabled", "false")
            .UseSetting("Access:Mode", "ContainerApps")
            .UseSetting("Access:ServiceCallers:0", caller)
            .UseSetting("Access:TokenAudience", audience));
        var error = Assert.ThrowsAny<OptionsValidationException>(() => factory.Services);
        Assert.Contains(named, error.Message);
    }
}
