using AmDistill.Dataset.Export;
using AmDistill.Dataset.Ingestion;
using AmDistill.Dataset.Runs;
using AmDistill.Dataset.Store;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Report;

public static class RunReport
{
    /// <summary>The report's figures from the run's final query records in the store, the last one of each query.</summary>
    public static async Task<RunReportData> BuildAsync(IDatasetStore store, RunConfiguration run, IReadOnlyList<TeacherCost> costs,
        CancellationToken cancellationToken = default)
    {
        var data = new RunReportData(run.Run, [.. run.Teachers.Select(t => t.Name)], run.SelectionTeacher,
            run.ExportOptions(ExportPolicy.StageOne).Selection, run.Ladder) { Costs = costs };
        await foreach (var line in QueryRecordLines.ReadLatestAsync(store, run.Run, cancellationToken))
            data.Add(QueryRecordFormat.Parse(line));
        // One more pass, over the samples, for the hardest queries' examples (only their lines are parsed).
        var ids = data.Hardest.Select(h => System.Text.Json.JsonSerializer.Serialize(h.QueryId)).ToList();
        if (ids.Count > 0)
            await foreach (var line in DatasetLines.ReadAsync(store, run.Run, DatasetKinds.Samples, cancellationToken: cancellationToken))
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
