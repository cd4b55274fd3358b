#include "sim/child_run.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sim/exit_status.h"
#include "sim/output.h"
#include "sim/result.h"

namespace sdpa {

namespace fs = std::filesystem;

ChildRuns::ChildRuns(std::string option) : option_(std::move(option)) {
  try {
    // The host too: a run on another host (or container) sharing TMPDIR, whose pid is not alive
    // here, would have its folder removed as stale.
    const std::string prefix =
        fmt::format("sdpa-{}-{}-", option_.substr(option_.find_first_not_of('-')), host_name());
    const fs::path tmp = fs::temp_directory_path();
    remove_stale_folders(tmp, prefix);
    work_ = tmp / fmt::format("{}{}", prefix, ::getpid());
    fs::create_directories(work_);
  } catch (const fs::filesystem_error& e) {
    const char* tmpdir = std::getenv("TMPDIR");
    throw WriteError(
        fmt::format("{}: cannot make a folder for child simulations in {}: {}", option_,
                    e.path1().empty() ? fmt::format("TMPDIR ({})", tmpdir ? tmpdir : "unset")
                                      : e.path1().string(),
                    e.code().message()));
  }
}

ChildRuns::~ChildRuns() {
  std::error_code ec;
  fs::remove_all(work_, ec);
}

namespace {

// The last non-empty line of `path` (a child's error: a note may come first), with the child's
// params file, gone with its folder, named for what it was.
std::string last_line(const std::string& path, const std::string& params_file) {
  std::ifstream in(path);
  std::string line;
  for (std::string next; std::getline(in, next);)
    if (!next.empty()) line = next;
  for (std::size_t at; (at = line.find(params_file)) != std::string::npos;)
    line.replace(at, params_file.size(), "(the child's parameters)");
  return line;
}

}  // namespace

std::map<std::string, ChildOutcome> ChildRuns::run(const Params& params) {
  const fs::path dir = work_ / fmt::format("{}", count_++);
  std::error_code ec;
  if (!fs::create_directories(dir, ec) && ec)
    throw WriteError(fmt::format("{}: cannot make {}: {}", option_, dir.string(), ec.message()));
  const std::string file = (dir / "params.in.yaml").string();
  write_file_atomic(file, to_yaml(params));
  const std::string out = (dir / "run").string();
  const std::string errors = (dir / "stderr").string();
  const char* const argv[] = {"/proc/self/exe", file.c_str(), "--out", out.c_str(), nullptr};
  const pid_t parent = ::getpid();
  // fork, not posix_spawn: the child asks to die with its parent before it runs, so that a
  // stopped run leaves no child simulating. Only async-signal-safe calls until exec.
  const pid_t pid = ::fork();
  if (pid < 0)
    throw ChildError(
        fmt::format("{}: cannot start a child simulation: {}", option_, std::strerror(errno)),
        false);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    const int err = ::open(errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (null < 0 || err < 0 || ::dup2(null, 1) < 0 || ::dup2(err, 2) < 0 ||
        ::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent)
      ::_exit(127);
    // The child keeps only its stdout and stderr. (Not O_CLOEXEC: with the parent's stdout
    // closed, /dev/null opens as 1, and dup2(1, 1) would leave the flag on it.)
    if (null > 2) ::close(null);
    if (err > 2) ::close(err);
    ::execv(argv[0], const_cast<char* const*>(argv));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      throw ChildError(
          fmt::format("{}: lost a child simulation: {}", option_, std::strerror(errno)), false);
  if (WIFSIGNALED(status))
    throw ChildError(fmt::format("{}: a child simulation was killed by signal {} ({}{})", option_,
                                 WTERMSIG(status), ::strsignal(WTERMSIG(status)),
                                 WTERMSIG(status) == SIGKILL ? ": out of memory?" : ""),
                     false);
  const int code = WEXITSTATUS(status);
  // Besides ok and unverified, a mismatch, deadlock or watchdog stop is an outcome (not the
  // target); anything else is not.
  if (!reports_outcome(code))
    throw ChildError(fmt::format("{}: a child simulation failed (exit {}): {}", option_, code,
                                 last_line(errors, file)),
                     code == 2);

  std::map<std::string, ChildOutcome> outcomes;
  nlohmann::json report;
  try {
    std::ifstream in(fs::path(out) / "report.json");
    report = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw ChildError(fmt::format("{}: a child simulation's report.json: {}", option_, e.what()),
                     false);
  }
  for (const auto& run : report["runs"]) {
    ChildOutcome& o = outcomes[run["datapath"].get<std::string>()];
    o.status = run["status"].get<std::string>();
    o.scores = run["scores"].get<std::uint64_t>();
    o.buffering_um2 = run["area"]["buffering_um2"]["total"].get<double>();
    // An unverified run's timing is as valid as any: only its numerics could not be certified.
    if (run["status"] == "ok" || run["status"] == "unverified")
      o.cycles = run["cycles"].get<Cycle>();
    if (o.status == "deadlock" && run["bottleneck"]["channel"].is_string()) {
      const std::string channel = run["bottleneck"]["channel"];
      o.stopped_at = key_name(channel);
    }
    for (const auto& ch : run["channels"]) {
      const std::string name = ch["name"];
      Cycle& mark = o.high_water[key_name(name)];
      mark = std::max(mark, ch["high_water"].get<Cycle>());
    }
    for (const auto& unit : run["units"]) {
      const std::string name = unit["name"];
      Cycle& blocked = o.blocked[key_name(name)];
      blocked = std::max(blocked, unit["blocked_cycles"].get<Cycle>());
    }
  }
  // Read: its outputs (an O per datapath) need not take the temporary folder's space any longer.
  fs::remove_all(dir, ec);
  return outcomes;
}

}  // namespace sdpa
