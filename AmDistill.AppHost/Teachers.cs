using Microsoft.Extensions.Configuration;

namespace AmDistill.AppHost;

public static class TeacherExtensions
{
    /// <summary>
    /// Adds the real teachers of <c>AmDistill:Teachers</c> (Name, Provider, Endpoint, Model, and any other teacher option)
    /// to the generation service, after its simulated ones. Each teacher's API key is an Aspire secret parameter
    /// (<c>{name}-api-key</c>: user secrets or <c>Parameters__{name}-api-key</c> locally, a Key Vault secret when deployed),
    /// never plain configuration.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithTeachers(this IResourceBuilder<ProjectResource> generation, IDistributedApplicationBuilder builder,
        int firstIndex)
    {
        var index = firstIndex;
        foreach (var teacher in builder.Configuration.GetSection("AmDistill:Teachers").GetChildren())
        {
            var name = teacher["Name"] ?? throw new DistributedApplicationException($"AmDistill:Teachers:{teacher.Key} has no Name");
            var prefix = $"Generation__Teachers__{index}__";
            foreach (var setting in teacher.AsEnumerable(makePathsRelative: true).Where(s => s.Value is not null && s.Key != "ApiKey"))
                generation.WithEnvironment(prefix + setting.Key.Replace(":", "__", StringComparison.Ordinal), setting.Value);
            var apiKey = builder.AddParameter($"{name}-api-key", secret: true);
            generation.WithEnvironment(prefix + "ApiKey", apiKey);
            index++;
        }
        return generation;
    }
}
