using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using AmDistill.Contracts;
using AmDistill.Dataset.Export;
using AmDistill.Dataset.Ingestion;
using AmDistill.Scoring.Core;

namespace AmDistill.Runs;

/// <summary>
/// A run: which registered teachers answer how many times, which queries are kept and how they are cleaned, the pass
/// thresholds and selection, what is exported, and how the feeder paces the work. JSON (comments and trailing commas
/// allowed), camelCase; docs/run-config.md describes every field. Teachers' endpoints, keys and limits belong to the
/// deployment (the generation service's <c>Generation:Teachers</c>), because keys are secrets; a run names the
/// teachers, may restate their model (checked when it starts) and may override their sampling and prices.
/// </summary>
public sealed partial record RunConfiguration
{
    public string Run { get; init; } = "";
    public string? Description { get; init; }

    /// <summary>Weakest first: with three teachers they are the difficulty ladder (weak, middle, strong).</summary>
    public List<RunTeacher> Teachers { get; init; } = [];

    /// <summary>Categories kept at ingestion (shared schema names: math, code, science, if, other); others are dropped
    /// with their reason. Empty: all.</summary>
    public List<string> Categories { get; init; } = [];

    public RunIngestion Ingestion { get; init; } = new();
    public RunVerification Verification { get; init; } = new();
    public RunThresholds Thresholds { get; init; } = new();
    public RunSelection Selection { get; init; } = new();
    public RunFeeding Feeder { get; init; } = new();

    /// <summary>Fine-tune on the run's selection once it completes (submitted to the trainer service); null: no training.</summary>
    public RunTraining? Training { get; init; }

    /// <summary>Evaluate the teachers on benchmark sets instead of distilling from uploaded queries; null: a distillation run.</summary>
    public RunEvaluation? Evaluation { get; init; }

    /// <summary>Samples each query gets from the teachers the run asks (imported ones answer as often as their rows do).</summary>
    [JsonIgnore]
    public int PassesPerQuery => GeneratingTeachers.Sum(t => t.Passes);

    /// <summary>The teachers the generation service is asked; the others' responses are imported (<c>PUT …/samples</c>).</summary>
    [JsonIgnore]
    public IReadOnlyList<RunTeacher> GeneratingTeachers => [.. Teachers.Where(t => !t.Imported)];

    [JsonIgnore]
    public IReadOnlySet<string> ImportedTeachers => Teachers.Where(t => t.Imported).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>The selection teacher: named, or the strongest (last).</summary>
    [JsonIgnore]
    public string SelectionTeacher => Selection.Teacher ?? Teachers[^1].Name;

    [JsonIgnore]
    public IngestOptions IngestOptions => new()
    {
        NearDuplicateThreshold = Ingestion.NearDuplicateThreshold,
        DecontaminationNgram = Ingestion.DecontaminationNgram,
        MaxUnusualRatio = Ingestion.MaxUnusualRatio,
        Categories = [.. Categories.Select(c => QueryCategories.TryParse(c, out var category) ? category.Name() : c)],
        KeepAll = Evaluation is not null,
    };

    /// <summary>The benchmark sets a run's queries are decontaminated against (none for an evaluation).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> DecontaminationSets => Evaluation is not null ? [] : Ingestion.DecontaminateAgainst ?? ["decontamination"];

    public DatasetExportOptions ExportOptions(ExportPolicy policy) => new()
    {
        Policy = policy,
        Selection = new SelectionOptions
        {
            Teacher = SelectionTeacher,
            Thresholds = Thresholds.ToScoring(),
            CvThreshold = Selection.CvThreshold,
            Seed = Selection.Seed,
        },
        Ladder = Ladder,
        BandMin = Selection.BandMin,
        BandMax = Selection.BandMax,
        MaxTokens = Selection.MaxTokens,
        MaxNgramRepeats = Selection.MaxNgramRepeats,
    };

