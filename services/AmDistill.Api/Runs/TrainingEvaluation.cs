using System.Collections.Concurrent;
using AmDistill.Contracts;
using AmDistill.Runs;
using StackExchange.Redis;

namespace AmDistill.Api.Runs;

/// <summary>
/// A completed run's <c>training.evaluate</c>: once its training job has succeeded, the trainer service serves the base
/// model and the trained one as teachers (<c>{run}-base</c>, <c>{run}-{job}</c>), and the evaluation run
/// <c>{run}-eval</c> is created on the named benchmarks and started; when it completes, the models stop. Each step may
/// be repeated (serving the same model under the same name, creating a run that exists), so a failure or a restart
/// retries only what is left.
/// </summary>
public sealed class TrainingEvaluation(RunRegistry runs, IHttpClientFactory http, IConnectionMultiplexer redis, ILogger<TrainingEvaluation> logger)
{
    /// <summary>Serving waits for the model to load (minutes with vLLM): its own client, without the 10 s attempt timeout.</summary>
    public const string ServingClient = "trainer-serving";

    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(30);
    private readonly ConcurrentDictionary<string, Task> _starting = new(StringComparer.Ordinal);

    /// <summary>True while the run still waits for its evaluation to start (the feeder keeps looking at it).</summary>
    public async Task<bool> PendingAsync(RunInfo info)
    {
        var run = info.Configuration;
        if (run.Training?.Evaluate is null || info.Finished.Contains("evaluation")) return false;
        if (!info.Finished.Contains("training")) return true;
        var state = (string?)await redis.GetDatabase().HashGetAsync(RunKeys.TrainingJob(run.Run, run.Training.JobId), "state");
        if (state is "Failed" or "Cancelled")
        {
            logger.LogWarning("Run {Run}: training job {Job} {State}; nothing to evaluate", run.Run, run.Training.JobId, state);
            await runs.FinishedAsync(run.Run, "evaluation");
            return false;
        }
        if (state != "Succeeded") return true;
        if (!_starting.TryGetValue(run.Run, out var starting) || starting.IsCompleted)
            _starting[run.Run] = Task.Run(() => StartAsync(run));
        return true;
    }

    private async Task StartAsync(RunConfiguration run)
    {
        try
        {
            var training = run.Training!;
            var evaluate = training.Evaluate!;
            var (baseTeacher, trained) = run.EvaluatedTeachers;
            await Task.WhenAll([
                ServeAsync(new ServeRequest(trained, Job: $"{run.Run}/{training.JobId}", MaxTokens: evaluate.MaxTokens ?? 0)),
                .. evaluate.BaseModel ? [ServeAsync(new ServeRequest(baseTeacher, ModelDirectory: training.BaseModel, MaxTokens: evaluate.MaxTokens ?? 0))] : Array.Empty<Task>(),
            ]);
            var evaluation = run.EvaluationRun()!;
            if (await runs.CreateAsync(evaluation) is { Status: not 409 } refused) throw new InvalidOperationException(refused.Message);
            if (await runs.StartAsync(evaluation.Run) is { Status: not 409 } notStarted) throw new InvalidOperationException(notStarted.Message);
            await runs.FinishedAsync(run.Run, "evaluation");
            logger.LogInformation("Run {Run}: evaluation run {Evaluation} started on {Benchmarks}", run.Run, evaluation.Run, string.Join(", ", evaluate.Benchmarks));
        }
        catch (Exception e)
        {
            logger.LogWarning("Run {Run}: starting its evaluation failed ({Error}); retrying in {Delay}", run.Run, e.Message, RetryAfter);
            await Task.Delay(RetryAfter);
        }
    }

    /// <summary>An evaluation of a training job is over: its served models stop (they hold a GPU each); serve one again
    /// with <c>POST /api/serving</c> to ask it more.</summary>
    public async Task StopServingAsync(RunConfiguration evaluationRun, CancellationToken cancellationToken)
    {
        foreach (var teacher in evaluationRun.Teachers)
        {
            using var response = await http.CreateClient(ServingClient).DeleteAsync($"/api/serving/{teacher.Name}", cancellationToken);
            if (!response.IsSuccessStatusCode && response.StatusCode != System.Net.HttpStatusCode.NotFound)
                throw new InvalidOperationException($"the trainer did not stop serving {teacher.Name}: {(int)response.StatusCode}");
        }
        logger.LogInformation("Run {Run}: its served models stopped", evaluationRun.Run);
    }

    private async Task ServeAsync(ServeRequest request)
    {
        using var response = await http.CreateClient(ServingClient).PostAsJsonAsync("/api/serving", request, ContractsJsonContext.Default.ServeRequest);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"the trainer could not serve {request.Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}
