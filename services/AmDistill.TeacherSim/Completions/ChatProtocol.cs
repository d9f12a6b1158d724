using System.Text.Json;
using System.Text.Json.Serialization;

namespace AmDistill.TeacherSim.Completions;

// The subset of the OpenAI Chat Completions wire format that teachers and clients use.

public sealed record ChatRequest(
    string? Model,
    List<ChatRequestMessage>? Messages,
    double? Temperature,
    double? TopP,
    int? MaxTokens,
    int? MaxCompletionTokens,
    int? N,
    bool? Stream,
    StreamOptions? StreamOptions,
    long? Seed);

public sealed record StreamOptions(bool? IncludeUsage);

/// <summary><c>content</c> is a string or an array of parts (<c>{"type":"text","text":…}</c>).</summary>
public sealed record ChatRequestMessage(string Role, JsonElement Content)
{
    public string Text => Content.ValueKind switch
    {
        JsonValueKind.String => Content.GetString() ?? "",
        JsonValueKind.Array => string.Concat(Content.EnumerateArray()
            .Where(p => p.TryGetProperty("text", out _))
            .Select(p => p.GetProperty("text").GetString())),
        _ => "",
    };
}

public sealed record ChatCompletion(string Id, string Object, long Created, string Model, List<ChatChoice> Choices, Usage Usage, string? SystemFingerprint = null);

public sealed record ChatChoice(int Index, ChatMessage Message, string FinishReason);

public sealed record ChatMessage(string Role, string? Content, string? ReasoningContent);

public sealed record ChatCompletionChunk(string Id, string Object, long Created, string Model, List<ChunkChoice> Choices, Usage? Usage = null);

public sealed record ChunkChoice(int Index, ChunkDelta Delta, [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

public sealed record ChunkDelta(string? Role = null, string? Content = null, string? ReasoningContent = null);

public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens, CompletionTokensDetails CompletionTokensDetails);

public sealed record CompletionTokensDetails(int ReasoningTokens);

public sealed record ModelList(string Object, List<ModelCard> Data);

public sealed record ModelCard(string Id, string Object, long Created, string OwnedBy);

public sealed record ErrorResponse(ErrorBody Error);

public sealed record ErrorBody(string Message, string Type, string? Code);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ChatRequest))]
[JsonSerializable(typeof(ChatCompletion))]
[JsonSerializable(typeof(ChatCompletionChunk))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorResponse))]
public sealed partial class ChatJsonContext : JsonSerializerContext;
