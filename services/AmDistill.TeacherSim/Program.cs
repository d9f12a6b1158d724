// The teacher simulator: an OpenAI-compatible endpoint serving a weak, a medium and a strong simulated teacher,
// the embedded default that makes the whole pipeline runnable with no GPU and no network.
AmDistill.TeacherSim.TeacherSimApp.Build(args).Run();
