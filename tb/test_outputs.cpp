// The --out folder with the real binary: a reused folder shows exactly one run, an unusable one
// is refused before simulating, a failed write (disk full, file too large) is exit 5 and leaves
// the folder as it was; the built-in defaults, --version, and GTKWave opening trace.gtkw.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sim/output.h"
#include "sim/reference.h"
#include "tb/cli.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Every entry under `dir` (hidden ones too) with its content; a folder as "<folder>", anything
// else but a file (a FIFO left behind) as "<other>", never opened.
std::map<std::string, std::string> contents(const fs::path& dir) {
  std::map<std::string, std::string> m;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const fs::file_status st = e.symlink_status();
    m[fs::relative(e.path(), dir).string()] = fs::is_directory(st)      ? "<folder>"
                                              : fs::is_regular_file(st) ? slurp(e.path())
                                                                        : "<other>";
  }
  return m;
}

std::vector<std::string> names(const std::map<std::string, std::string>& m) {
  std::vector<std::string> v;
  for (const auto& [k, _] : m) v.push_back(k);
  return v;
}

json report(const fs::path& dir) { return json::parse(slurp(dir / "report.json")); }

const std::string kSmall = "--set problem.seq_len=8 --set problem.head_dim=4 ";

TEST(ReusedFolder, ANaiveRunAfterAVcdRunOfBothLeavesOnlyItsFilesAndTheUsers) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  ASSERT_EQ(sim(kSmall + "--vcd --out " + shell_word(o), d).status, 0);
  ASSERT_TRUE(fs::exists(o / "trace.vcd") && fs::exists(o / "o_reordered.npy"));
  write(o / "notes.txt", "the user's own file\n");
  const SimRun r = sim(kSmall + "--set datapath=naive --out " + shell_word(o), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("replacing the results in " + o.string()), std::string::npos) << r.err;
  const auto after = contents(o);
  EXPECT_EQ(names(after),
            (std::vector<std::string>{"notes.txt", "o_naive.npy", "params.yaml", "report.json"}));
  EXPECT_EQ(after.at("notes.txt"), "the user's own file\n");
  EXPECT_EQ(report(o)["files"], json({"o_naive.npy", "params.yaml", "report.json"}));
}

// A params file among the results replaced is read already and its values are in the new
// params.yaml, but the user is told it goes; `--trace-events report.json` says why it is refused.
TEST(ReusedFolder, AParamsFileAmongTheResultsReplacedIsNamed) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  ASSERT_EQ(sim(kSmall + "--set datapath=naive --size-buffers --out " + shell_word(o), d).status,
            0);
  ASSERT_TRUE(fs::exists(o / "sized.yaml"));
  const SimRun r = sim(shell_word(o / "sized.yaml") + " --out " + shell_word(o), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: the params file " + (o / "sized.yaml").string() +
                       " is one of the results this run replaces; its values are in the new " +
                       (o / "params.yaml").string()),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(o / "sized.yaml"));
  const SimRun events = sim(kSmall + "--trace-events=report.json --out " + shell_word(d / "e"), d);
  expect_error(events, {"--trace-events report.json: the run's own report has that name"});
}

// Notes quote paths, which may hold a newline: each note is still one line, with the newline
// escaped as errors escape it, and so is the summary's last line.
TEST(ReusedFolder, ANoteOnAFolderWithANewlineInItsNameIsOneLine) {
  const fs::path d = scratch();
  const fs::path o = d / "two\nlines";
  const std::string escaped = (d / "two\\nlines").string();
  ASSERT_EQ(sim(kSmall + "--out " + shell_word(o), d).status, 0);
  const SimRun check = sim(kSmall + "--check --out " + shell_word(o), d);
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_EQ(check.err, "sdpa-sim: note: a run would replace the results in " + escaped + "\n");
  const SimRun r = sim(kSmall + "--out " + shell_word(o), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "sdpa-sim: note: replacing the results in " + escaped + "\n");
  EXPECT_NE(r.out.find("\nresults in " + escaped + "\n"), std::string::npos) << r.out;
}

TEST(ReusedFolder, ADeadlockedRunLeavesNoEarlierOutputBesideItsReport) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  const std::string common =
      "--set datapath=naive --set problem.seq_len=64 --set problem.head_dim=4 ";
  ASSERT_EQ(sim(common + "--out " + shell_word(o), d).status, 0);
  ASSERT_TRUE(fs::exists(o / "o_naive.npy"));
  const SimRun r = sim(common + "--set channels.depths.score_bypass=16 --out " + shell_word(o), d);
  ASSERT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(names(contents(o)), (std::vector<std::string>{"params.yaml", "report.json"}));
  EXPECT_EQ(report(o)["runs"][0]["status"], "deadlock");
  EXPECT_EQ(report(o)["files"], json({"params.yaml", "report.json"}));
}