    /// <summary>Three teachers grade difficulty weak → strong; otherwise the first, a middle one and the last.</summary>
    [JsonIgnore]
    public DifficultyLadder Ladder => new(Teachers[0].Name, Teachers[Teachers.Count / 2].Name, Teachers[^1].Name);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
    };

    /// <summary>The configuration, or every problem with it: each value of the wrong type by its path and line (the value
    /// is set aside and the rest read on, so one mistake does not hide the next), then each invalid field by its path.</summary>
    public static (RunConfiguration? Configuration, IReadOnlyList<string> Errors) Parse(string json)
    {
        var errors = new List<string>();
        JsonNode? document;
        try
        {
            document = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = Json.AllowTrailingCommas, CommentHandling = Json.ReadCommentHandling });
        }
        catch (JsonException e)
        {
            return (null, [$"$ (line {(e.LineNumber ?? 0) + 1}): not valid JSON: {FirstSentence(e.Message)}"]);
        }
        if (document is not JsonObject root) return (null, ["$: the run configuration is not a JSON object"]);
        RunConfiguration? configuration = null;
        for (var attempt = 0; attempt < 50 && configuration is null; attempt++)
        {
            try
            {
                configuration = root.Deserialize<RunConfiguration>(Json);
            }
            catch (JsonException e)
            {
                var path = e.Path is { Length: > 0 } p ? p : "$";
                // An unknown field: the path is its object's, the name is in the message.
                if (UnknownField().Match(e.Message) is { Success: true } unknown && !path.EndsWith("." + unknown.Groups[1].Value, StringComparison.Ordinal))
                    path = path == "$" ? $"$.{unknown.Groups[1].Value}" : $"{path}.{unknown.Groups[1].Value}";
                errors.Add($"{path[(path.StartsWith("$.", StringComparison.Ordinal) ? 2 : 0)..]}: {PlainWords(e.Message)}");
                if (!Remove(root, path)) return (null, errors);
            }
        }
        if (configuration is null) return (null, errors.Count > 0 ? errors : ["$: the run configuration is empty"]);
        errors.AddRange(configuration.Validate());
        return errors.Count == 0 ? (configuration, errors) : (null, errors);
    }

    [GeneratedRegex(@"The JSON property '([^']+)' could not be mapped")]
    private static partial Regex UnknownField();

    /// <summary>A deserializer message in the words of the file: "a whole number", not <c>System.Int32</c>.</summary>
    private static string PlainWords(string message)
    {
        if (UnknownField().IsMatch(message)) return "is not a field here (docs/run-config.md lists them)";
        var match = System.Text.RegularExpressions.Regex.Match(message, @"could not be converted to ([^.\s]+(?:\.[^.\s]+)*?)(?:\. |\.$|$)");
        if (!match.Success) return FirstSentence(message);
        var type = match.Groups[1].Value;
        var expected = type switch
        {
            "System.Int32" or "System.Int64" or "System.Nullable`1[System.Int32]" or "System.Nullable`1[System.Int64]" => "a whole number",
            "System.Double" or "System.Decimal" or "System.Nullable`1[System.Double]" or "System.Nullable`1[System.Decimal]" => "a number",
            "System.Boolean" or "System.Nullable`1[System.Boolean]" => "true or false",
            "System.String" => "a string",
            _ when type.StartsWith("System.Collections.Generic.List`1", StringComparison.Ordinal)
                || type.StartsWith("System.Collections.Generic.IReadOnlyList`1", StringComparison.Ordinal) => "a list [ … ]",
            _ when type.StartsWith("System.Collections.Generic.Dictionary`2", StringComparison.Ordinal) => "an object { … }",
            _ => "an object { … }",
        };
        return $"must be {expected}";
    }

    /// <summary>Takes the value at a deserializer's path (<c>$.a.b[2].c</c>) out of the document; false when it is not there.</summary>
    private static bool Remove(JsonObject root, string path)
    {
        var parts = System.Text.RegularExpressions.Regex.Matches(path, @"\.([^.\[]+)|\['([^']+)'\]|\[(\d+)\]");
        JsonNode? node = root;
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            var last = i == parts.Count - 1;
            if (part.Groups[3].Success)
            {
                if (node is not JsonArray array || int.Parse(part.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) is var index && index >= array.Count) return false;
                if (last) { array.RemoveAt(index); return true; }
                node = array[index];
            }
            else
            {
                var name = part.Groups[1].Success ? part.Groups[1].Value : part.Groups[2].Value;
                if (node is not JsonObject obj) return false;
                var key = obj.Select(p => p.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
                if (key is null) return false;
                if (last) return obj.Remove(key);
                node = obj[key];
            }
        }
        return false;
    }

    public static (RunConfiguration? Configuration, IReadOnlyList<string> Errors) Load(string path) =>
        File.Exists(path) ? Parse(File.ReadAllText(path)) : (null, [$"{path}: no such file"]);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The run that evaluates this run's trained model (and its base) when <c>training.evaluate</c> asks for it.</summary>
    [JsonIgnore]
    public string EvaluationRunId => $"{Run}-eval";

    /// <summary>The served teachers of that evaluation: the base model and the trained one.</summary>
    [JsonIgnore]
    public (string Base, string Trained) EvaluatedTeachers => ($"{Run}-base", $"{Run}-{Training?.JobId}");

    /// <summary>The evaluation run of <c>training.evaluate</c>: the base model, then the trained one, k answers each.</summary>
    public RunConfiguration? EvaluationRun()
    {
        if (Training?.Evaluate is not { } evaluate) return null;
        var (baseTeacher, trained) = EvaluatedTeachers;
        RunTeacher Teacher(string name) => new() { Name = name, Passes = evaluate.Passes, MaxTokens = evaluate.MaxTokens, Temperature = evaluate.Temperature, TopP = evaluate.TopP };
        return new RunConfiguration
        {
            Run = EvaluationRunId,
            Description = $"Evaluation of run {Run}'s training job {Training.JobId} ({Training.Recipe} on {Training.BaseModel}) against its base model",
            Teachers = evaluate.BaseModel ? [Teacher(baseTeacher), Teacher(trained)] : [Teacher(trained)],
            Thresholds = Thresholds,
            Verification = Verification,
            Selection = new RunSelection { Exports = [new RunExport { Policy = "all", Format = "am", File = "jsonl" }] },
            Evaluation = new RunEvaluation { Benchmarks = evaluate.Benchmarks, Limit = evaluate.Limit, TrainingJob = $"{Run}/{Training.JobId}" },
        };
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Check(bool ok, string path, string message)
        {
            if (!ok) errors.Add($"{path}: {message}");
        }
        Check(RunIds.IsValid(Run), "run", $"'{Run}' is not a run id (1–64 of a-z, 0-9, '-', '_', starting with a letter or digit)");
        Check(Teachers.Count > 0, "teachers", "at least one teacher is needed");
        for (var i = 0; i < Teachers.Count; i++)
        {
            var t = Teachers[i];
            Check(!string.IsNullOrWhiteSpace(t.Name), $"teachers[{i}].name", "is required");
            Check(t.Passes is >= 1 and <= 64, $"teachers[{i}].passes", $"must be 1–64 (got {t.Passes})");
            Check(Teachers.FindIndex(o => o.Name == t.Name) == i, $"teachers[{i}].name", $"'{t.Name}' is listed twice");
            Check(t.Temperature is null or (>= 0 and <= 2), $"teachers[{i}].temperature", "must be in [0, 2]");
            Check(t.TopP is null or (> 0 and <= 1), $"teachers[{i}].topP", "must be in (0, 1]");
            Check(t.MaxTokens is null or >= 1, $"teachers[{i}].maxTokens", "must be ≥ 1");
            Check(t.PricePerMillionInputTokens is null or >= 0 && t.PricePerMillionOutputTokens is null or >= 0, $"teachers[{i}].pricePerMillion…Tokens", "must be ≥ 0");
        }
        for (var i = 0; i < Categories.Count; i++)
            Check(QueryCategories.TryParse(Categories[i], out _), $"categories[{i}]", $"'{Categories[i]}' is not one of {QueryCategories.Names}");
        for (var i = 0; i < (Ingestion.DecontaminateAgainst?.Count ?? 0); i++)
            Check(RunIds.IsValid(Ingestion.DecontaminateAgainst![i]), $"ingestion.decontaminateAgainst[{i}]",
                $"'{Ingestion.DecontaminateAgainst[i]}' is not the name of a benchmark set (a name such as aime24 or decontamination, not a path)");
        Check(Ingestion.NearDuplicateThreshold is >= 0 and <= 1, "ingestion.nearDuplicateThreshold", "must be in [0, 1] (0: off)");
        Check(Ingestion.DecontaminationNgram is >= 3 and <= 50, "ingestion.decontaminationNgram", "must be 3–50 words");
        Check(Ingestion.MaxUnusualRatio is > 0 and <= 1, "ingestion.maxUnusualRatio", "must be in (0, 1]");
        Check(Verification.CodeTests is >= 1 and <= 1000, "verification.codeTests", "must be 1–1000");
        foreach (var (name, value, max) in new[] { ("math", Thresholds.Math, 1.0), ("code", Thresholds.Code, 1.0), ("science", Thresholds.Science, 5.0), ("if", Thresholds.If, 1.0), ("other", Thresholds.Other, 1.0) })
            Check(value >= 0 && value < max, $"thresholds.{name}", $"must be in [0, {max}) on its category's scale (got {value})");
        Check(Selection.Teacher is null || Teachers.Any(t => t.Name == Selection.Teacher), "selection.teacher", $"'{Selection.Teacher}' is not one of the run's teachers");
        Check(Selection.CvThreshold >= 0, "selection.cvThreshold", "must be ≥ 0");
        Check(Selection.BandMin >= 0 && Selection.BandMin < Selection.BandMax && Selection.BandMax <= 1, "selection.bandMin/bandMax", "need 0 ≤ bandMin < bandMax ≤ 1");
        for (var i = 0; i < Selection.Exports.Count; i++)
        {
            var e = Selection.Exports[i];
            Check(DatasetExport.PolicyNames.Contains(e.Policy), $"selection.exports[{i}].policy", $"'{e.Policy}' is not one of {string.Join(", ", DatasetExport.PolicyNames)}");
            Check(DatasetExport.FormatNames.Contains(e.Format), $"selection.exports[{i}].format", $"'{e.Format}' is not one of {string.Join(", ", DatasetExport.FormatNames)}");
            Check(e.File is "jsonl" or "parquet", $"selection.exports[{i}].file", $"'{e.File}' is not jsonl or parquet");
            Check(e.File != "parquet" || e.Format == "am", $"selection.exports[{i}]", "Parquet holds the AM schema only (format: am)");
        }
        Check(Feeder.BatchQueries is >= 1 and <= 10_000, "feeder.batchQueries", "must be 1–10000");
        Check(Feeder.MaxQueuedTasks >= 1, "feeder.maxQueuedTasks", "must be ≥ 1");
        Check(!Feeder.Cascade || Teachers.Count >= 2, "feeder.cascade", "needs at least two teachers");
        Check(!Feeder.Cascade || Teachers.All(t => !t.Imported), "feeder.cascade", "asks teachers in turn; imported teachers have answered already");
        if (Evaluation is { } evaluation)
        {
            Check(evaluation.Benchmarks.Count > 0, "evaluation.benchmarks", "name at least one benchmark set (aime24, aime25, math500, livecodebench_v5, ifeval, …)");
            for (var i = 0; i < evaluation.Benchmarks.Count; i++)
                Check(RunIds.IsValid(evaluation.Benchmarks[i]), $"evaluation.benchmarks[{i}]", $"'{evaluation.Benchmarks[i]}' is not the name of a benchmark set");
            Check(evaluation.Benchmarks.Distinct().Count() == evaluation.Benchmarks.Count, "evaluation.benchmarks", "a set is named twice");
            Check(evaluation.Limit >= 0, "evaluation.limit", "must be ≥ 0 (0: every problem)");
            Check(evaluation.TrainingJob is null || RunIds.TryParseJob(evaluation.TrainingJob, out _, out _), "evaluation.trainingJob", "must be 'run/job'");
            Check(Teachers.All(t => !t.Imported), "evaluation", "evaluates teachers that answer: none may be imported");
            Check(!Feeder.Cascade, "evaluation", "asks every teacher every problem: no cascade");
            Check(Training is null, "evaluation", "an evaluation run trains nothing (training belongs to the distillation run)");
        }
        if (Training is { } training)
        {
            Check(training.Recipe is "stage1" or "stage2", "training.recipe", $"'{training.Recipe}' is not stage1 or stage2");
            Check(!string.IsNullOrWhiteSpace(training.BaseModel), "training.baseModel", "is required (a path or model directory the trainer can read)");
            Check(training.Selection is null || DatasetExport.PolicyNames.Contains(training.Selection), "training.selection",
                $"'{training.Selection}' is not one of {string.Join(", ", DatasetExport.PolicyNames)}");
            Check(training.MaxSteps >= 0, "training.maxSteps", "must be ≥ 0 (0: the recipe's epochs)");
            Check(training.LearningRate is null or (> 0 and < 1), "training.learningRate", "must be in (0, 1)");
            Check(training.GlobalBatch is null or >= 1, "training.globalBatch", "must be ≥ 1");
            Check(training.MaxLength is null or >= 16, "training.maxLength", "must be ≥ 16 tokens");
            Check(RunIds.IsValid(training.JobId), "training.jobId", $"'{training.JobId}' is not a job id (1–64 of a-z, 0-9, '-', '_', starting with a letter or digit)");
            if (training.Evaluate is { } evaluate)
            {
                Check(evaluate.Benchmarks.Count > 0 && evaluate.Benchmarks.All(RunIds.IsValid), "training.evaluate.benchmarks", "name one or more benchmark sets (aime24, math500, …)");
                Check(evaluate.Limit >= 0, "training.evaluate.limit", "must be ≥ 0 (0: every problem)");
                Check(evaluate.Passes is >= 1 and <= 64, "training.evaluate.passes", $"must be 1–64 (got {evaluate.Passes})");
                Check(evaluate.MaxTokens is null or >= 1, "training.evaluate.maxTokens", "must be ≥ 1");
                Check(RunIds.IsValid(EvaluationRunId), "run", $"'{Run}' is too long for its evaluation run's id ('{EvaluationRunId}')");
            }
        }
        return errors;
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". Path:", StringComparison.Ordinal) is > 0 and var path ? path : message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return end > 0 ? message[..end].TrimEnd('.', ' ') : message;
    }
}

