// amdistill: the command line of AmDistill.
using System.CommandLine;
using AmDistill.Cli.Bench;

var root = new RootCommand("AmDistill: turn reasoning queries into a verified, difficulty-graded training set.")
{
    BenchCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
