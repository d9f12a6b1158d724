using System.Diagnostics;

namespace AmDistill.Tests;

/// <summary>Debian's <c>chromium</c> in headless mode: loads a page and returns its DOM after rendering, or a screenshot,
/// failing on any console message or uncaught error the page produced.</summary>
internal static class HeadlessChromium
{
    public static Task<string> LoadAsync(string file, CancellationToken cancellationToken) => RunAsync(file, ["--dump-dom"], cancellationToken);

    /// <summary>The page rendered at <paramref name="width"/> × <paramref name="height"/> CSS pixels, as PNG bytes.</summary>
    public static async Task<byte[]> ScreenshotAsync(string file, int width, int height, CancellationToken cancellationToken)
    {
        var png = Path.Combine(Directory.CreateTempSubdirectory("amdistill-screenshot-").FullName, "page.png");
        try
        {
            await RunAsync(file, [$"--screenshot={png}", $"--window-size={width},{height}", "--hide-scrollbars", "--force-device-scale-factor=1"], cancellationToken);
            return await File.ReadAllBytesAsync(png, cancellationToken);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(png)!, recursive: true);
        }
    }

    private static async Task<string> RunAsync(string file, string[] mode, CancellationToken cancellationToken)
    {
        var profile = Directory.CreateTempSubdirectory("amdistill-chromium-").FullName;
        var info = new ProcessStartInfo("chromium") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--enable-logging=stderr", "--v=0",
                     $"--user-data-dir={profile}", "--virtual-time-budget=3000" }.Concat(mode).Append(new Uri(file).AbsoluteUri))
            info.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(info)!;
            var dom = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var log = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.WaitForExitAsync(cancellationToken).WaitAsync(TimeSpan.FromMinutes(1), cancellationToken);
            Assert.True(process.ExitCode == 0, await log);
            var console = (await log).Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal) || l.Contains("Uncaught", StringComparison.Ordinal)).ToList();
            Assert.True(console.Count == 0, string.Join('\n', console));
            return await dom;
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }
}
