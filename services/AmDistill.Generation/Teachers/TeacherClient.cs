using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.AI.OpenAI;
using Microsoft.Extensions.Options;
using OpenAI;
using OpenAI.Chat;

namespace AmDistill.Generation.Teachers;

public sealed record TeacherChoice(string? Content, string? Reasoning, string FinishReason);

/// <param name="UnknownQuery">Why the teacher could not know the query, where it says so (the teacher simulator's
/// <c>system_fingerprint</c> <c>amdistill-sim unknown-query=REASON</c>); null for every real teacher.</param>
public sealed record TeacherAnswer(IReadOnlyList<TeacherChoice> Choices, int PromptTokens, int CompletionTokens, TimeSpan Latency, string? UnknownQuery = null);

/// <summary>A teacher refused or failed a request; <see cref="Transient"/> tells whether asking again may help.</summary>
public sealed class TeacherRequestException(string teacher, int status, string message, bool transient)
    : Exception($"{teacher} answered {status}: {message}")
{
    public int Status { get; } = status;
    public bool Transient { get; } = transient;
}

/// <summary>
/// Calls teachers with the official clients: <see cref="AzureOpenAIClient"/> for Azure OpenAI, <see cref="OpenAIClient"/>
/// with a custom endpoint for every OpenAI-compatible server. The wire format is written and read here (the client's
/// protocol method), because teachers return fields the typed model lacks (<c>reasoning_content</c>).
/// The HTTP pipeline is the named client <c>teacher:{name}</c>: resilience (retries with jitter, honouring Retry-After)
/// and the model-wide 429 pause.
/// </summary>
public sealed class TeacherClient
{
    private readonly Dictionary<string, (TeacherOptions Options, ChatClient Chat)> _teachers;
    private readonly Dictionary<string, string> _settingsHashes;
    private readonly TeacherLimitsRegistry _limits;
    private readonly GenerationMetrics _metrics;

    private readonly ServedTeachers _served;

    public TeacherClient(IOptions<GenerationOptions> options, IHttpClientFactory httpClients, TeacherLimitsRegistry limits, GenerationMetrics metrics,
        ServedTeachers served)
    {
        _served = served;
        _limits = limits;
        _metrics = metrics;
        _teachers = options.Value.Teachers.Values.ToDictionary(t => t.Name, t => (t, CreateChatClient(t, httpClients.CreateClient(HttpClientName(t.Name)))), StringComparer.Ordinal);
        _settingsHashes = options.Value.Teachers.Values.ToDictionary(t => t.Name, Samples.SampleId.SettingsHash, StringComparer.Ordinal);
    }

    /// <summary>The teacher's own <see cref="Samples.SampleId.SettingsHash"/>: computed once for a configured teacher.</summary>
    public string SettingsHash(TeacherOptions teacher) =>
        _settingsHashes.TryGetValue(teacher.Name, out var hash) ? hash : Samples.SampleId.SettingsHash(teacher);

    public static string HttpClientName(string teacher) => $"teacher:{teacher}";

    /// <summary>A configured teacher, or one the trainer service serves; null when it is neither.</summary>
    public async ValueTask<TeacherOptions?> FindAsync(string teacher) =>
        _teachers.TryGetValue(teacher, out var t) ? t.Options : (await _served.FindAsync(teacher))?.Options;

