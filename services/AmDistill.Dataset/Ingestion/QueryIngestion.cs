using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Contracts;
using AmDistill.Dataset.Samples;
using Parquet;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Ingestion;

public sealed record IngestOptions
{
    /// <summary>Near-duplicate threshold on estimated Jaccard similarity of word 3-grams; 0 turns it off.</summary>
    public double NearDuplicateThreshold { get; init; } = 0.8;

    public int DecontaminationNgram { get; init; } = 13;

    public double MaxUnusualRatio { get; init; } = 0.3;

    /// <summary>Keep only these categories (math, code, science, if, other); null or empty: all.</summary>
    public IReadOnlyCollection<string>? Categories { get; init; }

    /// <summary>A benchmark evaluated as it is: no filter, decontamination or deduplication drops a problem.</summary>
    public bool KeepAll { get; init; }
}

public sealed class IngestReport
{
    public long Read { get; set; }
    public long Kept { get; set; }
    public long BadLines { get; set; }
    public SortedDictionary<string, long> Dropped { get; } = new(StringComparer.Ordinal);
    public List<string> Errors { get; } = [];

    public void Drop(string reason) => Dropped[reason] = Dropped.GetValueOrDefault(reason) + 1;
}

/// <summary>
/// Ingestion of a query file (JSONL or Parquet, the shared query schema: id, category, source, question,
/// reference_answer, test_cases, meta) in one streaming pass: a bad line is reported with its number and reason and
/// the rest goes on; then the paper's filters, benchmark decontamination, exact and near-duplicate removal, in that
/// order, each drop counted by reason and written with it to the rejects file.
/// </summary>
public sealed partial class QueryIngestion(IngestOptions options, Decontaminator? decontaminator)
{
    private readonly ExactDeduplicator _exact = new();
    private readonly NearDeduplicator? _near = options.NearDuplicateThreshold > 0 ? new NearDeduplicator(options.NearDuplicateThreshold) : null;

    public static Decontaminator LoadBenchmarks(IEnumerable<string> files, int n) => new(files.SelectMany(f => File.ReadLines(f)
        .Where(l => l.Trim().Length > 0)
        .Select(l => JsonNode.Parse(l)!)
        .Select(r => (r["id"]?.ToString() ?? "?", r["question"]?.GetValue<string>() ?? ""))), n);

    public async Task<IngestReport> RunAsync(string input, string output, string? rejects, CancellationToken cancellationToken = default)
    {
        var report = new IngestReport();
        var ids = new Dictionary<ulong, long>(); // id → its first line: a second query with the same id would share its sample ids
        await using var kept = new StreamWriter(output);
        await using var rejected = rejects is null ? null : new StreamWriter(rejects);
        await foreach (var (line, record, error) in ReadAsync(input, cancellationToken))
        {
            report.Read++;
            var problem = error;
            var idHash = record is null ? 0 : TextNormal.Hash(record["id"]!.ToString());
            if (record is not null && !ids.TryAdd(idHash, line))
                problem = $"duplicate id '{record["id"]}' (first on line {ids[idHash]})";
            if (record is null || problem is not null)
            {
                report.BadLines++;
                if (report.Errors.Count < 100) report.Errors.Add($"line {line}: {problem}");
                if (rejected is not null) await rejected.WriteLineAsync(Reject(line, record?["id"]?.ToString(), $"bad line: {problem}"));
                continue;
            }
            var reason = Check(record);
            if (reason is null)
            {
                report.Kept++;
                await kept.WriteLineAsync(record.ToJsonString());
                continue;
            }
            report.Drop(reason.Split(':')[0]);
            if (rejected is not null) await rejected.WriteLineAsync(Reject(line, record["id"]?.ToString(), reason));
        }
        return report;
    }

    private string? Check(JsonObject record)
    {
        var question = record["question"]!.GetValue<string>();
        var category = record["category"]!.GetValue<string>(); // its one name: Validate checked and normalised it
        return options.Categories is { Count: > 0 } kept && !kept.Contains(category) ? $"category: {category} is not in the run"
            : options.KeepAll ? null
            : QueryFilters.Reject(question, options.MaxUnusualRatio) is { } filtered ? filtered
            : decontaminator?.Match(question) is { } benchmark ? $"contaminated: overlaps {benchmark}"
            : _exact.IsDuplicate(question) ? "duplicate: exact"
            : _near?.IsDuplicate(question) == true ? "near-duplicate"
            : null;
    }

    private static string Reject(long line, string? id, string reason) =>
        new JsonObject { ["line"] = line, ["id"] = id, ["reason"] = reason }.ToJsonString();