/// <summary>A teacher registered with the generation service, asked <see cref="Passes"/> times per query, with its own
/// sampling and prices unless the run overrides them.</summary>
public sealed record RunTeacher
{
    public string Name { get; init; } = "";
    public int Passes { get; init; } = 4;

    /// <summary>Its responses are imported, not generated: the rows whose model is <see cref="Name"/>, as many per query as there are.</summary>
    public bool Imported { get; init; }

    /// <summary>Optional: checked against the registered teacher's model when the run starts.</summary>
    public string? Model { get; init; }

    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? MaxTokens { get; init; }
    public decimal? PricePerMillionInputTokens { get; init; }
    public decimal? PricePerMillionOutputTokens { get; init; }

    /// <summary>The overrides as the generation task carries them; null when there are none.</summary>
    [JsonIgnore]
    public TeacherSettings? Settings => Temperature is null && TopP is null && MaxTokens is null && PricePerMillionInputTokens is null && PricePerMillionOutputTokens is null
        ? null : new(Temperature, TopP, MaxTokens, PricePerMillionInputTokens, PricePerMillionOutputTokens);
}

public sealed record RunIngestion
{
    /// <summary>Benchmark sets to decontaminate against, by name: the sets in the service's <c>data/benchmarks/</c>
    /// (<c>decontamination</c>: AIME 2024/2025 and MATH-500 questions; <c>aime24</c>, <c>math500</c>, <c>humaneval</c>, …);
    /// null: <c>decontamination</c>; empty: none. Names, never paths: a run file reads no file of the server's.</summary>
    public List<string>? DecontaminateAgainst { get; init; }

