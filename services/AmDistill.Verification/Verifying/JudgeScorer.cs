using System.ClientModel;
using System.ClientModel.Primitives;
using AmDistill.Contracts;
using AmDistill.Verifiers.Judging;
using OpenAI;
using OpenAI.Chat;

namespace AmDistill.Verification.Verifying;

/// <summary>Section <c>Verification:Judge</c>: an OpenAI-compatible chat model that grades (the paper: Qwen2.5-7B-Instruct).</summary>
public sealed class JudgeOptions
{
    public const string Section = "Verification:Judge";

    /// <summary>Empty: no judge, so free-form science and "other" samples stay unscored.</summary>
    public string Endpoint { get; set; } = "";

    public string Model { get; set; } = "qwen2.5-7b-instruct-sim";

    public string? ApiKey { get; set; }

    /// <summary>Grading requests in flight at once from this process.</summary>
    public int MaxInFlight { get; set; } = 32;

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);
}

/// <summary>
/// The graders behind the free-form categories: science → the judge's 0–5 similarity to the reference; "other" → the
/// reward attributes (coherence, correctness, helpfulness, 0–4 each, sum / 12) through a judge prompt; a math answer the
/// verifier rejected → the judge's second look (paper §2.4.1). The judge's raw reply is kept in the verdict for audit;
/// a reply that cannot be read leaves the sample unscored rather than guessing; a failed call is retried by the stream.
/// </summary>
public sealed class JudgeScorer
{
    public const string HttpClientName = "judge";
    private readonly ChatClient? _chat;
    private readonly SemaphoreSlim _inFlight;

    public JudgeScorer(Microsoft.Extensions.Options.IOptions<JudgeOptions> options, IHttpClientFactory http)
    {
        var o = options.Value;
        _inFlight = new SemaphoreSlim(Math.Max(1, o.MaxInFlight));
        if (o.Endpoint.Length == 0) return;
        _chat = new OpenAIClient(new ApiKeyCredential(o.ApiKey is { Length: > 0 } key ? key : "none"), new OpenAIClientOptions
        {
            Endpoint = new Uri(o.Endpoint),
            Transport = new HttpClientPipelineTransport(http.CreateClient(HttpClientName)),
            NetworkTimeout = o.RequestTimeout,
        }).GetChatClient(o.Model);
    }

    public bool Available => _chat is not null;

    /// <summary>A verdict for what the verifiers could not decide, or null to keep theirs.</summary>
    public async Task<SampleVerdict?> ScoreAsync(GeneratedResponse sample, SampleVerdict verified, CancellationToken cancellationToken)
    {
        if (_chat is null) return null;
        var question = sample.Prompt ?? "";
        switch (sample.Category)
        {
            case QueryCategory.Science when !verified.Scored && sample.ReferenceAnswer is { Length: > 0 } reference:
            {
                var reply = await AskAsync(JudgeProtocol.Science(question, reference, sample.Answer), cancellationToken);
                return JudgeProtocol.ParseScore(reply, 5) is { } score
                    ? new(score, true, $"judge: {score}/5; {Audit(reply)}")
                    : new(0, false, $"unscored: unreadable judge reply; {Audit(reply)}");
            }
            case QueryCategory.Other when !verified.Scored:
            {
                var reply = await AskAsync(JudgeProtocol.Reward(question, sample.Answer), cancellationToken);
                return JudgeProtocol.ParseReward(reply) is { } reward
                    ? new(reward.Score, true, $"reward: coherence {reward.Coherence}, correctness {reward.Correctness}, helpfulness {reward.Helpfulness}; {Audit(reply)}")
                    : new(0, false, $"unscored: unreadable reward reply; {Audit(reply)}");
            }
            case QueryCategory.Math when verified is { Scored: true, VerifyScore: 0 } && sample.ReferenceAnswer is { Length: > 0 } reference
                && !verified.Reason.StartsWith("quality:", StringComparison.Ordinal):
            {
                var reply = await AskAsync(JudgeProtocol.MathSecondCheck(question, reference, sample.Answer), cancellationToken);
                return JudgeProtocol.ParseEquivalent(reply) == true
                    ? new(1, true, $"math: the judge's second check found it equivalent ({verified.Reason}); {Audit(reply)}")
                    : verified with { Reason = $"{verified.Reason}; judge second check: not equivalent" };
            }
            default:
                return null;
        }
    }

    private async Task<string> AskAsync((string System, string User) prompt, CancellationToken cancellationToken)
    {
        await _inFlight.WaitAsync(cancellationToken);
        try
        {
            var completion = await _chat!.CompleteChatAsync([new SystemChatMessage(prompt.System), new UserChatMessage(prompt.User)],
                new ChatCompletionOptions { Temperature = 0 }, cancellationToken);
            return string.Concat(completion.Value.Content.Select(part => part.Text));
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private static string Audit(string reply) => "raw: " + (reply.Length <= 300 ? reply : reply[..300] + "…").Replace('\n', ' ');
}
