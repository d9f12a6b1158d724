namespace AmDistill.Scoring.Core;

/// <summary>Query categories of the paper (§2.1, §3): each has its own verifier, verify_score scale and pass threshold.</summary>
public enum QueryCategory
{
    Math,
    Code,
    Science,
    InstructionFollowing,
    Other,
}

/// <summary>The one name table of the categories, used by every reader and writer (query files, AM rows, records, CLI).</summary>
public static class QueryCategories
{
    public static readonly QueryCategory[] All = Enum.GetValues<QueryCategory>();

    /// <summary>What an error says is accepted.</summary>
    public const string Names = "math, code, science, if, other";

    /// <summary>The name in the AM-DeepSeek-Distilled-40M files and the shared query schema: math, code, science, if, other.</summary>
    public static string Name(this QueryCategory category) => category switch
    {
        QueryCategory.Math => "math",
        QueryCategory.Code => "code",
        QueryCategory.Science => "science",
        QueryCategory.InstructionFollowing => "if",
        _ => "other",
    };

    /// <summary>A name or an alias other datasets use (instruction_following, general, multi-turn…), in any case.
    /// False for anything else: an unknown name is an error wherever it is read, never silently "other".</summary>
    public static bool TryParse(string? name, out QueryCategory category)
    {
        QueryCategory? parsed = name?.Trim().ToLowerInvariant() switch
        {
            "math" => QueryCategory.Math,
            "code" => QueryCategory.Code,
            "science" => QueryCategory.Science,
            "if" or "instruction_following" or "instruction-following" or "instruction following" or "instructionfollowing" => QueryCategory.InstructionFollowing,
            "other" or "general" or "multiturn" or "multi-turn" => QueryCategory.Other,
            _ => null,
        };
        category = parsed ?? QueryCategory.Other;
        return parsed is not null;
    }

    /// <summary>A category a row may leave out (imported responses, AM rows): none is "other"; a wrong one is still an error.</summary>
    public static bool TryParseOptional(string? name, out QueryCategory category)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            category = QueryCategory.Other;
            return true;
        }
        return TryParse(name, out category);
    }

    /// <exception cref="FormatException">The name is not a category.</exception>
    public static QueryCategory Parse(string? name) =>
        TryParse(name, out var category) ? category : throw new FormatException(Unknown(name));

    public static string Unknown(string? name) => $"category '{name}' is not one of {Names}";
}