    public int DecontaminationNgram { get; init; } = 13;

    /// <summary>MinHash estimate of word-3-gram Jaccard above which a query is a near-duplicate of a kept one; 0: off.</summary>
    public double NearDuplicateThreshold { get; init; } = 0.8;

    public double MaxUnusualRatio { get; init; } = 0.3;
}

public sealed record RunVerification
{
    /// <summary>Code test cases run per sample (the first N of the query's): the cost of a code verdict.</summary>
    public int CodeTests { get; init; } = 10;
}

/// <summary>Pass thresholds on each category's verify_score scale (paper §3.1: a response passes when score &gt; threshold),
/// applied by selection, difficulty grading and the report.</summary>
public sealed record RunThresholds
{
    public double Math { get; init; } = 0.99;
    public double Code { get; init; } = 0.99;
    public double Science { get; init; } = 4.99;
    public double If { get; init; } = 0.99;
    public double Other { get; init; } = 0.7;

    public Thresholds ToScoring() => new(Math, Code, Science, If, Other);
}

public sealed record RunSelection
{
    /// <summary>Whose responses are selected; null: the strongest (last) teacher.</summary>
    public string? Teacher { get; init; }

    public double CvThreshold { get; init; } = 0.05;
    public int Seed { get; init; }
    public double BandMin { get; init; }
    public double BandMax { get; init; } = 1;
    public int? MaxTokens { get; init; } = 32768;

