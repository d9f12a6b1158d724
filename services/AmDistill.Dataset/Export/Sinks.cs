using System.Text.Json;
using AmDistill.Dataset.Samples;
using Parquet;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Export;

public static partial class AmRecords
{
    public static AmRecord From(StoredSample s, Annotation a) => new()
    {
        Question = s.Prompt ?? "",
        Answer = AmRecord.FormatAnswer(s.Thinking, s.Answer),
        AnswerSource = s.Teacher,
        Category = s.Category.Name(),
        GroundTruth = s.ReferenceAnswer ?? "",
        QuestionSource = s.Source ?? "",
        TestCase = s.Category == QueryCategory.Code ? s.TestCases ?? "" : "",
        InstructionConstrain = s.Category == QueryCategory.InstructionFollowing ? s.TestCases ?? "" : "",
        PassRateR1 = a.PassRateStrong,
        PassRate7B = a.PassRateMiddle,
        PassRate15B = a.PassRateWeak,
        VerifyScore = (float)s.VerifyScore,
        Ppl = (float?)s.Ppl,
        ModelName = s.Model,
        QueryId = s.QueryId,
        SampleId = s.SampleId,
        Cv = a.Cv,
        Difficulty = a.Difficulty.ToString(),
    };

    /// <summary>
    /// An AM-schema row (AM-DeepSeek-Distilled-40M, or an export of ours) as a verified sample of <paramref name="run"/>:
    /// the inverse of <see cref="From"/>. The responding teacher is <c>answer_source</c> (else <c>model_name</c>); the
    /// row's <c>verify_score</c> is its verdict under the paper's thresholds; <paramref name="pass"/> numbers the rows of
    /// one (question, teacher), as the dataset's <c>{k}pass</c> files do.
    /// </summary>
    public static StoredSample ToSample(AmRecord row, string run, int pass)
    {
        var category = QueryCategories.TryParseOptional(row.Category, out var c) ? c : throw new FormatException(QueryCategories.Unknown(row.Category));
        var teacher = row.AnswerSource is { Length: > 0 } source ? source : row.ModelName;
        var query = row.QueryId is { Length: > 0 } id ? id : Ingestion.SampleImport.QueryIdOf(row.Question);
        var (thinking, answer) = SplitAnswer(row.Answer);
        var score = (double)row.VerifyScore;
        return new StoredSample(
            row.SampleId is { Length: > 0 } sample ? sample : Hash($"{run}\n{query}\n{teacher}\n{pass}")[..24],
            run, query, category, teacher, row.ModelName, pass, row.Question, thinking, answer, FinishReason: "stop", Truncated: false,
            PromptTokens: 0, CompletionTokens: 0, CostUsd: 0, NullIfEmpty(row.GroundTruth), score,
            Passed: AmDistill.Scoring.Core.Thresholds.Paper.Passes(category, score), Scored: true, Verdict: "imported verify_score",
            TestCases: NullIfEmpty(category switch
            {
                QueryCategory.Code => row.TestCase,
                QueryCategory.InstructionFollowing => row.InstructionConstrain,
                _ => "",
            }),
            Source: NullIfEmpty(row.QuestionSource), Ppl: row.Ppl);
    }

    /// <summary>The thinking and the final answer of an AM <c>answer</c> (<c>&lt;think&gt;…&lt;/think&gt; &lt;answer&gt;…&lt;/answer&gt;</c>);
    /// the line breaks <see cref="AmRecord.FormatAnswer"/> puts inside the tags are taken off again.</summary>
    public static (string? Thinking, string Answer) SplitAnswer(string text)
    {
        var match = AnswerTags().Match(text);
        if (match.Success) return (match.Groups["think"].Value, match.Groups["answer"].Value);
        var end = text.IndexOf("</think>", StringComparison.Ordinal);
        return text.StartsWith("<think>", StringComparison.Ordinal) && end > 0
            ? (Inner(text[7..end]), text[(end + 8)..].Trim())
            : (null, text);
    }

    private static string Inner(string text) => text.StartsWith('\n') && text.EndsWith('\n') && text.Length >= 2 ? text[1..^1] : text;