TEST(ReusedFolder, SizingReplacesAnEarlierRunAndARunReplacesSizing) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  const std::string tiny =
      "--set datapath=reordered --set problem.seq_len=1 --set problem.head_dim=1 ";
  ASSERT_EQ(sim(tiny + "--out " + shell_word(o), d).status, 0);
  SimRun r = sim(tiny + "--size-buffers --out " + shell_word(o), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(names(contents(o)), (std::vector<std::string>{"report.json", "sized.yaml"}));
  EXPECT_EQ(report(o)["files"], json({"report.json", "sized.yaml"}));
  r = sim(tiny + "--out " + shell_word(o), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(names(contents(o)),
            (std::vector<std::string>{"o_reordered.npy", "params.yaml", "report.json"}));
}

TEST(ReusedFolder, AFileNoEarlierRunRecordedIsNeverReplaced) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  fs::create_directories(o);
  write(o / "params.yaml", "my own parameters\n");
  const SimRun r = sim(kSmall + "--out " + shell_word(o), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--out " + o.string() + ": params.yaml is there"), std::string::npos)
      << r.err;
  EXPECT_EQ(contents(o),
            (std::map<std::string, std::string>{{"params.yaml", "my own parameters\n"}}));
  EXPECT_TRUE(r.out.empty()) << r.out;
  // The same file as the run's params file: refused in one line, without the note that it is
  // replaced (nothing is).
  const std::string own = "problem: {seq_len: 16, head_dim: 4}\n";
  write(o / "params.yaml", own);
  const SimRun p = sim(shell_word(o / "params.yaml") + " --out " + shell_word(o), d);
  EXPECT_EQ(p.status, 2) << p.err;
  EXPECT_EQ(std::count(p.err.begin(), p.err.end(), '\n'), 1) << p.err;
  EXPECT_NE(p.err.find("params.yaml is there"), std::string::npos) << p.err;
  EXPECT_EQ(contents(o), (std::map<std::string, std::string>{{"params.yaml", own}}));
}

// A folder named report.json is the user's too (reading it as a report was an internal error).
TEST(ReusedFolder, AFolderNamedReportJsonIsNeverReplaced) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  fs::create_directories(o / "report.json");
  write(o / "report.json" / "notes.txt", "mine\n");
  const SimRun r = sim(kSmall + "--out " + shell_word(o), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("report.json is there but is not the output of an earlier run"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(slurp(o / "report.json" / "notes.txt"), "mine\n");
}

TEST(ReusedFolder, AnEarlierVersionsReportWithoutAFileListStillNamesItsRun) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  fs::create_directories(o);
  // As versions before the list wrote it: runs naming their datapath, status and channels.
  write(o / "report.json", R"({"runs": [{"datapath": "naive", "status": "ok", "channels": []}]})");
  write(o / "trace.vcd", "old\n");
  write(o / "sized.yaml", "old\n");
  write(o / "notes.txt", "mine\n");
  write(o / "o_two_pass.npy", "old\n");
  // Named like an output but of no datapath: the user's (it was removed).
  write(o / "o_mydata.npy", "mine\n");
  // Those versions wrote no inputs: a q.npy there is the user's too.
  write(o / "q.npy", "mine\n");
  const SimRun r = sim(kSmall + "--set datapath=naive --out " + shell_word(o), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(names(contents(o)),
            (std::vector<std::string>{"notes.txt", "o_mydata.npy", "o_naive.npy", "params.yaml",
                                      "q.npy", "report.json"}));
}

// A JSON file of the user's with a "runs" key of its own is not an earlier run's report: the
// files beside it stay theirs. The refusal says why they are not an earlier run's.
TEST(ReusedFolder, AUsersReportJsonIsNotAnEarlierRunsReport) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  fs::create_directories(o);
  write(o / "report.json", R"({"runs": [], "note": "my own analysis"})");
  write(o / "params.yaml", "mine\n");
  const SimRun r = sim(kSmall + "--out " + shell_word(o), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("params.yaml is there but is not the output of an earlier run (its "
                       "report.json does not list it)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(slurp(o / "params.yaml"), "mine\n");
  write(o / "report.json", "garbage{");
  const SimRun garbled = sim(kSmall + "--out " + shell_word(o), d);
  EXPECT_EQ(garbled.status, 2) << garbled.err;
  EXPECT_NE(garbled.err.find("(its report.json is not valid JSON)"), std::string::npos)
      << garbled.err;
  fs::remove(o / "report.json");
  const SimRun none = sim(kSmall + "--out " + shell_word(o), d);
  EXPECT_NE(none.err.find("(there is no report.json)"), std::string::npos) << none.err;
  EXPECT_EQ(slurp(o / "params.yaml"), "mine\n");
}

TEST(ReusedFolder, TheStagingFolderOfAKilledRunIsRemoved) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  const std::string host = host_name();
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // a process that is gone
  const std::string dead = fmt::format(".sdpa-run.{}.{}", host, child);
  const std::string alive = fmt::format(".sdpa-run.{}.{}", host, ::getpid());
  for (const std::string& s : {dead, alive}) {
    fs::create_directories(o / s);
    write(o / s / "o_naive.npy", "partial");
  }
  ASSERT_EQ(sim(kSmall + "--set datapath=naive --out " + shell_word(o), d).status, 0);
  EXPECT_FALSE(fs::exists(o / dead));
  EXPECT_TRUE(fs::exists(o / alive / "o_naive.npy"));
}

// Child simulations' folders in TMPDIR: a killed run's, on this host, is removed. They were named
// by pid alone, so another host's (TMPDIR shared over NFS or by containers), its pid not alive
// here, was removed under it; and a pid past pid_t's range was truncated to another.
TEST(ReusedFolder, OnlyThisHostsStaleChildFoldersAreRemoved) {
  const fs::path d = scratch();
  const fs::path tmp = d / "tmp";
  const std::string host = host_name();
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);  // a process that is gone
  const std::string dead = fmt::format("sdpa-size-buffers-{}-{}", host, child);
  // Another host's: as the builds before named it, as this one does, under a name that extends
  // this host's; and one past pid_t's range, which was truncated to the dead pid.
  const std::vector<std::string> elsewhere = {
      fmt::format("sdpa-size-buffers-{}", child),
      fmt::format("sdpa-size-buffers-not-{}-{}", host, child),
      fmt::format("sdpa-size-buffers-{}x-{}", host, child),
      fmt::format("sdpa-size-buffers-{}-2-{}", host, child),
      fmt::format("sdpa-size-buffers-{}-{}", host, (std::int64_t(1) << 32) + child)};
  fs::create_directories(tmp / dead);
  for (const std::string& s : elsewhere) fs::create_directories(tmp / s);
  EXPECT_EQ(shell("TMPDIR=" + shell_word(tmp) + " timeout 60 " + shell_word(SDPA_SIM) + " " +
                  kSmall + "--set datapath=reordered --size-buffers --out " + shell_word(d / "o") +
                  " >/dev/null 2>&1"),
            0);
  EXPECT_FALSE(fs::exists(tmp / dead));
  for (const std::string& s : elsewhere) EXPECT_TRUE(fs::exists(tmp / s)) << s;
}

// Ctrl-C or a kill while a run replaces earlier results (its commit: the four earlier files move
// aside, renames 1 to 4, then the run's four move in) waits until the folder holds the new run's
// results, all of them, and then stops the run as it would have. A second signal that was
// ignored (nohup's SIGHUP) does not take the first one's place.
struct SignalInCommit {
  int rename;
  std::vector<int> signals;  // raised in this order at that rename
  std::string prefix;        // of the simulator's command
  int status;                // as timeout reports a signal's end: 128 + its number
};
class SignalInCommitTest : public testing::TestWithParam<SignalInCommit> {};

TEST_P(SignalInCommitTest, WaitsUntilTheFolderHoldsOneRunsResults) {
  const SignalInCommit& c = GetParam();
  const fs::path d = scratch();
  const fs::path o = d / "o";
  ASSERT_EQ(sim(kSmall + "--out " + shell_word(o), d).status, 0);
  write(o / "notes.txt", "mine\n");
  // Whatever this process inherited (a background shell ignores SIGINT), they act as from a
  // terminal.
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(signal, SIG_DFL);
  const std::string prefix = fmt::format(
      "env SDPA_SIGNAL_AT_RENAME='{} {}' LD_PRELOAD={} "
      "ASAN_OPTIONS=\"$ASAN_OPTIONS:verify_asan_link_order=0\" {}",
      c.rename, fmt::join(c.signals, " "), shell_word(SDPA_SIGNAL_AT_RENAME), c.prefix);
  const SimRun r =
      sim_in(SDPA_SOURCE_DIR,
             "--set problem.seq_len=12 --set problem.head_dim=4 --out " + shell_word(o), d, prefix);
  EXPECT_EQ(r.status, c.status) << r.err;
  EXPECT_EQ(names(contents(o)),
            (std::vector<std::string>{"notes.txt", "o_naive.npy", "o_reordered.npy", "params.yaml",
                                      "report.json"}));
  EXPECT_EQ(report(o)["params"]["problem"]["seq_len"], 12);
  EXPECT_EQ(slurp(o / "notes.txt"), "mine\n");
  for (const fs::directory_entry& e : fs::directory_iterator(o))
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
}

INSTANTIATE_TEST_SUITE_P(ReusedFolder, SignalInCommitTest,
                         testing::Values(SignalInCommit{2, {SIGINT}, "", 128 + SIGINT},
                                         SignalInCommit{6, {SIGTERM}, "", 128 + SIGTERM},
                                         SignalInCommit{8, {SIGHUP}, "", 128 + SIGHUP},
                                         SignalInCommit{
                                             6, {SIGTERM, SIGHUP}, "nohup ", 128 + SIGTERM}),
                         [](const auto& info) {
                           return fmt::format("Rename{}Signals{}{}", info.param.rename,
                                              fmt::join(info.param.signals, "And"),
                                              info.param.prefix.empty() ? "" : "UnderNohup");
                         });

// SIGKILL cannot wait: a run killed in its commit leaves the earlier run's files aside. The next
// run's refusal names that folder while some of the simulator's files are there without a report;
// once none are, the run and --check go on and a note names the folder, which no run removes.
TEST(ReusedFolder, TheEarlierFilesAKilledCommitLeftAsideAreNamed) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  ASSERT_EQ(sim(kSmall + "--out " + shell_word(o), d).status, 0);
  const fs::path aside = o / ".sdpa-earlier.host.123";
  fs::create_directories(aside);
  for (const char* name : {"report.json", "o_naive.npy", "o_reordered.npy"})
    fs::rename(o / name, aside / name);
  expect_error(sim(kSmall + "--out " + shell_word(o), d),
               {"params.yaml is there but is not the output of an earlier run (there is no "
                "report.json; a run stopped while it replaced the results there, and the earlier "
                "run's files are in " +
                aside.string() + ")"});
  fs::rename(o / "params.yaml", aside / "params.yaml");
  const std::string note = "sdpa-sim: note: " + aside.string() +
                           " holds the files of an earlier run, moved aside by a run stopped "
                           "while it replaced them; no run removes it\n";
  const SimRun check = sim(kSmall + "--check --out " + shell_word(o), d);
  EXPECT_EQ(check.status, 0) << check.err;
  EXPECT_EQ(check.err, note);
  const SimRun r = sim(kSmall + "--out " + shell_word(o), d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, note);
  EXPECT_TRUE(fs::exists(aside / "report.json"));
}

