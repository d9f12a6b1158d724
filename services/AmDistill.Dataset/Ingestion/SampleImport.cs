using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Samples;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Ingestion;

/// <summary>
/// One imported response, normalised: its query (id, question, category, reference, tests, source) and its teacher's
/// answer (thinking apart). A line of a run's <c>input/imported/part-{sha256}.jsonl</c>; in <c>input/samples.jsonl</c> it also
/// has its sample id, its pass among the teacher's answers to the query, and how many samples the query gets in all.
/// </summary>
public sealed record ImportedSample
{
    [JsonPropertyName("query_id")] public string QueryId { get; init; } = "";
    [JsonPropertyName("question")] public string Question { get; init; } = "";
    [JsonPropertyName("category")] public string Category { get; init; } = "";
    [JsonPropertyName("reference_answer")] public string? ReferenceAnswer { get; init; }
    [JsonPropertyName("test_cases")] public string? TestCases { get; init; }
    [JsonPropertyName("source")] public string? Source { get; init; }
    [JsonPropertyName("teacher")] public string Teacher { get; init; } = "";
    [JsonPropertyName("model")] public string Model { get; init; } = "";
    [JsonPropertyName("thinking")] public string? Thinking { get; init; }
    [JsonPropertyName("answer")] public string Answer { get; init; } = "";
    [JsonPropertyName("sample_id")] public string? SampleId { get; init; }
    [JsonPropertyName("pass")] public int Pass { get; init; }
    [JsonPropertyName("expected")] public int ExpectedSamples { get; init; }

    /// <summary>The response as the pipeline carries a teacher's answer, entering at verification.</summary>
    public GeneratedResponse ToResponse(string run) => new(
        SampleId!, run, QueryId, QueryCategories.Parse(Category), Teacher, Model, Pass, Thinking, Answer, FinishReason: "stop",
        Truncated: false, PromptTokens: 0, CompletionTokens: 0, LatencyMs: 0, CostUsd: 0, ReferenceAnswer, Question, TestCases,
        ExpectedSamples, CascadeSamples: 0, Source);
}

/// <summary>What an import read: rows, rows kept, bad rows (number and reason, the first 100), per teacher the rows kept,
/// and per model the rows left out because it is not one of the run's imported teachers.</summary>
public sealed record ImportReport(long Read, long Kept, long BadRows, IReadOnlyList<string> Errors, IReadOnlyDictionary<string, long> Teachers,
    IReadOnlyDictionary<string, long> Skipped);

/// <summary>A run's imported responses put together: its queries, its samples and per teacher how many.</summary>
public sealed record ImportTotals(long Queries, long Samples, IReadOnlyDictionary<string, long> Teachers);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImportedSample))]
internal sealed partial class ImportJsonContext : JsonSerializerContext;

/// <summary>
/// Bring-your-own generations: responses already written by models (AM-schema rows, as AM-DeepSeek-Distilled-40M
/// publishes them and as our exports write them; chat <c>messages</c> or ShareGPT <c>conversations</c> records with a
/// model name), streamed row by row into normalised parts, and at the run's start put together into its queries and
/// samples. A row is taken when its teacher (AM <c>answer_source</c>, else <c>model_name</c>; <c>model</c> in chat
/// records) is one of the run's imported teachers; a bad row is reported with its number and reason and the rest goes on.
/// </summary>
public static class SampleImport
{
    private const int MaxErrors = 100;

