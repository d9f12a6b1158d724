using AmDistill.TeacherSim.Completions;
using AmDistill.TeacherSim.Knowledge;
using AmDistill.TeacherSim.Models;
using Microsoft.Extensions.Options;

namespace AmDistill.TeacherSim;

public static class Extensions
{
    public static IHostApplicationBuilder AddTeacherSim(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TeacherSimOptions>().BindConfiguration(TeacherSimOptions.Section);
        builder.Services.AddSingleton(sp => QueryBank.Load(
            sp.GetRequiredService<IOptions<TeacherSimOptions>>().Value.QueryFiles.Select(f => Path.IsPathRooted(f) ? f : Path.Combine(AppContext.BaseDirectory, f)),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<QueryBank>(),
            sp.GetRequiredService<IOptions<TeacherSimOptions>>().Value.RunDirectories));
        builder.Services.AddSingleton<TeacherSimulator>();
        return builder;
    }
}