    /// <summary>A served teacher away for now (its trainer service restarting and loading it again): wait for it, within
    /// <paramref name="budget"/>; null when it is not asked to be served at all.</summary>
    public async Task<TeacherOptions?> WaitForServedAsync(string teacher, TimeSpan budget, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (await _served.IsRequestedAsync(teacher))
        {
            if (await FindAsync(teacher) is { } found) return found;
            if (Stopwatch.GetElapsedTime(started) > budget) throw new TeacherRequestException(teacher, 0, "the trainer service has not served it again yet", transient: true);
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
        return null;
    }

    private async ValueTask<(TeacherOptions Options, ChatClient Chat)> ResolveAsync(string teacher) =>
        _teachers.TryGetValue(teacher, out var t) ? t
        : await _served.FindAsync(teacher) is { } served ? (served.Options, served.Chat)
        : throw new TeacherRequestException(teacher, 404, "the teacher is no longer served", transient: true);

    private static ChatClient CreateChatClient(TeacherOptions teacher, HttpClient http) =>
        CreateClient(teacher, http, teacher.RequestTimeout * 3).GetChatClient(teacher.Model);

    /// <summary>
    /// The official client for a teacher on <paramref name="http"/>: <see cref="AzureOpenAIClient"/> for Azure OpenAI (its
    /// chat, files and batch clients route to Azure's paths), <see cref="OpenAIClient"/> with the endpoint otherwise.
    /// </summary>
    internal static OpenAIClient CreateClient(TeacherOptions teacher, HttpClient http, TimeSpan networkTimeout)
    {
        var transport = new HttpClientPipelineTransport(http);
        // Retries belong to the resilience handler of the HttpClient, not to a second layer in the client.
        var noRetry = new ClientRetryPolicy(maxRetries: 0);
        var key = new ApiKeyCredential(string.IsNullOrEmpty(teacher.ApiKey) ? "none" : teacher.ApiKey);
        return teacher.Provider == TeacherProvider.Azure
            ? new AzureOpenAIClient(new Uri(teacher.Endpoint), key, new AzureOpenAIClientOptions { Transport = transport, RetryPolicy = noRetry, NetworkTimeout = networkTimeout })
            : new OpenAIClient(key, new OpenAIClientOptions { Endpoint = new Uri(teacher.Endpoint), Transport = transport, RetryPolicy = noRetry, NetworkTimeout = networkTimeout });
    }

    /// <summary>Asks <paramref name="teacher"/> for <paramref name="n"/> answers to <paramref name="prompt"/>, within its
    /// limits, with its own sampling or a run's (<paramref name="sampling"/>: the teacher's options with overrides).</summary>
    public async Task<TeacherAnswer> CompleteAsync(string teacher, string prompt, int n, long seed, CancellationToken cancellationToken,
        TeacherOptions? sampling = null)
    {
        var (registered, chat) = await ResolveAsync(teacher).ConfigureAwait(false);
        var options = sampling ?? registered;
        var request = Request(options, prompt, n, seed);
        var promptTokens = (prompt.Length + options.EffectiveSystemPrompt.Length) / 4;

        using var slot = await _limits.For(registered).AcquireAsync(promptTokens + options.MaxTokens * n, cancellationToken).ConfigureAwait(false);
        _metrics.InFlight(teacher, 1);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var body = BinaryContent.Create(BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(request, WireJsonContext.Default.WireRequest)));
            var result = await chat.CompleteChatAsync(body, new RequestOptions { CancellationToken = cancellationToken, ErrorOptions = ClientErrorBehaviors.NoThrow }).ConfigureAwait(false);
            var response = result.GetRawResponse();
            var latency = Stopwatch.GetElapsedTime(started);
            _metrics.Latency(teacher, latency);
            if (response.Status is < 200 or > 299)
            {
                var transient = response.Status is 408 or 409 or 429 or >= 500;
                _metrics.Error(teacher, response.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                throw new TeacherRequestException(teacher, response.Status, ErrorMessage(response.Content), transient);
            }
            using var document = JsonDocument.Parse(response.Content);
            return Parse(document.RootElement, latency);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException
                                      || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            _metrics.Error(teacher, e.GetType().Name);
            throw new TeacherRequestException(teacher, 0, e.Message, transient: true);
        }
        finally
        {
            _metrics.InFlight(teacher, -1);
        }
    }

    /// <summary>The chat completions request body for a prompt under a teacher's (or a run's) sampling.</summary>
    internal static WireRequest Request(TeacherOptions options, string prompt, int n, long seed)
    {
        var messages = new List<WireMessage>(2);
        if (options.EffectiveSystemPrompt.Length > 0) messages.Add(new WireMessage("system", options.EffectiveSystemPrompt));
        messages.Add(new WireMessage("user", prompt));
        return new WireRequest(options.Model, messages, options.Temperature, options.TopP, options.MaxTokens, n > 1 ? n : null, seed);
    }

    /// <summary>A chat completion response body (from a request or a batch output line).</summary>
    internal static TeacherAnswer Parse(JsonElement root, TimeSpan latency)
    {
        var choices = new SortedList<int, TeacherChoice>();
        foreach (var choice in root.GetProperty("choices").EnumerateArray())
        {
            var message = choice.GetProperty("message");
            choices[choice.TryGetProperty("index", out var index) ? index.GetInt32() : choices.Count] = new TeacherChoice(
                String(message, "content"),
                // vLLM's reasoning parsers and DeepSeek use reasoning_content; some servers say reasoning.
                String(message, "reasoning_content") ?? String(message, "reasoning"),
                String(choice, "finish_reason") ?? "unknown");
        }
        var usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object ? u : default;
        int Tokens(string name) => usage.ValueKind == JsonValueKind.Object && usage.TryGetProperty(name, out var t) && t.ValueKind == JsonValueKind.Number ? t.GetInt32() : 0;
        const string unknownMark = "amdistill-sim unknown-query=";
        var fingerprint = String(root, "system_fingerprint");
        var unknown = fingerprint?.StartsWith(unknownMark, StringComparison.Ordinal) == true ? fingerprint[unknownMark.Length..] : null;
        return new TeacherAnswer([.. choices.Values], Tokens("prompt_tokens"), Tokens("completion_tokens"), latency, unknown);
    }

    /// <summary>The message of an OpenAI error body (<c>{"error": {"message": …}}</c>), if it is one.</summary>
    internal static string? ErrorMessage(JsonElement body) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null
            ? error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) ? m.GetString() ?? "" : error.ToString()
            : null;

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string ErrorMessage(BinaryData content)
    {
        try
        {
            using var document = JsonDocument.Parse(content);
            if (ErrorMessage(document.RootElement) is { } message) return message;
        }
        catch (JsonException)
        {
        }
        var text = content.ToString();
        return text.Length > 300 ? text[..300] : text;
    }
}

internal sealed record WireRequest(string Model, List<WireMessage> Messages, double Temperature, double TopP, int MaxTokens, int? N, long Seed);

internal sealed record WireMessage(string Role, string Content);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WireRequest))]
internal sealed partial class WireJsonContext : JsonSerializerContext;
