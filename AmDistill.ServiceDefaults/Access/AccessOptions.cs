namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Who may call a service (section <c>Access</c>). Locally nobody signs in: the services listen on loopback only and
/// every caller is the developer. In Azure Container Apps the platform's authentication (Entra ID) signs callers in
/// and hands the service their claims; the service then checks the caller's app roles per endpoint.
/// </summary>
public sealed class AccessOptions
{
    public const string Section = "Access";

    /// <summary><c>Open</c> (no sign-in: a developer's machine) or <c>ContainerApps</c> (callers signed in by the platform).</summary>
    public AccessMode Mode { get; set; } = AccessMode.Open;

    /// <summary>Object ids of the managed identities of other services allowed to call this one (as reader and operator).</summary>
    public List<string> ServiceCallers { get; set; } = [];

    /// <summary>The audience (Entra application id URI or client id) of the tokens this service requests to call another one.</summary>
    public string? TokenAudience { get; set; }

    /// <summary>Client id of the user-assigned managed identity that requests those tokens (Container Apps sets <c>AZURE_CLIENT_ID</c>).</summary>
    public string? ManagedIdentityClientId { get; set; }
}

public enum AccessMode
{
    Open,
    ContainerApps,
}

/// <summary>The two policies endpoints ask for, and the Entra app roles that grant them.</summary>
public static class AccessPolicies
{
    /// <summary>Read state, progress, exports and reports: app role <see cref="ReaderRole"/> or <see cref="OperatorRole"/>.</summary>
    public const string Reader = "reader";

    /// <summary>Create, upload, start, pause, cancel, delete, submit: app role <see cref="OperatorRole"/>.</summary>
    public const string Operator = "operator";

    public const string ReaderRole = "AmDistill.Reader";
    public const string OperatorRole = "AmDistill.Operator";
}