    /// <summary>Normalises one uploaded file (JSONL, or AM-schema Parquet) into <paramref name="part"/>; bad rows go to <paramref name="rejects"/>.</summary>
    public static async Task<ImportReport> NormaliseAsync(string upload, bool parquet, IReadOnlySet<string> teachers, string part, string rejects,
        CancellationToken cancellationToken)
    {
        var (read, kept, bad) = (0L, 0L, 0L);
        var errors = new List<string>();
        var perTeacher = new SortedDictionary<string, long>(StringComparer.Ordinal);
        var skipped = new SortedDictionary<string, long>(StringComparer.Ordinal);
        await using var output = new StreamWriter(part, append: false, new UTF8Encoding(false));
        await using var rejected = new StreamWriter(rejects, append: true, new UTF8Encoding(false));

        async Task TakeAsync(long row, ImportedSample? sample, string? error)
        {
            read++;
            if (sample is not null && !teachers.Contains(sample.Teacher))
            {
                // A dataset holds other models' answers too: those rows are not errors, only not this run's.
                skipped[sample.Teacher] = skipped.GetValueOrDefault(sample.Teacher) + 1;
                return;
            }
            if (sample is not null) error = Check(sample);
            if (error is not null || sample is null)
            {
                bad++;
                var message = $"row {row}: {error ?? "not a record"}";
                if (errors.Count < MaxErrors) errors.Add(message);
                await rejected.WriteLineAsync(JsonSerializer.Serialize(new { row, reason = error }));
                return;
            }
            kept++;
            perTeacher[sample.Teacher] = perTeacher.GetValueOrDefault(sample.Teacher) + 1;
            await output.WriteLineAsync(JsonSerializer.Serialize(sample, ImportJsonContext.Default.ImportedSample));
        }

        if (parquet)
        {
            await using var stream = File.OpenRead(upload);
            long row = 0;
            await foreach (var record in AmParquet.ReadAsync(stream).WithCancellation(cancellationToken))
            {
                row++;
                var (sample, error) = FromAm(record, teachers);
                await TakeAsync(row, sample, error);
            }
        }
        else
        {
            long line = 0;
            await foreach (var text in QueryIngestion.ReadLinesAsync(upload, QueryIngestion.MaxLineChars, cancellationToken))
            {
                line++;
                if (text is null) await TakeAsync(line, null, $"line longer than {QueryIngestion.MaxLineChars:N0} characters");
                else if (!string.IsNullOrWhiteSpace(text))
                {
                    var (sample, error) = Parse(text, teachers);
                    await TakeAsync(line, sample, error);
                }
            }
        }
        return new ImportReport(read, kept, bad, errors, perTeacher, skipped);
    }

    /// <summary>What the query ingestion also refuses: an id that cannot name keys and files, an overlong question.</summary>
    private static string? Check(ImportedSample sample) =>
        QueryIngestion.IdProblem("query id", sample.QueryId)
        ?? (sample.Question.Length > QueryIngestion.MaxQuestionChars ? $"question longer than {QueryIngestion.MaxQuestionChars:N0} characters" : null)
        ?? (sample.SampleId is { } id ? QueryIngestion.IdProblem("sample id", id, "an id") : null);

