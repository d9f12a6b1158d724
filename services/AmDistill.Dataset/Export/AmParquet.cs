using Parquet;
using Parquet.Schema;

namespace AmDistill.Dataset.Export;

/// <summary>The AM schema as Parquet columns, and reading it back.</summary>
public static class AmParquet
{
    private static readonly (string Name, Func<AmRecord, string> Get)[] Strings =
    [
        ("question", r => r.Question), ("answer", r => r.Answer), ("question_source", r => r.QuestionSource),
        ("answer_source", r => r.AnswerSource), ("category", r => r.Category), ("ground_truth", r => r.GroundTruth),
        ("test_case", r => r.TestCase), ("instruction_constrain", r => r.InstructionConstrain), ("model_name", r => r.ModelName),
        ("query_id", r => r.QueryId), ("sample_id", r => r.SampleId), ("difficulty", r => r.Difficulty),
    ];

    private static readonly (string Name, Func<AmRecord, float?> Get)[] Floats =
    [
        ("pass_rate_r1", r => r.PassRateR1), ("pass_rate_7b", r => r.PassRate7B), ("pass_rate_1.5b", r => r.PassRate15B),
        ("verify_score", r => r.VerifyScore), ("ppl", r => r.Ppl), ("cv", r => r.Cv),
    ];

    public static ParquetSchema Schema { get; } = new(
        [.. Strings.Select(s => (Field)new DataField<string>(s.Name)), .. Floats.Select(f => (Field)new DataField<float?>(f.Name))]);

    public static async Task WriteRowGroupAsync(ParquetWriter writer, IReadOnlyList<AmRecord> rows, CancellationToken cancellationToken)
    {
        var fields = Schema.GetDataFields();
        using var group = writer.CreateRowGroup();
        for (var i = 0; i < Strings.Length; i++)
            await group.WriteAsync(fields[i], rows.Select(Strings[i].Get).ToArray(), null);
        for (var i = 0; i < Floats.Length; i++)
            await group.WriteAsync<float>(fields[Strings.Length + i], rows.Select(Floats[i].Get).ToArray(), null, null, cancellationToken);
        group.CompleteValidate();
    }

    /// <summary>Every row of an AM-schema Parquet file, one row group in memory at a time; absent columns read as empty,
    /// columns not in the schema are skipped.</summary>
    public static async IAsyncEnumerable<AmRecord> ReadAsync(Stream input)
    {
        await using var reader = await ParquetReader.CreateAsync(input);
        var fields = reader.Schema.GetDataFields();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            // A group is read column by column, whole: a few KB may declare millions of rows.
            if (group.RowCount > Ingestion.QueryIngestion.MaxRowsPerGroup)
                throw new InvalidDataException($"row group {g} holds {group.RowCount:N0} rows; at most {Ingestion.QueryIngestion.MaxRowsPerGroup:N0} are read at once");
            var rowCount = (int)group.RowCount;
            var columns = new Dictionary<string, Array>();
            foreach (var field in fields)
            {
                if (Strings.Any(c => c.Name == field.Name))
                {
                    var values = new string?[rowCount];
                    await group.ReadAsync(field, values.AsMemory(), null);
                    columns[field.Name] = values;
                }
                else if (Floats.Any(c => c.Name == field.Name))
                {
                    var values = new float?[rowCount];
                    await group.ReadAsync<float>(field, values.AsMemory(), null);
                    columns[field.Name] = values;
                }
            }
            string S(string name, int i) => columns.TryGetValue(name, out var a) ? a.GetValue(i) as string ?? "" : "";
            float? F(string name, int i) => columns.TryGetValue(name, out var a) && a.GetValue(i) is float f ? f : null;
            for (var i = 0; i < rowCount; i++)
                yield return new AmRecord
                {
                    Question = S("question", i), Answer = S("answer", i), QuestionSource = S("question_source", i),
                    AnswerSource = S("answer_source", i), Category = S("category", i), GroundTruth = S("ground_truth", i),
                    TestCase = S("test_case", i), InstructionConstrain = S("instruction_constrain", i), ModelName = S("model_name", i),
                    QueryId = S("query_id", i), SampleId = S("sample_id", i), Difficulty = S("difficulty", i),
                    PassRateR1 = F("pass_rate_r1", i), PassRate7B = F("pass_rate_7b", i), PassRate15B = F("pass_rate_1.5b", i),
                    VerifyScore = F("verify_score", i) ?? 0, Ppl = F("ppl", i), Cv = F("cv", i),
                };
        }
    }
}
