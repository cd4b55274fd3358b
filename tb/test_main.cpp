// Test main. SystemC allows one elaboration per process, so every test case runs in a process of
// its own: a run of one case (`--gtest_filter=Suite.Case`, as ctest runs them) or a listing
// (`--gtest_list_tests`, ctest's discovery) runs GoogleTest here, from sc_main, where a SystemC
// warning or error fails the test; any other run (no filter, or a pattern) starts this binary
// again for each matching case, as SystemC testbenches are run, and prints gtest-like results.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <systemc>
#include <vector>

extern char** environ;

namespace {

void fail_on_report(const sc_core::sc_report& report, const sc_core::sc_actions& actions) {
  if (report.get_severity() >= sc_core::SC_WARNING)
    ADD_FAILURE() << "SystemC "
                  << (report.get_severity() == sc_core::SC_WARNING ? "warning" : "error") << ": "
                  << report.get_msg_type() << ": " << report.get_msg();
  sc_core::sc_report_handler::default_handler(report, actions);
}

// The value of `--gtest_NAME=VALUE`, or "1" for a bare `--gtest_NAME`.
std::optional<std::string> flag(const std::string& arg, const std::string& name) {
  const std::string prefix = "--gtest_" + name;
  if (arg.rfind(prefix, 0) != 0) return std::nullopt;
  if (arg.size() == prefix.size()) return "1";
  if (arg[prefix.size()] != '=') return std::nullopt;
  return arg.substr(prefix.size() + 1);
}

bool truthy(const std::string& value) { return !value.empty() && value != "0" && value != "f"; }

// Set in the environment of the processes run_each_case starts.
constexpr const char* kCaseProcess = "SDPA_TEST_CASE_PROCESS";

// A run GoogleTest does in this process: a listing, help, or a filter naming one case exactly
// (a test name has no wildcard, no ':' separator and no '-').
bool runs_in_process(int argc, char* argv[]) {
  if (std::getenv(kCaseProcess) != nullptr) return true;  // started by run_each_case: no recursion
  std::optional<std::string> filter;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (flag(arg, "list_tests") || flag(arg, "help") || arg == "--help" || arg == "-h" ||
        arg == "-?" || arg == "/?")
      return true;
    if (auto f = flag(arg, "filter")) filter = f;
  }
  return filter && !filter->empty() && filter->find_first_of("*?:-") == std::string::npos;
}

struct Outcome {
  bool passed = false;
  std::string output;  // stdout and stderr, interleaved
  std::string status;  // how it ended when it did not pass
};

// Runs this binary again with `args`, collecting what it prints.
Outcome run_self(const std::string& argv0, const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>(argv0.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {false, "", std::string("pipe: ") + std::strerror(errno)};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  Outcome outcome;
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    outcome.status = std::string("could not start: ") + std::strerror(spawned);
    return outcome;
  }
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n > 0)
      outcome.output.append(buffer, std::size_t(n));
    else if (errno != EINTR)
      break;
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    outcome.passed = WEXITSTATUS(status) == 0;
    outcome.status = "exit status " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    outcome.status = std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                     strsignal(WTERMSIG(status)) + ")";
  }
  return outcome;
}

// The full names of the cases a listing prints: "Suite." lines, then "  Case" lines (either may
// end in a "  # GetParam() = ..." comment).
std::vector<std::string> parse_listing(const std::string& listing) {
  std::vector<std::string> cases;
  std::istringstream lines(listing);
  std::string line, suite;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const bool is_case = line[0] == ' ';
    const std::size_t begin = line.find_first_not_of(' ');
    const std::string name = line.substr(begin, line.find(' ', begin) - begin);
    if (is_case)
      cases.push_back(suite + name);
    else
      suite = name;
  }
  return cases;
}

