using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.InstructionFollowing;

/// <summary>
/// The sentences of a text as IFEval counts them: NLTK 3.8's Punkt sentence tokenizer (Kiss &amp; Strunk 2006) with
/// NLTK's pretrained English model (abbreviations such as "dr" and "u.s", collocations, sentence starters and each
/// word's orthographic context; Data/punkt-english.txt.gz). A period after "1" in a numbered list, or after an
/// abbreviation, ends a sentence only where the next word's case says so.
/// </summary>
public static partial class PunktSentenceTokenizer
{
    private const int OrthoBeginUpper = 1 << 1, OrthoMidUpper = 1 << 2, OrthoUnknownUpper = 1 << 3;
    private const int OrthoBeginLower = 1 << 4, OrthoMidLower = 1 << 5, OrthoUnknownLower = 1 << 6;
    private const int OrthoUpper = OrthoBeginUpper + OrthoMidUpper + OrthoUnknownUpper;
    private const int OrthoLower = OrthoBeginLower + OrthoMidLower + OrthoUnknownLower;
    private const string Number = "##number##";

    private static readonly Lazy<Parameters> Model = new(Parameters.Load);

    /// <summary><c>len(tokenizer.tokenize(text))</c>.</summary>
    public static int CountSentences(string text) => Spans(text).Count();

    private static IEnumerable<(int Start, int End)> Spans(string text) => RealignBoundaries(text, SlicesFromText(text));

    private static IEnumerable<(int Start, int End)> SlicesFromText(string text)
    {
        var lastBreak = 0;
        foreach (var (match, context) in PotentialEndContexts(text))
        {
            if (!ContainsSentenceBreak(context)) continue;
            yield return (lastBreak, match.Index + match.Length);
            var next = match.Groups["next_tok"];
            lastBreak = next.Success ? next.Index : match.Index + match.Length;
        }
        yield return (lastBreak, text.TrimEnd().Length);
    }

    /// <summary>Each candidate end (., ?, !) with the word before it and the token after it, as NLTK 3.8 pairs them.</summary>
    private static IEnumerable<(Match Match, string Context)> PotentialEndContexts(string text)
    {
        var (previousStart, previousStop) = (0, 0);
        Match? previous = null;
        for (var match = PeriodContext().Match(text); match.Success; match = match.NextMatch())
        {
            var before = text[previousStop..match.Index];
            var lastSpace = LastAsciiWhitespace(before);
            var wordStart = lastSpace != 0 ? lastSpace + previousStop + 1 : previousStart;
            if (previous is not null && previousStop <= wordStart)
                yield return (previous, text[previousStart..previousStop] + previous.Value + previous.Groups["after_tok"].Value);
            previous = match;
            (previousStart, previousStop) = (wordStart, match.Index);
        }
        if (previous is not null)
            yield return (previous, text[previousStart..previousStop] + previous.Value + previous.Groups["after_tok"].Value);
    }

    /// <summary>Python's <c>string.whitespace</c> is ASCII only.</summary>
    private static int LastAsciiWhitespace(string text)
    {
        for (var i = text.Length - 1; i >= 0; i--)
            if (text[i] is ' ' or '\t' or '\n' or '\r' or '\v' or '\f') return i;
        return 0;
    }

    /// <summary>A closing quote or bracket after a sentence's end belongs to that sentence; empty sentences are dropped.</summary>
    private static IEnumerable<(int Start, int End)> RealignBoundaries(string text, IEnumerable<(int Start, int End)> slices)
    {
        using var next = slices.GetEnumerator();
        if (!next.MoveNext()) yield break;
        var realign = 0;
        var current = next.Current;
        while (true)
        {
            var sentence = (Start: current.Start + realign, current.End);
            if (!next.MoveNext())
            {
                if (sentence.End > sentence.Start) yield return sentence;
                yield break;
            }
            var following = next.Current;
            var match = BoundaryRealignment().Match(text[following.Start..System.Math.Max(following.Start, following.End)]);
            if (match.Success && match.Index == 0)
            {
                yield return (sentence.Start, following.Start + match.Value.TrimEnd().Length);
                realign = match.Length;
            }
            else
            {
                realign = 0;
                if (sentence.End > sentence.Start) yield return sentence;
            }
            current = following;
        }
    }

    private static bool ContainsSentenceBreak(string context)
    {
        var found = false;
        foreach (var token in AnnotateTokens(TokenizeWords(context)))
        {
            if (found) return true;
            if (token.SentenceBreak) found = true;
        }
        return false;
    }

    private static IEnumerable<Token> TokenizeWords(string text)
    {
        foreach (var line in text.Split('\n'))
            if (line.Trim().Length > 0)
                foreach (Match word in WordTokenizer().Matches(line))
                    yield return new Token(word.Value);
    }

    private static IEnumerable<Token> AnnotateTokens(IEnumerable<Token> tokens)
    {
        var model = Model.Value;
        Token? previous = null;
        foreach (var token in tokens)
        {
            FirstPass(token, model);
            if (previous is not null)
            {
                SecondPass(previous, token, model);
                yield return previous;
            }
            previous = token;
        }
        if (previous is not null) yield return previous;
    }

    private static void FirstPass(Token token, Parameters model)
    {
        var tok = token.Text;
        if (tok is "." or "?" or "!") token.SentenceBreak = true;
        else if (Ellipsis().IsMatch(tok)) token.Ellipsis = true;
        else if (token.PeriodFinal && !tok.EndsWith("..", StringComparison.Ordinal))
        {
            var stem = tok[..^1].ToLowerInvariant();
            if (model.Abbreviations.Contains(stem) || model.Abbreviations.Contains(stem.Split('-')[^1])) token.Abbreviation = true;
            else token.SentenceBreak = true;
        }
    }

