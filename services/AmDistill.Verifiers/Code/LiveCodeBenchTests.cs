using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace AmDistill.Verifiers.Code;

/// <summary>
/// LiveCodeBench's test cases: <c>public_test_cases</c> is JSON; <c>private_test_cases</c> is JSON or
/// base64(zlib(pickle(JSON string))). Only a pickled <c>str</c> occurs there, so only that subset of the pickle
/// protocol (versions 2–5: PROTO, FRAME, the unicode opcodes, MEMOIZE, STOP) is read; anything else is refused.
/// </summary>
public static class LiveCodeBenchTests
{
    /// <summary>The tests as stdio (<c>testtype</c> stdin) or functional (a <paramref name="functionName"/>), public first.</summary>
    public static CodeTests Parse(string publicTests, string? privateTests, string? functionName)
    {
        var all = Cases(publicTests).Concat(privateTests is { Length: > 0 } p ? Cases(Decode(p)) : []).ToList();
        var inputs = all.Select(c => c.Input).ToList();
        var outputs = all.Select(c => c.Output).ToList();
        return all.Count > 0 && all[0].Type == "functional" && functionName is { Length: > 0 } name
            ? new CodeTests.Functional(name, inputs, outputs)
            : new CodeTests.Stdio(inputs, outputs);
    }

    private static IEnumerable<(string Input, string Output, string Type)> Cases(string json)
    {
        using var document = JsonDocument.Parse(json);
        return [.. document.RootElement.EnumerateArray().Select(c => (c.GetProperty("input").GetString()!, c.GetProperty("output").GetString()!,
            c.TryGetProperty("testtype", out var t) ? t.GetString() ?? "stdin" : "stdin"))];
    }

    /// <summary>Private tests as JSON text: returned as they are when already JSON, else unpacked.</summary>
    public static string Decode(string privateTests)
    {
        var trimmed = privateTests.TrimStart();
        if (trimmed.StartsWith('[') || trimmed.StartsWith('{')) return privateTests;
        using var zlib = new ZLibStream(new MemoryStream(Convert.FromBase64String(trimmed)), CompressionMode.Decompress);
        using var bytes = new MemoryStream();
        zlib.CopyTo(bytes);
        return UnpickleString(bytes.ToArray());
    }

    public static string UnpickleString(ReadOnlySpan<byte> pickle)
    {
        var i = 0;
        string? value = null;
        while (i < pickle.Length)
        {
            var op = pickle[i++];
            int length;
            switch (op)
            {
                case 0x80: i += 1; continue;          // PROTO n
                case 0x95: i += 8; continue;          // FRAME length
                case 0x94: continue;                  // MEMOIZE
                case (byte)'q': i += 1; continue;     // BINPUT (protocols 2 and 3)
                case (byte)'r': i += 4; continue;     // LONG_BINPUT
                case (byte)'.': return value ?? throw new FormatException("the pickle holds no string");
                case 0x8c: length = pickle[i]; i += 1; break;                                         // SHORT_BINUNICODE
                case (byte)'X': length = checked((int)BitConverter.ToUInt32(pickle.Slice(i, 4))); i += 4; break; // BINUNICODE
                case 0x8d: length = checked((int)BitConverter.ToUInt64(pickle.Slice(i, 8))); i += 8; break;     // BINUNICODE8
                default: throw new FormatException($"pickle opcode 0x{op:x2} is not part of a pickled str");
            }
            value = Encoding.UTF8.GetString(pickle.Slice(i, length));
            i += length;
        }
        throw new FormatException("the pickle has no STOP");
    }
}