    /// <summary>(line or row number, the record, or the reason it is unusable).</summary>
    public static async IAsyncEnumerable<(long Line, JsonObject? Record, string? Error)> ReadAsync(string path,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
        {
            await foreach (var row in ReadParquetAsync(path, cancellationToken)) yield return row;
            yield break;
        }
        long number = 0;
        await foreach (var line in ReadLinesAsync(path, MaxLineChars, cancellationToken))
        {
            number++;
            if (line is null)
            {
                yield return (number, null, $"line longer than {MaxLineChars:N0} characters");
                continue;
            }
            if (line.Trim().Length == 0) continue;
            JsonObject? record = null;
            string? error = null;
            try { record = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not a JSON object"); }
            catch (JsonException e) { error = $"invalid JSON: {e.Message}"; }
            yield return record is null ? (number, null, error) : Validate(number, record);
        }
    }

    private static (long, JsonObject?, string?) Validate(long number, JsonObject record)
    {
        if (record["id"] is not JsonValue id || id.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number)) return (number, null, "no id");
        if (IdProblem("id", id.ToString()) is { } problem) return (number, null, problem);
        if (record["question"] is not JsonValue q || q.GetValueKind() != JsonValueKind.String) return (number, null, "no question text");
        if (q.GetValue<string>().Length > MaxQuestionChars) return (number, null, $"question longer than {MaxQuestionChars:N0} characters");
        if (record["category"] is null) return (number, null, "no category");
        if (record["category"] is not JsonValue c || c.GetValueKind() != JsonValueKind.String)
            return (number, null, $"category {record["category"]!.ToJsonString()} is not a name ({QueryCategories.Names})");
        foreach (var (field, max) in MaxFieldChars)
            if (record[field] is { } value && (value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>().Length : value.ToJsonString().Length) > max)
                return (number, null, $"{field} longer than {max:N0} characters");
        if (!QueryCategories.TryParse(c.GetValue<string>(), out var category)) return (number, null, QueryCategories.Unknown(c.GetValue<string>()));
        record["category"] = category.Name(); // an alias (instruction_following, general…) is kept under its one name
        return (number, record, null);
    }

    /// <summary>Caps of the other fields (the line's own cap bounds <c>test_cases</c>, which can hold megabytes of tests).</summary>
    private static readonly (string Field, int Max)[] MaxFieldChars = [("category", 64), ("source", 1_000), ("reference_answer", 100_000), ("meta", 1_000_000)];

    /// <summary>A line is read whole before it is parsed: longer ones are skipped unread and reported, never held.</summary>
    public const int MaxLineChars = 64 << 20;

    /// <summary>A Parquet row group is read column by column, whole: a file whose groups hold more rows (a few KB can
    /// declare millions of rows) is refused. pyarrow's default row group is this size.</summary>
    public const int MaxRowsPerGroup = 1 << 20;

    /// <summary>The lines of a file, each as a string, or null for one longer than <paramref name="maxChars"/> (its
    /// characters are read and dropped as they come).</summary>
    internal static async IAsyncEnumerable<string?> ReadLinesAsync(string path, int maxChars,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(path, System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var buffer = new char[1 << 16];
        var line = new System.Text.StringBuilder();
        var tooLong = false;
        int read;
        while ((read = await reader.ReadAsync(buffer.AsMemory(), cancellationToken)) > 0)
        {
            var start = 0;
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] != '\n') continue;
                if (!tooLong) line.Append(buffer, start, i - start);
                yield return tooLong || line.Length > maxChars ? null : line.ToString().TrimEnd('\r');
                (line.Length, tooLong, start) = (0, false, i + 1);
            }
            if (!tooLong) line.Append(buffer, start, read - start);
            if (line.Length > maxChars) (line.Length, tooLong) = (0, true);
        }
        if (tooLong) yield return null;
        else if (line.Length > 0) yield return line.ToString().TrimEnd('\r');
    }

    /// <summary>A reasoning query is a problem statement, not a document: longer ones are bad lines.</summary>
    public const int MaxQuestionChars = 100_000;

    /// <summary>Why <paramref name="id"/> cannot name keys and files (a query's or a sample's), or null.</summary>
    internal static string? IdProblem(string field, string id, string kind = "a query id") =>
        QueryId().IsMatch(id) && !id.Contains("..", StringComparison.Ordinal) ? null
            : $"{field} '{Shorten(id)}' is not {kind} (1–200 of letters, digits and . _ : / + @ = -, starting with a letter or digit)";

    /// <summary>A query id names its samples, keys and URLs: printable, short, no whitespace.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._:/+@=-]{0,199}$")]
    private static partial System.Text.RegularExpressions.Regex QueryId();

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "…";

    private static async IAsyncEnumerable<(long, JsonObject?, string?)> ReadParquetAsync(string path,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var file = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(file, cancellationToken: cancellationToken);
        var fields = reader.Schema.GetDataFields();
        long row = 0;
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            if (group.RowCount > MaxRowsPerGroup)
                throw new InvalidDataException($"row group {g + 1} holds {group.RowCount:N0} rows; at most {MaxRowsPerGroup:N0} per row group are read " +
                                               "(write the file with smaller row groups, e.g. pyarrow's row_group_size)");
            var count = (int)group.RowCount;
            var columns = new Dictionary<string, string?[]>();
            foreach (var field in fields.Where(f => f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>)))
            {
                var values = new string?[count];
                await group.ReadAsync(field, values.AsMemory(), null, cancellationToken);
                columns[field.Name] = values;
            }
            for (var i = 0; i < count; i++)
            {
                row++;
                var record = new JsonObject();
                foreach (var (name, values) in columns)
                    record[name] = name is "test_cases" or "meta" && values[i] is { } json ? JsonNode.Parse(json) : values[i];
                yield return Validate(row, record);
            }
        }
    }
}
