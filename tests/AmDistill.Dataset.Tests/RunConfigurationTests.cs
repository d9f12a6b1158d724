using AmDistill.Dataset.Export;
using AmDistill.Runs;
using AmDistill.Scoring.Core;

namespace AmDistill.Dataset.Tests;

public sealed class RunConfigurationTests
{
    [Fact]
    public void The_demo_configuration_is_valid_and_says_what_the_paper_did()
    {
        var (run, errors) = RunConfiguration.Load(Path.Combine(RepoFiles.Root, "data", "demo", "run.json"));
        Assert.Empty(errors);
        Assert.Equal("demo", run!.Run);
        Assert.Equal(12, run.PassesPerQuery); // 3 teachers × 4 passes
        Assert.Equal("deepseek-r1", run.SelectionTeacher);
        Assert.Equal(DifficultyLadder.Paper, run.Ladder);
        Assert.Empty(run.Ingestion.DecontaminateAgainst!); // its queries are benchmark questions
        Assert.Equal(["stage1.parquet", "stage1-messages.jsonl", "all.jsonl"], run.Selection.Exports.Select(e => e.FileName));
    }

    [Theory]
    [InlineData("""{ "run": "r", "teachers": [{ "name": "t" }], "training": { "baseModel": "m", "jobId": "../../escaped" } }""", "training.jobId")]
    [InlineData("""{ "run": "r", "teachers": [{ "name": "t" }], "training": { "baseModel": "m", "jobId": "/tmp/x" } }""", "training.jobId")]
    [InlineData("""{ "run": "r", "teachers": [{ "name": "t" }], "ingestion": { "decontaminateAgainst": ["/dev/zero"] } }""", "ingestion.decontaminateAgainst[0]")]
    [InlineData("""{ "run": "r", "teachers": [{ "name": "t" }], "ingestion": { "decontaminateAgainst": ["aime24", "../../other-run/input/queries"] } }""", "ingestion.decontaminateAgainst[1]")]
    [InlineData("""{ "run": "../r", "teachers": [{ "name": "t" }] }""", "run")]
    public void Ids_and_set_names_that_could_become_paths_are_refused(string json, string field)
    {
        var (_, errors) = RunConfiguration.Parse(json);
        Assert.Contains(errors, e => e.StartsWith(field + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void Under_keeps_a_path_in_its_root_after_resolving_it()
    {
        var root = Path.Combine(Path.GetTempPath(), "root");
        Assert.Equal(Path.Combine(root, "a", "b.jsonl"), RunIds.Under(root, "a/b.jsonl"));
        Assert.Equal(Path.Combine(root, "b.jsonl"), RunIds.Under(root, "a/../b.jsonl"));
        Assert.Null(RunIds.Under(root, "../b.jsonl"));
        Assert.Null(RunIds.Under(root, "a/../../b.jsonl"));
        Assert.Null(RunIds.Under(root, "/etc/passwd"));
        Assert.Null(RunIds.Under(root, "../root-sibling/x"));
    }

    [Fact]
    public void Omitted_fields_take_the_papers_defaults_and_reach_ingestion_and_selection()
    {
        var (run, errors) = RunConfiguration.Parse("""
            // comments and trailing commas are allowed
            { "run": "r1", "teachers": [ { "name": "weak" }, { "name": "strong", "passes": 2 }, ], "categories": ["math", "if"],
              "thresholds": { "other": 0.5 }, "selection": { "cvThreshold": 0.1, "seed": 7 } }
            """);
        Assert.Empty(errors);
        Assert.Equal(6, run!.PassesPerQuery);
        Assert.Equal(new DifficultyLadder("weak", "strong", "strong"), run.Ladder);
        var ingest = run.IngestOptions;
        Assert.Equal((0.8, 13), (ingest.NearDuplicateThreshold, ingest.DecontaminationNgram));
        Assert.Equal(["math", "if"], ingest.Categories!);
        Assert.Null(run.Ingestion.DecontaminateAgainst); // the bundled AIME 2024/2025 + MATH-500
        var export = run.ExportOptions(ExportPolicy.StageOne);
        Assert.Equal(("strong", 0.1, 7, 32768), (export.Selection.Teacher, export.Selection.CvThreshold, export.Selection.Seed, export.MaxTokens));
        Assert.Equal(new Thresholds(Other: 0.5), export.Selection.Thresholds);
    }

    [Fact]
    public void A_teachers_sampling_and_prices_can_be_overridden_per_run()
    {
        var (run, errors) = RunConfiguration.Parse("""
            { "run": "r", "teachers": [ { "name": "a" }, { "name": "b", "temperature": 1.0, "maxTokens": 16384, "pricePerMillionOutputTokens": 2.19 } ] }
            """);
        Assert.Empty(errors);
        Assert.Null(run!.Teachers[0].Settings);
        Assert.Equal(new Contracts.TeacherSettings(Temperature: 1.0, MaxTokens: 16384, PricePerMillionOutputTokens: 2.19m), run.Teachers[1].Settings);
        Assert.Equal(["teachers[0].temperature: must be in [0, 2]", "teachers[0].topP: must be in (0, 1]"],
            RunConfiguration.Parse("""{ "run": "r", "teachers": [ { "name": "a", "temperature": 3, "topP": 0 } ] }""").Errors);
    }

    /// <summary>training.evaluate becomes an evaluation run: the base and the trained model as its teachers, k answers
    /// each at the given sampling, the benchmark sets kept whole (nothing decontaminated, filtered or deduplicated).</summary>
    [Fact]
    public void Training_evaluate_describes_the_evaluation_run_of_the_trained_model()
    {
        var (run, errors) = RunConfiguration.Parse("""
            { "run": "distill", "teachers": [ { "name": "r1" } ],
              "training": { "baseModel": "models/qwen", "jobId": "sft", "evaluate": { "benchmarks": ["aime24", "ifeval"], "limit": 5, "passes": 8, "maxTokens": 4096 } } }
            """);
        Assert.Empty(errors);
        var evaluation = run!.EvaluationRun()!;
        Assert.Equal("distill-eval", evaluation.Run);
        Assert.Equal(["distill-base", "distill-sft"], evaluation.Teachers.Select(t => t.Name));
        Assert.All(evaluation.Teachers, t => Assert.Equal((8, 4096, 0.6, 0.95), (t.Passes, t.MaxTokens!.Value, t.Temperature!.Value, t.TopP!.Value)));
        Assert.Equal(["aime24", "ifeval"], evaluation.Evaluation!.Benchmarks);
        Assert.Equal((5, "distill/sft"), (evaluation.Evaluation.Limit, evaluation.Evaluation.TrainingJob));
        Assert.Empty(evaluation.Validate());
        Assert.Empty(evaluation.DecontaminationSets);
        Assert.True(evaluation.IngestOptions.KeepAll);
        Assert.Null(RunConfiguration.Parse("""{ "run": "d", "teachers": [ { "name": "r1" } ] }""").Configuration!.EvaluationRun());

        var (_, problems) = RunConfiguration.Parse("""
            { "run": "e", "teachers": [ { "name": "m" } ], "feeder": { "cascade": true },
              "evaluation": { "benchmarks": ["aime24", "aime24", "../etc"], "limit": -1, "trainingJob": "no-slash" } }
            """);
        Assert.Equal([
            "feeder.cascade: needs at least two teachers",
            "evaluation.benchmarks[2]: '../etc' is not the name of a benchmark set",
            "evaluation.benchmarks: a set is named twice",
            "evaluation.limit: must be ≥ 0 (0: every problem)",
            "evaluation.trainingJob: must be 'run/job'",
            "evaluation: asks every teacher every problem: no cascade",
        ], problems);
    }

    [Fact]
    public void Every_invalid_field_is_reported_with_its_path()
    {
        var (run, errors) = RunConfiguration.Parse("""
            { "run": "Has Spaces", "teachers": [ { "name": "a", "passes": 0 }, { "name": "a" } ], "categories": ["maths"],
              "ingestion": { "nearDuplicateThreshold": 1.5 }, "thresholds": { "science": 5 },
              "selection": { "teacher": "nobody", "bandMin": 0.9, "bandMax": 0.1, "exports": [ { "policy": "best", "format": "messages", "file": "parquet" } ] },
              "feeder": { "batchQueries": 0 } }
            """);
        Assert.Null(run);
        Assert.Equal(
        [
            "run: 'Has Spaces' is not a run id (1–64 of a-z, 0-9, '-', '_', starting with a letter or digit)",
            "teachers[0].passes: must be 1–64 (got 0)",
            "teachers[1].name: 'a' is listed twice",
            "categories[0]: 'maths' is not one of math, code, science, if, other",
            "ingestion.nearDuplicateThreshold: must be in [0, 1] (0: off)",
            "thresholds.science: must be in [0, 5) on its category's scale (got 5)",
            "selection.teacher: 'nobody' is not one of the run's teachers",
            "selection.bandMin/bandMax: need 0 ≤ bandMin < bandMax ≤ 1",
            "selection.exports[0].policy: 'best' is not one of all, stage1, stage2, band",
            "selection.exports[0]: Parquet holds the AM schema only (format: am)",
            "feeder.batchQueries: must be 1–10000",
        ], errors);
    }

    [Theory]
    [InlineData("""{ "run": "r", "teachers": [ { "name": "a", "pases": 4 } ] }""", "teachers[0].pases: is not a field here (docs/run-config.md lists them)")]
    [InlineData("""{ "run": "r", "teachers": [ { "name": "a", "passes": "four" } ] }""", "teachers[0].passes: must be a whole number")]
    [InlineData("{ \"run\": \"r\",\n  \"teachers\": [ }", "$ (line 2): not valid JSON: '}' is an invalid")]
    [InlineData("""{ "run": "r" }""", "teachers: at least one teacher is needed")]
    public void Json_errors_name_the_field_in_the_words_of_the_file(string json, string expected)
    {
        var (run, errors) = RunConfiguration.Parse(json);
        Assert.Null(run);
        Assert.StartsWith(expected, Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Every_mistake_is_reported_at_once_not_only_the_first()
    {
        var (run, errors) = RunConfiguration.Parse("""
            { "run": "Bad Id", "teachers": [ { "name": "a", "passes": "four", "colour": "red" } ],
              "feeder": { "batchQueries": 0, "maxQueuedTasks": "many" }, "ingestion": { "decontaminateAgainst": "aime" },
              "training": { "maxSteps": true } }
            """);
        Assert.Null(run);
        foreach (var expected in new[]
                 {
                     "teachers[0].passes: must be a whole number",
                     "teachers[0].colour: is not a field here (docs/run-config.md lists them)",
                     "feeder.maxQueuedTasks: must be a whole number",
                     "ingestion.decontaminateAgainst: must be a list [ … ]",
                     "training.maxSteps: must be a whole number",
                     "run: 'Bad Id' is not a run id (1–64 of a-z, 0-9, '-', '_', starting with a letter or digit)",
                     "feeder.batchQueries: must be 1–10000",
                 })
            Assert.Contains(expected, errors);
        Assert.DoesNotContain(errors, e => e.Contains("System.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("docs/examples/eval-aime24.json")]
    [InlineData("docs/examples/distill-math.json")]
    public void The_documented_examples_are_valid(string file)
    {
        var (run, errors) = RunConfiguration.Load(Path.Combine(RepoFiles.Root, file));
        Assert.Empty(errors);
        Assert.NotNull(run);
    }

    [Theory]
    [InlineData("data/demo/run.json")]
    [InlineData("docs/examples/distill-math.json")]
    public void A_configuration_survives_its_own_json_which_holds_only_its_fields(string file)
    {
        var (run, _) = RunConfiguration.Load(Path.Combine(RepoFiles.Root, file));
        var json = run!.ToJson();
        var (again, errors) = RunConfiguration.Parse(json);
        Assert.Empty(errors);
        Assert.Equal(json, again!.ToJson());
        foreach (var derived in new[] { "passesPerQuery", "selectionTeacher", "ingestOptions", "ladder", "settings", "fileName" })
            Assert.DoesNotContain($"\"{derived}\"", json, StringComparison.Ordinal);
    }
}
