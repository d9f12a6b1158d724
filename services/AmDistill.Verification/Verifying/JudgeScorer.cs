using System.ClientModel;
using System.ClientModel.Primitives;
using AmDistill.Contracts;
using AmDistill.Verifiers.Judging;
using System.Net.Http.Json;
using OpenAI;
using OpenAI.Chat;
using AmDistill.Scoring.Core;

namespace AmDistill.Verification.Verifying;

/// <summary>Section <c>Verification:Judge</c>: an OpenAI-compatible chat model that grades (the paper: Qwen2.5-7B-Instruct).</summary>
public sealed class JudgeOptions
{
    public const string Section = "Verification:Judge";

    /// <summary>Empty: no judge, so free-form science and "other" samples stay unscored.</summary>
    public string Endpoint { get; set; } = "";

    public string Model { get; set; } = "qwen2.5-7b-instruct-sim";

    public string? ApiKey { get; set; }

    /// <summary>Grading requests in flight at once from this process, per category (science, other, math second checks
    /// each have their own budget, so one category's backlog never starves another's).</summary>
    public int MaxInFlight { get; set; } = 16;

    /// <summary>Per-category overrides of <see cref="MaxInFlight"/>, e.g. <c>Verification:Judge:MaxInFlightPerCategory:Other=64</c>.</summary>
    public Dictionary<QueryCategory, int> MaxInFlightPerCategory { get; set; } = [];

    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Requests per minute to the judge and the reward model together, from this process (a hosted judge's
    /// quota); 0: no limit. Requests beyond it wait their turn instead of drawing 429s.</summary>
    public int RequestsPerMinute { get; set; }
}

/// <summary>Section <c>Verification:RewardModel</c>: a reward model served as vLLM serves one (<c>POST {Endpoint}/pooling</c>),
/// whose output vector holds the <see cref="Attributes"/> in order (the paper's Decision-Tree-Reward-Llama-3.1-8B
/// predicts HelpSteer2's). Empty endpoint: the judge prompt stands in.</summary>
public sealed class RewardModelOptions
{
    public const string Section = "Verification:RewardModel";

    public string Endpoint { get; set; } = "";

    public string Model { get; set; } = "Decision-Tree-Reward-Llama-3.1-8B";

    public List<string> Attributes { get; set; } = [];

    public IReadOnlyList<string> EffectiveAttributes => Attributes.Count > 0 ? Attributes : ["helpfulness", "correctness", "coherence", "complexity", "verbosity"];
}

/// <summary>
/// The graders behind the free-form categories: science → the judge's 0–5 similarity to the reference; "other" → the
/// reward attributes (coherence, correctness, helpfulness, 0–4 each, sum / 12) through a judge prompt; a math answer the
/// verifier could not decide (not one it rejected: a rule's "not equivalent" is final) → the judge's look (paper §2.4.1). The judge's raw reply is kept in the verdict for audit;
/// a reply that cannot be read leaves the sample unscored rather than guessing; a failed call is retried by the stream.
/// </summary>
public sealed class JudgeScorer
{
    public const string HttpClientName = "judge";
    private readonly ChatClient? _chat;
    private readonly HttpClient? _reward;
    private readonly RewardModelOptions _rewardOptions;
    private readonly Dictionary<QueryCategory, SemaphoreSlim> _inFlight;

    public JudgeScorer(Microsoft.Extensions.Options.IOptions<JudgeOptions> options, Microsoft.Extensions.Options.IOptions<RewardModelOptions> reward, IHttpClientFactory http)
    {
        var o = options.Value;
        _inFlight = Enum.GetValues<QueryCategory>().ToDictionary(c => c, c => new SemaphoreSlim(Math.Max(1, o.MaxInFlightPerCategory.GetValueOrDefault(c, o.MaxInFlight))));
        _rewardOptions = reward.Value;
        if (_rewardOptions.Endpoint.Length > 0)
        {
            _reward = http.CreateClient(HttpClientName);
            _reward.BaseAddress = new Uri(_rewardOptions.Endpoint.TrimEnd('/') + "/");
        }
        if (o.Endpoint.Length == 0) return;
        _chat = new OpenAIClient(new ApiKeyCredential(o.ApiKey is { Length: > 0 } key ? key : "none"), new OpenAIClientOptions
        {
            Endpoint = new Uri(o.Endpoint),
            Transport = new HttpClientPipelineTransport(http.CreateClient(HttpClientName)),
            NetworkTimeout = o.RequestTimeout,
        }).GetChatClient(o.Model);
    }

