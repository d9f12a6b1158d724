// amdistill: the command line of AmDistill.
using System.CommandLine;
using AmDistill.Cli.Bench;
using AmDistill.Cli.Select;

var root = new RootCommand("AmDistill: turn reasoning queries into a verified, difficulty-graded training set.")
{
    SelectCommand.Create(),
    BenchCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
