using AmDistill.Trainer.Launching;
using Microsoft.Extensions.Options;

namespace AmDistill.Trainer.Jobs;

/// <summary>Whether a job is running here and since when nothing has: what <see cref="IdleShutdown"/> decides on.</summary>
public sealed class TrainingActivity(TimeProvider time)
{
    private int _running;
    private long _lastActivity = time.GetTimestamp();

    public bool IsRunning => Volatile.Read(ref _running) > 0;

    public TimeSpan IdleFor => IsRunning ? TimeSpan.Zero : time.GetElapsedTime(Interlocked.Read(ref _lastActivity));

    public IDisposable Begin()
    {
        Interlocked.Increment(ref _running);
        return new End(this);
    }

    private sealed class End(TrainingActivity activity) : IDisposable
    {
        public void Dispose()
        {
            Interlocked.Exchange(ref activity._lastActivity, activity.GetTimestamp());
            Interlocked.Decrement(ref activity._running);
        }
    }

    private long GetTimestamp() => time.GetTimestamp();
}

/// <summary>
/// Stops the process once no job has run for <c>Trainer:ExitAfterIdle</c>: in an event-driven Container Apps job on a
/// GPU profile, KEDA starts an execution when training jobs are queued and the execution ends when the queue is done,
/// so the GPU is paid for only while it trains.
/// </summary>
public sealed class IdleShutdown(TrainingActivity activity, IHostApplicationLifetime lifetime, IOptions<TrainerOptions> options, ILogger<IdleShutdown> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var limit = options.Value.ExitAfterIdle ?? TimeSpan.MaxValue;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Clamp(limit.TotalSeconds / 10, 0.05, 5)));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (activity.IdleFor < limit) continue;
            logger.LogInformation("No training job for {Idle}; stopping", limit);
            lifetime.StopApplication();
            return;
        }
    }
}
