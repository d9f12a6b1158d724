using System.Text.Json;
using AmDistill.Verifiers.InstructionFollowing;

namespace AmDistill.Verifiers.Tests;

public sealed class IfEvalTests
{
    private static readonly string Long300 = string.Join(' ', Enumerable.Repeat("word", 300));

    /// <summary>(instruction, kwargs, a response that follows it, one that does not) for every type in IFEval's registry.</summary>
    public static TheoryData<string, string, string, string> Cases => new()
    {
        { "change_case:capital_word_frequency", """{"capital_frequency": 3, "capital_relation": "at least"}""", "THE QUICK brown FOX jumps", "The quick BROWN fox" },
        { "change_case:capital_word_frequency", """{"capital_frequency": 2, "capital_relation": "less than"}""", "ONE capital word here", "TWO CAPITAL words" },
        { "change_case:english_capital", "{}", "THIS IS THE ANSWER AND IT IS IN ENGLISH.", "This is the answer and it is in English." },
        { "change_case:english_lowercase", "{}", "this is the answer and it is in english.", "this is the Answer and it is in english." },
        { "combination:repeat_prompt", """{"prompt_to_repeat": "Write a poem about cats."}""", "Write a poem about cats. Cats are soft.", "Cats are soft. Write a poem about cats." },
        { "combination:two_responses", "{}", "First answer.\n******\nSecond answer.", "First answer.\n******\nFirst answer." },
        { "detectable_content:number_placeholders", """{"num_placeholders": 2}""", "Send it to [address] by [date].", "Send it to [address] soon." },
        { "detectable_content:postscript", """{"postscript_marker": "P.S."}""", "Main text.\n\nP.S. I will be late.", "Main text. I will be late." },
        { "detectable_content:postscript", """{"postscript_marker": "P.P.S"}""", "Main text.\nP.S. one\nP.P.S two", "Main text.\nP.S. only one" },
        { "detectable_format:constrained_response", "{}", "After thinking: My answer is yes.", "My answer is probably yes" },
        { "detectable_format:json_format", "{}", "```json\n{\"a\": [1, 2]}\n```", "Here is JSON: {\"a\": 1}" },
        { "detectable_format:multiple_sections", """{"section_spliter": "Section", "num_sections": 2}""", "Section 1\nIntro.\nSection 2\nBody.", "Section 1\nEverything at once." },
        { "detectable_format:number_bullet_lists", """{"num_bullets": 3}""", "Items:\n* one\n* two\n- three", "Items:\n* one\n* two" },
        { "detectable_format:number_highlighted_sections", """{"num_highlights": 2}""", "*first part* and **second part**", "*first part* and plain text" },
        { "detectable_format:title", "{}", "<<A Title>>\nThe text.", "<< >>\nThe text without a title." },
        { "keywords:existence", """{"keywords": ["banana", "tree"]}""", "A Banana grows on a tree.", "A banana grows on a plant." },
        { "keywords:forbidden_words", """{"forbidden_words": ["very", "good"]}""", "An excellent, goodly result.", "A very nice result." },
        { "keywords:frequency", """{"keyword": "cat", "frequency": 3, "relation": "at least"}""", "cat, Cat and CAT", "cat and dog" },
        { "keywords:frequency", """{"keyword": "cat", "frequency": 2, "relation": "less than"}""", "one cat", "cat and cat" },
        { "keywords:letter_frequency", """{"letter": "z", "let_frequency": 3, "let_relation": "at least"}""", "Zebras zigzag lazily", "Zebras run" },
        { "language:response_language", """{"language": "de"}""", "Die Katze ist nicht auf dem Dach und der Hund schläft mit ihr.", "The cat is not on the roof and the dog sleeps." },
        { "language:response_language", """{"language": "hi"}""", "यह एक अच्छा दिन है और मैं खुश हूँ।", "हे एक चांगला दिवस आहे आणि मी आनंदी आहे." },
        { "language:response_language", """{"language": "bg"}""", "Това е хубав ден и аз съм щастлив, защото е слънчево.", "Это хороший день, и я счастлив, потому что солнечно." },
        { "length_constraints:nth_paragraph_first_word", """{"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "however"}""", "One.\n\n\"However, two.\n\nThree.", "One.\n\nTwo however.\n\nThree." },
        { "length_constraints:number_paragraphs", """{"num_paragraphs": 3}""", "One.\n***\nTwo.\n***\nThree.", "One.\n***\nTwo." },
        { "length_constraints:number_sentences", """{"num_sentences": 3, "relation": "less than"}""", "Dr. Smith paid 3.5 dollars. That was all.", "One. Two. Three. Four." },
        { "length_constraints:number_sentences", """{"num_sentences": 3, "relation": "at least"}""", "One! Two? Three.", "One. Two." },
        { "length_constraints:number_words", """{"num_words": 300, "relation": "at least"}""", Long300, "Too short." },
        { "length_constraints:number_words", """{"num_words": 5, "relation": "less than"}""", "Four words are here", "Five words are right here" },
        { "punctuation:no_comma", "{}", "No commas here.", "Commas, here." },
        { "startend:end_checker", """{"end_phrase": "Is there anything else I can help with?"}""", "Done. Is there anything else I can help with?  ", "Is there anything else I can help with? Done." },
        { "startend:quotation", "{}", "\"Wrapped in quotes.\"", "\"Only opened." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_instruction_type(string id, string kwargs, string follows, string breaks)
    {
        var instruction = new Instruction(id, JsonDocument.Parse(kwargs).RootElement);
        Assert.True(IfEvalChecker.Follows(instruction, follows), $"{id} should accept: {follows}");
        Assert.False(IfEvalChecker.Follows(instruction, breaks), $"{id} should reject: {breaks}");
    }

    [Fact]
    public void Score_is_the_fraction_followed_and_loose_mode_forgives_a_preamble_and_asterisks()
    {
        var instructions = new[]
        {
            new Instruction("punctuation:no_comma", JsonDocument.Parse("{}").RootElement),
            new Instruction("startend:quotation", JsonDocument.Parse("{}").RootElement),
        };
        const string response = "Sure, here it is:\n\"A quoted answer\"";
        Assert.Equal(0, IfEvalChecker.Verify(instructions, response).Score);
        Assert.Equal(1, IfEvalChecker.Verify(instructions, response, loose: true).Score);
        Assert.Equal(0.5, IfEvalChecker.Verify(instructions, "\"quoted, with a comma\"").Score);
    }

    [Fact]
    public void Every_instruction_type_of_the_shared_ifeval_set_is_implemented()
    {
        var path = RepoFiles.Benchmark("ifeval.jsonl");
        var ids = File.ReadLines(path).SelectMany(l => IfEvalChecker.Parse(JsonDocument.Parse(l).RootElement.GetProperty("test_cases")).Select(i => i.Id)).ToHashSet();
        var covered = Cases.Select(c => (string)c[0]).ToHashSet();
        Assert.Empty(ids.Except(covered));
        Assert.Equal(25, ids.Count);
        // Every record's kwargs are read without error (a response that follows nothing still gets a score).
        foreach (var line in File.ReadLines(path))
        {
            var instructions = IfEvalChecker.Parse(JsonDocument.Parse(line).RootElement.GetProperty("test_cases"));
            Assert.InRange(IfEvalChecker.Verify(instructions, "A plain answer.").Score, 0, 1);
        }
    }
}
