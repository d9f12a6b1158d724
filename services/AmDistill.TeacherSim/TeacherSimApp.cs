using AmDistill.TeacherSim.Completions;

namespace AmDistill.TeacherSim;

/// <summary>Builds the simulator's web app; public so that tests and the benchmark host it on a real port.</summary>
public static class TeacherSimApp
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults();
        builder.AddTeacherSim();

        var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapTeacherSim();
        return app;
    }
}
