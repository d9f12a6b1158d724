using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.TeacherSim.Completions;
using AmDistill.TeacherSim.Models;
using Microsoft.Extensions.Options;

namespace AmDistill.TeacherSim.Batches;

/// <summary>A file uploaded to (or written by) the simulator: batch input, output or errors.</summary>
public sealed record SimFile(string Id, string Filename, string Purpose, long CreatedAt, byte[] Content);

/// <summary>
/// OpenAI's Batch API as the simulator serves it: files held in memory, each batch answered line by line by the same
/// simulated models as <c>/v1/chat/completions</c> once <see cref="SimBatchOptions.CompletionDelay"/> has passed, with
/// injected request and batch failures. Batches live as long as the process (the client under test restarts, not this).
/// </summary>
public sealed class SimBatchService(TeacherSimulator simulator, IOptions<TeacherSimOptions> options, ILogger<SimBatchService> logger)
{
    private readonly ConcurrentDictionary<string, SimFile> _files = new();
    private readonly ConcurrentDictionary<string, JsonObject> _batches = new();
    private readonly Random _faults = new(options.Value.Seed + 1);
    private long _sequence;
    private int _created;

    /// <summary>Batches created so far (tests count resubmissions with it).</summary>
    public int BatchesCreated => _batches.Count;

    public SimFile AddFile(string filename, string purpose, byte[] content)
    {
        var file = new SimFile($"file-{Interlocked.Increment(ref _sequence):x8}{Guid.NewGuid():N}"[..29], filename, purpose, Now(), content);
        _files[file.Id] = file;
        return file;
    }

    public SimFile? File(string id) => _files.GetValueOrDefault(id);

    public bool DeleteFile(string id) => _files.TryRemove(id, out _);

    public static JsonObject Describe(SimFile file) => new()
    {
        ["id"] = file.Id,
        ["object"] = "file",
        ["bytes"] = file.Content.LongLength,
        ["created_at"] = file.CreatedAt,
        ["filename"] = file.Filename,
        ["purpose"] = file.Purpose,
        ["status"] = "processed",
    };

    /// <summary>Creates a batch over an uploaded input file and starts answering it in the background; null when the file is unknown.</summary>
    public JsonObject? Create(string inputFileId, string endpoint, string completionWindow, JsonObject? metadata)
    {
        if (!_files.TryGetValue(inputFileId, out var input)) return null;
        var now = Now();
        var batch = new JsonObject
        {
            ["id"] = $"batch_{Interlocked.Increment(ref _sequence):x8}{Guid.NewGuid():N}"[..30],
            ["object"] = "batch",
            ["endpoint"] = endpoint,
            ["errors"] = null,
            ["input_file_id"] = inputFileId,
            ["completion_window"] = completionWindow,
            ["status"] = "validating",
            ["output_file_id"] = null,
            ["error_file_id"] = null,
            ["created_at"] = now,
            ["in_progress_at"] = null,
            ["expires_at"] = now + 24 * 3600,
            ["finalizing_at"] = null,
            ["completed_at"] = null,
            ["failed_at"] = null,
            ["expired_at"] = null,
            ["cancelling_at"] = null,
            ["cancelled_at"] = null,
            ["request_counts"] = new JsonObject { ["total"] = 0, ["completed"] = 0, ["failed"] = 0 },
            ["metadata"] = metadata?.DeepClone(),
        };
        _batches[batch["id"]!.GetValue<string>()] = batch;
        _ = Task.Run(() => RunAsync(batch, input));
        return Snapshot(batch);
    }

    /// <summary>Whether the response to the batch just created is to be lost (<see cref="SimBatchOptions.LoseCreateResponses"/>).</summary>
    public bool LoseResponse() => Interlocked.Increment(ref _created) <= options.Value.Batch.LoseCreateResponses;

    public JsonObject? Get(string id) => _batches.TryGetValue(id, out var batch) ? Snapshot(batch) : null;

