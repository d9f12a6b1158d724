using System.Globalization;
using System.Text.Json;

namespace AmDistill.Scoring.Core;

/// <summary>
/// The per-query score record of <c>amdistill select</c>, one JSON object per line:
/// <code>{"query_id": "q1", "category": "math", "scores": {"deepseek-r1": [1, 0, 1, 1]}, "responses": {"deepseek-r1": ["s1", "s2", "s3", "s4"]}}</code>
/// <c>category</c>: math, code, science, if (instruction following), other (also general, multiturn).
/// <c>responses</c> is optional: without it a response is named <c>{query_id}#{teacher}#{index}</c>.
/// </summary>
public static class QueryRecordFormat
{
    public static QueryRecord Parse(string line)
    {
        using var document = JsonDocument.Parse(line);
        var root = document.RootElement;
        var queryId = root.GetProperty("query_id").GetString() ?? throw new FormatException("query_id is null");
        var category = QueryCategories.Parse(root.GetProperty("category").GetString());
        var scores = root.GetProperty("scores");
        var ids = root.TryGetProperty("responses", out var r) && r.ValueKind == JsonValueKind.Object ? r : default;
        var responses = new Dictionary<string, IReadOnlyList<ScoredResponse>>(StringComparer.Ordinal);
        foreach (var teacher in scores.EnumerateObject())
        {
            var list = new List<ScoredResponse>();
            var names = ids.ValueKind == JsonValueKind.Object && ids.TryGetProperty(teacher.Name, out var n) ? n : default;
            var index = 0;
            foreach (var score in teacher.Value.EnumerateArray())
            {
                var id = names.ValueKind == JsonValueKind.Array && index < names.GetArrayLength()
                    ? names[index].GetString()!
                    : $"{queryId}#{teacher.Name}#{index.ToString(CultureInfo.InvariantCulture)}";
                list.Add(new ScoredResponse(id, score.GetDouble()));
                index++;
            }
            responses[teacher.Name] = list;
        }
        return new QueryRecord(queryId, category, responses);
    }

    /// <summary>A record in the format <see cref="Parse"/> reads.</summary>
    public static void WriteRecord(Utf8JsonWriter writer, QueryRecord record)
    {
        writer.WriteStartObject();
        writer.WriteString("query_id", record.QueryId);
        writer.WriteString("category", record.Category.Name());
        foreach (var (property, value) in new (string, Func<ScoredResponse, object>)[] { ("scores", r => r.VerifyScore), ("responses", r => r.SampleId) })
        {
            writer.WriteStartObject(property);
            foreach (var (teacher, responses) in record.Responses.OrderBy(r => r.Key, StringComparer.Ordinal))
            {
                writer.WriteStartArray(teacher);
                foreach (var response in responses)
                    if (value(response) is double score) writer.WriteNumberValue(score);
                    else writer.WriteStringValue((string)value(response));
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        writer.WriteEndObject();
    }

    public static void Write(Utf8JsonWriter writer, Selection selection, string teacher)
    {
        writer.WriteStartObject();
        writer.WriteString("query_id", selection.Query.QueryId);
        writer.WriteString("category", selection.Query.Category.ToString().ToLowerInvariant());
        writer.WriteString("teacher", teacher);
        writer.WriteNumber("cv", Math.Round(selection.Cv, 6));
        writer.WriteNumber("pass_rate", selection.PassRate);
        writer.WriteString("reason", selection.Reason);
        writer.WriteStartArray("responses");
        foreach (var response in selection.Responses)
        {
            writer.WriteStartObject();
            writer.WriteString("sample_id", response.SampleId);
            writer.WriteNumber("verify_score", response.VerifyScore);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }
}
