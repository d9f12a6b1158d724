namespace AmDistill.Verifiers.InstructionFollowing;

/// <summary>
/// The language of a text as an ISO 639-1 code, offline (IFEval uses langdetect, a network-free n-gram model; this is
/// smaller): the script decides where it names one language (Thai, Korean, Kannada, Gujarati, …), and frequent function
/// words decide within a script (Hindi/Marathi/Nepali in Devanagari, Arabic/Persian/Urdu, Russian/Bulgarian, and the
/// Latin-script languages).
/// </summary>
public static class LanguageDetector
{
    private static readonly (string Language, int From, int To)[] Scripts =
    [
        ("th", 0x0E00, 0x0E7F), ("ko", 0xAC00, 0xD7AF), ("ko", 0x1100, 0x11FF), ("kn", 0x0C80, 0x0CFF), ("gu", 0x0A80, 0x0AFF),
        ("te", 0x0C00, 0x0C7F), ("ta", 0x0B80, 0x0BFF), ("bn", 0x0980, 0x09FF), ("pa", 0x0A00, 0x0A7F), ("ml", 0x0D00, 0x0D7F),
        ("el", 0x0370, 0x03FF), ("he", 0x0590, 0x05FF), ("ja", 0x3040, 0x30FF), ("zh", 0x4E00, 0x9FFF),
        ("devanagari", 0x0900, 0x097F), ("arabic", 0x0600, 0x06FF), ("cyrillic", 0x0400, 0x04FF), ("latin", 'A', 'z'), ("latin", 0x00C0, 0x024F), ("latin", 0x1E00, 0x1EFF),
    ];

    private static readonly Dictionary<string, string[]> Words = new()
    {
        ["hi"] = ["है", "और", "के", "में", "की", "का", "हैं", "से", "नहीं", "यह"],
        ["mr"] = ["आहे", "आणि", "या", "हे", "की", "आहेत", "त्या", "मध्ये", "नाही", "होते"],
        ["ne"] = ["छ", "र", "को", "मा", "हो", "छन्", "गर्न", "पनि", "यो", "भएको"],
        ["ar"] = ["في", "من", "على", "أن", "إلى", "هذا", "التي", "عن", "الذي", "مع"],
        ["fa"] = ["است", "این", "که", "را", "با", "برای", "می", "از", "به", "های"],
        ["ur"] = ["ہے", "کے", "کی", "میں", "اور", "کا", "یہ", "سے", "ہیں", "نہیں"],
        ["ru"] = ["и", "в", "не", "что", "на", "это", "как", "он", "с", "для"],
        ["bg"] = ["и", "на", "е", "за", "да", "се", "не", "от", "са", "това"],
        ["en"] = ["the", "and", "of", "to", "is", "in", "that", "it", "for", "with"],
        ["de"] = ["der", "die", "und", "das", "ist", "nicht", "ein", "zu", "mit", "sie"],
        ["pt"] = ["de", "que", "e", "não", "uma", "para", "com", "os", "é", "da"],
        ["it"] = ["di", "che", "il", "la", "non", "è", "per", "una", "sono", "della"],
        ["fi"] = ["ja", "on", "ei", "että", "se", "oli", "hän", "mutta", "kun", "ovat"],
        ["sw"] = ["na", "ya", "wa", "kwa", "ni", "za", "katika", "la", "kuwa", "hii"],
        ["vi"] = ["và", "của", "là", "có", "không", "những", "được", "trong", "một", "người"],
        ["es"] = ["el", "que", "y", "los", "del", "las", "por", "con", "una", "es"],
        ["fr"] = ["le", "et", "les", "des", "est", "une", "que", "pas", "pour", "dans"],
        ["nl"] = ["de", "het", "een", "en", "van", "is", "niet", "dat", "op", "zijn"],
    };

    private static readonly Dictionary<string, string[]> ByScript = new()
    {
        ["devanagari"] = ["hi", "mr", "ne"],
        ["arabic"] = ["ar", "fa", "ur"],
        ["cyrillic"] = ["ru", "bg"],
        ["latin"] = ["en", "de", "pt", "it", "fi", "sw", "vi", "es", "fr", "nl"],
    };

    public static string? Detect(string text)
    {
        var counts = new Dictionary<string, int>();
        foreach (var c in text)
            foreach (var (language, from, to) in Scripts)
                if (c >= from && c <= to && char.IsLetter(c))
                {
                    counts[language] = counts.GetValueOrDefault(language) + 1;
                    break;
                }
        if (counts.Count == 0) return null;
        var script = counts.MaxBy(kv => kv.Value).Key;
        if (script == "ja" || script == "zh") return counts.ContainsKey("ja") ? "ja" : "zh";
        if (!ByScript.TryGetValue(script, out var candidates)) return script;

        var tokens = text.ToLowerInvariant().Split([' ', '\n', '\t', '\r', ',', '.', '!', '?', ';', ':', '"', '(', ')', '،', '۔', '।'], StringSplitOptions.RemoveEmptyEntries);
        var best = candidates.Select(language =>
        {
            var words = Words[language].ToHashSet(StringComparer.Ordinal);
            var score = tokens.Count(words.Contains) + Markers(language, text);
            return (language, score);
        }).MaxBy(x => x.score);
        return best.language;
    }

    /// <summary>Letters one language of a script has and its neighbours lack.</summary>
    private static double Markers(string language, string text) => language switch
    {
        "vi" => text.Count(c => "ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ".Contains(char.ToLowerInvariant(c))) * 0.5,
        "de" => text.Count(c => "äöüß".Contains(char.ToLowerInvariant(c))) * 0.5,
        "pt" => text.Count(c => "ãõç".Contains(char.ToLowerInvariant(c))) * 0.5,
        "fi" => text.Count(c => "äö".Contains(char.ToLowerInvariant(c))) * 0.3,
        "ru" => text.Count(c => "ыэё".Contains(char.ToLowerInvariant(c))) * 0.5,
        "bg" => text.Count(c => char.ToLowerInvariant(c) == 'ъ') * 0.5,
        "fa" => text.Count(c => "پچژگ".Contains(c)) * 0.3,
        "ur" => text.Count(c => "ےٹڈڑںھ".Contains(c)) * 0.5,
        _ => 0,
    };
}
