using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Verifiers.InstructionFollowing;

namespace AmDistill.Cli.Verify;

/// <summary>
/// <c>amdistill verify if --input F.jsonl [--output O.jsonl]</c>: IFEval's checkers, line by line. Input line:
/// <c>{"key" | "id", "instruction_id_list", "kwargs", "response", "expected_strict"?, "expected_loose"?}</c>. Output line:
/// the input plus <c>"strict"</c> and <c>"loose"</c>, one verdict per instruction in order. Where the input carries
/// expected verdicts, agreement per instruction type goes to stderr. A bad line is reported with its number and the run goes on.
/// </summary>
internal static class VerifyIfCommand
{
    public static Command Create()
    {
        var input = new Option<FileInfo>("--input") { Description = "JSONL of responses with their instruction_id_list and kwargs.", Required = true };
        input.AcceptExistingOnly();
        var output = new Option<FileInfo?>("--output") { Description = "Verdicts (JSONL); default: standard output." };
        var failures = new Option<bool>("--failures") { Description = "Write only the lines where a verdict differs from the expected one." };
        var command = new Command("if", "Instruction following (IFEval's checkers), strict and loose.") { input, output, failures };
        command.SetAction((result, cancellationToken) => RunAsync(result.GetValue(input)!, result.GetValue(output), result.GetValue(failures), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo input, FileInfo? output, bool onlyFailures, CancellationToken cancellationToken)
    {
        await using var stream = output is null ? Console.OpenStandardOutput() : output.Create();
        await using var writer = new StreamWriter(stream);
        var serializer = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var agreement = new IfEvalAgreement();
        var (lineNumber, bad) = (0, 0);
        using var reader = input.OpenText();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject record;
            IfEvalVerdict strict, loose;
            try
            {
                record = JsonNode.Parse(line)?.AsObject() ?? throw new JsonException("not an object");
                var response = record["response"]?.GetValue<string>() ?? throw new JsonException("missing \"response\"");
                using var document = JsonDocument.Parse(line);
                var instructions = IfEvalChecker.Parse(document.RootElement);
                strict = IfEvalChecker.Verify(instructions, response);
                loose = IfEvalChecker.Verify(instructions, response, loose: true);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
            {
                bad++;
                await Console.Error.WriteLineAsync($"{input.Name}:{lineNumber}: skipped: {e.Message}");
                continue;
            }
            var differs = agreement.Add("strict", strict, Expected(record, "expected_strict"))
                | agreement.Add("loose", loose, Expected(record, "expected_loose"));
            if (onlyFailures && !differs) continue;
            record["strict"] = new JsonArray([.. strict.Results.Select(r => (JsonNode)r.Followed)]);
            record["loose"] = new JsonArray([.. loose.Results.Select(r => (JsonNode)r.Followed)]);
            await writer.WriteLineAsync(record.ToJsonString(serializer));
        }
        foreach (var row in agreement.Table())
            await Console.Error.WriteLineAsync(row);
        return bad == 0 ? 0 : 2;
    }

    private static bool[]? Expected(JsonObject record, string name) =>
        record[name] is JsonArray values ? [.. values.Select(v => v!.GetValue<bool>())] : null;
}
