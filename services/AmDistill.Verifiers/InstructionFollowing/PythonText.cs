using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.InstructionFollowing;

/// <summary>
/// The text primitives IFEval's checkers are written with, as Python and NLTK define them, so counts match the official
/// implementation on every script: <c>str.isupper</c>/<c>islower</c>, <c>\w+</c> words (Python's <c>\w</c> is letters,
/// numbers and '_', without combining marks, unlike .NET's), NLTK's <c>word_tokenize</c> (hyphenated words, "U.S." and
/// "AND/OR" are one token; contractions split), and patterns from the data run with a time limit.
/// </summary>
public static partial class PythonText
{
    private static readonly TimeSpan PatternTimeLimit = TimeSpan.FromSeconds(1);

    /// <summary>Python's <c>str.isupper()</c>: at least one cased character and no lowercase or titlecase one.</summary>
    public static bool IsUpper(string text) => HasOnlyCase(text, upper: true);

    /// <summary>Python's <c>str.islower()</c>: at least one cased character and no uppercase or titlecase one.</summary>
    public static bool IsLower(string text) => HasOnlyCase(text, upper: false);

    private static bool HasOnlyCase(string text, bool upper)
    {
        var cased = false;
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            var isUpper = category == UnicodeCategory.UppercaseLetter;
            var isLower = category == UnicodeCategory.LowercaseLetter;
            if (category == UnicodeCategory.TitlecaseLetter || (upper ? isLower : isUpper)) return false;
            cased |= upper ? isUpper : isLower;
        }
        return cased;
    }

    /// <summary>IFEval's <c>count_words</c>: NLTK's <c>RegexpTokenizer(r"\w+")</c> with Python's <c>\w</c>.</summary>
    public static int CountWords(string text) => Words().Count(text);

    /// <summary>
    /// NLTK's <c>word_tokenize</c> (NLTKWordTokenizer: quotes, punctuation, brackets, dashes, contractions), applied to
    /// the whole text: splitting into sentences first moves only a sentence's final period, which changes no word token.
    /// </summary>
    public static string[] WordTokenize(string text)
    {
        text = StartQuotes().Replace(text, " $1 ");
        text = OpeningDoubleQuote().Replace(text, "``");
        text = DoubleBackquotes().Replace(text, " $1 ");
        text = QuoteAfterOpening().Replace(text, "$1 `` ");
        text = ApostropheBeforeWord().Replace(text, "$1 $2");

        text = FinalPeriodWithQuotes().Replace(text, "$1 $2 $3 ");
        text = ColonOrCommaBeforeNonDigit().Replace(text, " $1 $2");
        text = ColonOrCommaAtEnd().Replace(text, " $1 ");
        text = Ellipsis().Replace(text, " $0 ");
        text = Symbols().Replace(text, " $0 ");
        text = FinalPeriod().Replace(text, "$1 $2$3 ");
        text = QuestionOrExclamation().Replace(text, " $0 ");
        text = ClosingApostrophe().Replace(text, "$1 ' ");
        text = Asterisk().Replace(text, " $0 ");
        text = Brackets().Replace(text, " $0 ");
        text = DoubleDash().Replace(text, " -- ");

        text = " " + text + " ";
        text = EndQuotes().Replace(text, " $1 ");
        text = TwoApostrophes().Replace(text, " '' ");
        text = DoubleQuote().Replace(text, " '' ");
        text = ShortClitics().Replace(text, "$1 $2 ");
        text = LongClitics().Replace(text, "$1 $2 ");
        foreach (var contraction in Contractions)
            text = contraction.Replace(text, " $1 $2 ");
        return text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Whether a pattern taken from the data (IFEval passes keywords and markers to <c>re</c> unescaped) matches; one that runs too long does not.</summary>
    public static bool Search(string pattern, string text, RegexOptions options = RegexOptions.None)
    {
        try { return Regex.IsMatch(text, pattern, options | RegexOptions.CultureInvariant, PatternTimeLimit); }
        catch (Exception e) when (e is RegexMatchTimeoutException or ArgumentException) { return false; }
    }

    /// <summary>How often a pattern taken from the data matches (<c>len(re.findall(…))</c>); 0 when it runs too long or does not parse.</summary>
    public static int CountMatches(string pattern, string text, RegexOptions options = RegexOptions.None)
    {
        try { return new Regex(pattern, options | RegexOptions.CultureInvariant, PatternTimeLimit).Count(text); }
        catch (Exception e) when (e is RegexMatchTimeoutException or ArgumentException) { return 0; }
    }

/// <summary>Python's <c>unicode_escape</c>, as the exported models are written.</summary>
    internal static string Unescape(string text)
    {
        if (!text.Contains('\\', StringComparison.Ordinal)) return text;
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\') { builder.Append(text[i]); continue; }
            var kind = text[++i];
            var digits = kind switch { 'x' => 2, 'u' => 4, 'U' => 8, _ => 0 };
            if (digits == 0)
            {
                builder.Append(kind switch { 't' => '\t', 'n' => '\n', 'r' => '\r', _ => kind });
                continue;
            }
            builder.Append(char.ConvertFromUtf32(int.Parse(text.AsSpan(i + 1, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            i += digits;
        }
        return builder.ToString();
    }

    /// <summary>Python's <c>\w</c>: Unicode letters and numbers and '_' (no combining marks).</summary>
    [GeneratedRegex(@"[\p{L}\p{N}_]+")]
    private static partial Regex Words();

    private static readonly Regex[] Contractions =
    [
        .. new[] { @"\b(can)(not)\b", @"\b(d)('ye)\b", @"\b(gim)(me)\b", @"\b(gon)(na)\b", @"\b(got)(ta)\b", @"\b(lem)(me)\b", @"\b(more)('n)\b", @"\b(wan)(na)(?=\s)", @" ('t)(is)\b", @" ('t)(was)\b" }
            .Select(p => new Regex(p, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)),
    ];

    [GeneratedRegex("([«“‘„]|[`]+)")]
    private static partial Regex StartQuotes();

    [GeneratedRegex("^\"")]
    private static partial Regex OpeningDoubleQuote();

    [GeneratedRegex("(``)")]
    private static partial Regex DoubleBackquotes();

    [GeneratedRegex(@"([ \(\[{<])(""|'{2})")]
    private static partial Regex QuoteAfterOpening();

    [GeneratedRegex(@"(')(?!re|ve|ll|m|t|s|d|n)([\p{L}\p{N}_])\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ApostropheBeforeWord();

    [GeneratedRegex(@"([^\.])(\.)([\]\)}>""'»”’ ]*)\s*$")]
    private static partial Regex FinalPeriodWithQuotes();

    [GeneratedRegex(@"([:,])([^\d])")]
    private static partial Regex ColonOrCommaBeforeNonDigit();

    [GeneratedRegex("([:,])$")]
    private static partial Regex ColonOrCommaAtEnd();

    [GeneratedRegex(@"\.{2,}")]
    private static partial Regex Ellipsis();

    [GeneratedRegex("[;@#$%&]")]
    private static partial Regex Symbols();

    [GeneratedRegex(@"([^\.])(\.)([\]\)}>""']*)\s*$")]
    private static partial Regex FinalPeriod();

    [GeneratedRegex("[?!]")]
    private static partial Regex QuestionOrExclamation();

    [GeneratedRegex("([^'])' ")]
    private static partial Regex ClosingApostrophe();

    [GeneratedRegex(@"[*]")]
    private static partial Regex Asterisk();

    [GeneratedRegex(@"[\]\[\(\)\{\}\<\>]")]
    private static partial Regex Brackets();

    [GeneratedRegex("--")]
    private static partial Regex DoubleDash();

    [GeneratedRegex("([»”’])")]
    private static partial Regex EndQuotes();

    [GeneratedRegex("''")]
    private static partial Regex TwoApostrophes();

    [GeneratedRegex("\"")]
    private static partial Regex DoubleQuote();

    [GeneratedRegex("([^' ])('[sS]|'[mM]|'[dD]|') ")]
    private static partial Regex ShortClitics();

    [GeneratedRegex("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ")]
    private static partial Regex LongClitics();
}