    /// <summary>Newest first, as OpenAI lists them, after the batch <paramref name="after"/>.</summary>
    public JsonObject List(string? after, int limit)
    {
        var all = _batches.Values.Select(Snapshot).OrderByDescending(b => b["created_at"]!.GetValue<long>()).ThenByDescending(b => b["id"]!.GetValue<string>(), StringComparer.Ordinal).ToList();
        var start = after is null ? 0 : all.FindIndex(b => b["id"]!.GetValue<string>() == after) + 1;
        var page = all.Skip(start).Take(Math.Clamp(limit, 1, 100)).ToList();
        return new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray([.. page]),
            ["first_id"] = page.FirstOrDefault()?["id"]?.DeepClone(),
            ["last_id"] = page.LastOrDefault()?["id"]?.DeepClone(),
            ["has_more"] = start + page.Count < all.Count,
        };
    }

    public JsonObject? Cancel(string id)
    {
        if (!_batches.TryGetValue(id, out var batch)) return null;
        lock (batch)
        {
            if (batch["status"]!.GetValue<string>() is "validating" or "in_progress")
            {
                batch["status"] = "cancelled";
                batch["cancelled_at"] = Now();
            }
        }
        return Snapshot(batch);
    }

    private async Task RunAsync(JsonObject batch, SimFile input)
    {
        try
        {
            await Task.Delay(options.Value.Batch.CompletionDelay / 2);
            Set(batch, b => { b["status"] = "in_progress"; b["in_progress_at"] = Now(); });
            await Task.Delay(options.Value.Batch.CompletionDelay / 2);
            if (Draw() < options.Value.Batch.BatchFailureRate)
            {
                Fail(batch, "server_error", "The batch failed (injected).");
                return;
            }

            var output = new StringBuilder();
            var errors = new StringBuilder();
            int total = 0, completed = 0, failed = 0;
            using var reader = new StringReader(Encoding.UTF8.GetString(input.Content));
            for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
            {
                if (line.Length == 0) continue;
                total++;
                var answered = Answer(line, total);
                if (answered.Error is { } error)
                {
                    Fail(batch, "invalid_request", $"line {total}: {error}");
                    return;
                }
                (answered.Failed ? errors : output).Append(answered.Line).Append('\n');
                if (answered.Failed) failed++;
                else completed++;
            }
            var outputFile = AddFile($"{input.Id}_output.jsonl", "batch_output", Encoding.UTF8.GetBytes(output.ToString()));
            var errorFile = failed > 0 ? AddFile($"{input.Id}_error.jsonl", "batch_output", Encoding.UTF8.GetBytes(errors.ToString())) : null;
            Set(batch, b =>
            {
                if (b["status"]!.GetValue<string>() == "cancelled") return;
                b["status"] = "completed";
                b["completed_at"] = Now();
                b["output_file_id"] = outputFile.Id;
                b["error_file_id"] = errorFile?.Id;
                b["request_counts"] = new JsonObject { ["total"] = total, ["completed"] = completed, ["failed"] = failed };
            });
        }
        catch (Exception e)
        {
            logger.LogError(e, "Batch {Batch} failed", batch["id"]);
            Fail(batch, "server_error", e.Message);
        }
    }

    /// <summary>One output line for one input line; <c>Error</c> when the line is not a valid request (the whole batch fails, as OpenAI's validation does).</summary>
    private (string Line, bool Failed, string? Error) Answer(string line, int number)
    {
        string customId;
        ChatRequest? request;
        try
        {
            var node = JsonNode.Parse(line)!.AsObject();
            customId = node["custom_id"]?.GetValue<string>() ?? throw new JsonException("no custom_id");
            request = node["body"]?.Deserialize(ChatJsonContext.Default.ChatRequest);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return ("", false, $"invalid JSON line: {e.Message}");
        }
        if (request?.Messages is not { Count: > 0 }) return ("", false, "body.messages must be a non-empty array");
        if (simulator.Model(request.Model) is not { } model) return ("", false, $"The model `{request.Model}` does not exist");
        if ((request.N ?? 1) > 1 && !model.SupportsN) return ("", false, "n > 1 is not supported by this model");

        var id = $"batch_req_{number:x8}";
        if (Draw() < options.Value.Batch.RequestFailureRate)
        {
            var failure = new JsonObject
            {
                ["id"] = id,
                ["custom_id"] = customId,
                ["response"] = new JsonObject
                {
                    ["status_code"] = 500,
                    ["request_id"] = id,
                    ["body"] = new JsonObject { ["error"] = new JsonObject { ["message"] = "The server had an error while processing your request", ["type"] = "server_error" } },
                },
                ["error"] = null,
            };
            return (failure.ToJsonString(), true, null);
        }
        var (completion, _) = simulator.Complete(request, model, forceLength: false);
        var body = JsonSerializer.SerializeToNode(completion, ChatJsonContext.Default.ChatCompletion);
        var answer = new JsonObject
        {
            ["id"] = id,
            ["custom_id"] = customId,
            ["response"] = new JsonObject { ["status_code"] = 200, ["request_id"] = id, ["body"] = body },
            ["error"] = null,
        };
        return (answer.ToJsonString(), false, null);
    }

    private void Fail(JsonObject batch, string code, string message) => Set(batch, b =>
    {
        b["status"] = "failed";
        b["failed_at"] = Now();
        b["errors"] = new JsonObject { ["object"] = "list", ["data"] = new JsonArray(new JsonObject { ["code"] = code, ["message"] = message }) };
    });

    private double Draw()
    {
        lock (_faults) return _faults.NextDouble();
    }

    private static void Set(JsonObject batch, Action<JsonObject> change)
    {
        lock (batch) change(batch);
    }

    private static JsonObject Snapshot(JsonObject batch)
    {
        lock (batch) return batch.DeepClone().AsObject();
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}

