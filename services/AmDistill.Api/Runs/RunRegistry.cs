using System.Text.Json;
using System.Text.Json.Nodes;
using AmDistill.Contracts;
using AmDistill.Dataset.Ingestion;
using AmDistill.Runs;
using AmDistill.Dataset.Samples;
using AmDistill.Dataset.Store;
using AmDistill.Messaging;
using StackExchange.Redis;
using AmDistill.Scoring.Core;

namespace AmDistill.Api.Runs;

/// <summary>A run as Redis holds it (<see cref="RunKeys.Run"/>).</summary>
/// <param name="Cursor">Queries fed (in a cascade run, to the first teacher).</param>
/// <param name="Escalation">In a cascade run, queries whose first answers were decided on (and sent on if escalated).</param>
/// <param name="Finished">Steps of a run's completion already done: <c>outputs</c> (exports and report), <c>training</c> (submitted).</param>
/// <param name="Samples">Imported responses (<c>input/samples.jsonl</c>, put together at the start); <paramref name="SampleCursor"/> of them sent to verification.</param>
/// <param name="Imports">Each imported file's SHA-256, in upload order (its rows are <c>input/imported/part-{sha256}.jsonl</c>).</param>
public sealed record RunInfo(RunConfiguration Configuration, string State, long Queries, long Cursor, long Escalation, RunIngest? Ingest,
    IReadOnlySet<string> Finished, long Samples = 0, long SampleCursor = 0, IReadOnlyList<string>? Imports = null)
{
    public bool Fed => Queries > 0 && Cursor >= Queries && SampleCursor >= Samples && (!Configuration.Feeder.Cascade || Escalation >= Queries);
}

/// <summary>The outcome of a state change: null, or why it was refused (and the HTTP status that says so).</summary>
public sealed record RunProblem(int Status, string Message);

/// <summary>
/// Runs in Redis, and their files under the dataset store: <c>{store}/{run}/input/</c> (the upload, the kept queries,
/// the rejects) and <c>{store}/{run}/export/</c>. Every state change is one conditional transaction, so two callers
/// (or two Api replicas) cannot both move a run.
/// </summary>
public sealed class RunRegistry(IConnectionMultiplexer redis, IDatasetStore store)
{
    private IDatabase Db => redis.GetDatabase();

    public string RunDirectory(string run) => Path.Combine(((LocalDatasetStore)store).Root, run);

    public string InputQueries(string run) => Path.Combine(RunDirectory(run), "input", "queries.jsonl");

    /// <summary>The imported responses, put together when the run starts.</summary>
    public string InputSamples(string run) => Path.Combine(RunDirectory(run), "input", "samples.jsonl");

    private string ImportDirectory(string run) => Path.Combine(RunDirectory(run), "input", "imported");

    /// <summary>An imported file's normalised rows, named by the file's SHA-256.</summary>
    private string Part(string run, string hash) => Path.Combine(ImportDirectory(run), $"part-{hash}.jsonl");

    public string ExportDirectory(string run) => Path.Combine(RunDirectory(run), "export");

    public async Task<RunInfo?> GetAsync(string run)
    {
        if (!RunIds.IsValid(run)) return null;
        var fields = (await Db.HashGetAllAsync(RunKeys.Run(run))).ToDictionary(e => e.Name.ToString(), e => e.Value);
        if (!fields.TryGetValue("config", out var json)) return null;
        var (configuration, errors) = RunConfiguration.Parse(json!);
        if (configuration is null) throw new InvalidOperationException($"run {run}: its stored configuration does not read ({string.Join("; ", errors)})");
        return new RunInfo(configuration, fields.GetValueOrDefault("state").ToString(), (long)fields.GetValueOrDefault("queries", 0),
            (long)fields.GetValueOrDefault("cursor", 0), (long)fields.GetValueOrDefault("escalation", 0), fields.TryGetValue("ingest", out var ingest) ? JsonSerializer.Deserialize<RunIngest>(ingest.ToString(), ApiJson.Options) : null,
            fields.Keys.Where(k => k.StartsWith("finished:", StringComparison.Ordinal)).Select(k => k["finished:".Length..]).ToHashSet(),
            (long)fields.GetValueOrDefault("samples", 0), (long)fields.GetValueOrDefault("samplecursor", 0),
            fields.TryGetValue("imports", out var imports) ? JsonSerializer.Deserialize<List<string>>(imports.ToString()) : null);
    }

    /// <summary>Runs the feeder looks at: started, not yet completed or cancelled.</summary>
    private const string ActiveRuns = "amdistill:runs:active";

    public async Task<IReadOnlyList<string>> ListActiveAsync() => [.. (await Db.SetMembersAsync(ActiveRuns)).Select(v => v.ToString())];

    public Task DeactivateAsync(string run) => Db.SetRemoveAsync(ActiveRuns, run);

