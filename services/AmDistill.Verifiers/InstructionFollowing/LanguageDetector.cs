using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace AmDistill.Verifiers.InstructionFollowing;

/// <summary>
/// The language of a text as IFEval's official checkers see it: a port of langdetect 1.0.9 (Nakatani Shuyo's
/// language-detection, Apache-2.0) with its 55 n-gram profiles (Data/langdetect-profiles.txt.gz, exported unchanged).
/// langdetect samples n-grams at random; its Python random generator is reproduced and seeded with 0, so a verdict is
/// the one <c>DetectorFactory.seed = 0</c> gives (unseeded, the official library may answer differently from run to
/// run on short, ambiguous texts). Returns null where the text has no features (the official checkers then count the
/// instruction as followed), and "unknown" where no language reaches 0.1.
/// </summary>
public static partial class LanguageDetector
{
    private const double AlphaDefault = 0.5, AlphaWidth = 0.05, ConvergenceThreshold = 0.99999, ProbabilityThreshold = 0.1, BaseFrequency = 10000;
    private const int IterationLimit = 1000, Trials = 7, MaxTextLength = 10000, Seed = 0;

    private static readonly Lazy<Profiles> Model = new(Profiles.Load);

    public static string? Detect(string text)
    {
        var model = Model.Value;
        var codePoints = Clean(Append(text, model));
        var ngrams = ExtractNgrams(codePoints, model);
        if (ngrams.Count == 0) return null;

        var languages = model.Languages.Length;
        var total = new double[languages];
        var random = new PythonRandom(Seed);
        var probabilities = new double[languages];
        for (var trial = 0; trial < Trials; trial++)
        {
            Array.Fill(probabilities, 1.0 / languages);
            var alpha = AlphaDefault + random.Gauss(0.0, 1.0) * AlphaWidth;
            var weight = alpha / BaseFrequency;
            for (var i = 0; ; i++)
            {
                var gram = model.Grams[ngrams[random.Below(ngrams.Count)]];
                for (int l = 0, j = 0; l < languages; l++)
                {
                    var p = j < gram.Languages.Length && gram.Languages[j] == l ? gram.Probabilities[j++] : 0.0;
                    probabilities[l] *= weight + p;
                }
                if (i % 5 == 0 && (Normalize(probabilities) > ConvergenceThreshold || i >= IterationLimit)) break;
            }
            for (var l = 0; l < languages; l++)
                total[l] += probabilities[l] / Trials;
        }

        // The first of the languages above the threshold, highest first (Python's stable sort: ties keep profile order).
        var best = -1;
        for (var l = 0; l < languages; l++)
            if (total[l] > ProbabilityThreshold && (best < 0 || total[l] > total[best])) best = l;
        return best < 0 ? "unknown" : model.Languages[best];
    }

    private static double Normalize(double[] probabilities)
    {
        var sum = 0.0;
        foreach (var p in probabilities) sum += p;
        var max = 0.0;
        for (var i = 0; i < probabilities.Length; i++)
        {
            var p = probabilities[i] / sum;
            if (max < p) max = p;
            probabilities[i] = p;
        }
        return max;
    }

