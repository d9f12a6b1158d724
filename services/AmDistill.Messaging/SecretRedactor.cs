using System.Text.RegularExpressions;

namespace AmDistill.Messaging;

/// <summary>
/// Removes credentials from text that is about to be stored or logged (a failure reason, an error message): an
/// endpoint that echoes the request's key in its error would otherwise put it in Redis, the logs and the dashboard.
/// </summary>
public static partial class SecretRedactor
{
    public const string Mask = "[redacted]";

    public static string Redact(string text) => text.Length == 0 ? text : Secret().Replace(text, m =>
        m.Groups["keep"].Success ? m.Groups["keep"].Value + Mask : Mask);

    /// <summary>Authorization headers and bearer tokens, api-key / x-api-key / key= values, OpenAI-style sk-… keys,
    /// and long unbroken tokens after "key" or "token".</summary>
    [GeneratedRegex(@"(?<keep>(?:authorization|api[-_]?key|x-api-key|access[-_]?token|secret|password|token)[""']?\s*[:=]\s*(?:bearer\s+)?[""']?)[^\s""',;&]+|bearer\s+[A-Za-z0-9._~+/=-]{8,}|\bsk-[A-Za-z0-9_-]{8,}|(?<keep>[?&](?:api[-_]?key|key|code|sig|token)=)[^&\s""']+", RegexOptions.IgnoreCase)]
    private static partial Regex Secret();
}