    private static void SecondPass(Token first, Token second, Parameters model)
    {
        if (!first.PeriodFinal) return;
        var type = first.TypeNoPeriod;
        var nextType = second.TypeNoSentencePeriod;
        var isInitial = Initial().IsMatch(first.Text);
        if (model.Collocations.Contains((type, nextType)))
        {
            (first.SentenceBreak, first.Abbreviation) = (false, true);
            return;
        }
        if ((first.Abbreviation || first.Ellipsis) && !isInitial)
        {
            if (OrthoHeuristic(second, model) == true || (second.FirstUpper && model.SentenceStarters.Contains(nextType)))
            {
                first.SentenceBreak = true;
                return;
            }
        }
        if (isInitial || type == Number)
        {
            var startsSentence = OrthoHeuristic(second, model);
            if (startsSentence == false
                || (startsSentence is null && isInitial && second.FirstUpper && (model.Ortho(nextType) & OrthoLower) == 0))
                (first.SentenceBreak, first.Abbreviation) = (false, true);
        }
    }

    /// <summary>Whether the token starts a sentence by its case and how the word is cased elsewhere; null for unknown.</summary>
    private static bool? OrthoHeuristic(Token token, Parameters model)
    {
        if (token.Text is ";" or ":" or "," or "." or "!" or "?") return false;
        var context = model.Ortho(token.TypeNoSentencePeriod);
        if (token.FirstUpper && (context & OrthoLower) != 0 && (context & OrthoMidUpper) == 0) return true;
        if (token.FirstLower && ((context & OrthoUpper) != 0 || (context & OrthoBeginLower) == 0)) return false;
        return null;
    }

    private sealed class Token(string text)
    {
        public string Text { get; } = text;
        public string Type { get; } = TypeOf(text.ToLowerInvariant());
        private static string TypeOf(string lower) => Numeric().IsMatch(lower) ? Number : lower;
        public bool PeriodFinal => Text.EndsWith('.');
        public bool SentenceBreak { get; set; }
        public bool Abbreviation { get; set; }
        public bool Ellipsis { get; set; }
        public string TypeNoPeriod => Type.Length > 1 && Type[^1] == '.' ? Type[..^1] : Type;
        public string TypeNoSentencePeriod => SentenceBreak ? TypeNoPeriod : Type;
        public bool FirstUpper => Rune.GetUnicodeCategory(Rune.GetRuneAt(Text, 0)) == UnicodeCategory.UppercaseLetter;
        public bool FirstLower => Rune.GetUnicodeCategory(Rune.GetRuneAt(Text, 0)) == UnicodeCategory.LowercaseLetter;
    }

    // NLTK's PunktLanguageVars for English, written out.
    private const string NonWord = @"(?:[)"";}\]\*:@'\({\[?!])";
    private const string MultiChar = @"(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)";

    [GeneratedRegex(@"[.?!](?=(?<after_tok>" + NonWord + @"|\s+(?<next_tok>\S+)))")]
    private static partial Regex PeriodContext();

    [GeneratedRegex(MultiChar + @"|(?=[^\(""`{\[:;&\#\*@\)}\]\-,])\S+?(?=\s|$|" + NonWord + "|" + MultiChar + @"|,(?=$|\s|" + NonWord + "|" + MultiChar + @"))|\S")]
    private static partial Regex WordTokenizer();

    [GeneratedRegex(@"[""')\]}]+?(?:\s+|(?=--)|$)", RegexOptions.Multiline)]
    private static partial Regex BoundaryRealignment();

    [GeneratedRegex(@"^-?[\.,]?\d[\d,\.-]*\.?$")]
    private static partial Regex Numeric();

    [GeneratedRegex(@"^[\p{L}\p{Nl}\p{No}_]\.$")]
    private static partial Regex Initial();

    [GeneratedRegex(@"^\.\.+$")]
    private static partial Regex Ellipsis();

    private sealed class Parameters
    {
        public HashSet<string> Abbreviations { get; } = new(StringComparer.Ordinal);
        public HashSet<(string, string)> Collocations { get; } = [];
        public HashSet<string> SentenceStarters { get; } = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _ortho = new(StringComparer.Ordinal);

        public int Ortho(string type) => _ortho.GetValueOrDefault(type);

        public static Parameters Load()
        {
            using var stream = typeof(PunktSentenceTokenizer).Assembly.GetManifestResourceStream("AmDistill.Verifiers.punkt-english.txt.gz")
                ?? throw new InvalidOperationException("the punkt model is missing from the assembly");
            using var reader = new StreamReader(new GZipStream(stream, CompressionMode.Decompress), Encoding.ASCII);
            var model = new Parameters();
            while (reader.ReadLine() is { } line)
            {
                var fields = line.Split('\t');
                switch (fields[0])
                {
                    case "abbrev": model.Abbreviations.Add(PythonText.Unescape(fields[1])); break;
                    case "collocation": model.Collocations.Add((PythonText.Unescape(fields[1]), PythonText.Unescape(fields[2]))); break;
                    case "starter": model.SentenceStarters.Add(PythonText.Unescape(fields[1])); break;
                    case "ortho": model._ortho[PythonText.Unescape(fields[1])] = int.Parse(fields[2], CultureInfo.InvariantCulture); break;
                }
            }
            return model;
        }
    }
}