    /// <summary>The paper's 20-token repetition filter (drop a response with an n-gram seen in more than this many); null: off.</summary>
    public int? MaxNgramRepeats { get; init; }

    /// <summary>Written to <c>{store}/{run}/export/</c> when every query is final, with the report.</summary>
    public List<RunExport> Exports { get; init; } =
    [
        new() { Policy = "stage1", Format = "am", File = "parquet" },
        new() { Policy = "stage1", Format = "messages", File = "jsonl" },
        new() { Policy = "all", Format = "am", File = "jsonl" },
    ];
}

public sealed record RunExport
{
    public string Policy { get; init; } = "stage1";
    public string Format { get; init; } = "am";
    public string File { get; init; } = "jsonl";

    [JsonIgnore]
    public string FileName => $"{Policy}{(Format == "am" ? "" : "-" + Format)}.{File}";
}

public sealed record RunFeeding
{
    /// <summary>Queries expanded into tasks per step.</summary>
    public int BatchQueries { get; init; } = 50;

    /// <summary>Backpressure: feeding waits while the generation stream holds more tasks than this not yet done.</summary>
    public long MaxQueuedTasks { get; init; } = 2000;

    /// <summary>Ask the first (cheapest) teacher first, and the others only for queries it does not solve every time.
    /// Off by default: the paper generated everything, and the skipped queries have no pass rates from the others.</summary>
    public bool Cascade { get; init; }
}

