using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AmDistill.AppHost.Tests;

/// <summary>
/// <c>docs/configuration.md</c> lists every key of every options class, with its default, and nothing else under their
/// sections: a key added to a class without a line in the document (or a line left behind by a removed key, or a
/// default that changed) fails here.
/// </summary>
public sealed partial class ConfigurationDocTests
{
    private static readonly (string Section, Type Options)[] Sections =
    [
        (AppHostOptions.Section, typeof(AppHostOptions)),
        (Microsoft.Extensions.Hosting.AccessOptions.Section, typeof(Microsoft.Extensions.Hosting.AccessOptions)),
        (AmDistill.Api.ApiOptions.Section, typeof(AmDistill.Api.ApiOptions)),
        (AmDistill.Api.Runs.DemoRunOptions.Section, typeof(AmDistill.Api.Runs.DemoRunOptions)),
        (AmDistill.Dataset.Store.DatasetStoreOptions.Section, typeof(AmDistill.Dataset.Store.DatasetStoreOptions)),
        (AmDistill.Generation.Teachers.GenerationOptions.Section, typeof(AmDistill.Generation.Teachers.GenerationOptions)),
        (AmDistill.Verification.VerificationOptions.Section, typeof(AmDistill.Verification.VerificationOptions)),
        (AmDistill.Verification.Verifying.JudgeOptions.Section, typeof(AmDistill.Verification.Verifying.JudgeOptions)),
        (AmDistill.Verification.Verifying.RewardModelOptions.Section, typeof(AmDistill.Verification.Verifying.RewardModelOptions)),
        (AmDistill.Scoring.ScoringOptions.Section, typeof(AmDistill.Scoring.ScoringOptions)),
        (AmDistill.Trainer.Launching.TrainerOptions.Section, typeof(AmDistill.Trainer.Launching.TrainerOptions)),
        (AmDistill.Trainer.Serving.ServingOptions.Section, typeof(AmDistill.Trainer.Serving.ServingOptions)),
        (AmDistill.TeacherSim.Models.TeacherSimOptions.Section, typeof(AmDistill.TeacherSim.Models.TeacherSimOptions)),
    ];

    [Fact]
    public void Every_options_key_is_documented_with_its_default_and_every_documented_key_exists()
    {
        var expected = Sections.SelectMany(s => Keys(s.Section, s.Options, Activator.CreateInstance(s.Options))).ToDictionary(k => k.Key, k => k.Default);
        var sections = Sections.Select(s => s.Section + ":").ToList();
        var documented = File.ReadLines(Path.Combine(RepoFiles.Root, "docs", "configuration.md"))
            .Select(l => Row().Match(l)).Where(m => m.Success)
            .Select(m => (Key: m.Groups["key"].Value, Default: m.Groups["default"].Value))
            .Where(r => sections.Any(s => r.Key.StartsWith(s, StringComparison.Ordinal)) && !r.Key.StartsWith("AmDistill:Teachers:", StringComparison.Ordinal))
            .ToList();

        var missing = expected.Keys.Except(documented.Select(d => d.Key)).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "not in docs/configuration.md:\n" + string.Join("\n", missing.Select(k => $"| `{k}` | `{expected[k]}` | |")));
        var unknown = documented.Select(d => d.Key).Except(expected.Keys).ToList();
        Assert.True(unknown.Count == 0, "documented but not an options key: " + string.Join(", ", unknown));
        var wrong = documented.Where(d => d.Default != expected[d.Key]).Select(d => $"{d.Key}: documented `{d.Default}`, default `{expected[d.Key]}`").ToList();
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    /// <summary>The keys configuration binding reads into <paramref name="type"/>: public properties with a public setter;
    /// a list item is <c>{i}</c>, a dictionary entry <c>{name}</c>.</summary>
    private static IEnumerable<(string Key, string Default)> Keys(string prefix, Type type, object? instance)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod?.IsPublic == true))
        {
            var key = $"{prefix}:{property.Name}";
            var value = instance is null ? null : property.GetValue(instance);
            var propertyType = property.PropertyType;
            if (IsScalar(propertyType))
                yield return (key, Format(value));
            else if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(Dictionary<,>))
            {
                var item = propertyType.GetGenericArguments()[1];
                if (IsScalar(item)) yield return ($"{key}:{{name}}", Format(value));
                else foreach (var k in Keys($"{key}:{{name}}", item, Activator.CreateInstance(item))) yield return k;
            }
            else if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(List<>))
            {
                var item = propertyType.GetGenericArguments()[0];
                if (IsScalar(item)) yield return ($"{key}:{{i}}", Format(value));
                else foreach (var k in Keys($"{key}:{{i}}", item, Activator.CreateInstance(item))) yield return k;
            }
            else
                foreach (var k in Keys(key, propertyType, value ?? Activator.CreateInstance(propertyType))) yield return k;
        }
    }

    private static bool IsScalar(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan);
    }

    private static string Format(object? value) => value switch
    {
        null => "null",
        string s => JsonSerializer.Serialize(s),
        bool b => b ? "true" : "false",
        TimeSpan t => t.ToString("c", CultureInfo.InvariantCulture),
        Enum e => e.ToString(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable items => JsonSerializer.Serialize(items, items.GetType()),
        _ => value.ToString()!,
    };

    /// <summary>A table row: | `key` | `default` | meaning |</summary>
    [GeneratedRegex(@"^\|\s*`(?<key>[^`]+)`\s*\|\s*`(?<default>[^`]*)`\s*\|")]
    private static partial Regex Row();
}
