using System.Threading.RateLimiting;

namespace AmDistill.Generation.Teachers;

/// <summary>
/// One teacher's limits, shared by every task of this replica: requests in flight, requests and tokens per minute,
/// and a pause of the whole model when it answers 429.
/// </summary>
public sealed class TeacherLimits : IDisposable
{
    private static readonly TimeSpan Replenish = TimeSpan.FromMilliseconds(100);
    private readonly ConcurrencyLimiter _inFlight;
    private readonly TokenBucketRateLimiter? _requests;
    private readonly TokenBucketRateLimiter? _tokens;
    private readonly int _tokenBurst;
    private long _pausedUntilTicks;

    public TeacherLimits(TeacherOptions teacher)
    {
        Teacher = teacher.Name;
        _inFlight = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = Math.Max(1, teacher.MaxInFlight),
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        if (teacher.RequestsPerMinute > 0) _requests = Bucket(teacher.RequestsPerMinute, out _);
        if (teacher.TokensPerMinute > 0) _tokens = Bucket(teacher.TokensPerMinute, out _tokenBurst);
    }

    public string Teacher { get; }

    /// <summary>Waits for a slot in flight, a request and the estimated tokens; dispose the result when the request ends.</summary>
    public async Task<IDisposable> AcquireAsync(int estimatedTokens, CancellationToken cancellationToken)
    {
        if (_requests is not null) await AcquireOrThrowAsync(_requests, 1, cancellationToken).ConfigureAwait(false);
        // A request larger than the burst waits for a full burst: it is not refused.
        if (_tokens is not null) await AcquireOrThrowAsync(_tokens, Math.Clamp(estimatedTokens, 1, _tokenBurst), cancellationToken).ConfigureAwait(false);
        var slot = await _inFlight.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!slot.IsAcquired) throw new InvalidOperationException($"no in-flight slot for {Teacher}");
        return slot;
    }

    /// <summary>After a 429, nobody sends to this model until its Retry-After has passed.</summary>
    public void Pause(TimeSpan retryAfter)
    {
        var until = DateTime.UtcNow.Add(retryAfter).Ticks;
        long current;
        do
        {
            current = Interlocked.Read(ref _pausedUntilTicks);
            if (current >= until) return;
        }
        while (Interlocked.CompareExchange(ref _pausedUntilTicks, until, current) != current);
    }

    public async Task WaitWhilePausedAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var wait = new DateTime(Interlocked.Read(ref _pausedUntilTicks), DateTimeKind.Utc) - DateTime.UtcNow;
            if (wait <= TimeSpan.Zero) return;
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _inFlight.Dispose();
        _requests?.Dispose();
        _tokens?.Dispose();
    }

    /// <summary>A bucket refilled every 100 ms that holds at most a second's worth (bursts stay small).</summary>
    private static TokenBucketRateLimiter Bucket(int perMinute, out int burst)
    {
        var perPeriod = Math.Max(1, (int)Math.Ceiling(perMinute / 600.0));
        burst = Math.Max(perPeriod, perMinute / 60);
        return new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = Replenish,
            QueueLimit = int.MaxValue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            AutoReplenishment = true,
        });
    }

    private static async Task AcquireOrThrowAsync(RateLimiter limiter, int permits, CancellationToken cancellationToken)
    {
        using var lease = await limiter.AcquireAsync(permits, cancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired) throw new InvalidOperationException("rate limiter refused a queued request");
    }
}

/// <summary>The limits of every configured teacher, by name.</summary>
public sealed class TeacherLimitsRegistry(Microsoft.Extensions.Options.IOptions<GenerationOptions> options) : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TeacherLimits> _limits =
        new(options.Value.Teachers.Values.Select(t => KeyValuePair.Create(t.Name, new TeacherLimits(t))), StringComparer.Ordinal);

    public TeacherLimits For(string teacher) => _limits[teacher];

    /// <summary>A configured teacher's limits, or a served one's, made when it is first asked.</summary>
    public TeacherLimits For(TeacherOptions teacher) => _limits.GetOrAdd(teacher.Name, _ => new TeacherLimits(teacher));

    public void Dispose()
    {
        foreach (var limits in _limits.Values) limits.Dispose();
    }
}

/// <summary>
/// Inside the resilience pipeline, so that every attempt, retries included, waits out the model's pause;
/// a 429 pauses the whole model for its Retry-After.
/// </summary>
public sealed class RateLimitPauseHandler(TeacherLimits limits, GenerationMetrics metrics) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await limits.WaitWhilePausedAsync(cancellationToken).ConfigureAwait(false);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if ((int)response.StatusCode == 429)
        {
            metrics.RateLimited(limits.Teacher);
            limits.Pause(RetryAfter(response) ?? TimeSpan.FromSeconds(1));
        }
        return response;
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var ms) && double.TryParse(ms.FirstOrDefault(), System.Globalization.CultureInfo.InvariantCulture, out var millis))
            return TimeSpan.FromMilliseconds(millis);
        return response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
    }
}