std::string plural(std::size_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// Runs each case matching the filter in a process of its own. Handled here rather than in every
// process: --gtest_filter, --gtest_repeat, --gtest_fail_fast, and --gtest_output (one file per
// case, so it must name a directory); every other flag goes to each process.
int run_each_case(int argc, char* argv[]) {
  std::vector<std::string> pass;
  std::optional<std::string> filter;
  long repeat = 1;
  bool fail_fast = false;
  std::string output;
  // GoogleTest reads flags from GTEST_* variables too; these must not reach the case processes.
  for (const char* var : {"GTEST_REPEAT", "GTEST_FAIL_FAST", "GTEST_OUTPUT"})
    if (const char* value = std::getenv(var)) {
      const std::string v = value;
      if (std::strcmp(var, "GTEST_REPEAT") == 0) repeat = std::strtol(v.c_str(), nullptr, 10);
      if (std::strcmp(var, "GTEST_FAIL_FAST") == 0) fail_fast = truthy(v);
      if (std::strcmp(var, "GTEST_OUTPUT") == 0) output = v;
      ::unsetenv(var);
    }
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (auto v = flag(arg, "filter"))
      filter = *v;
    else if (auto v = flag(arg, "repeat"))
      repeat = std::strtol(v->c_str(), nullptr, 10);
    else if (auto v = flag(arg, "fail_fast"))
      fail_fast = truthy(*v);
    else if (auto v = flag(arg, "output"))
      output = *v;
    else
      pass.push_back(arg);
  }
  const std::string program = argv[0];
  ::setenv(kCaseProcess, "1", 1);
  if (!output.empty() && output.back() != '/') {
    std::fprintf(stderr,
                 "%s: --gtest_output=%s: each case runs in its own process and would overwrite "
                 "the file; give a directory (e.g. --gtest_output=xml:results/) for one file per "
                 "case\n",
                 program.c_str(), output.c_str());
    return 2;
  }

  std::vector<std::string> list_args = pass;
  if (filter) list_args.push_back("--gtest_filter=" + *filter);
  list_args.push_back("--gtest_list_tests");
  const Outcome listing = run_self(program, list_args);
  if (!listing.passed) {
    std::fprintf(stderr, "%s%s: listing the tests failed (%s)\n", listing.output.c_str(),
                 program.c_str(), listing.status.c_str());
    return 1;
  }
  const std::vector<std::string> cases = parse_listing(listing.output);

  bool all_passed = true;
  for (long iteration = 0; repeat < 0 || iteration < repeat; ++iteration) {
    if (repeat != 1) std::printf("\nRepeating all tests (iteration %ld) . . .\n\n", iteration + 1);
    std::printf("[==========] Running %s, each in its own process.\n",
                plural(cases.size(), "test").c_str());
    std::fflush(stdout);
    std::vector<std::string> failed, skipped;
    std::size_t ran = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& name : cases) {
      std::printf("[ RUN      ] %s\n", name.c_str());
      std::fflush(stdout);
      std::vector<std::string> args = pass;
      args.push_back("--gtest_filter=" + name);
      if (!output.empty()) {
        std::string file = name;
        for (char& c : file)
          if (c == '/') c = '_';
        const std::string format = output.substr(0, output.find(':'));
        args.push_back("--gtest_output=" + output + file + "." + format);
      }
      const auto case_start = std::chrono::steady_clock::now();
      const Outcome outcome = run_self(program, args);
      const long ms = long(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - case_start)
                               .count());
      ++ran;
      if (!outcome.passed) {
        std::string shown = outcome.output;
        if (!shown.empty() && shown.back() != '\n') shown += '\n';
        std::printf("%s[  FAILED  ] %s (%ld ms, %s)\n", shown.c_str(), name.c_str(), ms,
                    outcome.status.c_str());
        failed.push_back(name);
      } else if (outcome.output.find("[  SKIPPED ] ") != std::string::npos) {
        std::printf("[  SKIPPED ] %s (%ld ms)\n", name.c_str(), ms);
        skipped.push_back(name);
      } else {
        std::printf("[       OK ] %s (%ld ms)\n", name.c_str(), ms);
      }
      std::fflush(stdout);
      if (fail_fast && !failed.empty()) break;
    }
    const long total = long(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
    std::printf("[==========] %s ran. (%ld ms total)\n", plural(ran, "test").c_str(), total);
    std::printf("[  PASSED  ] %s.\n", plural(ran - failed.size() - skipped.size(), "test").c_str());
    if (!skipped.empty()) {
      std::printf("[  SKIPPED ] %s, listed below:\n", plural(skipped.size(), "test").c_str());
      for (const std::string& name : skipped) std::printf("[  SKIPPED ] %s\n", name.c_str());
    }
    if (!failed.empty()) {
      std::printf("[  FAILED  ] %s, listed below:\n", plural(failed.size(), "test").c_str());
      for (const std::string& name : failed) std::printf("[  FAILED  ] %s\n", name.c_str());
      std::printf("\n%zu FAILED TEST%s\n", failed.size(), failed.size() == 1 ? "" : "S");
      all_passed = false;
    }
    if (cases.size() > ran) std::printf("(%zu not run: --gtest_fail_fast)\n", cases.size() - ran);
    std::fflush(stdout);
    if (fail_fast && !all_passed) break;
  }
  return all_passed ? 0 : 1;
}

}  // namespace

int sc_main(int argc, char* argv[]) {
  testing::InitGoogleTest(&argc, argv);
  sc_core::sc_report_handler::set_handler(fail_on_report);
  return RUN_ALL_TESTS();
}

int main(int argc, char* argv[]) {
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  if (!runs_in_process(argc, argv)) return run_each_case(argc, argv);
  return sc_core::sc_elab_and_sim(argc, argv);
}
