using System.Net.Http.Headers;
using Azure.Core;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Calls to another service carry an Entra token of this service's managed identity, for the audience the callee's
/// authentication accepts; the callee lets it in when that identity is one of its <see cref="AccessOptions.ServiceCallers"/>.
/// The credential caches tokens until shortly before they expire.
/// </summary>
public sealed class ManagedIdentityTokenHandler(TokenCredential credential, string audience) : DelegatingHandler
{
    private readonly TokenRequestContext _request = new([$"{audience.TrimEnd('/')}/.default"]);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var token = await credential.GetTokenAsync(_request, cancellationToken);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token.Token);
        return await base.SendAsync(request, cancellationToken);
    }
}
