using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.Json;
using AmDistill.Generation.Teachers;
using OpenAI.Batch;
using OpenAI.Files;

namespace AmDistill.Generation.Batches;

/// <summary>A provider's view of one batch.</summary>
public sealed record BatchState(string Id, string Status, string InputFileId, string? OutputFileId, string? ErrorFileId,
    int Total, int Completed, int Failed, string? Errors, string? LocalId)
{
    /// <summary>No further change will come: its output (if any) can be collected.</summary>
    public bool Ended => Status is "completed" or "failed" or "expired" or "cancelled";

    /// <summary>The metadata key that ties a provider's batch to the record that submitted it.</summary>
    public const string LocalIdKey = "amdistill_batch";

    public static BatchState Parse(JsonElement batch)
    {
        string? Text(string name) => batch.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        int Count(string name) => batch.TryGetProperty("request_counts", out var counts) && counts.ValueKind == JsonValueKind.Object
            && counts.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : 0;
        var errors = batch.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object && e.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
            ? string.Join("; ", data.EnumerateArray().Select(d => d.TryGetProperty("message", out var m) ? m.GetString() : d.ToString()))
            : null;
        var localId = batch.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object
            && metadata.TryGetProperty(LocalIdKey, out var id) ? id.GetString() : null;
        return new(Text("id") ?? "", Text("status") ?? "", Text("input_file_id") ?? "", Text("output_file_id"), Text("error_file_id"),
            Count("total"), Count("completed"), Count("failed"), errors, localId);
    }
}

/// <summary>
/// One batch teacher's Files and Batch APIs through the official clients (OpenAI, or Azure OpenAI's global batch), on the
/// HTTP client <c>teacher-batch:{name}</c>, whose resilience never retries a POST: a batch created twice is paid twice.
/// </summary>
#pragma warning disable OPENAI001 // the Batch client is marked experimental
public sealed class BatchApi
{
    private readonly OpenAIFileClient _files;
    private readonly BatchClient _batches;
    private readonly TeacherOptions _teacher;

    public BatchApi(TeacherOptions teacher, HttpClient http)
    {
        _teacher = teacher;
        var client = TeacherClient.CreateClient(teacher, http, teacher.RequestTimeout);
        (_files, _batches) = (client.GetOpenAIFileClient(), client.GetBatchClient());
    }

    public static string HttpClientName(string teacher) => $"teacher-batch:{teacher}";

    /// <summary>The <c>url</c> of each input line and the batch's endpoint: Azure OpenAI routes without the version prefix.</summary>
    public string Endpoint => _teacher.Provider == TeacherProvider.Azure ? "/chat/completions" : "/v1/chat/completions";

    public async Task<string> UploadAsync(Stream content, string filename, CancellationToken cancellationToken)
    {
        var file = await _files.UploadFileAsync(content, filename, FileUploadPurpose.Batch, cancellationToken);
        return file.Value.Id;
    }

    /// <summary>Submits a batch over an uploaded file, tagged with the record's id so that a crash right after can find it.</summary>
    public async Task<BatchState> CreateAsync(string inputFileId, string localId, CancellationToken cancellationToken)
    {
        var body = BinaryContent.Create(BinaryData.FromObjectAsJson(new Dictionary<string, object>
        {
            ["input_file_id"] = inputFileId,
            ["endpoint"] = Endpoint,
            ["completion_window"] = "24h",
            ["metadata"] = new Dictionary<string, string> { [BatchState.LocalIdKey] = localId },
        }));
        var operation = await _batches.CreateBatchAsync(body, waitUntilCompleted: false, new RequestOptions { CancellationToken = cancellationToken });
        return Read(operation.GetRawResponse().Content);
    }

    /// <summary>A batch's status. The client (2.1) reads one only through its operation type, rehydrated from the id.</summary>
    public async Task<BatchState> GetAsync(string batchId, CancellationToken cancellationToken)
    {
        var token = ContinuationToken.FromBytes(BinaryData.FromObjectAsJson(new Dictionary<string, string> { ["batchId"] = batchId }));
        var operation = await CreateBatchOperation.RehydrateAsync(_batches, token, cancellationToken);
        return Read(operation.GetRawResponse().Content);
    }

    /// <summary>The provider's batch submitted for <paramref name="localId"/>, looked for among those created since
    /// <paramref name="since"/> (the list is newest first).</summary>
    public async Task<BatchState?> FindAsync(string localId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var oldest = since.AddMinutes(-5).ToUnixTimeSeconds();
        await foreach (var page in _batches.GetBatchesAsync(after: null, limit: 100, new RequestOptions { CancellationToken = cancellationToken }).GetRawPagesAsync())
        {
            using var document = JsonDocument.Parse(page.GetRawResponse().Content);
            foreach (var batch in document.RootElement.GetProperty("data").EnumerateArray())
            {
                var state = BatchState.Parse(batch);
                if (state.LocalId == localId) return state;
                if (batch.TryGetProperty("created_at", out var created) && created.ValueKind == JsonValueKind.Number && created.GetInt64() < oldest) return null;
            }
        }
        return null;
    }

    /// <summary>A file's content as a stream, not buffered: output files reach hundreds of megabytes.</summary>
    public async Task<Stream> OpenAsync(string fileId, CancellationToken cancellationToken)
    {
        var result = await _files.DownloadFileAsync(fileId, new RequestOptions { CancellationToken = cancellationToken, BufferResponse = false });
        return result.GetRawResponse().ContentStream ?? Stream.Null;
    }

    public async Task DeleteFileAsync(string fileId, CancellationToken cancellationToken) =>
        await _files.DeleteFileAsync(fileId, cancellationToken);

    private static BatchState Read(BinaryData content)
    {
        using var document = JsonDocument.Parse(content);
        return BatchState.Parse(document.RootElement);
    }
}
#pragma warning restore OPENAI001
