// amdistill-bench: throughput figures of the parts that must never slow the teachers down, measured on this machine.
// A program of its own, so that the command line (amdistill) references libraries only, not the services it measures.
using AmDistill.Bench.Benchmarks;

return await BenchCommand.Create().Parse(args).InvokeAsync();
