using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AmDistill.Dataset.Ingestion;

/// <summary>What joining a batch output with its queries gave: lines read, chat records written (one per choice), and per
/// reason the lines that gave none (a failed request, an unknown custom_id, no answer), with the first few in full.</summary>
public sealed record BatchConversion(long Lines, long Records, IReadOnlyDictionary<string, long> Left, IReadOnlyList<string> Errors);

/// <summary>
/// OpenAI (and Azure OpenAI) Batch API output files as responses to import. An output line names its request only by
/// <c>custom_id</c>, so each is joined with its query from the run's query file (the shared query schema): the custom_id
/// is the query's id, or the id followed by a pass number (<c>{id}#2</c>, <c>{id}-2</c>, <c>{id}_2</c>, <c>{id}:2</c>,
/// <c>{id}/2</c>, <c>{id}.2</c>). Each choice becomes a chat record with the query's category, reference and tests, which
/// the import then takes like any other. Two passes over the output and one over the queries; memory holds only the
/// queries the output answers (a batch file has at most 50,000 requests), never the query file.
/// </summary>
public static class BatchOutputs
{
    private const int MaxErrors = 20;
    private static readonly char[] PassSeparators = ['#', '-', '_', ':', '/', '.'];

    /// <summary>Whether a JSONL file's first record is a batch output line (<c>custom_id</c> with <c>response</c> or <c>error</c>).</summary>
    public static bool IsBatchOutput(string path)
    {
        foreach (var line in File.ReadLines(path).Take(20))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                return JsonNode.Parse(line) is JsonObject row && IsBatchOutputLine(row);
            }
            catch (JsonException)
            {
                return false;
            }
        }
        return false;
    }

    public static bool IsBatchOutputLine(JsonObject row) => row["custom_id"] is not null && (row.ContainsKey("response") || row.ContainsKey("error")) && row["messages"] is null;

    /// <summary>The query ids a custom_id may name, longest first: itself, then without a trailing pass number.</summary>
    public static IEnumerable<string> QueryIdsOf(string customId)
    {
        yield return customId;
        for (var end = customId.Length; ;)
        {
            var cut = customId.LastIndexOfAny(PassSeparators, end - 1);
            if (cut <= 0) yield break;
            var pass = customId.AsSpan(cut + 1, end - cut - 1);
            if (pass.Length == 0 || pass.ContainsAnyExceptInRange('0', '9')) yield break;
            yield return customId[..cut];
            end = cut;
        }
    }

    /// <summary>Writes <paramref name="destination"/> (JSONL chat records) from a batch output and the query file it answers.</summary>
    /// <param name="teacher">The teacher the answers are imported as; null: the model the provider names in each answer.</param>
    public static async Task<BatchConversion> ToChatRecordsAsync(string output, string queries, string? teacher, string destination, CancellationToken cancellationToken)
    {
        // Pass 1: which query ids the output may name.
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var line in Lines(output, cancellationToken))
            if (CustomId(line) is { } customId)
                wanted.UnionWith(QueryIdsOf(customId));

        // The queries among them, from one pass over the query file.
        var known = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        await foreach (var line in Lines(queries, cancellationToken))
        {
            JsonObject? query;
            try
            {
                query = JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException)
            {
                continue; // the query file's own bad lines are the query ingestion's to report
            }
            if (query?["id"]?.ToString() is { } id && wanted.Contains(id)) known.TryAdd(id, query);
        }

        // Pass 2: one chat record per answered choice.
        var (lines, records) = (0L, 0L);
        var left = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var errors = new List<string>();
        void Leave(long number, string reason, string? detail = null)
        {
            left[reason] = left.GetValueOrDefault(reason) + 1;
            if (errors.Count < MaxErrors) errors.Add($"line {number}: {reason}{(detail is null ? "" : $" ({detail})")}");
        }
        await using var writer = new StreamWriter(destination, append: false, new UTF8Encoding(false));
        await foreach (var line in QueryIngestion.ReadLinesAsync(output, QueryIngestion.MaxLineChars, cancellationToken))
        {
            if (line is not null && string.IsNullOrWhiteSpace(line)) continue;
            lines++;
            if (line is null)
            {
                Leave(lines, $"line longer than {QueryIngestion.MaxLineChars:N0} characters");
                continue;
            }
            JsonObject row;
            try
            {
                row = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not an object");
            }
            catch (JsonException e)
            {
                Leave(lines, "not JSON", e.Message);
                continue;
            }
            if (row["custom_id"]?.ToString() is not { } customId)
            {
                Leave(lines, "no custom_id");
                continue;
            }
            if (row["error"] is JsonObject error)
            {
                Leave(lines, "request failed", error["message"]?.ToString());
                continue;
            }
            var response = row["response"] as JsonObject;
            var status = response?["status_code"]?.GetValue<int>() ?? 0;
            if (status != 200 || response?["body"] is not JsonObject body)
            {
                Leave(lines, "request failed", $"status {status}: {response?["body"]?["error"]?["message"]}");
                continue;
            }
            var queryId = QueryIdsOf(customId).FirstOrDefault(known.ContainsKey);
            if (queryId is null)
            {
                Leave(lines, "custom_id names no query of the query file", customId);
                continue;
            }
            var query = known[queryId];
            var model = teacher ?? body["model"]?.ToString();
            if (string.IsNullOrEmpty(model))
            {
                Leave(lines, "no model in the answer (give the teacher's name)");
                continue;
            }
            var written = 0;
            foreach (var choice in (body["choices"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if (choice["message"] is not JsonObject message) continue;
                var answer = new JsonObject { ["role"] = "assistant", ["content"] = message["content"]?.DeepClone() };
                if ((message["reasoning_content"] ?? message["reasoning"]) is { } reasoning) answer["reasoning_content"] = reasoning.DeepClone();
                await writer.WriteLineAsync(new JsonObject
                {
                    ["id"] = queryId,
                    ["category"] = query["category"]?.DeepClone(),
                    ["reference_answer"] = query["reference_answer"]?.DeepClone(),
                    ["test_cases"] = query["test_cases"]?.DeepClone(),
                    ["source"] = query["source"]?.DeepClone(),
                    ["model"] = model,
                    ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = query["question"]?.DeepClone() }, answer),
                }.ToJsonString());
                written++;
            }
            if (written == 0) Leave(lines, "no choices in the answer");
            records += written;
        }
        return new BatchConversion(lines, records, left, errors);
    }

    private static string? CustomId(string line)
    {
        try
        {
            return JsonNode.Parse(line) is JsonObject row ? row["custom_id"]?.ToString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async IAsyncEnumerable<string> Lines(string path, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var line in QueryIngestion.ReadLinesAsync(path, QueryIngestion.MaxLineChars, cancellationToken))
            if (!string.IsNullOrWhiteSpace(line))
                yield return line;
    }
}