    public async Task<IReadOnlyList<string>> ListAsync() =>
        [.. (await Db.SortedSetRangeByRankAsync(RunKeys.Runs)).Select(v => v.ToString())];

    /// <summary>A new run in state <c>created</c>; its id must not be in use. A store directory left by an earlier Redis
    /// (a run of the same id that Redis no longer knows) is cleared.</summary>
    public async Task<RunProblem?> CreateAsync(RunConfiguration configuration, CancellationToken cancellationToken = default)
    {
        if (configuration.Evaluation is { } evaluation && UnknownBenchmark(evaluation.Benchmarks) is { } unknown)
            return new(400, $"evaluation.benchmarks: {unknown}");
        var key = RunKeys.Run(configuration.Run);
        var transaction = Db.CreateTransaction();
        transaction.AddCondition(Condition.KeyNotExists(key));
        _ = transaction.HashSetAsync(key, [new("config", configuration.ToJson()), new("state", RunStates.Created), new("queries", 0), new("cursor", 0)]);
        _ = transaction.SortedSetAddAsync(RunKeys.Runs, configuration.Run, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        if (!await transaction.ExecuteAsync()) return new(409, $"run '{configuration.Run}' exists");
        store.DeleteRun(configuration.Run);
        return configuration.Evaluation is null ? null : await IngestBenchmarksAsync(configuration.Run, cancellationToken);
    }

    /// <summary>
    /// Ingests an uploaded query file (JSONL or Parquet in the shared query schema) with the run's cleaning settings:
    /// bad lines and every drop with its reason go to <c>input/rejects.jsonl</c>, the kept queries to
    /// <c>input/queries.jsonl</c>. Only before the run starts; a second upload replaces the first.
    /// </summary>
    public async Task<(QueryUpload? Report, RunProblem? Problem)> UploadAsync(string run, Stream body, bool parquet, CancellationToken cancellationToken)
    {
        var info = await GetAsync(run);
        if (info is null) return (null, new(404, $"no run '{run}'"));
        if (info.State != RunStates.Created) return (null, new(409, $"run '{run}' is {info.State}: queries are uploaded before it starts"));
        if (info.Imports is { Count: > 0 }) return (null, new(409, $"run '{run}' takes its queries from its imported responses"));
        if (info.Configuration.Evaluation is not null) return (null, new(409, $"run '{run}' is an evaluation: its queries are its benchmark sets"));
        var input = Path.GetDirectoryName(InputQueries(run))!;
        Directory.CreateDirectory(input);
        var upload = Path.Combine(input, parquet ? "upload.parquet" : "upload.jsonl");
        try
        {
            await using (var file = File.Create(upload))
                await body.CopyToAsync(file, cancellationToken);
            return await IngestAsync(run, info, upload, parquet, input, cancellationToken);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, new(413, $"the query file is larger than the upload limit (Api:MaxUploadBytes)"));
        }
        finally
        {
            File.Delete(upload); // ingested into input/queries.jsonl, or refused: the raw upload is kept neither way
        }
    }