    /// <summary>One JSON line: an AM-schema row, or a chat record (<c>messages</c> / <c>conversations</c>) with its model.</summary>
    public static (ImportedSample? Sample, string? Error) Parse(string line, IReadOnlySet<string> teachers)
    {
        JsonObject row;
        try { row = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not a JSON object"); }
        catch (JsonException e) { return (null, $"not JSON: {e.Message}"); }
        try
        {
            if (BatchOutputs.IsBatchOutputLine(row))
                return (null, "an OpenAI batch output line names its request only by custom_id: import the file with `amdistill run import --queries QUERIES.jsonl`, which joins it with its queries");
            if (row["messages"] is JsonArray messages) return FromChat(row, messages, "role", "content", "user", "assistant");
            if (row["conversations"] is JsonArray turns) return FromChat(row, turns, "from", "value", "human", "gpt");
            if (row["question"] is not null) return FromAm(AmRecordOf(row), teachers);
            return (null, "neither an AM row (question, answer) nor a chat record (messages or conversations)");
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            return (null, e.Message);
        }
    }

    /// <summary>An AM row's fields; <c>test_case</c> and <c>instruction_constrain</c> may be JSON objects or JSON in a string.</summary>
    private static AmRecord AmRecordOf(JsonObject row)
    {
        string S(string name) => row[name] switch
        {
            null => "",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonValue v when v.GetValueKind() == JsonValueKind.Null => "",
            var node => node.ToJsonString(),
        };
        return new AmRecord
        {
            Question = S("question"), Answer = S("answer"), QuestionSource = S("question_source"), AnswerSource = S("answer_source"),
            Category = S("category"), GroundTruth = S("ground_truth"), TestCase = S("test_case"), InstructionConstrain = S("instruction_constrain"),
            ModelName = S("model_name"), QueryId = S("query_id"), SampleId = S("sample_id"),
        };
    }

    /// <summary>An AM row: its teacher is <c>answer_source</c> or <c>model_name</c>, whichever names an imported teacher.</summary>
    public static (ImportedSample? Sample, string? Error) FromAm(AmRecord row, IReadOnlySet<string> teachers)
    {
        if (string.IsNullOrWhiteSpace(row.Question)) return (null, "no question");
        if (string.IsNullOrWhiteSpace(row.Answer)) return (null, "no answer");
        // Whichever of the two names is one of the run's imported teachers; otherwise the row is another model's, known by answer_source.
        var teacher = teachers.Contains(row.AnswerSource) ? row.AnswerSource
            : teachers.Contains(row.ModelName) || row.AnswerSource.Length == 0 ? row.ModelName : row.AnswerSource;
        if (teacher.Length == 0) return (null, "no answer_source or model_name: whose answer is it?");
        if (!QueryCategories.TryParseOptional(row.Category, out var category)) return (null, QueryCategories.Unknown(row.Category));
        var (thinking, answer) = AmRecords.SplitAnswer(row.Answer);
        return (new ImportedSample
        {
            QueryId = row.QueryId is { Length: > 0 } id ? id : QueryIdOf(row.Question),
            Question = row.Question,
            Category = category.Name(),
            ReferenceAnswer = Empty(row.GroundTruth),
            TestCases = JsonObjectText(category switch
            {
                QueryCategory.Code => row.TestCase,
                QueryCategory.InstructionFollowing => row.InstructionConstrain,
                _ => "",
            }),
            Source = Empty(row.QuestionSource),
            Teacher = teacher,
            Model = row.ModelName.Length > 0 ? row.ModelName : teacher,
            Thinking = thinking,
            Answer = answer,
            SampleId = Empty(row.SampleId),
        }, null);
    }

    /// <summary>A chat record: the first user turn is the question, the last assistant turn the answer (its thinking in
    /// <c>reasoning_content</c>, in <c>&lt;think&gt;…&lt;/think&gt;</c>, or in an AM <c>info.think_content</c>).</summary>
    private static (ImportedSample? Sample, string? Error) FromChat(JsonObject row, JsonArray turns, string role, string text, string user, string assistant)
    {
        var question = turns.OfType<JsonObject>().FirstOrDefault(t => t[role]?.GetValue<string>() == user);
        var answer = turns.OfType<JsonObject>().LastOrDefault(t => t[role]?.GetValue<string>() == assistant);
        if (question?[text]?.GetValue<string>() is not { Length: > 0 } prompt) return (null, $"no {user} turn");
        if (answer is null) return (null, $"no {assistant} turn");
        var teacher = Text(row, "model") ?? Text(row, "model_name") ?? Text(row, "teacher");
        if (teacher is null) return (null, "no model: whose answer is it? (\"model\")");
        var info = answer["info"] as JsonObject;
        var questionInfo = question["info"] as JsonObject;
        string? thinking;
        string reply;
        if (info is not null && Text(info, "answer_content") is { } content)
            (thinking, reply) = (Text(info, "think_content"), content);
        else
        {
            var raw = answer[text]?.GetValue<string>() ?? "";
            (thinking, reply) = Text(answer, "reasoning_content") is { } reasoning ? (reasoning, raw) : AmRecords.SplitAnswer(raw);
        }
        if (string.IsNullOrWhiteSpace(reply)) return (null, $"the {assistant} turn is empty");
        var categoryName = Text(row, "category") ?? Text(questionInfo, "category");
        if (!QueryCategories.TryParseOptional(categoryName, out var category)) return (null, QueryCategories.Unknown(categoryName));
        return (new ImportedSample
        {
            QueryId = Text(row, "query_id") ?? Text(row, "id") ?? QueryIdOf(prompt),
            Question = prompt,
            Category = category.Name(),
            ReferenceAnswer = Text(row, "reference_answer") ?? Text(row, "ground_truth") ?? Text(questionInfo, "reference_answer"),
            TestCases = category is QueryCategory.Code or QueryCategory.InstructionFollowing
                ? JsonObjectText(Json(row["test_cases"]) ?? Json(questionInfo?["test_case"]) ?? "") : null,
            Source = Text(row, "source") ?? Text(questionInfo, "source"),
            Teacher = teacher,
            Model = teacher,
            Thinking = thinking,
            Answer = reply,
        }, null);
    }

    private static string? Text(JsonObject? node, string name) =>
        node?[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() is { Length: > 0 } s ? s : null;

    private static string? Json(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Empty(v.GetValue<string>()),
        JsonValue v when v.GetValueKind() == JsonValueKind.Null => null,
        _ => node.ToJsonString(),
    };

    private static string? Empty(string value) => value.Length == 0 ? null : value;

    /// <summary>Tests are a JSON object (the shared query schema's <c>test_cases</c>); anything else leaves the response without tests.</summary>
    private static string? JsonObjectText(string value)
    {
        if (value.Length == 0) return null;
        try { return JsonNode.Parse(value) is JsonObject tests ? tests.ToJsonString() : null; }
        catch (JsonException) { return null; }
    }

    /// <summary>A query without an id of its own is named by its question, so every response to it lands on one query.</summary>
    public static string QueryIdOf(string question) => "q-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(question)))[..16];

    /// <summary>
    /// The run's imported parts put together: <paramref name="queries"/> gets each query once (first seen first) with
    /// <c>imported_samples</c>, <paramref name="samples"/> every response with its sample id, its pass among its teacher's
    /// answers to the query and the query's expected samples (imported + <paramref name="generatedPassesPerQuery"/>). Two
    /// passes over the parts; memory holds a count per query and per (query, teacher) under a 64-bit hash, never the text.
    /// A row that names its sample (an export of ours: <c>sample_id</c>) keeps that id, and the same sample in a second
    /// file (a Stage I export imported beside the whole one) counts once.
    /// </summary>
    public static async Task<ImportTotals> CombineAsync(string run, IReadOnlyList<string> parts, int generatedPassesPerQuery, string queries, string samples,
        CancellationToken cancellationToken)
    {
        var counts = new Dictionary<ulong, int>();
        var firstSeen = queries + ".tmp";
        await using (var output = new StreamWriter(firstSeen, append: false, new UTF8Encoding(false)))
            foreach (var sample in Distinct(ReadParts(parts, cancellationToken)))
            {
                var key = Key(sample.QueryId);
                if (counts.TryGetValue(key, out var count))
                {
                    counts[key] = count + 1;
                    continue;
                }
                counts[key] = 1;
                await output.WriteLineAsync(JsonSerializer.Serialize(new JsonObject
                {
                    ["id"] = sample.QueryId, ["category"] = sample.Category, ["question"] = sample.Question,
                    ["reference_answer"] = sample.ReferenceAnswer, ["source"] = sample.Source,
                    ["test_cases"] = sample.TestCases is { } tests ? JsonNode.Parse(tests) : null,
                }));
            }

        await using (var output = new StreamWriter(queries, append: false, new UTF8Encoding(false)))
            foreach (var line in File.ReadLines(firstSeen))
            {
                var query = JsonNode.Parse(line)!.AsObject();
                query["imported_samples"] = counts[Key(query["id"]!.GetValue<string>())];
                await output.WriteLineAsync(query.ToJsonString());
            }
        File.Delete(firstSeen);

        var passes = new Dictionary<ulong, int>();
        var perTeacher = new SortedDictionary<string, long>(StringComparer.Ordinal);
        long total = 0;
        await using (var output = new StreamWriter(samples, append: false, new UTF8Encoding(false)))
            foreach (var sample in Distinct(ReadParts(parts, cancellationToken)))
            {
                var teacherKey = Key(sample.QueryId, sample.Teacher);
                var pass = passes.GetValueOrDefault(teacherKey);
                passes[teacherKey] = pass + 1;
                perTeacher[sample.Teacher] = perTeacher.GetValueOrDefault(sample.Teacher) + 1;
                total++;
                await output.WriteLineAsync(JsonSerializer.Serialize(sample with
                {
                    SampleId = sample.SampleId ?? "imp-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{run}\n{sample.QueryId}\n{sample.Teacher}\n{pass}")))[..24],
                    Pass = pass,
                    ExpectedSamples = counts[Key(sample.QueryId)] + generatedPassesPerQuery,
                }, ImportJsonContext.Default.ImportedSample));
            }
        return new ImportTotals(counts.Count, total, perTeacher);
    }

    /// <summary>A query (and teacher) as 64 bits: at 10 million keys the chance that two share one is about 3 in a million.</summary>
    private static ulong Key(string query, string? teacher = null) =>
        System.IO.Hashing.XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(teacher is null ? query : $"{query}\n{teacher}"));

    /// <summary>A line of <c>input/samples.jsonl</c>.</summary>
    public static ImportedSample ReadSample(string line) =>
        JsonSerializer.Deserialize(line, ImportJsonContext.Default.ImportedSample) ?? throw new InvalidDataException("an empty imported sample");

    /// <summary>Rows that name a sample already seen are left out (the same decision in both passes).</summary>
    private static IEnumerable<ImportedSample> Distinct(IEnumerable<ImportedSample> samples)
    {
        var seen = new HashSet<ulong>();
        foreach (var sample in samples)
            if (sample.SampleId is null || seen.Add(Key(sample.SampleId)))
                yield return sample;
    }

    private static IEnumerable<ImportedSample> ReadParts(IReadOnlyList<string> parts, CancellationToken cancellationToken)
    {
        foreach (var part in parts)
            foreach (var line in File.ReadLines(part))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (line.Length > 0) yield return ReadSample(line);
            }
    }
}
