using AmDistill.TeacherSim.Completions;
using AmDistill.TeacherSim.Knowledge;
using AmDistill.TeacherSim.Models;
using Microsoft.Extensions.Options;

namespace AmDistill.TeacherSim;

public static class Extensions
{
    public static IHostApplicationBuilder AddTeacherSim(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TeacherSimOptions>().BindConfiguration(TeacherSimOptions.Section)
            .Validate(o => o.Models.All(m => m.Name.Length > 0 && m.Skill is >= 0 and <= 1 && m.TokensPerSecond > 0 && m.Faults.Total is >= 0 and <= 1),
                "TeacherSim:Models: every model needs a Name, a Skill in [0, 1], TokensPerSecond > 0 and fault rates that add up to at most 1")
            .ValidateOnStart();
        builder.Services.AddSingleton(sp => QueryBank.Load(
            sp.GetRequiredService<IOptions<TeacherSimOptions>>().Value.QueryFiles.Select(f => Path.IsPathRooted(f) ? f : Path.Combine(AppContext.BaseDirectory, f)),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<QueryBank>(),
            sp.GetRequiredService<IOptions<TeacherSimOptions>>().Value.RunDirectories));
        builder.Services.AddSingleton<TeacherSimulator>();
        builder.Services.AddSingleton<Batches.SimBatchService>();
        return builder;
    }
}
