using System.Text.Json;
using StackExchange.Redis;

namespace AmDistill.Messaging;

/// <summary>A stream entry's message: its payload field, read with the stream's contract.</summary>
internal static class StreamPayload
{
    public static T Parse<T>(StreamEntry entry, MessageStream<T> stream) =>
        JsonSerializer.Deserialize(ReadBytes(entry, EntryFields.Payload), stream.TypeInfo) ?? throw new JsonException("payload is null");

    public static T? TryParse<T>(StreamEntry entry, MessageStream<T> stream)
    {
        try
        {
            return Parse(entry, stream);
        }
        catch (Exception e) when (IsUnparseable(e))
        {
            return default;
        }
    }

    /// <summary>No retry can fix a payload that fails so.</summary>
    public static bool IsUnparseable(Exception e) => e is JsonException or NotSupportedException or ArgumentException;

    private static byte[] ReadBytes(StreamEntry entry, string field)
    {
        var value = entry[field];
        return value.IsNull ? throw new JsonException($"entry has no '{field}' field") : (byte[])value!;
    }
}
