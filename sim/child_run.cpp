#include "sim/child_run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "sim/output.h"

extern char** environ;

namespace sdpa {

namespace fs = std::filesystem;

ChildRuns::ChildRuns(std::string option)
    : option_(std::move(option)),
      work_(fs::temp_directory_path() /
            fmt::format("sdpa-{}-{}", option_.substr(option_.find_first_not_of('-')), ::getpid())) {
}

ChildRuns::~ChildRuns() {
  std::error_code ec;
  fs::remove_all(work_, ec);
}

std::map<std::string, ChildOutcome> ChildRuns::run(const Params& params) {
  const fs::path dir = work_ / fmt::format("{}", count_++);
  fs::create_directories(dir);
  const std::string file = (dir / "params.in.yaml").string();
  write_file_atomic(file, to_yaml(params));
  const std::string out = (dir / "run").string();
  std::vector<std::string> args{"/proc/self/exe", file, "--out", out};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const std::string errors = (dir / "stderr").string();
  posix_spawn_file_actions_addopen(&actions, 2, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) throw std::runtime_error("cannot start a child simulation");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error("lost a child simulation");
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  // A mismatch, deadlock or watchdog stop is an outcome (not the target); anything else is not.
  if (code != 0 && code != 1 && code != 3 && code != 4 && code != 6) {
    std::ifstream err(errors);
    // The error is the last line (a note may come first).
    std::string line;
    for (std::string next; std::getline(err, next);)
      if (!next.empty()) line = next;
    const std::string message =
        fmt::format("{}: a child simulation failed (exit {}): {}", option_, code, line);
    // Exit 5: the system refused (a full disk for the child's files), not the parameters.
    if (code == 5) throw WriteError(message);
    throw ParamError(message);
  }

  std::map<std::string, ChildOutcome> outcomes;
  std::ifstream in(fs::path(out) / "report.json");
  const nlohmann::json report = nlohmann::json::parse(in);
  for (const auto& run : report["runs"]) {
    ChildOutcome& o = outcomes[run["datapath"].get<std::string>()];
    o.status = run["status"].get<std::string>();
    o.scores = run["scores"].get<std::uint64_t>();
    // An unverified run's timing is as valid as any: only its numerics could not be certified.
    if (run["status"] == "ok" || run["status"] == "unverified")
      o.cycles = run["cycles"].get<Cycle>();
    for (const auto& ch : run["channels"]) {
      const std::string name = ch["name"];
      Cycle& mark = o.high_water[name.substr(name.rfind('.') + 1)];
      mark = std::max(mark, ch["high_water"].get<Cycle>());
    }
  }
  return outcomes;
}

}  // namespace sdpa
