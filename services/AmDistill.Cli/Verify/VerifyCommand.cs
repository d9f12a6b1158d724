using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Verifiers.Math;

namespace AmDistill.Cli.Verify;

/// <summary>
/// <c>amdistill verify math --input F.jsonl [--output O.jsonl]</c>: one verdict per line. Input line:
/// <c>{"id"?, "gold", "pred", "expected"?, "category"?, "precision"?, "allow_set_relation_comp"?, "strict"?, "match_types"?}</c> (pred may be a whole
/// response). Output line: the input plus verdict, gold_answer, pred_answer, reason, elapsed_us. With "expected",
/// accuracy per category goes to stderr. A bad line is reported with its number and the run goes on.
/// </summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "JSONL of {gold, pred} pairs.", Required = true };
        input.AcceptExistingOnly();
        var output = new Option<FileInfo?>("--output") { Description = "Verdicts (JSONL); default: standard output." };
        var failures = new Option<bool>("--failures") { Description = "Write only the lines whose verdict differs from \"expected\"." };
        var math = new Command("math", "Math answer equivalence, line by line.") { input, output, failures };
        math.SetAction((result, cancellationToken) => RunAsync(result.GetValue(input)!, result.GetValue(output), result.GetValue(failures), cancellationToken));
        return new Command("verify", "Verify responses against references.") { math, VerifyCodeCommand.Create(), VerifyIfCommand.Create() };
    }

    private static async Task<int> RunAsync(FileInfo input, FileInfo? output, bool onlyFailures, CancellationToken cancellationToken)
    {
        await using var stream = output is null ? Console.OpenStandardOutput() : output.Create();
        await using var writer = new StreamWriter(stream);
        var serializer = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var totals = new SortedDictionary<string, (int Right, int All)>(StringComparer.Ordinal);
        var lineNumber = 0;
        var bad = 0;
        using var reader = input.OpenText();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject record;
            string gold, pred;
            try
            {
                record = JsonNode.Parse(line)?.AsObject() ?? throw new JsonException("not an object");
                gold = record["gold"]?.GetValue<string>() ?? throw new JsonException("missing \"gold\"");
                pred = record["pred"]?.GetValue<string>() ?? throw new JsonException("missing \"pred\"");
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                bad++;
                await Console.Error.WriteLineAsync($"{input.Name}:{lineNumber}: skipped: {e.Message}");
                continue;
            }
            var options = new MathVerifyOptions
            {
                Precision = record["precision"]?.GetValue<int>() ?? 6,
                AllowSetRelation = record["allow_set_relation_comp"]?.GetValue<bool>() ?? false,
                Strict = record["strict"]?.GetValue<bool>() ?? true,
                // Math-Verify's extraction targets: without "expr", only LaTeX counts.
                PlainNumbers = record["match_types"] is not JsonArray types || types.Any(t => t?.GetValue<string>() is "expr" or "string"),
            };
            var verdict = MathVerifier.Verify(gold, pred, options);
            var expected = record["expected"]?.GetValue<bool>();
            if (expected is { } want)
            {
                var category = record["category"]?.GetValue<string>() ?? "all";
                var (right, all) = totals.GetValueOrDefault(category);
                totals[category] = (right + (verdict.Passed == want ? 1 : 0), all + 1);
                if (onlyFailures && verdict.Passed == want) continue;
            }
            record["verdict"] = verdict.Equal;
            record["gold_answer"] = verdict.GoldAnswer;
            record["pred_answer"] = verdict.PredAnswer;
            record["reason"] = verdict.Reason;
            record["elapsed_us"] = (long)verdict.Elapsed.TotalMicroseconds;
            await writer.WriteLineAsync(record.ToJsonString(serializer));
        }
        if (totals.Count > 0)
        {
            foreach (var (category, (right, all)) in totals)
                await Console.Error.WriteLineAsync($"{category,-28} {right,5} / {all,-5} {100.0 * right / all,6:F1} %");
            var sumRight = totals.Values.Sum(t => t.Right);
            var sumAll = totals.Values.Sum(t => t.All);
            await Console.Error.WriteLineAsync($"{"all",-28} {sumRight,5} / {sumAll,-5} {100.0 * sumRight / sumAll,6:F1} %");
        }
        return bad == 0 ? 0 : 2;
    }
}