    /// <summary>A verdict for what the verifiers could not decide, or null to keep theirs (called only for samples that
    /// passed the quality checks).</summary>
    public async Task<SampleVerdict?> ScoreAsync(GeneratedResponse sample, SampleVerdict verified, CancellationToken cancellationToken)
    {
        var question = sample.Prompt ?? "";
        if (sample.Category == QueryCategory.Other && !verified.Scored && _reward is not null)
            return await RewardAsync(question, sample.Answer, _inFlight[sample.Category], cancellationToken);
        if (_chat is null) return null;
        switch (sample.Category)
        {
            case QueryCategory.Science when !verified.Scored && sample.ReferenceAnswer is { Length: > 0 } reference:
            {
                var reply = await AskAsync(JudgeProtocol.Science(question, reference, sample.Answer), _inFlight[sample.Category], cancellationToken);
                return JudgeProtocol.ParseScore(reply, 5) is { } score
                    ? new(score, true, $"judge: {score}/5; {Audit(reply)}", ByJudge: true)
                    : new(0, false, $"unscored: unreadable judge reply; {Audit(reply)}");
            }
            case QueryCategory.Other when !verified.Scored:
            {
                var reply = await AskAsync(JudgeProtocol.Reward(question, sample.Answer), _inFlight[sample.Category], cancellationToken);
                return JudgeProtocol.ParseReward(reply) is { } reward
                    ? new(reward.Score, true, $"reward: coherence {reward.Coherence}, correctness {reward.Correctness}, helpfulness {reward.Helpfulness}; {Audit(reply)}", ByJudge: true)
                    : new(0, false, $"unscored: unreadable reward reply; {Audit(reply)}");
            }
            case QueryCategory.Math when verified is { Undecided: true } && sample.ReferenceAnswer is { Length: > 0 } reference:
            {
                var reply = await AskAsync(JudgeProtocol.MathSecondCheck(question, reference, sample.Answer), _inFlight[sample.Category], cancellationToken);
                return JudgeProtocol.ParseEquivalent(reply) switch
                {
                    true => new(1, true, $"math: the judge found it equivalent where no rule could decide ({verified.Reason}); {Audit(reply)}", ByJudge: true),
                    false => new(0, true, $"{verified.Reason}; the judge found it not equivalent; {Audit(reply)}", ByJudge: true),
                    null => verified with { Reason = $"{verified.Reason}; unreadable judge reply; {Audit(reply)}" },
                };
            }
            default:
                return null;
        }
    }

    private async Task<SampleVerdict> RewardAsync(string question, string answer, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        await inFlight.WaitAsync(cancellationToken);
        try
        {
            using var response = await _reward!.PostAsJsonAsync("pooling", new
            {
                model = _rewardOptions.Model,
                messages = new[] { new { role = "user", content = question }, new { role = "assistant", content = answer } },
            }, cancellationToken);
            response.EnsureSuccessStatusCode(); // a failed call is retried by the stream
            var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(cancellationToken);
            var vector = body.GetProperty("data")[0].GetProperty("data").EnumerateArray().Select(v => v.GetDouble()).ToList();
            double Attribute(string name) => vector[_rewardOptions.EffectiveAttributes.ToList().IndexOf(name)];
            var (coherence, correctness, helpfulness) = (Attribute("coherence"), Attribute("correctness"), Attribute("helpfulness"));
            var score = (Math.Clamp(coherence, 0, 4) + Math.Clamp(correctness, 0, 4) + Math.Clamp(helpfulness, 0, 4)) / 12;
            return new(score, true, $"reward: coherence {coherence:0.##}, correctness {correctness:0.##}, helpfulness {helpfulness:0.##} ({_rewardOptions.Model})");
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or ArgumentOutOfRangeException or System.Text.Json.JsonException)
        {
            return new(0, false, $"unscored: unreadable reward model reply ({e.Message})");
        }
        finally
        {
            inFlight.Release();
        }
    }

    private async Task<string> AskAsync((string System, string User) prompt, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        await inFlight.WaitAsync(cancellationToken);
        try
        {
            var completion = await _chat!.CompleteChatAsync([new SystemChatMessage(prompt.System), new UserChatMessage(prompt.User)],
                new ChatCompletionOptions { Temperature = 0 }, cancellationToken);
            return string.Concat(completion.Value.Content.Select(part => part.Text));
        }
        finally
        {
            inFlight.Release();
        }
    }

    private static string Audit(string reply) => "raw: " + (reply.Length <= 300 ? reply : reply[..300] + "…").Replace('\n', ' ');
}