    /// <summary><c>Detector.append</c>: URLs and e-mail addresses blanked, Vietnamese normalised, runs of spaces kept to one, at most 10,000 characters.</summary>
    private static List<int> Append(string text, Profiles model)
    {
        text = Url().Replace(text, " ");
        text = Mail().Replace(text, " ");
        text = model.NormalizeVietnamese(text);
        var result = new List<int>(System.Math.Min(text.Length, MaxTextLength));
        var previous = 0;
        var count = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (count++ >= MaxTextLength) break;
            if (rune.Value != ' ' || previous != ' ') result.Add(rune.Value);
            previous = rune.Value;
        }
        return result;
    }

    /// <summary>
    /// <c>Detector.cleaning_text</c>: in a text that is mostly not Latin, Latin letters are dropped. Everything from
    /// U+0300 counts as not Latin: langdetect means to spare Latin Extended Additional, but compares the block's number
    /// with its name, so it never does.
    /// </summary>
    private static List<int> Clean(List<int> text)
    {
        int latin = 0, nonLatin = 0;
        foreach (var c in text)
        {
            if (c is >= 'A' and <= 'z') latin++;
            else if (c >= 0x0300) nonLatin++;
        }
        return latin * 2 < nonLatin ? [.. text.Where(c => c < 'A' || c > 'z')] : text;
    }

    /// <summary><c>Detector._extract_ngrams</c> with langdetect's <c>NGram</c> buffer: 1- to 3-grams of normalised characters, none inside an all-capitals word.</summary>
    private static List<int> ExtractNgrams(List<int> text, Profiles model)
    {
        var result = new List<int>();
        var grams = new List<int>(4) { ' ' };
        var lookup = model.Index.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> key = stackalloc char[6]; // three code points, each one or two UTF-16 units
        var capitalWord = false;
        foreach (var original in text)
        {
            var c = model.Normalize(original);
            var last = grams[^1];
            if (last == ' ')
            {
                grams.Clear();
                grams.Add(' ');
                capitalWord = false;
                if (c == ' ') continue;
            }
            else if (grams.Count >= 3)
                grams.RemoveAt(0);
            grams.Add(c);
            if (IsUpper(c)) { if (IsUpper(last)) capitalWord = true; }
            else capitalWord = false;

            if (capitalWord) continue;
            for (var n = 1; n <= 3 && n <= grams.Count; n++)
            {
                if (n == 1 && c == ' ') continue;
                var length = 0;
                for (var i = grams.Count - n; i < grams.Count; i++) length += new Rune(grams[i]).EncodeToUtf16(key[length..]);
                if (lookup.TryGetValue(key[..length], out var index)) result.Add(index);
            }
        }
        return result;
    }

    private static bool IsUpper(int codePoint) =>
        Rune.IsValid(codePoint) && Rune.GetUnicodeCategory(new Rune(codePoint)) == UnicodeCategory.UppercaseLetter;

    [GeneratedRegex("https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}")]
    private static partial Regex Url();

    [GeneratedRegex("[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}")]
    private static partial Regex Mail();

    /// <summary>An n-gram's probability in the languages that have it (about two of the 55), in language order.</summary>
    private sealed record Gram(int[] Languages, double[] Probabilities);

    /// <summary>The profiles: per n-gram its probability in each language (count / the language's n-grams of that length), and langdetect's normalisation tables.</summary>
    private sealed class Profiles
    {
        public required string[] Languages { get; init; }
        public required Dictionary<string, int> Index { get; init; }
        public required List<Gram> Grams { get; init; }
        public required string Latin1Excluded { get; init; }
        public required Dictionary<int, int> Cjk { get; init; }
        public required string VietnameseLetters { get; init; }
        public required string VietnameseMarks { get; init; }
        public required string[] VietnameseComposed { get; init; }

        /// <summary><c>NGram.normalize</c>: one character mapped to the one its profile counts.</summary>
        public int Normalize(int c) => c switch
        {
            <= 0x7F => c is < 'A' or (> 'Z' and < 'a') or > 'z' ? ' ' : c,
            <= 0xFF => Latin1Excluded.Contains((char)c, StringComparison.Ordinal) ? ' ' : c,
            0x0219 => 0x015F, // s with comma below → with cedilla
            0x021B => 0x0163, // t with comma below → with cedilla
            >= 0x2000 and <= 0x206F => ' ',
            0x06CC => 0x064A, // Farsi yeh → Arabic yeh
            >= 0x1EA0 and <= 0x1EFF => 0x1EC3,
            >= 0x3040 and <= 0x309F => 0x3042,
            >= 0x30A0 and <= 0x30FF => 0x30A2,
            (>= 0x3100 and <= 0x312F) or (>= 0x31A0 and <= 0x31BF) => 0x3105,
            >= 0x4E00 and <= 0x9FFF => Cjk.GetValueOrDefault(c, c),
            >= 0xAC00 and <= 0xD7AF => 0xAC00,
            _ => c,
        };

        /// <summary><c>NGram.normalize_vi</c>: a letter followed by a combining tone mark becomes the precomposed letter.</summary>
        public string NormalizeVietnamese(string text)
        {
            if (text.All(c => c < 0x0300 || c > 0x0323)) return text;
            var builder = new StringBuilder(text.Length);
            for (var i = 0; i < text.Length; i++)
            {
                int letter, mark;
                if (i + 1 < text.Length && (letter = VietnameseLetters.IndexOf(text[i], StringComparison.Ordinal)) >= 0
                    && (mark = VietnameseMarks.IndexOf(text[i + 1], StringComparison.Ordinal)) >= 0)
                {
                    builder.Append(VietnameseComposed[mark][letter]);
                    i++;
                }
                else builder.Append(text[i]);
            }
            return builder.ToString();
        }

        public static Profiles Load()
        {
            using var stream = typeof(LanguageDetector).Assembly.GetManifestResourceStream("AmDistill.Verifiers.langdetect-profiles.txt.gz")
                ?? throw new InvalidOperationException("langdetect profiles are missing from the assembly");
            using var reader = new StreamReader(new GZipStream(stream, CompressionMode.Decompress), Encoding.ASCII);
            string[] languages = [];
            var wordCounts = new Dictionary<string, long[]>(StringComparer.Ordinal);
            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            var grams = new List<Gram>();
            var cjk = new Dictionary<int, int>();
            var composed = new List<string>();
            string latin1 = "", letters = "", marks = "";
            while (reader.ReadLine() is { } line)
            {
                var fields = line.Split('\t');
                switch (fields[0])
                {
                    case "langs": languages = fields[1].Split(' '); break;
                    case "nwords": wordCounts[fields[1]] = [.. fields[2].Split(' ').Select(long.Parse)]; break;
                    case "latin1_exclude": latin1 = PythonText.Unescape(fields[1]); break;
                    case "vi_chars": letters = PythonText.Unescape(fields[1]); break;
                    case "vi_marks": marks = PythonText.Unescape(fields[1]); break;
                    case "vi_normalized": composed.Add(PythonText.Unescape(fields[1])); break;
                    case "cjk":
                        var members = PythonText.Unescape(fields[1]);
                        foreach (var member in members) cjk[member] = members[0];
                        break;
                    case "g":
                        var gram = PythonText.Unescape(fields[1]);
                        var length = gram.EnumerateRunes().Count();
                        var entries = fields[2].Split(' ');
                        var (ids, probabilities) = (new int[entries.Length], new double[entries.Length]);
                        for (var e = 0; e < entries.Length; e++)
                        {
                            var colon = entries[e].IndexOf(':', StringComparison.Ordinal);
                            ids[e] = int.Parse(entries[e].AsSpan(0, colon), CultureInfo.InvariantCulture);
                            var count = long.Parse(entries[e].AsSpan(colon + 1), CultureInfo.InvariantCulture);
                            probabilities[e] = (double)count / wordCounts[languages[ids[e]]][length - 1];
                        }
                        index[gram] = grams.Count;
                        grams.Add(new Gram(ids, probabilities));
                        break;
                }
            }
            return new Profiles
            {
                Languages = languages, Index = index, Grams = grams, Latin1Excluded = latin1, Cjk = cjk,
                VietnameseLetters = letters, VietnameseMarks = marks, VietnameseComposed = [.. composed],
            };
        }
    }
}
