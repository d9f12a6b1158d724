using System.Text.Json;

namespace AmDistill.Dataset.Export;

/// <summary>Reading AM-schema JSON lines (ours, or the released dataset's files) back into records.</summary>
public static class AmJsonl
{
    /// <summary>Each record with its line number; a bad line is reported (line, reason) and the rest goes on.</summary>
    public static async IAsyncEnumerable<(long Line, AmRecord? Record, string? Error)> ReadAsync(TextReader input)
    {
        long number = 0;
        while (await input.ReadLineAsync() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            AmRecord? record = null;
            string? error = null;
            try { record = JsonSerializer.Deserialize(line, AmJsonContext.Default.AmRecord); }
            catch (JsonException e) { error = e.Message; }
            yield return (number, record, record is null ? error ?? "not a JSON object" : null);
        }
    }
}