public static class BatchEndpoints
{
    /// <summary><c>/v1/files</c> and <c>/v1/batches</c>, the subset of OpenAI's Files and Batch APIs a batch client uses.</summary>
    public static IEndpointRouteBuilder MapSimBatches(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/files", async (HttpContext context, SimBatchService batches) =>
        {
            // Batch input files reach 200 MB at OpenAI; the simulator takes what its client sends.
            if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
            var form = await context.Request.ReadFormAsync(new Microsoft.AspNetCore.Http.Features.FormOptions { MultipartBodyLengthLimit = long.MaxValue }, context.RequestAborted);
            if (form.Files.GetFile("file") is not { } upload) return Error(400, "'file' is required");
            using var content = new MemoryStream();
            await upload.CopyToAsync(content, context.RequestAborted);
            var file = batches.AddFile(upload.FileName, form["purpose"].ToString(), content.ToArray());
            return Results.Content(SimBatchService.Describe(file).ToJsonString(), "application/json");
        });
        app.MapGet("/v1/files/{id}", (string id, SimBatchService batches) =>
            batches.File(id) is { } file ? Results.Content(SimBatchService.Describe(file).ToJsonString(), "application/json") : NoSuch("file", id));
        app.MapGet("/v1/files/{id}/content", (string id, SimBatchService batches) =>
            batches.File(id) is { } file ? Results.Bytes(file.Content, "application/octet-stream") : NoSuch("file", id));
        app.MapDelete("/v1/files/{id}", (string id, SimBatchService batches) => batches.DeleteFile(id)
            ? Results.Content(new JsonObject { ["id"] = id, ["object"] = "file", ["deleted"] = true }.ToJsonString(), "application/json")
            : NoSuch("file", id));

        app.MapPost("/v1/batches", async (HttpContext context, SimBatchService batches) =>
        {
            var body = (await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted))?.AsObject();
            var input = body?["input_file_id"]?.GetValue<string>();
            var endpoint = body?["endpoint"]?.GetValue<string>();
            if (input is null || endpoint is not ("/v1/chat/completions" or "/chat/completions")) return Error(400, "input_file_id and endpoint /v1/chat/completions are required");
            var batch = batches.Create(input, endpoint, body!["completion_window"]?.GetValue<string>() ?? "24h", body["metadata"] as JsonObject);
            if (batch is null) return NoSuch("file", input);
            if (batches.LoseResponse())
            {
                context.Abort();
                return Results.Empty;
            }
            return Results.Content(batch.ToJsonString(), "application/json");
        });
        app.MapGet("/v1/batches", (string? after, int? limit, SimBatchService batches) => Results.Content(batches.List(after, limit ?? 20).ToJsonString(), "application/json"));
        app.MapGet("/v1/batches/{id}", (string id, SimBatchService batches) =>
            batches.Get(id) is { } batch ? Results.Content(batch.ToJsonString(), "application/json") : NoSuch("batch", id));
        app.MapPost("/v1/batches/{id}/cancel", (string id, SimBatchService batches) =>
            batches.Cancel(id) is { } batch ? Results.Content(batch.ToJsonString(), "application/json") : NoSuch("batch", id));
        return app;
    }

    private static IResult NoSuch(string what, string id) => Error(404, $"No such {what}: {id}");

    private static IResult Error(int status, string message) => Results.Content(
        new JsonObject { ["error"] = new JsonObject { ["message"] = message, ["type"] = "invalid_request_error" } }.ToJsonString(), "application/json", statusCode: status);
}