// A pipe whose reader has gone (`| head`, a dead `tee`) fails the writes to it instead of killing
// the run. Runs the simulator with `args`, its standard output (fd 1) or error (fd 2) such a pipe.
SimRun sim_into_closed_pipe(int fd, const std::string& args, const fs::path& d) {
  int ends[2];
  if (::pipe(ends) != 0) throw std::runtime_error("pipe failed");
  ::close(ends[0]);
  const std::string other =
      fd == 1 ? "2>" + shell_word(d / "stderr") : ">" + shell_word(d / "stdout");
  const std::string cmd =
      "cd '" SDPA_SOURCE_DIR "' && timeout 60 " + shell_word(SDPA_SIM) + " " + args + " " + other;
  const pid_t child = ::fork();
  if (child == 0) {
    std::signal(SIGPIPE, SIG_DFL);  // as from a shell: an inherited SIG_IGN would hide the bug
    ::dup2(ends[1], fd);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(ends[1]);
  int raw = 0;
  ::waitpid(child, &raw, 0);
  SimRun r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  if (fd == 1) r.err = slurp(d / "stderr");
  if (fd == 2) r.out = slurp(d / "stdout");
  return r;
}

TEST(Options, ASummaryIntoAClosedPipeIsExitFiveAndTheResultsAreWritten) {
  const fs::path d = scratch();
  const SimRun r = sim_into_closed_pipe(1, kSmall + "--out " + shell_word(d / "o"), d);
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_EQ(r.err,
            "sdpa-sim: error: standard output: cannot write the summary: Broken pipe (the "
            "results are in " +
                (d / "o").string() + ")\n");
  EXPECT_TRUE(fs::exists(d / "o" / "report.json"));
  // --size-buffers' table and --check's verdict are summaries too.
  const SimRun sized = sim_into_closed_pipe(
      1, kSmall + "--set datapath=naive --size-buffers --out " + shell_word(d / "s"), d);
  EXPECT_EQ(sized.status, 5) << sized.err;
  EXPECT_NE(sized.err.find("standard output: cannot write the summary: Broken pipe (the results "
                           "are in " +
                           (d / "s").string() + ")"),
            std::string::npos)
      << sized.err;
  EXPECT_TRUE(fs::exists(d / "s" / "sized.yaml"));
  const SimRun check = sim_into_closed_pipe(1, kSmall + "--check --out " + shell_word(d / "c"), d);
  EXPECT_EQ(check.status, 5) << check.err;
  EXPECT_EQ(check.err, "sdpa-sim: error: standard output: cannot write: Broken pipe\n");
}

// The note that earlier results are replaced meets the closed pipe: the run goes on.
TEST(Options, ARunWhoseStandardErrorIsAClosedPipeCompletes) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  ASSERT_EQ(sim(kSmall + "--out " + shell_word(o), d).status, 0);
  const SimRun r = sim_into_closed_pipe(
      2, "--set problem.seq_len=12 --set problem.head_dim=4 --out " + shell_word(o), d);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("results in " + o.string()), std::string::npos) << r.out;
  EXPECT_EQ(report(o)["params"]["problem"]["seq_len"], 12);
}

