using AmDistill.Dataset.Export;
using AmDistill.Dataset.Ingestion;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Report;

public static class RunReport
{
    /// <summary>The report's figures from the run's final query records in the store, the last one of each query.</summary>
    public static async Task<RunReportData> FillAsync(IDatasetStore store, RunReportData data, CancellationToken cancellationToken = default)
    {
        await foreach (var line in QueryRecordLines.ReadLatestAsync(store, data.Run, cancellationToken))
            data.Add(QueryRecordFormat.Parse(line));
        // One more pass, over the samples, for the explored queries' examples and verdicts (only their lines are parsed).
        var ids = data.Explored.Select(h => System.Text.Json.JsonSerializer.Serialize(h.QueryId)).ToList();
        if (ids.Count > 0)
            await foreach (var line in DatasetLines.ReadAsync(store, data.Run, DatasetKinds.Samples, cancellationToken: cancellationToken))
                if (ids.Any(id => line.Contains(id, StringComparison.Ordinal))
                    && System.Text.Json.JsonSerializer.Deserialize(line, Samples.DatasetJsonContext.Default.StoredSample) is { } sample)
                    data.OfferExample(sample);
        return data;
    }

    /// <summary>Written under a temporary name and renamed, so a reader never sees half a page.</summary>
    public static async Task WriteAsync(RunReportData data, string path, CancellationToken cancellationToken = default)
    {
        await File.WriteAllTextAsync(path + ".partial", RunReportHtml.Render(data), cancellationToken);
        File.Move(path + ".partial", path, overwrite: true);
    }
}
