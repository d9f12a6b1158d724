namespace AmDistill.Api;

/// <summary>Section <c>Api</c>.</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>The largest query or response file an upload takes (413 beyond): files are streamed to disk and read line
    /// by line, so this bounds disk, not memory.</summary>
    public long MaxUploadBytes { get; set; } = 4L << 30;
}
