using AmDistill.Messaging;

namespace AmDistill.Messaging.Tests;

public sealed class SecretRedactorTests
{
    [Theory]
    [InlineData("401: Incorrect API key provided: sk-proj-AbCdEf0123456789xyz. You can find your key at …", "sk-proj-AbCdEf0123456789xyz")]
    [InlineData("request failed; Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9.payload.sig")]
    [InlineData("headers: {\"api-key\": \"3f9c2b7e4d1a46e8b0c5\"}", "3f9c2b7e4d1a46e8b0c5")]
    [InlineData("GET https://x.openai.azure.com/openai/deployments/d/chat?api-version=2024-10-21&api_key=abcdef123456 failed", "abcdef123456")]
    [InlineData("x-api-key=0123456789abcdef rejected", "0123456789abcdef")]
    public void Keys_in_error_text_are_removed(string text, string secret)
    {
        var redacted = SecretRedactor.Redact(text);
        Assert.DoesNotContain(secret, redacted);
        Assert.Contains(SecretRedactor.Mask, redacted);
    }

    [Theory]
    [InlineData("HttpRequestException: Connection refused (localhost:5103)")]
    [InlineData("TimeoutException: the teacher did not answer within 00:10:00")]
    [InlineData("429 Too Many Requests: rate limit reached for requests")]
    public void Ordinary_errors_are_left_as_they_are(string text) => Assert.Equal(text, SecretRedactor.Redact(text));
}
