using System.Text.Json;
using AmDistill.Dataset.Samples;
using Parquet;

namespace AmDistill.Dataset.Export;

public static class AmRecords
{
    public static AmRecord From(StoredSample s, Annotation a) => new()
    {
        Question = s.Prompt ?? "",
        Answer = AmRecord.FormatAnswer(s.Thinking, s.Answer),
        AnswerSource = s.Teacher,
        Category = s.Category.ToAmName(),
        GroundTruth = s.ReferenceAnswer ?? "",
        QuestionSource = s.Source ?? "",
        TestCase = s.Category == AmDistill.Contracts.QueryCategory.Code ? s.TestCases ?? "" : "",
        InstructionConstrain = s.Category == AmDistill.Contracts.QueryCategory.InstructionFollowing ? s.TestCases ?? "" : "",
        PassRateR1 = a.PassRateStrong,
        PassRate7B = a.PassRateMiddle,
        PassRate15B = a.PassRateWeak,
        VerifyScore = (float)s.VerifyScore,
        ModelName = s.Model,
        QueryId = s.QueryId,
        SampleId = s.SampleId,
        Cv = a.Cv,
        Difficulty = a.Difficulty.ToString(),
    };
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