/// <summary>The SFT job a completed run submits: the paper's recipe on the run's selection.</summary>
public sealed record RunTraining
{
    /// <summary><c>stage1</c> or <c>stage2</c>: the paper's two recipes.</summary>
    public string Recipe { get; init; } = "stage1";

    public string BaseModel { get; init; } = "";

    /// <summary>Which samples (a policy: all, stage1, stage2, band); null: the recipe's stage.</summary>
    public string? Selection { get; init; }

    public int MaxSteps { get; init; }

    /// <summary>Departures from the recipe (null: the paper's): learning rate, rows per optimizer step, context length.</summary>
    public double? LearningRate { get; init; }
    public int? GlobalBatch { get; init; }
    public int? MaxLength { get; init; }

    public string JobId { get; init; } = "sft";

    [JsonIgnore]
    public TrainingOverrides? Overrides => LearningRate is null && GlobalBatch is null && MaxLength is null ? null : new(LearningRate, GlobalBatch, MaxLength);

    /// <summary>When the job succeeds, serve the trained model (and the base) and evaluate them; null: no evaluation.</summary>
    public RunTrainingEvaluation? Evaluate { get; init; }
}

/// <summary>An evaluation run: its queries are benchmark sets of the Api's <c>data/benchmarks/</c>, each problem's id
/// prefixed with its set's name (<c>aime24/aime2024-I-01</c>), all kept as they are; the report tabulates avg@k (the mean
/// pass rate over the k answers, the paper's pass@1) and pass@k (solved by any of them) per benchmark and teacher.</summary>
public sealed record RunEvaluation
{
    public List<string> Benchmarks { get; init; } = [];

    /// <summary>The first N problems of each set; 0: all.</summary>
    public int Limit { get; init; }

    /// <summary>The training job (<c>run/job</c>) whose curve the report shows beside the table.</summary>
    public string? TrainingJob { get; init; }
}

/// <summary>After training: serve the trained model (and its base) and evaluate them on benchmark sets.</summary>
public sealed record RunTrainingEvaluation
{
    public List<string> Benchmarks { get; init; } = ["aime24", "math500"];
    public int Limit { get; init; }

    /// <summary>k: answers per problem and model (the paper: 16 for AIME).</summary>
    public int Passes { get; init; } = 4;

    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; } = 0.6;
    public double? TopP { get; init; } = 0.95;

    /// <summary>Evaluate the base model beside the trained one.</summary>
    public bool BaseModel { get; init; } = true;
}

/// <summary>The one pattern of every id that becomes a path or a key: run, training job, benchmark set.</summary>
public static partial class RunIds
{
    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    /// <summary>A training job's key <c>run/job</c>, both parts valid ids.</summary>
    public static bool TryParseJob(string? key, out string run, out string job)
    {
        (run, job) = key?.Split('/') is [var r, var j] && IsValid(r) && IsValid(j) ? (r, j) : ("", "");
        return run.Length > 0;
    }

    /// <summary><paramref name="relative"/> under <paramref name="root"/>, checked after resolving ("..", absolute paths,
    /// and a link's name are refused); null when it would leave the root.</summary>
    public static string? Under(string root, string relative)
    {
        if (string.IsNullOrWhiteSpace(relative) || Path.IsPathRooted(relative)) return null;
        var fullRoot = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(Path.Combine(fullRoot, relative));
        return full.StartsWith(fullRoot, StringComparison.Ordinal) ? full : null;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    private static partial Regex Pattern();
}
