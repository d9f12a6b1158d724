// amdistill: the command line of AmDistill.
using System.CommandLine;
using AmDistill.Cli;
using AmDistill.Cli.Export;
using AmDistill.Cli.Ingest;
using AmDistill.Cli.Runs;
using AmDistill.Cli.Select;
using AmDistill.Cli.Verify;

var root = new RootCommand("AmDistill: turn reasoning queries into a verified, difficulty-graded training set.")
{
    VerifyCommand.Create(),
    IngestCommand.Create(),
    RunCommand.Create(),
    SelectCommand.Create(),
    ExportCommand.Create(),
};

// What a user can fix is said in one line, never as a stack trace.
try
{
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (CliException e)
{
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}
catch (HttpRequestException e)
{
    await Console.Error.WriteLineAsync($"the Api does not answer ({e.Message}): is the system running (dotnet run --project AmDistill.AppHost), or is --api / AMDISTILL_API wrong?");
    return 1;
}
catch (OperationCanceledException)
{
    return 130;
}
catch (Exception e) when (e is FormatException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
{
    // A file that is not there or not readable, a value that does not parse: the message says which.
    await Console.Error.WriteLineAsync(e.Message);
    return 2;
}
catch (Exception e) when (Environment.GetEnvironmentVariable("AMDISTILL_DEBUG") != "1")
{
    await Console.Error.WriteLineAsync($"amdistill failed: {e.GetType().Name}: {e.Message} (AMDISTILL_DEBUG=1 shows where; please report it)");
    return 70;
}