    [System.Text.RegularExpressions.GeneratedRegex(@"\A<think>\n?(?<think>.*?)\n?</think>\s*<answer>\n?(?<answer>.*?)\n?</answer>\s*\z", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex AnswerTags();

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static string Hash(string text) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
}

/// <summary>One JSON object per line.</summary>
public abstract class JsonlSink(Stream output) : IExportSink
{
    // Relaxed escaping: reasoning text is full of non-ASCII (maths, CJK) that needs no \\u escapes in UTF-8 JSON.
    private readonly Utf8JsonWriter _json = new(output, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    protected abstract void Write(Utf8JsonWriter json, StoredSample sample, Annotation annotation);

    public Task WriteAsync(StoredSample sample, Annotation annotation, CancellationToken cancellationToken)
    {
        Write(_json, sample, annotation);
        _json.Flush();
        output.WriteByte((byte)'\n');
        _json.Reset(); // one root value per line, no separator
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _json.DisposeAsync();
        await output.DisposeAsync();
    }
}

/// <summary>AM-schema rows as JSON lines.</summary>
public sealed class AmJsonlSink(Stream output) : JsonlSink(output)
{
    protected override void Write(Utf8JsonWriter json, StoredSample sample, Annotation annotation) =>
        JsonSerializer.Serialize(json, AmRecords.From(sample, annotation), AmJsonContext.Default.AmRecord);
}

/// <summary>Training formats as JSON lines: chat <c>messages</c> (the thinking inline as <c>&lt;think&gt;…&lt;/think&gt;</c>
/// before the answer, as reasoning SFT trains on it) or ShareGPT <c>conversations</c>.</summary>
public sealed class TrainingJsonlSink(Stream output, ExportFormat format) : JsonlSink(output)
{
    public static string AssistantTurn(StoredSample s) => $"<think>\n{s.Thinking}\n</think>\n\n{s.Answer}";

    protected override void Write(Utf8JsonWriter json, StoredSample sample, Annotation annotation)
    {
        var (list, role, text, user, assistant) = format == ExportFormat.ShareGpt
            ? ("conversations", "from", "value", "human", "gpt")
            : ("messages", "role", "content", "user", "assistant");
        json.WriteStartObject();
        json.WriteString("id", sample.SampleId);
        json.WriteStartArray(list);
        foreach (var (who, what) in new[] { (user, sample.Prompt ?? ""), (assistant, AssistantTurn(sample)) })
        {
            json.WriteStartObject();
            json.WriteString(role, who);
            json.WriteString(text, what);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
}

/// <summary>AM-schema rows as Parquet (zstd), one row group per <c>rowGroupSize</c> rows, readable by Hugging Face
/// <c>datasets</c> / pyarrow; only one row group is ever held.</summary>
public sealed class AmParquetSink : IExportSink
{
    private readonly Stream _output;
    private readonly int _rowGroupSize;
    private readonly List<AmRecord> _rows = [];
    private ParquetWriter? _writer;

    public AmParquetSink(Stream output, int rowGroupSize = 10_000)
    {
        _output = output;
        _rowGroupSize = rowGroupSize;
    }

    public async Task WriteAsync(StoredSample sample, Annotation annotation, CancellationToken cancellationToken)
    {
        _rows.Add(AmRecords.From(sample, annotation));
        if (_rows.Count >= _rowGroupSize) await FlushAsync(cancellationToken);
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        _writer ??= await ParquetWriter.CreateAsync(AmParquet.Schema, _output, new ParquetOptions { CompressionMethod = CompressionMethod.Zstd, CompressionLevel = System.IO.Compression.CompressionLevel.Fastest, DictionaryEncodingSampleSize = 1000 },
            cancellationToken: cancellationToken);
        if (_rows.Count == 0) return;
        await AmParquet.WriteRowGroupAsync(_writer, _rows, cancellationToken);
        _rows.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync(CancellationToken.None);
        if (_writer is not null) await _writer.DisposeAsync();
        await _output.DisposeAsync();
    }
}