TEST(OutFolder, AnUnusableFolderExitsTwoAtOnceNamingItAndTheOsError) {
  const fs::path d = scratch();
  write(d / "afile", "");
  fs::create_directories(d / "locked");
  fs::permissions(d / "locked", fs::perms::owner_read | fs::perms::owner_exec |
                                    fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
  // Root may write anywhere: the locked folder is tried as an unprivileged user, running a copy
  // of the simulator it can reach (the build may be in root's home), from the scratch folder.
  const bool root = ::geteuid() == 0;
  const std::string as_user = root ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  const fs::path reachable = d / "sdpa-sim";
  fs::copy_file(SDPA_SIM, reachable);
  fs::permissions(d, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  struct Case {
    std::string out, prefix;
    std::vector<std::string> needles;
  };
  const std::vector<Case> cases{
      {shell_word(d / "afile" / "x"), "", {(d / "afile" / "x").string(), "Not a directory"}},
      {shell_word(d / "afile"), "", {(d / "afile").string(), "Not a directory"}},
      {"''", "", {"--out ''"}},
      {shell_word(d / "locked"), as_user, {(d / "locked").string(), "Permission denied"}},
      {shell_word(d / "locked" / "sub"),
       as_user,
       {(d / "locked" / "sub").string(), "Permission denied"}}};
  for (const Case& c : cases) {
    // A run of minutes, were the folder checked only at the end.
    const auto start = std::chrono::steady_clock::now();
    const bool user = !c.prefix.empty();
    const SimRun r = sim_in(user ? d : fs::path(SDPA_SOURCE_DIR),
                            "--set problem.seq_len=65536 --set problem.head_dim=16 --out " + c.out,
                            d, c.prefix, user ? reachable : fs::path(SDPA_SIM));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(r.status, 2) << c.out << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (const std::string& n : c.needles) EXPECT_NE(r.err.find(n), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_LT(seconds, 10) << c.out;
  }
  EXPECT_TRUE(fs::is_empty(d / "locked"));
}

// Under a umask that takes the owner's own rights (root's ignore modes: it runs as another user):
// the run could not use its own staging folder (exit 5 blaming o_naive.npy) and no run removed
// it, nor its VCD pipe, nor the files dot, vcd2fst and --size-buffers' children read. The owner's
// rights are kept; the group's and others' follow the umask.
TEST(OutFolder, AUmaskWithoutTheOwnersRightsKeepsThem) {
  const fs::path d = scratch();
  const fs::path reachable = d / "sdpa-sim";
  fs::copy_file(SDPA_SIM, reachable);
  fs::permissions(d, fs::perms::all);
  const std::string as_user =
      ::geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  // --size-buffers' children work in a folder of TMPDIR: one of the test's own, empty at the end.
  fs::create_directories(d / "tmp");
  fs::permissions(d / "tmp", fs::perms::all);
  const std::string umask_777 =
      as_user + "env TMPDIR=" + shell_word(d / "tmp") + " sh -c 'umask 777; exec \"$0\" \"$@\"' ";
  ASSERT_EQ(sim_in(d, kSmall + "--out o", d, as_user, reachable).status, 0);
  std::vector<std::string> options{"", "--vcd", "--size-buffers"};
  if (shell("command -v dot vcd2fst >/dev/null") == 0) options.push_back("--dot --fst");
  for (const std::string& option : options) {
    const SimRun r = sim_in(d, kSmall + option + " --out o", d, umask_777, reachable);
    EXPECT_EQ(r.status, 0) << option << ": " << r.err;
    for (const auto& e : fs::directory_iterator(d / "o")) {
      EXPECT_TRUE(fs::is_regular_file(e.path())) << e.path();  // no folder of the run's left
      EXPECT_EQ(fs::status(e.path()).permissions(), fs::perms::owner_read | fs::perms::owner_write)
          << e.path();
    }
  }
  EXPECT_TRUE(fs::is_empty(d / "tmp"));
}

// A run refused after it made the --out folder (its data file is cut short) removes the folders it
// made, and only those: `new/../mine` named the user's empty folder, which went, and left `new`;
// `made/.` left `made`.
TEST(OutFolder, ARefusedRunRemovesTheFoldersItMadeAndNoOther) {
  const fs::path d = scratch();
  const AttentionShape shape = AttentionShape::square(1, 8, 4);
  std::string sets = write_inputs(d, random_inputs(shape, 3), {1, 1, 8, 4}, {1, 1, 8, 4});
  const std::string q = slurp(d / "q.npy");
  write(d / "q.npy", q.substr(0, q.size() - 8));
  fs::create_directories(d / "mine");
  for (const std::string out : {"new/../mine", "made/.", "made/deeper/."}) {
    const SimRun r = sim_in(d, sets + "--out " + out, d);
    EXPECT_EQ(r.status, 2) << out << ": " << r.err;
    EXPECT_NE(r.err.find("truncated data"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::is_directory(d / "mine")) << out;
    EXPECT_FALSE(fs::exists(d / "new")) << out;
    EXPECT_FALSE(fs::exists(d / "made")) << out;
  }
}

// A tool given a staged file named from an --out like `-x` read it as an option: exit 5 and
// dozens of lines of its usage.
TEST(OutFolder, AFolderNamedLikeAnOptionReachesTheToolsAsAFolder) {
  if (shell("command -v dot vcd2fst >/dev/null") != 0)
    GTEST_SKIP() << "needs graphviz and gtkwave (scripts/setup)";
  const fs::path d = scratch();
  const SimRun r = sim_in(d, kSmall + "--dot --fst --out=-Tpng", d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(fs::is_regular_file(d / "-Tpng" / "graph.svg"));
  EXPECT_TRUE(fs::is_regular_file(d / "-Tpng" / "trace.fst"));
}

// The summary is output too: lost on a full disk, the run said nothing and exited 0.
TEST(Options, ASummaryThatCannotBeWrittenIsExitFive) {
  const fs::path d = scratch();
  const int status = shell("timeout 60 " + shell_word(SDPA_SIM) + " " + kSmall + "--out " +
                           shell_word(d / "o") + " >/dev/full 2>" + shell_word(d / "stderr"));
  const std::string err = slurp(d / "stderr");
  EXPECT_EQ(status, 5) << err;
  EXPECT_EQ(err,
            "sdpa-sim: error: standard output: cannot write the summary: No space left on "
            "device (the results are in " +
                (d / "o").string() + ")\n");
  EXPECT_TRUE(fs::exists(d / "o" / "report.json"));
}

// Whatever writes only standard output: --help's text lost on a full disk was exit 0, unsaid.
TEST(Options, HelpVersionOrCheckThatCannotBeWrittenIsExitFive) {
  const fs::path d = scratch();
  for (const std::string& args :
       {std::string("--help"), std::string("--version"), kSmall + "--check"}) {
    const int status = shell("timeout 60 " + shell_word(SDPA_SIM) + " " + args + " >/dev/full 2>" +
                             shell_word(d / "stderr"));
    const std::string err = slurp(d / "stderr");
    EXPECT_EQ(status, 5) << args << ": " << err;
    EXPECT_EQ(err, "sdpa-sim: error: standard output: cannot write: No space left on device\n")
        << args;
  }
}

TEST(Options, VcdWithSizeBuffersExitsTwo) {
  const fs::path d = scratch();
  const SimRun r = sim(kSmall + "--vcd --size-buffers --out " + shell_word(d / "o"), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("--vcd excludes --size-buffers"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "o"));
}

TEST(Options, VersionIsPrintedAndRecordedWithTheEffectiveParameters) {
  const fs::path d = scratch();
  const SimRun v = sim("--version", d);
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_EQ(v.out.rfind("sdpa-sim " SDPA_VERSION " (commit ", 0), 0) << v.out;  // test_provenance
  // A bad option is named whichever side of --version it is (before it, CLI11's version flag
  // printed the version, exit 0).
  for (const char* args : {"--bogus --version", "--version --bogus"}) {
    const SimRun bad = sim(args, d);
    EXPECT_EQ(bad.status, 2) << args;
    EXPECT_EQ(bad.out, "") << args;
    EXPECT_NE(bad.err.find("not expected: --bogus"), std::string::npos) << args << ": " << bad.err;
  }
  const SimRun r =
      sim("--set problem.seq_len=16 --set problem.head_dim=4 --set "
          "units.exp.latency=7 --out " +
              shell_word(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json rep = report(d / "o");
  EXPECT_EQ(rep["version"], SDPA_VERSION);
  const json& p = rep["params"];
  EXPECT_EQ(p["problem"]["seq_len"], 16);
  EXPECT_EQ(p["problem"]["head_dim"], 4);
  // A unit of one datapath is recorded under it (docs/params.md).
  EXPECT_EQ(p["datapaths"]["naive"]["units"]["exp"]["latency"], 7);
  EXPECT_EQ(p["datapaths"]["reordered"]["units"]["row_divide"]["latency"], 4);  // a default
  EXPECT_EQ(p["memory"]["read_latency"], 10);
  EXPECT_EQ(p["sim"]["mode"], "decoupled");
  EXPECT_EQ(p["channels"]["default_depth"], "auto");
  EXPECT_EQ(p["problem"]["causal"], false);  // a boolean, as in the report's "problem"
  EXPECT_EQ(p["problem"]["causal"], rep["problem"]["causal"]);
  // Every key of params.yaml, the effective parameters.
  const YAML::Node yaml = YAML::LoadFile((d / "o" / "params.yaml").string());
  std::vector<std::string> keys, recorded;
  for (const auto& e : yaml) keys.push_back(e.first.as<std::string>());
  for (const auto& [k, _] : p.items()) recorded.push_back(k);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(recorded, keys);
}

TEST(DefaultParams, RunFromAnyFolderWithTheShippedDefaults) {
  const fs::path d = scratch();
  fs::create_directories(d / "elsewhere");
  const SimRun r = sim_in(d / "elsewhere", kSmall, d);
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path out = d / "elsewhere" / "out" / "default";
  ASSERT_TRUE(fs::exists(out / "report.json"));
  // The built-in parameters are the shipped file's.
  const SimRun shipped = sim(shell_word(fs::path(SDPA_SOURCE_DIR) / "params" / "default.yaml") +
                                 " " + kSmall + "--out " + shell_word(d / "shipped"),
                             d);
  ASSERT_EQ(shipped.status, 0) << shipped.err;
  EXPECT_EQ(slurp(out / "params.yaml"), slurp(d / "shipped" / "params.yaml"));
  EXPECT_EQ(report(out)["runs"], report(d / "shipped")["runs"]);
}

// GTKWave on a virtual X server opens trace.gtkw as the README says, from the folder above
// out/ and from anywhere else, also after the folder was moved: its window names the VCD, and
// it finds trace.states, which names the units' states (it says when it cannot).
TEST(Waveform, GtkwaveOpensTraceGtkwFromAnyFolder) {
  const fs::path d = scratch();
  const fs::path root = d / "root";
  const fs::path out = root / "out" / "default";
  ASSERT_EQ(sim(kSmall + "--vcd --out " + shell_word(out), d).status, 0);
  fs::create_directories(d / "elsewhere");
  fs::copy(out, d / "moved");
  write(d / "open.sh", R"(# open.sh CWD SAVEFILE LOG: the GTKWave window's title, or how it failed
cd "$1" || exit 1
gtkwave "$2" >"$3" 2>&1 &
pid=$!
title=
for i in $(seq 120); do
  kill -0 $pid 2>/dev/null || break
  title=$(xwininfo -root -tree 2>/dev/null | grep -o '"GTKWave - [^"]*"' | head -n 1)
  [[ -n $title ]] && break
  sleep 0.25
done
kill $pid 2>/dev/null
wait $pid 2>/dev/null
echo "${title:-no window}"
)");
  struct Case {
    fs::path cwd;
    std::string savefile;
    fs::path vcd;
  };
  const std::vector<Case> cases{
      {root, "out/default/trace.gtkw", out / "trace.vcd"},
      {d / "elsewhere", (out / "trace.gtkw").string(), out / "trace.vcd"},
      {d / "elsewhere", "../root/out/default/trace.gtkw", out / "trace.vcd"},
      {d / "elsewhere", "../moved/trace.gtkw", d / "moved" / "trace.vcd"}};
  // A virtual X server on a display it picks itself (-displayfd), free of xvfb-run -a's race
  // with other X servers starting at the same time. -noreset: the server would otherwise reset
  // each time its last client leaves (the readiness probe, each case's GTKWave): the suspected
  // cause of a rare "Could not initialize GTK", not reproduced.
  std::string script = fmt::format(R"(set -u
Xvfb -displayfd 3 -noreset -screen 0 1400x900x24 -nolisten tcp 3>{0}/display 2>{0}/xvfb.log &
xvfb=$!
trap 'kill $xvfb 2>/dev/null; wait $xvfb 2>/dev/null' EXIT
for i in $(seq 200); do
  [[ -s {0}/display ]] && break
  kill -0 $xvfb 2>/dev/null || {{ echo "Xvfb exited"; cat {0}/xvfb.log; exit 1; }}
  sleep 0.1
done
export DISPLAY=:$(cat {0}/display)
# The display number can be out before the server takes clients: wait until it answers.
for i in $(seq 200); do
  xwininfo -root >/dev/null 2>&1 && break
  sleep 0.1
done
)",
                                   shell_word(d));
  for (std::size_t i = 0; i < cases.size(); ++i)
    script +=
        fmt::format("bash {} {} {} {} >{}\n", shell_word(d / "open.sh"), shell_word(cases[i].cwd),
                    shell_word(cases[i].savefile), shell_word(d / fmt::format("log{}", i)),
                    shell_word(d / fmt::format("title{}", i)));
  write(d / "all.sh", script);
  ASSERT_EQ(shell("command -v Xvfb gtkwave xwininfo >/dev/null"), 0)
      << "needs xvfb, gtkwave and x11-utils (scripts/setup installs them)";
  ASSERT_EQ(shell("timeout 120 bash " + shell_word(d / "all.sh") + " >" +
                  shell_word(d / "all.log") + " 2>&1"),
            0)
      << slurp(d / "all.log");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string title = slurp(d / fmt::format("title{}", i));
    const std::string log = slurp(d / fmt::format("log{}", i));
    EXPECT_EQ(title, "\"GTKWave - " + fs::canonical(cases[i].vcd).string() + "\"\n")
        << "from " << cases[i].cwd << ": gtkwave " << cases[i].savefile << "\n"
        << log;
    EXPECT_EQ(log.find("Could not open filter file"), std::string::npos)
        << "from " << cases[i].cwd << ": gtkwave " << cases[i].savefile << "\n"
        << log;
  }
}

// ---- Failed writes ---------------------------------------------------------------------------

// One file kind that cannot be written: the run exits 5 naming the file and the errno text, and
// the folder keeps an earlier run's results and the user's file, with no temporary files.
struct WriteFailure {
  std::string kind;                // the file that fails
  std::string args;                // the run
  std::vector<std::string> order;  // the files the run writes, in order
};

void PrintTo(const WriteFailure& c, std::ostream* os) { *os << c.kind; }

const std::string kVcdRun = kSmall + "--set datapath=naive --vcd ";
const std::vector<std::string> kVcdOrder{"trace.vcd",    "o_naive.npy", "params.yaml",
                                         "trace.states", "trace.gtkw",  "report.json"};
const std::string kSizingRun =
    "--set datapath=reordered --set problem.seq_len=1 --set problem.head_dim=1 --size-buffers ";

std::string case_name(const testing::TestParamInfo<WriteFailure>& info) {
  std::string s = info.param.kind;
  for (char& c : s)
    if (c == '.') c = '_';
  return s;
}

// Earlier results in `dir` (another run) and a file of the user's.
void earlier_results(const fs::path& dir, const fs::path& d) {
  ASSERT_EQ(sim(kSmall + "--set datapath=reordered --out " + shell_word(dir), d).status, 0);
  write(dir / "notes.txt", "mine\n");
}

std::size_t size_of(const fs::path& p) { return fs::file_size(p); }

void expect_failed_write(const SimRun& r, const fs::path& out, const std::string& kind,
                         const std::string& errno_text, const fs::path& earlier,
                         const std::map<std::string, std::string>& after) {
  EXPECT_EQ(r.status, 5) << r.err;
  // One error, the last line (after the note that earlier results will be replaced).
  std::vector<std::string> errors;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("sdpa-sim: error: ", 0) == 0) errors.push_back(line);
  ASSERT_EQ(errors.size(), 1u) << r.err;
  EXPECT_EQ(
      errors[0].rfind(
          "sdpa-sim: error: " + (out / kind).string() + ": cannot write: " + errno_text + " (", 0),
      0u)
      << r.err;
  EXPECT_EQ(r.err.size() - r.err.rfind(errors[0]), errors[0].size() + 1) << r.err;
  EXPECT_EQ(after, contents(earlier)) << r.err;
}

// Runs the bash `script` in a private mount namespace, its stderr in `d`/mount.err; 99 when
// mounts are not allowed there (the script exits 99 when its mount fails).
int in_mount_namespace(const fs::path& d, const std::string& script) {
  // Root's own, or for another user one inside a user namespace of its own, where the kernel
  // allows those. The last refusal (e.g. a chroot, whose / is not a mount point) is the skip's
  // reason.
  for (const std::string unshare : {"unshare -m", "unshare -Urm"}) {
    if (shell(unshare + " true 2>" + shell_word(d / "mount.err")) != 0) continue;
    write(d / "namespace.sh", script);
    return shell(unshare + " bash " + shell_word(d / "namespace.sh") + " 2>" +
                 shell_word(d / "mount.err"));
  }
  return 99;
}

const char* const kNoMount =
    "cannot mount a tmpfs in a private mount namespace (unshare -m, or -Urm): ";

// A small tmpfs in a private mount namespace, filled with a user's file so that exactly the
// files written before `kind` fit: the write of `kind` meets a full disk (ENOSPC).
class DiskFull : public testing::TestWithParam<WriteFailure> {};

TEST_P(DiskFull, ExitsFiveNamingTheErrnoAndLeavesTheFolderAsItWas) {
  const WriteFailure& c = GetParam();
  const fs::path d = scratch();
  // The same run on an ample disk gives each file's size; tmpfs holds a file in 4 KiB pages.
  if (c.kind != c.order.front()) {
    ASSERT_EQ(sim(c.args + "--out " + shell_word(d / "ref"), d).status, 0);
  }
  std::size_t pages = 0;
  for (const std::string& f : c.order) {
    if (f == c.kind) break;
    pages += (size_of(d / "ref" / f) + 4095) / 4096;
  }
  earlier_results(d / "earlier", d);
  const fs::path out = d / "disk";
  fs::create_directories(out);
  fs::create_directories(d / "after");
  const std::string script = fmt::format(
      R"(set -e
mount -t tmpfs -o size=512k tmpfs {out} || exit 99
cp -a {earlier}/. {out}/
avail=$(df -B4096 --output=avail {out} | tail -n 1)
head -c $(( (avail - {pages}) * 4096 )) /dev/zero >{out}/filler
status=0
(cd '{src}' && timeout 60 '{sim}' {args} --out {out} >{d}/stdout 2>{d}/stderr) || status=$?
echo $status >{d}/status
rm {out}/filler
cp -a {out}/. {d}/after/
)",
      fmt::arg("out", shell_word(out)), fmt::arg("earlier", shell_word(d / "earlier")),
      fmt::arg("pages", pages), fmt::arg("src", SDPA_SOURCE_DIR), fmt::arg("sim", SDPA_SIM),
      fmt::arg("args", c.args), fmt::arg("d", shell_word(d)));
  const int rc = in_mount_namespace(d, script);
  if (rc == 99) GTEST_SKIP() << kNoMount << slurp(d / "mount.err");
  ASSERT_EQ(rc, 0) << slurp(d / "mount.err");
  SimRun r;
  r.status = std::stoi(slurp(d / "status"));
  r.err = slurp(d / "stderr");
  expect_failed_write(r, out, c.kind, "No space left on device", d / "earlier",
                      contents(d / "after"));
}

// A folder the run created for --out (and its parents) goes when nothing could be written in it:
// the error says the folder is as it was, and it was not there.
TEST(NewFolderDiskFull, TheFoldersTheRunCreatedGo) {
  const fs::path d = scratch();
  const fs::path disk = d / "disk";
  fs::create_directories(disk);
  fs::create_directories(d / "after");
  const int rc =
      in_mount_namespace(d, fmt::format(R"(set -e
mount -t tmpfs -o size=64k tmpfs {disk} || exit 99
avail=$(df -B4096 --output=avail {disk} | tail -n 1)
head -c $(( avail * 4096 )) /dev/zero >{disk}/filler 2>/dev/null || true
status=0
(cd '{src}' && timeout 60 '{sim}' {args} --out {disk}/new/run >{d}/stdout 2>{d}/stderr) || status=$?
echo $status >{d}/status
rm {disk}/filler
cp -a {disk}/. {d}/after/
)",
                                        fmt::arg("disk", shell_word(disk)),
                                        fmt::arg("src", SDPA_SOURCE_DIR), fmt::arg("sim", SDPA_SIM),
                                        fmt::arg("args", kSmall), fmt::arg("d", shell_word(d))));
  if (rc == 99) GTEST_SKIP() << kNoMount << slurp(d / "mount.err");
  ASSERT_EQ(rc, 0) << slurp(d / "mount.err");
  const std::string err = slurp(d / "stderr");
  EXPECT_EQ(slurp(d / "status"), "5\n") << err;
  EXPECT_NE(err.find("No space left on device (no results written; " + (disk / "new/run").string() +
                     " is as it was)"),
            std::string::npos)
      << err;
  EXPECT_TRUE(contents(d / "after").empty()) << names(contents(d / "after")).size();
}

// --size-buffers runs child simulations in a folder under TMPDIR: a full one is exit 5 (the
// system's refusal), not exit 2 (bad parameters), and the --out folder stays as it was.
TEST(SizingDiskFull, AChildsFailedWriteIsExitFive) {
  const fs::path d = scratch();
  const fs::path tmp = d / "tmp";
  fs::create_directories(tmp);
  earlier_results(d / "out", d);
  const auto before = contents(d / "out");
  // Two free pages: the child's parameter file and o_reordered.npy fit, its params.yaml does
  // not; its staging folder then goes, which frees the page for its error on stderr (a file in
  // TMPDIR too).
  const int rc = in_mount_namespace(
      d, fmt::format(R"(set -e
mount -t tmpfs -o size=64k tmpfs {tmp} || exit 99
avail=$(df -B4096 --output=avail {tmp} | tail -n 1)
head -c $(( (avail - 2) * 4096 )) /dev/zero >{tmp}/filler
status=0
(cd '{src}' && TMPDIR={tmp} timeout 60 '{sim}' {args} --out {out} >{d}/stdout 2>{d}/stderr) || status=$?
echo $status >{d}/status
)",
                     fmt::arg("tmp", shell_word(tmp)), fmt::arg("src", SDPA_SOURCE_DIR),
                     fmt::arg("sim", SDPA_SIM), fmt::arg("args", kSizingRun),
                     fmt::arg("out", shell_word(d / "out")), fmt::arg("d", shell_word(d))));
  if (rc == 99) GTEST_SKIP() << kNoMount << slurp(d / "mount.err");
  ASSERT_EQ(rc, 0) << slurp(d / "mount.err");
  const std::string err = slurp(d / "stderr");
  EXPECT_EQ(slurp(d / "status"), "5\n") << err;
  EXPECT_NE(err.find("sdpa-sim: error: --size-buffers: a child simulation failed (exit 5): "
                     "sdpa-sim: error: "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  EXPECT_EQ(contents(d / "out"), before);
}

// One run at a time writes a folder: two at once each replaced the run before them, and the
// folder kept one run's report beside the other's files. A run holding the folder (here the test,
// which locks it as a run does) makes another one exit 2 at once, touching nothing.
TEST(ReusedFolder, ARunWhileAnotherHoldsTheFolderIsRefusedAtOnce) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  earlier_results(o, d);
  const auto before = contents(o);
  const int fd = ::open(o.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const SimRun r = sim(kSmall + "--out " + shell_word(o), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err, "sdpa-sim: error: --out " + o.string() +
                       ": another sdpa-sim run is writing its results there; wait for it to end "
                       "or choose another folder\n");
  EXPECT_EQ(contents(o), before);
  const SimRun check = sim(kSmall + "--check --out " + shell_word(o), d);
  EXPECT_EQ(check.status, 2) << check.err;
  EXPECT_EQ(check.err, r.err);
  ::close(fd);
  EXPECT_EQ(sim(kSmall + "--out " + shell_word(o), d).status, 0);
}

// A commit that cannot move one of the earlier run's files (root's, in a sticky folder, for a
// run as another user who owns only report.json) puts back what it had moved: exit 5 and the
// folder as it was, report.json included (it was removed first, and lost).
TEST(ReusedFolder, ACommitThatCannotMoveAnEarlierFilePutsBackWhatItMoved) {
  if (::geteuid() != 0) GTEST_SKIP() << "runs the simulator as another user: needs root";
  const fs::path d = scratch();
  const fs::path o = d / "o";
  earlier_results(o, d);
  fs::permissions(o, fs::perms::all | fs::perms::sticky_bit);
  ASSERT_EQ(::chown((o / "report.json").c_str(), 65534, 65534), 0);
  const auto before = contents(o);
  const fs::path reachable = d / "sdpa-sim";
  fs::copy_file(SDPA_SIM, reachable);
  fs::permissions(d, fs::perms::others_read | fs::perms::others_exec, fs::perm_options::add);
  const SimRun r = sim_in(d, kSmall + "--out " + shell_word(o), d,
                          "setpriv --reuid=65534 --regid=65534 --clear-groups ", reachable);
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find(": cannot move the earlier run's file aside: Operation not permitted (no "
                       "results written; " +
                       o.string() + " is as it was)\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(contents(o), before);
}

INSTANTIATE_TEST_SUITE_P(
    Kind, DiskFull,
    testing::Values(WriteFailure{"trace.vcd", kVcdRun, kVcdOrder},
                    WriteFailure{"o_naive.npy", kVcdRun, kVcdOrder},
                    WriteFailure{"params.yaml", kVcdRun, kVcdOrder},
                    WriteFailure{"trace.states", kVcdRun, kVcdOrder},
                    WriteFailure{"trace.gtkw", kVcdRun, kVcdOrder},
                    WriteFailure{"report.json", kVcdRun, kVcdOrder},
                    WriteFailure{"sized.yaml", kSizingRun, {"sized.yaml", "report.json"}}),
    case_name);

// A file size limit (ulimit -f) just below `kind`'s size and above every earlier file's: the
// write of `kind` fails with EFBIG (SIGXFSZ would otherwise kill the run). Needs no privileges.
class FileSizeLimit : public testing::TestWithParam<WriteFailure> {};

TEST_P(FileSizeLimit, ExitsFiveNamingTheErrnoAndLeavesTheFolderAsItWas) {
  const WriteFailure& c = GetParam();
  const fs::path d = scratch();
  ASSERT_EQ(sim(c.args + "--out " + shell_word(d / "ref"), d).status, 0);
  std::size_t limit = 1;
  for (const std::string& f : c.order) {
    if (f == c.kind) break;
    limit = std::max(limit, size_of(d / "ref" / f));
  }
  ASSERT_GT(size_of(d / "ref" / c.kind), limit) << "the run writes a larger file before " << c.kind;
  const fs::path out = d / "out";
  earlier_results(out, d);
  const fs::path earlier = d / "earlier";
  fs::copy(out, earlier);
  // Through pipes: the limit applies to every file the simulator writes, stderr too.
  write(d / "limited.sh",
        fmt::format("set -o pipefail\ncd '{}'\n{{ prlimit --fsize={} '{}' {} --out {} 2>&1 1>&3 | "
                    "cat >{}; }} 3>&1 | cat >{}\n",
                    SDPA_SOURCE_DIR, limit, SDPA_SIM, c.args, shell_word(out),
                    shell_word(d / "stderr"), shell_word(d / "stdout")));
  SimRun r;
  r.status = shell("timeout 60 bash " + shell_word(d / "limited.sh"));
  r.err = slurp(d / "stderr");
  expect_failed_write(r, out, c.kind, "File too large", earlier, contents(out));
}

INSTANTIATE_TEST_SUITE_P(
    Kind, FileSizeLimit,
    testing::Values(WriteFailure{"trace.vcd", kVcdRun, kVcdOrder},
                    WriteFailure{"o_naive.npy",
                                 "--set datapath=naive --set problem.seq_len=16 --set "
                                 "problem.head_dim=16 ",
                                 {"o_naive.npy", "params.yaml", "report.json"}},
                    WriteFailure{"params.yaml",
                                 kSmall + "--set datapath=naive ",
                                 {"o_naive.npy", "params.yaml", "report.json"}},
                    WriteFailure{"report.json",
                                 kSmall + "--set datapath=naive ",
                                 {"o_naive.npy", "params.yaml", "report.json"}}),
    case_name);

// A kill in a commit (SIGKILL cannot wait) leaves no report.json that lists files which have
// moved: the earlier report goes aside first, so until the run's own moves in, the folder has
// none (and the next run names the folder aside).
TEST(ReusedFolder, AKillInTheCommitLeavesNoReportOfFilesThatMoved) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  ASSERT_EQ(sim(kSmall + "--out " + shell_word(o), d).status, 0);
  const std::string prefix = fmt::format(
      "env SDPA_SIGNAL_AT_RENAME='2 {}' LD_PRELOAD={} "
      "ASAN_OPTIONS=\"$ASAN_OPTIONS:verify_asan_link_order=0\" ",
      SIGKILL, shell_word(SDPA_SIGNAL_AT_RENAME));
  const SimRun r = sim_in(SDPA_SOURCE_DIR, kSmall + "--out " + shell_word(o), d, prefix);
  EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
  EXPECT_FALSE(fs::exists(o / "report.json"));
  bool aside = false;
  for (const fs::directory_entry& e : fs::directory_iterator(o))
    if (e.path().filename().string().starts_with(".sdpa-earlier."))
      aside = fs::exists(e.path() / "report.json");
  EXPECT_TRUE(aside);
}

// A link is the user's, whatever it names: one named as an output, dangling or to a file, is
// refused as the user's files are, not replaced.
TEST(ReusedFolder, ALinkOfTheUsersIsNotReplaced) {
  const fs::path d = scratch();
  const fs::path o = d / "o";
  fs::create_directories(o);
  fs::create_symlink(d / "nowhere.yaml", o / "params.yaml");
  expect_error(sim(kSmall + "--out " + shell_word(o), d),
               {"params.yaml is there but is not the output of an earlier run"});
  EXPECT_TRUE(fs::is_symlink(o / "params.yaml"));
  fs::remove(o / "params.yaml");
  ASSERT_EQ(sim(kSmall + "--out " + shell_word(o), d).status, 0);
  // The earlier run's report lists params.yaml, which the user has made a link to a file of theirs.
  write(d / "mine.yaml", "mine\n");
  fs::remove(o / "params.yaml");
  fs::create_symlink(d / "mine.yaml", o / "params.yaml");
  expect_error(sim(kSmall + "--out " + shell_word(o), d),
               {"params.yaml is there but is not the output of an earlier run"});
  EXPECT_TRUE(fs::is_symlink(o / "params.yaml"));
  EXPECT_EQ(slurp(d / "mine.yaml"), "mine\n");
}

}  // namespace
}  // namespace sdpa::test
