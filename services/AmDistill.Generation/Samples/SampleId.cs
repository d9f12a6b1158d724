using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AmDistill.Generation.Teachers;

namespace AmDistill.Generation.Samples;

/// <summary>
/// Deterministic ids: the same (run, query, teacher, pass) under the same generation settings is the same sample,
/// so a redelivered task never pays for a sample twice; changed settings make new samples.
/// </summary>
public static class SampleId
{
    public static string For(string runId, string queryId, string teacher, int pass, string settingsHash) =>
        Hash($"{runId}\n{queryId}\n{teacher}\n{pass.ToString(CultureInfo.InvariantCulture)}\n{settingsHash}")[..24];

    /// <summary>What changes a teacher's answers: endpoint model, sampling, length limit, system prompt.</summary>
    public static string SettingsHash(TeacherOptions teacher) => Hash(string.Join('\n',
        teacher.Model, teacher.Temperature.ToString("R", CultureInfo.InvariantCulture), teacher.TopP.ToString("R", CultureInfo.InvariantCulture),
        teacher.MaxTokens.ToString(CultureInfo.InvariantCulture), teacher.EffectiveSystemPrompt))[..12];

    /// <summary>The sampling seed of a pass, so a repeated request gets the same answer where the server honours seeds.</summary>
    public static long Seed(string runId, string queryId, int pass) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes($"{runId}\n{queryId}\n{pass.ToString(CultureInfo.InvariantCulture)}"))) & long.MaxValue;

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
