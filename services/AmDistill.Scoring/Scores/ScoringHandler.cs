using AmDistill.Contracts;
using AmDistill.Messaging;

namespace AmDistill.Scoring.Scores;

/// <summary>Records each verdict in its query's score record.</summary>
public sealed class ScoringHandler(ScoreStore store) : IMessageHandler<VerifiedResponse>
{
    public Task HandleAsync(MessageContext<VerifiedResponse> context, CancellationToken cancellationToken) => store.RecordAsync(context.Message);
}
