using System.Text.Json;

namespace AmDistill.Trainer.Launching;

/// <summary>One JSON line of the trainer's stdout protocol: <c>start</c>, <c>step</c>, <c>checkpoint</c>, <c>done</c>, <c>error</c>.</summary>
public sealed class TrainerEvent
{
    private readonly JsonElement _root;

    private TrainerEvent(string kind, JsonElement root)
    {
        Kind = kind;
        _root = root;
    }

    public string Kind { get; }

    /// <summary>The event, or null for a line that is not one (library log output on stdout is tolerated).</summary>
    public static TrainerEvent? Parse(string line)
    {
        if (line.Length == 0 || line[0] != '{') return null;
        try
        {
            using var document = JsonDocument.Parse(line);
            return document.RootElement.TryGetProperty("event", out var kind) && kind.ValueKind == JsonValueKind.String
                ? new TrainerEvent(kind.GetString()!, document.RootElement.Clone())
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public double? Number(string name) =>
        _root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetDouble() : null;

    public string? Text(string name) =>
        _root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
