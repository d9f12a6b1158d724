namespace AmDistill.Cli;

/// <summary>A mistake the user can fix (a bad option value): printed as its message alone.</summary>
internal sealed class CliException(string message) : Exception(message);