    /// <summary>
    /// Imports a file of responses (AM-schema rows, chat or ShareGPT records; JSONL, or AM-schema Parquet) into a run
    /// before it starts: its rows from the run's imported teachers are normalised into a part, bad ones reported with
    /// their number and kept in <c>input/imported/rejects.jsonl</c>. Files accumulate (shards of one dataset); a file
    /// imported before (same SHA-256) adds nothing. The queries are the rows' questions.
    /// </summary>
    public async Task<(SampleUpload? Report, RunProblem? Problem)> ImportAsync(string run, Stream body, bool parquet, CancellationToken cancellationToken)
    {
        var info = await GetAsync(run);
        if (info is null) return (null, new(404, $"no run '{run}'"));
        if (info.State != RunStates.Created) return (null, new(409, $"run '{run}' is {info.State}: responses are imported before it starts"));
        var teachers = info.Configuration.ImportedTeachers;
        if (teachers.Count == 0)
            return (null, new(409, $"run '{run}' has no imported teachers: mark the teachers whose responses you bring with \"imported\": true"));
        if (info.Queries > 0 && info.Imports is not { Count: > 0 })
            return (null, new(409, $"run '{run}' has uploaded queries; an import brings its own (one run, one source of queries)"));
        var directory = ImportDirectory(run);
        Directory.CreateDirectory(directory);
        var upload = Path.Combine(directory, $"upload-{Guid.NewGuid():N}.{(parquet ? "parquet" : "jsonl")}");
        try
        {
            string hash;
            await using (var file = File.Create(upload))
            using (var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    sha.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
                hash = Convert.ToHexStringLower(sha.GetHashAndReset());
            }
            var imports = info.Imports ?? [];
            if (imports.Contains(hash)) return (new SampleUpload(run, Duplicate: true, 0, 0, 0, new Dictionary<string, long>(), new Dictionary<string, long>(), []), null);
            // Named by its content, so two imports at once never write one file.
            var part = Part(run, hash);
            ImportReport report;
            try
            {
                report = await SampleImport.NormaliseAsync(upload, parquet, teachers, part + ".partial", Path.Combine(directory, "rejects.jsonl"), cancellationToken);
                File.Move(part + ".partial", part, overwrite: true);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException)
            {
                File.Delete(part + ".partial");
                return (null, new(400, $"not a readable {(parquet ? "Parquet" : "JSONL")} file: {e.Message}"));
            }
            var transaction = Db.CreateTransaction();
            transaction.AddCondition(Condition.HashEqual(RunKeys.Run(run), "state", RunStates.Created));
            transaction.AddCondition(info.Imports is null ? Condition.HashNotExists(RunKeys.Run(run), "imports")
                : Condition.HashEqual(RunKeys.Run(run), "imports", JsonSerializer.Serialize(info.Imports)));
            _ = transaction.HashSetAsync(RunKeys.Run(run), "imports", JsonSerializer.Serialize(imports.Append(hash).ToList()));
            if (!await transaction.ExecuteAsync())
            {
                // The same file imported at once by another caller keeps its part.
                if ((await GetAsync(run))?.Imports?.Contains(hash) != true) File.Delete(part);
                return (null, new(409, $"run '{run}' changed during the import (started, or another import at once): import again"));
            }
            return (new SampleUpload(run, Duplicate: false, report.Read, report.Kept, report.BadRows, report.Teachers, report.Skipped, report.Errors), null);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, new(413, $"the file is larger than the upload limit (Api:MaxUploadBytes)"));
        }
        finally
        {
            File.Delete(upload);
        }
    }

    /// <summary>
    /// An importing run's parts put together into its queries and samples (each query expecting its imported responses
    /// and the generating teachers' passes), and the counts the status and scoring read: queries, expected samples,
    /// each imported teacher's samples.
    /// </summary>
    private async Task<RunProblem?> CombineImportsAsync(RunInfo info, CancellationToken cancellationToken)
    {
        var run = info.Configuration.Run;
        var parts = info.Imports!.Select(hash => Part(run, hash)).ToList();
        var totals = await SampleImport.CombineAsync(run, parts, info.Configuration.PassesPerQuery, InputQueries(run), InputSamples(run), cancellationToken);
        if (totals.Samples == 0) return new(409, $"run '{run}' has imported no responses: every row was rejected (input/imported/rejects.jsonl says why)");
        var report = JsonSerializer.Serialize(new RunIngest(null, new ImportedInput(parts.Count, totals.Queries, totals.Samples, totals.Teachers)), ApiJson.Options);
        var transaction = Db.CreateTransaction();
        transaction.AddCondition(Condition.HashEqual(RunKeys.Run(run), "state", RunStates.Created));
        _ = transaction.HashSetAsync(RunKeys.Run(run), [new("queries", totals.Queries), new("samples", totals.Samples), new("samplecursor", 0), new("ingest", report)]);
        _ = transaction.HashSetAsync(RunKeys.Stats(run), [
            new("queries", totals.Queries), new("expected_samples", totals.Samples + totals.Queries * info.Configuration.PassesPerQuery),
            new("imported_samples", totals.Samples),
            .. totals.Teachers.Select(t => new HashEntry($"{t.Key}:samples", t.Value))]);
        return await transaction.ExecuteAsync() ? null : new(409, $"run '{run}' changed state meanwhile");
    }

    private async Task<(QueryUpload? Report, RunProblem? Problem)> IngestAsync(string run, RunInfo info, string upload, bool parquet, string input,
        CancellationToken cancellationToken)
    {
        var options = info.Configuration.IngestOptions;
        // Named sets of the Api's own data/benchmarks (the configuration accepts names only).
        var names = info.Configuration.DecontaminationSets;
        if (UnknownBenchmark(names) is { } unknown) return (null, new(400, $"ingestion.decontaminateAgainst: {unknown}"));
        var benchmarks = names.Select(BenchmarkFile).ToList();
        var decontaminator = benchmarks.Count > 0 ? QueryIngestion.LoadBenchmarks(benchmarks, options.DecontaminationNgram) : null;
        IngestReport report;
        try
        {
            report = await new QueryIngestion(options, decontaminator).RunAsync(upload, InputQueries(run), Path.Combine(input, "rejects.jsonl"), cancellationToken);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException)
        {
            return (null, new(400, $"not a readable {(parquet ? "Parquet" : "JSONL")} file: {e.Message}"));
        }
        var ingested = new QueryUpload(run, report.Read, report.Kept, report.BadLines, report.Dropped, report.Errors);
        var json = JsonSerializer.Serialize(new RunIngest(ingested, null), ApiJson.Options);
        var transaction = Db.CreateTransaction();
        transaction.AddCondition(Condition.HashEqual(RunKeys.Run(run), "state", RunStates.Created));
        _ = transaction.HashSetAsync(RunKeys.Run(run), [new("queries", report.Kept), new("ingest", json)]);
        _ = transaction.HashSetAsync(RunKeys.Stats(run), [new("queries", report.Kept), new("expected_samples", report.Kept * info.Configuration.PassesPerQuery)]);
        if (!await transaction.ExecuteAsync()) return (null, new(409, $"run '{run}' left state created during the upload"));
        return (ingested, null);
    }

    /// <summary>The Api's own benchmark sets (a configuration names them, never a path).</summary>
    private static readonly string BenchmarkSets = Path.Combine(AppContext.BaseDirectory, "data", "benchmarks");

    private static string BenchmarkFile(string name) => Path.Combine(BenchmarkSets, name + ".jsonl");

    /// <summary>Why one of <paramref name="names"/> is not a benchmark set, or null.</summary>
    private static string? UnknownBenchmark(IEnumerable<string> names) =>
        names.FirstOrDefault(n => !RunIds.IsValid(n) || !File.Exists(BenchmarkFile(n))) is { } unknown
            ? $"'{unknown}' is not a benchmark set; known: " + string.Join(", ",
                Directory.EnumerateFiles(BenchmarkSets, "*.jsonl").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal))
            : null;

    /// <summary>
    /// An evaluation run's queries: the first <c>limit</c> problems of each of its benchmark sets, each id prefixed with
    /// its set's name (the report groups by it), ingested with nothing dropped.
    /// </summary>
    public async Task<RunProblem?> IngestBenchmarksAsync(string run, CancellationToken cancellationToken)
    {
        var info = await GetAsync(run);
        if (info?.Configuration.Evaluation is not { } evaluation) return new(404, $"no evaluation run '{run}'");
        var input = Path.GetDirectoryName(InputQueries(run))!;
        Directory.CreateDirectory(input);
        var upload = Path.Combine(input, "upload.jsonl");
        await using (var writer = new StreamWriter(upload))
            foreach (var name in evaluation.Benchmarks)
            {
                var taken = 0;
                foreach (var line in File.ReadLines(BenchmarkFile(name)))
                {
                    if (line.Trim().Length == 0 || JsonNode.Parse(line) is not JsonObject problem) continue;
                    var id = problem["id"]!.ToString();
                    problem["id"] = id.StartsWith(name + "/", StringComparison.Ordinal) ? id : $"{name}/{id}";
                    await writer.WriteLineAsync(problem.ToJsonString());
                    if (++taken == evaluation.Limit) break;
                }
            }
        return (await IngestAsync(run, info, upload, parquet: false, input, cancellationToken)).Problem;
    }

    /// <summary>created → running, after checking the run's teachers against those the generation service registered
    /// (and putting an importing run's imported responses together).</summary>
    public async Task<RunProblem?> StartAsync(string run, CancellationToken cancellationToken = default)
    {
        var info = await GetAsync(run);
        if (info is null) return new(404, $"no run '{run}'");
        if (info.State != RunStates.Created) return new(409, $"run '{run}' is {info.State}");
        if (info.Queries == 0 && info.Imports is not { Count: > 0 })
            return new(409, info.Configuration.ImportedTeachers.Count > 0
                ? $"run '{run}' has no responses: import them first (PUT /api/runs/{run}/samples)"
                : $"run '{run}' has no queries: upload them first (PUT /api/runs/{run}/queries)");
        if (await CheckTeachersAsync(info.Configuration) is { } problem) return problem;
        if (info.Imports is { Count: > 0 } && await CombineImportsAsync(info, cancellationToken) is { } combined) return combined;
        var transaction = Db.CreateTransaction();
        transaction.AddCondition(Condition.HashEqual(RunKeys.Run(run), "state", RunStates.Created));
        _ = transaction.HashSetAsync(RunKeys.Run(run), "state", RunStates.Running);
        _ = transaction.SetAddAsync(ActiveRuns, run);
        _ = transaction.HashSetAsync(RunKeys.Stats(run), "started", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return await transaction.ExecuteAsync() ? null : new(409, $"run '{run}' changed state meanwhile");
    }

    /// <summary>The run's generating teachers against those the generation service registered (imported ones answer no request).</summary>
    public async Task<RunProblem?> CheckTeachersAsync(RunConfiguration configuration)
    {
        if (configuration.GeneratingTeachers.Count == 0) return null;
        var registered = (await Db.HashGetAllAsync(RunKeys.Teachers)).ToDictionary(e => e.Name.ToString(), e => JsonNode.Parse(e.Value.ToString()));
        if (registered.Count == 0) return new(503, "no generation service has registered its teachers yet");
        // Models the trainer service serves answer as teachers of the generation service too (their model is their name).
        foreach (var served in await Db.HashKeysAsync(RunKeys.ServedTeachers))
            registered.TryAdd(served.ToString(), new JsonObject { ["model"] = served.ToString() });
        var errors = new List<string>();
        for (var i = 0; i < configuration.Teachers.Count; i++)
        {
            var teacher = configuration.Teachers[i];
            if (teacher.Imported) continue;
            if (!registered.TryGetValue(teacher.Name, out var known))
                errors.Add($"teachers[{i}].name: '{teacher.Name}' is not a teacher of the generation service nor a served model (known: {string.Join(", ", registered.Keys.Order())})");
            else if (teacher.Model is not null && known?["model"]?.ToString() != teacher.Model)
                errors.Add($"teachers[{i}].model: the run asks for '{teacher.Model}', teacher '{teacher.Name}' serves '{known?["model"]}'");
        }
        return errors.Count == 0 ? null : new(400, string.Join("; ", errors));
    }

    /// <summary>Moves a run from one of <paramref name="from"/> to <paramref name="to"/>.</summary>
    public async Task<RunProblem?> MoveAsync(string run, string to, params string[] from)
    {
        var state = (string?)await Db.HashGetAsync(RunKeys.Run(run), "state");
        if (state is null) return new(404, $"no run '{run}'");
        if (!from.Contains(state)) return new(409, $"run '{run}' is {state}, not {string.Join(" or ", from)}");
        var transaction = Db.CreateTransaction();
        transaction.AddCondition(Condition.HashEqual(RunKeys.Run(run), "state", state));
        _ = transaction.HashSetAsync(RunKeys.Run(run), "state", to);
        // An ended run's elapsed time (and so its throughput) stops there.
        if (to is RunStates.Completed or RunStates.Cancelled) _ = transaction.HashSetAsync(RunKeys.Stats(run), "ended", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return await transaction.ExecuteAsync() ? null : new(409, $"run '{run}' changed state meanwhile");
    }

    /// <summary>
    /// Deletes a run that is not running or paused (cancel it first): its Redis state (run, counters, score records,
    /// done-markers) and its files in the store (input, samples, query records, exports). A new run may then take its id.
    /// </summary>
    public async Task<RunProblem?> DeleteAsync(string run)
    {
        var state = RunIds.IsValid(run) ? (string?)await Db.HashGetAsync(RunKeys.Run(run), "state") : null;
        if (state is null) return new(404, $"no run '{run}'");
        if (state is RunStates.Running or RunStates.Paused) return new(409, $"run '{run}' is {state}: cancel it before deleting it");
        var transaction = Db.CreateTransaction();
        transaction.AddCondition(Condition.HashEqual(RunKeys.Run(run), "state", state));
        _ = transaction.KeyDeleteAsync(RunKeys.Run(run));
        _ = transaction.SortedSetRemoveAsync(RunKeys.Runs, run);
        _ = transaction.SetRemoveAsync(ActiveRuns, run);
        if (!await transaction.ExecuteAsync()) return new(409, $"run '{run}' changed state meanwhile");

        // The rest is keyed by the run's id; no one writes it any more (the run is gone, and was not running).
        var patterns = RunKeys.OnceStages.Select(stage => $"{ProcessOnce.MarkerPrefix}{RunKeys.OnceScope(stage, run)}:*").Append($"{RunKeys.Run(run)}:*");
        foreach (var server in redis.GetServers().Where(s => !s.IsReplica))
            foreach (var pattern in patterns)
                await DeleteMatchingAsync(server, pattern);
        store.DeleteRun(run);
        return null;
    }

    // A completed run's score records go, except those holding a dead-lettered placeholder (a redrive takes it back
    // and needs the others' scores to make the query final again).
    private static readonly LuaScript DropSettledRecords = LuaScript.Prepare("""
        local removed = 0
        for _, key in ipairs(cjson.decode(@keys)) do
          local keep = false
          for _, field in ipairs(redis.call('HKEYS', key)) do
            if string.find(field, '#dead-letter-', 1, true) then keep = true break end
          end
          if not keep then removed = removed + redis.call('DEL', key) end
        end
        return removed
        """);

    /// <summary>
    /// Redis holds the backlog, not the history: once a run has completed (and its entries had time to be acknowledged),
    /// its done-markers and the score records of its final queries — the store holds the samples and the final records —
    /// are removed, all but the records a redrive needs (a redrive makes its own markers anew). Left: the run, its
    /// counters and its final set. Returns the keys removed.
    /// </summary>
    public async Task<long> CompactAsync(string run)
    {
        long removed = await Db.KeyDeleteAsync(RunKeys.ScoredQueries(run)) ? 1 : 0;
        foreach (var server in redis.GetServers().Where(s => !s.IsReplica))
        {
            foreach (var stage in RunKeys.OnceStages)
                removed += await DeleteMatchingAsync(server, $"{ProcessOnce.MarkerPrefix}{RunKeys.OnceScope(stage, run)}:*");
            var batch = new List<string>(500);
            await foreach (var key in server.KeysAsync(pattern: RunKeys.QueryRecord(run, "*"), pageSize: 1000))
            {
                batch.Add(key.ToString());
                if (batch.Count == 500) removed += await DropAsync(batch);
            }
            removed += await DropAsync(batch);
        }
        return removed;

        async Task<long> DropAsync(List<string> keys)
        {
            if (keys.Count == 0) return 0;
            var dropped = (long)await Db.ScriptEvaluateAsync(DropSettledRecords, new { keys = JsonSerializer.Serialize(keys) });
            keys.Clear();
            return dropped;
        }
    }

    private async Task<long> DeleteMatchingAsync(IServer server, string pattern)
    {
        long removed = 0;
        var batch = new List<RedisKey>(1000);
        await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 1000))
        {
            batch.Add(key);
            if (batch.Count == 1000) removed += await DeleteKeysAsync(batch);
        }
        return removed + await DeleteKeysAsync(batch);
    }

    private async Task<long> DeleteKeysAsync(List<RedisKey> keys)
    {
        var removed = keys.Count > 0 ? await Db.KeyDeleteAsync([.. keys]) : 0;
        keys.Clear();
        return removed;
    }

    // One dead letter taken back: its unscored outcomes removed (and uncounted), its query no longer final, the entry
    // back on the stream it came from. One script, so a redrive interrupted half-way leaves no entry both dead and live.
    private static readonly LuaScript Redrive = LuaScript.Prepare("""
        local removed = 0
        for _, field in ipairs(cjson.decode(@fields)) do
          removed = removed + redis.call('HDEL', @record, field)
        end
        if removed > 0 then
          redis.call('HINCRBY', @stats, @unscoredStat, -removed)
          redis.call('HINCRBY', @stats, @deadStat, -removed)
          if redis.call('HINCRBY', @stats, @reasonStat, -removed) <= 0 then redis.call('HDEL', @stats, @reasonStat) end
          redis.call('SREM', @final, @query)
          redis.call('DEL', @marker)
        end
        redis.call('XADD', @stream, '*', 'k', @key, 'd', @payload)
        redis.call('XDEL', @dead, @id)
        return removed
        """);

    /// <summary>
    /// Puts the run's dead-lettered generation tasks and verifications back on their streams and takes back the unscored
    /// outcomes they had settled as; a completed run runs again until they are final, and writes its outputs again.
    /// </summary>
    public async Task<(long Redriven, RunProblem? Problem)> RedriveAsync(string run)
    {
        var info = await GetAsync(run);
        if (info is null) return (0, new(404, $"no run '{run}'"));
        if (info.State is RunStates.Cancelled or RunStates.Created) return (0, new(409, $"run '{run}' is {info.State}"));
        long redriven = 0;
        foreach (var (stream, stage) in new[] { (Streams.Generation.Name, "generation"), (Streams.Verification.Name, "verification") })
        {
            var dead = stream + ":dead";
            foreach (var entry in await Db.StreamRangeAsync(dead))
            {
                var payload = JsonNode.Parse(entry["d"].ToString());
                if (payload?["runId"]?.GetValue<string>() != run) continue;
                var query = payload["queryId"]!.GetValue<string>();
                var teacher = payload["teacher"]!.GetValue<string>();
                var passes = payload["passes"] is JsonArray list ? list.Select(p => p!.GetValue<int>()).ToList() : [payload["pass"]!.GetValue<int>()];
                await Db.ScriptEvaluateAsync(Redrive, new
                {
                    record = (RedisKey)RunKeys.QueryRecord(run, query),
                    stats = (RedisKey)RunKeys.Stats(run),
                    final = (RedisKey)RunKeys.Final(run),
                    marker = (RedisKey)ProcessOnce.MarkerKey(RunKeys.OnceScope("query-record", run), query),
                    stream = (RedisKey)stream,
                    dead = (RedisKey)dead,
                    fields = JsonSerializer.Serialize(passes.Select(p => RunKeys.QueryRecordField(teacher, p, VerifiedResponse.DeadLetteredSampleId(teacher, p)))),
                    unscoredStat = $"{teacher}:unscored",
                    deadStat = RunKeys.DeadLetteredStat(stage),
                    reasonStat = RunKeys.DeadLetterReasonStat(stage, entry["error"].ToString()),
                    query,
                    key = entry["k"],
                    payload = entry["d"],
                    id = entry.Id,
                });
                redriven++;
            }
        }
        if (redriven > 0 && info.State == RunStates.Completed)
        {
            var transaction = Db.CreateTransaction();
            transaction.AddCondition(Condition.HashEqual(RunKeys.Run(run), "state", RunStates.Completed));
            _ = transaction.HashSetAsync(RunKeys.Run(run), "state", RunStates.Running);
            _ = transaction.HashDeleteAsync(RunKeys.Run(run), ["finished:outputs", "finished:compacted"]); // again once every query is final
            _ = transaction.HashDeleteAsync(RunKeys.Stats(run), "ended");
            _ = transaction.SetAddAsync(ActiveRuns, run);
            await transaction.ExecuteAsync();
        }
        return (redriven, null);
    }

    /// <summary>A training job's curve (<c>run/job</c>), one point per step (a resumed job's repeated steps: the last).</summary>
    public async Task<IReadOnlyList<Dataset.Report.TrainingPoint>> TrainingCurveAsync(string job)
    {
        if (!RunIds.TryParseJob(job, out var run, out var id)) return [];
        var points = new SortedDictionary<int, Dataset.Report.TrainingPoint>();
        foreach (var entry in await Db.ListRangeAsync(RunKeys.TrainingCurve(run, id)))
        {
            var step = JsonSerializer.Deserialize<Dictionary<string, double>>(entry.ToString())!;
            double? Field(string name) => step.TryGetValue(name, out var v) ? v : null;
            if (Field("step") is { } number)
                points[(int)number] = new((int)number, Field("loss"), Field("lr"), Field("tokens_per_s"), Field("mfu"));
        }
        return [.. points.Values];
    }

    /// <summary>Records a step of the run's completion as done, so a retry after a failure skips it.</summary>
    public Task FinishedAsync(string run, string step) => Db.HashSetAsync(RunKeys.Run(run), $"finished:{step}", DateTimeOffset.UtcNow.ToString("O"));

    /// <summary>Saves a feeding position: <c>cursor</c>, <c>escalation</c> or <c>samplecursor</c>.</summary>
    public Task AdvanceAsync(string run, string field, long position) => Db.HashSetAsync(RunKeys.Run(run), field, position);

    /// <summary>A cascade run's decision on each query (<c>solved</c>, <c>escalated</c>, or null while it is open), in one round trip.</summary>
    public Task<RedisValue[]> CascadeDecisionsAsync(string run, IReadOnlyList<string> queries) =>
        Db.HashGetAsync(RunKeys.Cascade(run), [.. queries.Select(q => (RedisValue)q)]);

    public async Task<long> FinalQueriesAsync(string run) => await Db.SetLengthAsync(RunKeys.Final(run));

    /// <summary>When the run completed or was cancelled (its counters' <c>ended</c>), if it has.</summary>
    public async Task<DateTimeOffset?> EndedAsync(string run) =>
        await Db.HashGetAsync(RunKeys.Stats(run), "ended") is { HasValue: true } ended ? DateTimeOffset.FromUnixTimeMilliseconds((long)ended) : null;

    /// <summary>Verdicts decided by the judge or the reward model instead of a rule, per category that has any.</summary>
    public static Dictionary<string, long> JudgeDecided(IReadOnlyDictionary<string, long> stats) =>
        Enum.GetValues<QueryCategory>().Where(c => stats.ContainsKey(RunKeys.JudgeDecidedStat(c)))
            .ToDictionary(c => c.Name(), c => stats[RunKeys.JudgeDecidedStat(c)]);

    /// <summary>Samples settled as dead-lettered, by "stage|reason".</summary>
    public static Dictionary<string, long> DeadLettered(IReadOnlyDictionary<string, long> stats) => Counted(stats, RunKeys.DeadLetterReasonPrefix);

    /// <summary>The non-zero counters whose field starts with <paramref name="prefix"/>, keyed by the rest of the field.</summary>
    private static Dictionary<string, long> Counted(IReadOnlyDictionary<string, long> stats, string prefix) =>
        stats.Where(s => s.Key.StartsWith(prefix, StringComparison.Ordinal) && s.Value > 0).ToDictionary(s => s.Key[prefix.Length..], s => s.Value);

    /// <summary>
    /// A run's status (<c>GET /api/runs/{run}</c>): per stage the queries fed, samples generated and verified against the
    /// expected number, and queries final; per model samples, tokens, cost and verdicts; throughput and ETA from the rates
    /// since the start. The counters are kept by the services, exactly once, in the transactions that do the work.
    /// </summary>
    public async Task<RunStatus?> StatusAsync(string run)
    {
        var info = await GetAsync(run);
        var stats = await StatsAsync(run);
        if (info is null && stats.Count == 0) return null;
        long Stat(string name) => stats.GetValueOrDefault(name);
        var models = stats.Keys.Where(k => k.Contains(':') && !k.StartsWith(RunKeys.DeadLetterReasonPrefix, StringComparison.Ordinal)
                && !k.StartsWith(RunKeys.UnknownQueryPrefix, StringComparison.Ordinal) && !k.StartsWith(RunKeys.BatchPrefix, StringComparison.Ordinal))
            .Select(k => k[..k.LastIndexOf(':')]).Distinct().Order(StringComparer.Ordinal)
            .Select(m => new ModelProgress(m, Stat($"{m}:samples"), Stat($"{m}:prompt_tokens"), Stat($"{m}:completion_tokens"),
                Stat($"{m}:cost_micro_usd") / 1_000_000.0, Stat($"{m}:passed"), Stat($"{m}:failed"), Stat($"{m}:unscored")))
            .ToList();
        var (expected, generated) = (Stat("expected_samples"), models.Sum(m => m.Samples));
        var verified = models.Sum(m => m.Verdicts);
        var end = stats.TryGetValue("ended", out var ended) ? DateTimeOffset.FromUnixTimeMilliseconds(ended) : DateTimeOffset.UtcNow;
        var elapsed = stats.TryGetValue("started", out var started) ? end - DateTimeOffset.FromUnixTimeMilliseconds(started) : TimeSpan.Zero;
        var final = await Db.SetLengthAsync(RunKeys.Final(run));
        double Rate(long count) => elapsed.TotalSeconds > 0 ? Math.Round(count / elapsed.TotalSeconds, 2) : 0;
        double? eta = info?.State is RunStates.Cancelled ? null
            : info?.State is RunStates.Completed || (verified >= expected && expected > 0) ? 0
            : verified > 0 && expected > verified ? Math.Round(elapsed.TotalSeconds * (expected - verified) / verified, 1) : null;
        return new RunStatus(run, info?.State, Stat("queries"), info?.Cursor ?? 0, final, expected, Stat("imported_samples"), info?.SampleCursor ?? 0,
            generated, verified, Math.Round(elapsed.TotalSeconds, 1), Rate(verified), new RunThroughput(Rate(generated), Rate(verified), Rate(final)),
            eta, models.Sum(m => m.CostUsd), models, JudgeDecided(stats),
            new DeadLetterCounts(Stat(RunKeys.DeadLetteredStat("generation")), Stat(RunKeys.DeadLetteredStat("verification")), DeadLettered(stats)),
            info?.Ingest,
            // Within the dataset store, never a server path; GET …/export and …/report serve them.
            info?.State == RunStates.Completed ? $"{run}/export" : null,
            UnknownQueries(stats), Batches(stats));
    }

    /// <summary>Each batch teacher's queue and batches for the run (none for a run without batch teachers).</summary>
    public static Dictionary<string, BatchProgress> Batches(IReadOnlyDictionary<string, long> stats)
    {
        long Stat(string teacher, string what) => stats.GetValueOrDefault(RunKeys.BatchStat(teacher, what));
        return stats.Keys.Where(k => k.StartsWith(RunKeys.BatchPrefix, StringComparison.Ordinal))
            .Select(k => k[RunKeys.BatchPrefix.Length..k.LastIndexOf('|')]).Distinct().Order(StringComparer.Ordinal)
            .ToDictionary(t => t, t => new BatchProgress(Stat(t, "queued"), Stat(t, "submitted"),
                Math.Max(0, Stat(t, "submitted") - Stat(t, "completed") - Stat(t, "failed")), Stat(t, "completed"), Stat(t, "failed"), Stat(t, "requests_failed")));
    }

    /// <summary>Samples whose teacher could not know the query, by "teacher|reason".</summary>
    public static Dictionary<string, long> UnknownQueries(IReadOnlyDictionary<string, long> stats) => Counted(stats, RunKeys.UnknownQueryPrefix);

    /// <summary>The run's counters (<see cref="RunKeys.Stats"/>), read once for everything a status or report shows.</summary>
    public async Task<Dictionary<string, long>> StatsAsync(string run) =>
        (await Db.HashGetAllAsync(RunKeys.Stats(run))).ToDictionary(e => e.Name.ToString(), e => (long)e.Value);

    public static IReadOnlyList<Dataset.Report.TeacherCost> Costs(RunConfiguration configuration, IReadOnlyDictionary<string, long> stats)
    {
        long Stat(string name) => stats.GetValueOrDefault(name);
        return [.. configuration.Teachers.Select(t => new Dataset.Report.TeacherCost(t.Name, Stat($"{t.Name}:samples"), Stat($"{t.Name}:prompt_tokens"),
            Stat($"{t.Name}:completion_tokens"), Stat($"{t.Name}:cost_micro_usd") / 1_000_000.0, Stat(RunKeys.BatchStat(t.Name, "submitted"))))];
    }
}
