using Microsoft.Extensions.Configuration;

namespace AmDistill.AppHost;

public static class TeacherExtensions
{
    /// <summary>
    /// Adds the real teachers of <c>AmDistill:Teachers:{name}</c> (Provider, Endpoint, Model, and any other teacher option
    /// of <c>Generation:Teachers</c>) to the generation service, beside its simulated ones. Each teacher's API key is an
    /// Aspire secret parameter (<c>{name}-api-key</c>: user secrets or <c>Parameters__{name}-api-key</c> locally, a Key
    /// Vault secret when deployed), never plain configuration.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithTeachers(this IResourceBuilder<ProjectResource> generation, IDistributedApplicationBuilder builder)
    {
        foreach (var teacher in builder.Configuration.GetSection("AmDistill:Teachers").GetChildren())
        {
            var name = teacher.Key;
            if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z0-9][a-z0-9._-]{0,63}$"))
                throw new DistributedApplicationException($"AmDistill:Teachers:{name}: a teacher's name is 1–64 of a-z, 0-9, '.', '_', '-' (AmDistill:Teachers:deepseek:Endpoint=…)");
            var prefix = $"Generation__Teachers__{name}__";
            foreach (var setting in teacher.AsEnumerable(makePathsRelative: true).Where(s => s.Value is not null && s.Key != "ApiKey"))
                generation.WithEnvironment(prefix + setting.Key.Replace(":", "__", StringComparison.Ordinal), setting.Value);
            generation.WithEnvironment(prefix + "ApiKey", builder.AddParameter($"{name}-api-key", secret: true));
        }
        return generation;
    }
}
