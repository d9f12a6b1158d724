using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// The caller as Azure Container Apps' authentication signed it in: the platform validates the Entra token and passes its
/// claims in <c>X-MS-CLIENT-PRINCIPAL</c> (base64 JSON), a header it never lets an external request set. Without it the
/// caller is anonymous; a header that does not decode fails authentication.
/// </summary>
public sealed class ContainerAppsPrincipalHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ContainerApps";
    public const string Header = "X-MS-CLIENT-PRINCIPAL";

    // Entra writes app roles as "roles" claims while the header names another role claim type; both count as roles.
    private const string EntraRoles = "roles";
    private const string EntraObjectId = "oid";
    public const string ObjectIdClaim = "http://schemas.microsoft.com/identity/claims/objectidentifier";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(Header, out var values) || values.Count == 0 || string.IsNullOrEmpty(values[0]))
            return Task.FromResult(AuthenticateResult.NoResult());
        var principal = Parse(values[0]!);
        return Task.FromResult(principal is null
            ? AuthenticateResult.Fail($"{Header} does not hold a client principal")
            : AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }

    /// <summary>The claims of a client-principal header value, with roles and the object id under their usual types; null when it does not decode.</summary>
    public static ClaimsPrincipal? Parse(string header)
    {
        ClientPrincipal? decoded;
        try
        {
            decoded = JsonSerializer.Deserialize(Convert.FromBase64String(header), ClientPrincipalJson.Default.ClientPrincipal);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
        if (decoded?.Claims is not { Count: > 0 } claims || string.IsNullOrEmpty(decoded.AuthenticationType)) return null;

        var identity = new ClaimsIdentity(decoded.AuthenticationType, decoded.NameType ?? ClaimTypes.Name, ClaimTypes.Role);
        foreach (var claim in claims)
        {
            if (string.IsNullOrEmpty(claim.Type) || claim.Value is null) continue;
            var type = claim.Type == EntraRoles || claim.Type == decoded.RoleType ? ClaimTypes.Role
                : claim.Type == EntraObjectId ? ObjectIdClaim
                : claim.Type;
            identity.AddClaim(new Claim(type, claim.Value));
        }
        return new ClaimsPrincipal(identity);
    }

    internal sealed record ClientPrincipal(
        [property: JsonPropertyName("auth_typ")] string? AuthenticationType,
        [property: JsonPropertyName("name_typ")] string? NameType,
        [property: JsonPropertyName("role_typ")] string? RoleType,
        [property: JsonPropertyName("claims")] List<ClientClaim>? Claims);

    internal sealed record ClientClaim([property: JsonPropertyName("typ")] string? Type, [property: JsonPropertyName("val")] string? Value);
}

[JsonSerializable(typeof(ContainerAppsPrincipalHandler.ClientPrincipal))]
internal sealed partial class ClientPrincipalJson : JsonSerializerContext;
