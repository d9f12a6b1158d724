using System.CommandLine;
using System.Globalization;
using AmDistill.Scoring.Core;

namespace AmDistill.Cli.Select;

/// <summary>The selection settings that <c>select</c> and <c>export</c> share.</summary>
internal sealed class SelectionArguments
{
    public Option<double> CvThreshold { get; } = new("--cv-threshold") { Description = "CV_t for every category.", DefaultValueFactory = _ => 0.05 };
    public Option<string> Std { get; } = new("--std") { Description = "sample (reproduces the paper's examples) or population (its formula).", DefaultValueFactory = _ => "sample" };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the random choices.", DefaultValueFactory = _ => 0 };
    public Option<string> Teacher { get; } = new("--teacher") { Description = "Whose responses are scored and selected.", DefaultValueFactory = _ => "deepseek-r1" };
    public Option<string[]> Cap { get; } = new("--cap") { Description = "stage2: at most N queries of a category, e.g. --cap science=20000.", AllowMultipleArgumentsPerToken = true };
    public Option<string> Band { get; } = new("--band") { Description = "band: the open pass-rate interval, min,max.", DefaultValueFactory = _ => "0,1" };

    public SelectionArguments() => Std.AcceptOnlyFromAmong("sample", "population");

    public IEnumerable<Option> All => [CvThreshold, Std, Seed, Teacher, Cap, Band];

    public SelectionOptions Options(ParseResult result) => new()
    {
        Teacher = result.GetValue(Teacher)!,
        CvThreshold = result.GetValue(CvThreshold),
        Std = result.GetValue(Std) == "population" ? StdConvention.Population : StdConvention.Sample,
        Seed = result.GetValue(Seed),
    };

    public Dictionary<QueryCategory, int> Caps(ParseResult result) => (result.GetValue(Cap) ?? []).Select(c => c.Split('=')).ToDictionary(
        c => QueryCategories.Parse(c[0]), c => int.Parse(c[1], CultureInfo.InvariantCulture));

    public (double Min, double Max) BandLimits(ParseResult result)
    {
        var limits = result.GetValue(Band)!.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        return (limits[0], limits[1]);
    }
}
