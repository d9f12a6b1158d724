// amdistill: the command line of AmDistill.
using System.CommandLine;
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

return await root.Parse(args).InvokeAsync();
