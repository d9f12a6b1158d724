using System.Collections.Concurrent;
using System.Text.Json;
using AmDistill.Contracts;
using OpenAI.Chat;
using StackExchange.Redis;

namespace AmDistill.Generation.Teachers;

/// <summary>
/// Teachers the trainer service serves (<see cref="RunKeys.ServedTeachers"/>): a trained model, or its base, answering
/// an evaluation run. Looked up when a task names a teacher that is not configured, and read again after
/// <see cref="Refresh"/> (a model served again on another port), with the AM system prompt, no key, and one shared
/// HTTP pipeline (<see cref="HttpClientName"/>).
/// </summary>
public sealed class ServedTeachers(IConnectionMultiplexer redis, IHttpClientFactory httpClients)
{
    public const string HttpClientName = "teacher:served";

    /// <summary>How long a lookup is trusted before Redis is asked again.</summary>
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(5);

    public sealed record Entry(TeacherOptions Options, ChatClient Chat, string Json, DateTimeOffset Read);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Whether the trainer service was asked to serve <paramref name="name"/> (it may be loading it again).</summary>
    public async Task<bool> IsRequestedAsync(string name) => await redis.GetDatabase().HashExistsAsync(RunKeys.ServeRequests, name);

    public async ValueTask<Entry?> FindAsync(string name)
    {
        if (_entries.TryGetValue(name, out var known) && DateTimeOffset.UtcNow - known.Read < Refresh) return known;
        var json = (string?)await redis.GetDatabase().HashGetAsync(RunKeys.ServedTeachers, name);
        if (json is null)
        {
            _entries.TryRemove(name, out _);
            return null;
        }
        if (known is not null && known.Json == json) return _entries[name] = known with { Read = DateTimeOffset.UtcNow };
        var served = JsonSerializer.Deserialize(json, ContractsJsonContext.Default.ServedTeacher)!;
        var options = new TeacherOptions { Endpoint = served.Endpoint, Model = served.Name, MaxTokens = served.MaxTokens, MaxRetries = 2 };
        options.Name = name;
        var chat = TeacherClient.CreateClient(options, httpClients.CreateClient(HttpClientName), options.RequestTimeout * 3).GetChatClient(options.Model);
        return _entries[name] = new Entry(options, chat, json, DateTimeOffset.UtcNow);
    }
}
