namespace AmDistill.Messaging;

/// <summary>
/// Thrown by a handler when no retry can succeed (a request the teacher rejects as invalid, a missing model):
/// the entry goes to the dead-letter stream at once with this message as its reason.
/// </summary>
public sealed class PermanentMessageException : Exception
{
    public PermanentMessageException()
    {
    }

    public PermanentMessageException(string message) : base(message)
    {
    }

    public PermanentMessageException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
