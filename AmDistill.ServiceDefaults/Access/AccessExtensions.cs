using System.Security.Claims;
using Azure.Core;
using Azure.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class AccessExtensions
{
    /// <summary>
    /// Authentication and the <see cref="AccessPolicies"/> by <see cref="AccessOptions.Mode"/>: <c>Open</c> grants every
    /// policy to every caller; <c>ContainerApps</c> signs callers in from the platform's header, grants the policies by
    /// app role or to the listed service identities, and turns away anonymous callers of any endpoint that does not
    /// allow them (the health probes do).
    /// </summary>
    public static TBuilder AddDefaultAccess<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        builder.Services.AddOptions<AccessOptions>().BindConfiguration(AccessOptions.Section)
            .Validate(o => o.Mode == AccessMode.Open || o.ServiceCallers.All(c => Guid.TryParse(c, out _)),
                "Access:ServiceCallers must be object ids (GUIDs) of managed identities")
            .ValidateOnStart();

        builder.Services.AddAuthentication(ContainerAppsPrincipalHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ContainerAppsPrincipalHandler>(ContainerAppsPrincipalHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddOptions<AuthorizationOptions>().Configure<IOptions<AccessOptions>>((authorization, access) =>
        {
            var options = access.Value;
            if (options.Mode == AccessMode.Open)
            {
                // A developer's machine: loopback only, the caller is the developer.
                authorization.AddPolicy(AccessPolicies.Reader, policy => policy.RequireAssertion(_ => true));
                authorization.AddPolicy(AccessPolicies.Operator, policy => policy.RequireAssertion(_ => true));
                return;
            }
            var services = options.ServiceCallers.ToHashSet(StringComparer.OrdinalIgnoreCase);
            authorization.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            authorization.AddPolicy(AccessPolicies.Reader, policy => policy.RequireAuthenticatedUser().RequireAssertion(context =>
                IsService(context.User, services) || context.User.IsInRole(AccessPolicies.ReaderRole) || context.User.IsInRole(AccessPolicies.OperatorRole)));
            authorization.AddPolicy(AccessPolicies.Operator, policy => policy.RequireAuthenticatedUser().RequireAssertion(context =>
                IsService(context.User, services) || context.User.IsInRole(AccessPolicies.OperatorRole)));
        });
        return builder;
    }

    private static bool IsService(ClaimsPrincipal user, HashSet<string> services) =>
        user.FindFirst(ContainerAppsPrincipalHandler.ObjectIdClaim)?.Value is { } id && services.Contains(id);

    /// <summary>
    /// In <c>ContainerApps</c> mode, this client's requests carry a token of the service's managed identity for
    /// <see cref="AccessOptions.TokenAudience"/>; in <c>Open</c> mode nothing is added.
    /// </summary>
    public static IHttpClientBuilder AddServiceToken(this IHttpClientBuilder http)
    {
        http.Services.AddOptions<AccessOptions>().Validate(o => o.Mode == AccessMode.Open || !string.IsNullOrWhiteSpace(o.TokenAudience),
            "Access:TokenAudience is needed to call another service in ContainerApps mode");
        http.Services.TryAddSingleton<TokenCredential>(provider =>
        {
            var options = provider.GetRequiredService<IOptions<AccessOptions>>().Value;
            var clientId = options.ManagedIdentityClientId ?? Environment.GetEnvironmentVariable("AZURE_CLIENT_ID");
            return string.IsNullOrEmpty(clientId)
                ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
        });
        http.AddHttpMessageHandler(provider =>
        {
            var options = provider.GetRequiredService<IOptions<AccessOptions>>().Value;
            return options.Mode == AccessMode.Open
                ? new PassThroughHandler()
                : new ManagedIdentityTokenHandler(provider.GetRequiredService<TokenCredential>(), options.TokenAudience!);
        });
        return http;
    }

    private sealed class PassThroughHandler : DelegatingHandler;
}
