using System.Globalization;
using System.Text;
using System.Text.Json;
using AmDistill.Verifiers.InstructionFollowing;

namespace AmDistill.TeacherSim.Knowledge;

/// <summary>A query the simulated teachers know the answer to.</summary>
/// <param name="Instructions">An instruction-following query's IFEval instructions (its <c>test_cases</c>), if any.</param>
public sealed record KnownQuery(string Id, string Category, string Source, string? ReferenceAnswer, string? Solution, double Difficulty,
    IReadOnlyList<Instruction>? Instructions = null);

/// <summary>
/// The queries (shared query schema, JSONL) whose reference answers and solutions the simulator knows, found by
/// the start of a prompt's text, so instructions appended to a question do not hide it. Besides its query files it
/// learns the queries of every run ingested under its run directories (<c>{dir}/{run}/input/queries.jsonl</c>, the
/// dataset store), looked for again when a prompt is not known, so a user's own queries get answers as good as the
/// teachers' skill rather than guesses.
/// </summary>
public sealed class QueryBank(IReadOnlyList<string>? runDirectories = null, ILogger? logger = null)
{
    private const int KeyLength = 160;
    private static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(2);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, KnownQuery> _byPrefix = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTime> _runInputs = new(StringComparer.Ordinal); // file → last write time loaded
    private readonly Lock _scan = new();
    private DateTime _nextScan;

    public int Count => _byPrefix.Count;

    public static QueryBank Load(IEnumerable<string> files, ILogger logger, IReadOnlyList<string>? runDirectories = null)
    {
        var bank = new QueryBank(runDirectories, logger);
        foreach (var file in files)
        {
            if (!File.Exists(file))
            {
                logger.LogWarning("Query file {File} not found; the teachers will not know its answers", file);
                continue;
            }
            foreach (var line in File.ReadLines(file))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                using var record = JsonDocument.Parse(line);
                bank.Add(record.RootElement);
            }
        }
        logger.LogInformation("Teacher simulator knows {Count} queries", bank.Count);
        return bank;
    }

    public void Add(JsonElement record)
    {
        var question = record.GetProperty("question").GetString() ?? "";
        var meta = record.TryGetProperty("meta", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        var category = record.GetProperty("category").GetString() ?? "general";
        var source = record.TryGetProperty("source", out var s) ? s.GetString() ?? "" : "";
        var query = new KnownQuery(
            record.GetProperty("id").GetString() ?? "",
            category,
            source,
            record.TryGetProperty("reference_answer", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null,
            Solution(question, meta),
            Difficulty(category, source, meta),
            record.TryGetProperty("test_cases", out var t) && t.ValueKind == JsonValueKind.Object && t.TryGetProperty("instruction_id_list", out _)
                ? IfEvalChecker.Parse(t) : null);
        _byPrefix[Key(question)] = query;
    }

    public KnownQuery? Find(string promptText)
    {
        var key = Key(promptText);
        if (_byPrefix.TryGetValue(key, out var query)) return query;
        // Looked up again whatever the scan did: requests that arrive together wait on one scan, and only the first one
        // learns anything; the others found nothing before it and must look again (they answered as unseen before).
        LearnRunInputs();
        return _byPrefix.TryGetValue(key, out query) ? query : null;
    }

    /// <summary>Loads run inputs new or rewritten since the last look, at most every <see cref="RescanInterval"/>.</summary>
    private void LearnRunInputs()
    {
        if (runDirectories is not { Count: > 0 }) return;
        lock (_scan)
        {
            if (DateTime.UtcNow < _nextScan) return;
            _nextScan = DateTime.UtcNow + RescanInterval;
            var before = Count;
            foreach (var input in runDirectories.Where(Directory.Exists).SelectMany(Directory.EnumerateDirectories)
                         .Select(run => Path.Combine(run, "input", "queries.jsonl")).Where(File.Exists))
            {
                var written = File.GetLastWriteTimeUtc(input);
                if (_runInputs.TryGetValue(input, out var loaded) && loaded == written) continue;
                _runInputs[input] = written;
                try
                {
                    foreach (var line in File.ReadLines(input))
                    {
                        if (string.IsNullOrWhiteSpace(line)) continue;
                        using var record = JsonDocument.Parse(line);
                        Add(record.RootElement);
                    }
                }
                catch (Exception e) when (e is IOException or JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    logger?.LogWarning("Could not read the run input {File}: {Error}", input, e.Message); // being written: read again next time
                    _runInputs.Remove(input);
                }
            }
            if (Count > before) logger?.LogInformation("Teacher simulator learnt {Count} queries from run inputs", Count - before);
        }
    }

    /// <summary>Lower-cased, whitespace collapsed, first characters only.</summary>
    private static string Key(string text)
    {
        var builder = new StringBuilder(KeyLength);
        var space = false;
        foreach (var c in text.AsSpan().Trim())
        {
            if (builder.Length >= KeyLength) break;
            if (char.IsWhiteSpace(c))
            {
                space = true;
                continue;
            }
            if (space) builder.Append(' ');
            space = false;
            builder.Append(char.ToLowerInvariant(c));
        }
        return builder.ToString();
    }

    /// <summary>A correct program when the data has one: HumanEval's prompt + canonical body, MBPP's canonical solution.</summary>
    private static string? Solution(string question, JsonElement meta)
    {
        if (meta.ValueKind != JsonValueKind.Object || !meta.TryGetProperty("canonical_solution", out var solution) || solution.ValueKind != JsonValueKind.String)
            return null;
        var code = solution.GetString()!;
        // HumanEval's canonical solution is only the (indented) body of the function its prompt declares; anything else
        // (MBPP's, a user's stdio program) is a whole program.
        var body = code.TrimStart('\r', '\n');
        return body.StartsWith(' ') || body.StartsWith('\t') ? question + code : code;
    }

    /// <summary>0 (trivial) … 1 (hardest): from the data's own grading where it has one.</summary>
    private static double Difficulty(string category, string source, JsonElement meta)
    {
        string? Meta(string name) => meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty(name, out var v)
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()
            : null;

        if (Meta("level") is { } level && int.TryParse(level.Trim('"'), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l))
            return Math.Clamp(0.1 + (l - 1) * 0.15, 0, 1); // MATH levels 1–5
        if (source.Contains("AIME", StringComparison.OrdinalIgnoreCase)) return 0.9;
        switch (Meta("difficulty")?.ToLowerInvariant())
        {
            case "introductory" or "easy": return 0.35;
            case "interview" or "medium": return 0.6;
            case "competition" or "hard": return 0.85;
        }
        if (source.Contains("LiveCodeBench", StringComparison.OrdinalIgnoreCase)) return 0.7;
        return category switch
        {
            "code" => 0.3,
            "if" => 0.4,
            _ => 0.5,
        };
    }
}
