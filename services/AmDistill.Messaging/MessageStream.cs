using System.Text.Json.Serialization.Metadata;

namespace AmDistill.Messaging;

/// <summary>
/// A Redis stream bound to the one message contract it carries.
/// </summary>
/// <param name="Name">The stream key, e.g. <c>amdistill:generation</c>.</param>
/// <param name="TypeInfo">Source-generated JSON metadata of the contract (no reflection on the hot path).</param>
public sealed record MessageStream<T>(string Name, JsonTypeInfo<T> TypeInfo)
{
    /// <summary>Entries that failed too often land here, with their error and original payload.</summary>
    public string DeadLetterName => Name + ":dead";

    /// <summary>Hash of the last handler error per pending entry id, read when the entry is dead-lettered.</summary>
    internal string ErrorsName => Name + ":errors";

    public override string ToString() => Name;
}

/// <summary>Field names of a stream entry. Short, because every entry carries them.</summary>
internal static class EntryFields
{
    public const string Payload = "d";
    public const string Key = "k";
    public const string TraceParent = "tp";
    public const string TraceState = "ts";

    // Added to dead-letter entries.
    public const string Error = "error";
    public const string Deliveries = "deliveries";
    public const string SourceId = "source_id";
    public const string Group = "group";
    public const string FailedAt = "failed_at";
}
