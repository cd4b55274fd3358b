#include "sim/output.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "sim/messages.h"
#include "sim/npy.h"
#include "sim/simulation.h"

namespace sdpa {

namespace fs = std::filesystem;

namespace {

// Writes all of `data`; 0 or the errno of the failed write.
int write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    data += n;
    size -= std::size_t(n);
  }
  return 0;
}

// Creates `path` holding the `pieces` one after the other; 0 or the errno of the first failure,
// in which case the file is removed.
int write_new_file(const fs::path& path, std::initializer_list<std::string_view> pieces) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return errno;
  int err = 0;
  for (std::string_view piece : pieces)
    if (err == 0) err = write_all(fd, piece.data(), piece.size());
  // Some file systems (NFS) report a failed write only on close.
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) ::unlink(path.c_str());
  return err;
}

// --write-inputs' copies of Q, K and V, which versions before the report's file list never wrote.
const std::set<std::string> kInputCopies{"q.npy", "k.npy", "v.npy"};

// The names the simulator writes into an output folder; only these are ever removed from it.
bool is_output_name(const std::string& name) {
  static const std::set<std::string> fixed{"report.json", "params.yaml",  "trace.vcd",
                                           "trace.gtkw",  "trace.states", "sized.yaml",
                                           "trace.fst",   "graph.dot",    "graph.svg"};
  if (fixed.count(name) || kInputCopies.count(name)) return true;
  // o_<datapath>.npy, of a datapath this simulator has: not any o_*.npy, which may be the user's.
  static const std::vector<std::string> datapaths = datapath_names();
  return std::any_of(datapaths.begin(), datapaths.end(),
                     [&](const std::string& dp) { return name == "o_" + dp + ".npy"; });
}

}  // namespace

bool is_trace_events_name(const std::string& name) {
  const std::string_view post = ".json";
  return name.size() > post.size() && name != "report.json" &&
         name.compare(name.size() - post.size(), post.size(), post) == 0 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
         });
}

namespace {

// A report of a version before "files": runs, each naming its datapath, status and channels, as
// those versions wrote them; a user's JSON with a "runs" key of its own is not one.
bool looks_like_early_report(const nlohmann::json& report) {
  if (!report.contains("runs") || !report["runs"].is_array() || report["runs"].empty())
    return false;
  return std::all_of(report["runs"].begin(), report["runs"].end(), [](const nlohmann::json& run) {
    return run.is_object() && run.contains("datapath") && run["datapath"].is_string() &&
           run.contains("status") && run["status"].is_string() && run.contains("channels") &&
           run["channels"].is_array();
  });
}

// The files of the run whose report.json is in `dir`: its "files" list; for a report written
// before the list existed, every file there with a name the simulator writes. Only regular
// files count.
std::set<std::string> previous_outputs(const fs::path& dir) {
  std::error_code ec;
  // A folder of that name is the user's (reading it would throw), and no run's report.
  if (!fs::is_regular_file(dir / "report.json", ec)) return {};
  std::ifstream in(dir / "report.json");
  if (!in) return {};
  const nlohmann::json report = nlohmann::json::parse(in, nullptr, false);
  if (!report.is_object()) return {};
  std::set<std::string> names;
  if (report.contains("files") && report["files"].is_array()) {
    // A listed trace-event file (--trace-events NAME.json) was the run's own, whatever its name.
    for (const nlohmann::json& f : report["files"])
      if (f.is_string() &&
          (is_output_name(f.get<std::string>()) || is_trace_events_name(f.get<std::string>())))
        names.insert(f.get<std::string>());
  } else if (looks_like_early_report(report)) {
    // Those versions wrote no inputs: a q.npy beside their report is the user's.
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
      const std::string name = e.path().filename().string();
      if (is_output_name(name) && kInputCopies.count(name) == 0) names.insert(name);
    }
  }
  for (auto it = names.begin(); it != names.end();)
    it = fs::is_regular_file(fs::symlink_status(dir / *it, ec)) ? std::next(it) : names.erase(it);
  return names;
}

}  // namespace

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "host";
  std::string h(host);
  std::replace(h.begin(), h.end(), '/', '_');
  return h;
}

namespace {

// One run at a time in a folder: two would each replace the run before them, and the folder
// would keep a report listing one run's files beside the other's. Returns the folder open and
// locked (the lock goes with the process), or -1 where the file system cannot lock a folder.
int lock_folder(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
  const int err = errno;
  ::close(fd);
  if (err == EWOULDBLOCK)
    throw InputError(
        fmt::format("--out {}: another sdpa-sim run is writing its results there; "
                    "wait for it to end or choose another folder",
                    dir.string()));
  return -1;
}

// A run killed while it replaced its results (SIGKILL, or the machine going down: other
// signals wait for the commit), or whose commit failed and could not put them back, left the
// earlier run's files in a folder beside them, which no run removes.
std::optional<fs::path> files_left_aside(const fs::path& dir) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(".sdpa-earlier.", 0) == 0) return e.path();
  return std::nullopt;
}

// Why a file in `dir` is not an earlier run's output, for the refusal below.
std::string why_not_listed(const fs::path& dir) {
  std::error_code ec;
  const std::optional<fs::path> aside = files_left_aside(dir);
  if (!fs::exists(fs::symlink_status(dir / "report.json", ec)))
    return "there is no report.json" +
           (aside ? fmt::format("; a run stopped while it replaced the results there, and the "
                                "earlier run's files are in {}",
                                aside->string())
                  : "");
  if (!fs::is_regular_file(dir / "report.json", ec)) return "its report.json is not a file";
  errno = 0;
  std::ifstream in(dir / "report.json");
  if (!in)
    return fmt::format("its report.json cannot be read: {}",
                       std::strerror(errno != 0 ? errno : EIO));
  if (!nlohmann::json::accept(in)) return "its report.json is not valid JSON";
  return "its report.json does not list it";
}

// Refuses to replace a file of the user's: one of `names` in `dir` that no earlier run recorded.
std::set<std::string> refuse_users_files(const fs::path& dir, const std::set<std::string>& names) {
  std::set<std::string> previous = previous_outputs(dir);
  std::error_code ec;
  for (const std::string& name : names) {
    if (!fs::exists(fs::symlink_status(dir / name, ec)) || previous.count(name)) continue;
    throw InputError(fmt::format(
        "--out {}: {} is there but is not the output of an earlier run ({}); move it away or "
        "choose another folder",
        dir.string(), name, why_not_listed(dir)));
  }
  return previous;
}

// Ctrl-C, a kill or a closed terminal in the middle of the renames would leave the folder half
// replaced: the earlier run's files aside, some of this run's in place, no report. While one
// lives, those signals wait (whichever thread they reach), each on its own (a SIGHUP after a
// SIGTERM does not take its place); at its end they act as they would have, after the folder
// holds one run's results. Ignored ones stay ignored (nohup's SIGHUP). SIGKILL cannot wait.
class SignalsWait {
 public:
  SignalsWait() {
    struct sigaction wait {};
    wait.sa_handler = [](int signal) {
      for (std::size_t i = 0; i < kSignals.size(); ++i)
        if (kSignals[i] == signal) pending_[i] = 1;
    };
    ::sigemptyset(&wait.sa_mask);
    wait.sa_flags = SA_RESTART;  // a rename on NFS or FUSE may be interrupted: restart it
    for (std::size_t i = 0; i < kSignals.size(); ++i) {
      ::sigaction(kSignals[i], nullptr, &before_[i]);
      waits_[i] = (before_[i].sa_flags & SA_SIGINFO) != 0 || before_[i].sa_handler != SIG_IGN;
      if (waits_[i]) ::sigaction(kSignals[i], &wait, nullptr);
    }
  }
  ~SignalsWait() {
    for (std::size_t i = 0; i < kSignals.size(); ++i)
      if (waits_[i]) ::sigaction(kSignals[i], &before_[i], nullptr);
    for (std::size_t i = 0; i < kSignals.size(); ++i)
      if (pending_[i] != 0) {
        pending_[i] = 0;
        ::raise(kSignals[i]);
      }
  }
  SignalsWait(const SignalsWait&) = delete;
  SignalsWait& operator=(const SignalsWait&) = delete;

 private:
  static constexpr std::array<int, 4> kSignals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  static inline std::array<volatile std::sig_atomic_t, kSignals.size()> pending_{};
  std::array<struct sigaction, kSignals.size()> before_{};
  std::array<bool, kSignals.size()> waits_{};
};

}  // namespace

std::set<std::string> files_replaced(const fs::path& dir, const std::set<std::string>& names) {
  std::set<std::string> replaced = previous_outputs(dir);
  replaced.insert(names.begin(), names.end());
  return replaced;
}

bool among_replaced(const fs::path& dir, const std::set<std::string>& replaced,
                    const std::string& path) {
  std::error_code ec;
  return std::any_of(replaced.begin(), replaced.end(),
                     [&](const std::string& name) { return fs::equivalent(path, dir / name, ec); });
}

void refuse_input_in_output(const fs::path& dir, const std::set<std::string>& replaced,
                            const std::string& path) {
  if (among_replaced(dir, replaced, path))
    throw InputError(fmt::format(
        "{} is a file this run replaces or removes in --out {} (its params.yaml would name a file "
        "that no longer holds the input): copy it elsewhere first, or choose another --out",
        path, dir.string()));
}

void note_files_left_aside(const fs::path& dir) {
  if (const std::optional<fs::path> aside = files_left_aside(dir))
    note(fmt::format(
        "{} holds the files of an earlier run, moved aside by a run stopped while it replaced "
        "them; no run removes it",
        aside->string()));
}

bool check_output_folder(const fs::path& dir, const std::set<std::string>& names) {
  std::error_code ec;
  // The folder, or the nearest existing folder above it, where the run would create it.
  fs::path existing = dir;
  while (!fs::exists(fs::symlink_status(existing, ec)))
    existing = existing.has_parent_path() ? existing.parent_path() : fs::path(".");
  // A file there, or a link to nothing, as the run's mkdir would find them.
  if (!fs::is_directory(existing, ec))
    throw InputError(fmt::format("--out {}: cannot create the folder: {}", dir.string(),
                                 std::strerror(fs::exists(existing, ec) ? ENOTDIR : EEXIST)));
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw InputError(fmt::format("--out {}: cannot write in the folder: {}", dir.string(),
                                 std::strerror(errno)));
  if (existing != dir) return false;
  if (const int fd = lock_folder(dir); fd >= 0) ::close(fd);  // a run there now: refused
  return !refuse_users_files(dir, names).empty();
}

fs::path output_folder(const std::string& out, bool given, const std::string& params_stem) {
  if (!given) return fs::path("out") / params_stem;
  if (out.empty()) throw InputError("--out '': expected a folder name, got an empty one");
  return out;
}

OutputFolder::OutputFolder(fs::path dir, std::set<std::string> names)
    : dir_(std::move(dir)), names_(std::move(names)) {
  // Folder by folder, recording those this run made (its mkdir succeeded), deepest first: in
  // `a/../b` or `a/.` only `a` can be the run's, and one another run made first is not.
  fs::path folder;
  for (const fs::path& part : dir_) {
    folder /= part;
    if (::mkdir(folder.c_str(), 0777) == 0) {
      created_.insert(created_.begin(), folder);
    } else if (errno != EEXIST) {
      const int err = errno;
      abandon();
      throw InputError(
          fmt::format("--out {}: cannot create the folder: {}", dir_.string(), std::strerror(err)));
    }
  }
  // Refused while another run writes there: the folder stays, even one this run made, which the
  // other run may have taken since.
  lock_ = lock_folder(dir_);
  try {
    std::error_code ec;
    if (!fs::is_directory(dir_, ec))
      throw InputError(fmt::format("--out {}: cannot create the folder: {}", dir_.string(),
                                   std::strerror(ENOTDIR)));
    previous_ = refuse_users_files(dir_, names_);
    const std::string prefix = fmt::format(".sdpa-run.{}.", host_name());
    remove_stale_folders(dir_, prefix);
    staging_ = dir_ / fmt::format("{}{}", prefix, ::getpid());
    // One left with this process's id (an earlier boot) cannot belong to a live run.
    fs::remove_all(staging_, ec);
    if (::mkdir(staging_.c_str(), 0777) != 0)
      throw InputError(fmt::format("--out {}: cannot write in the folder: {}", dir_.string(),
                                   std::strerror(errno)));
  } catch (...) {
    abandon();
    if (lock_ >= 0) ::close(lock_);
    throw;
  }
}

void OutputFolder::note_replacing() const {
  if (!previous_.empty()) note(fmt::format("replacing the results in {}", dir_.string()));
  note_files_left_aside(dir_);
}

void OutputFolder::abandon() {
  std::error_code ec;
  if (!staging_.empty()) fs::remove_all(staging_, ec);
  // The folders this run created go with it, so that a failed run leaves things as they were;
  // rmdir leaves one that something else has put a file in since, and passes over one removed.
  for (const fs::path& p : created_)
    if (::rmdir(p.c_str()) != 0 && errno != ENOENT) break;
}

OutputFolder::~OutputFolder() {
  if (!committed_) abandon();
  if (lock_ >= 0) ::close(lock_);
}

fs::path OutputFolder::staged(const std::string& name) const { return staging_ / name; }

void OutputFolder::add(const std::string& name) {
  if (!names_.count(name))
    throw std::logic_error(fmt::format("{}: not a file this run announced", name));
  written_.insert(name);
}

void OutputFolder::fail(const std::string& name, int err) {
  if (ok())
    error_ = fmt::format("{}: cannot write: {} (no results written; {} is as it was)",
                         (dir_ / name).string(), std::strerror(err), dir_.string());
}

void OutputFolder::fail(const std::string& name, const std::string& why) {
  if (ok())
    error_ = fmt::format("{}: cannot write: {} (no results written; {} is as it was)",
                         (dir_ / name).string(), why, dir_.string());
}

void OutputFolder::discard(const std::string& name) {
  written_.erase(name);
  std::error_code ec;
  fs::remove(staged(name), ec);
}

void OutputFolder::check() const {
  if (!ok()) throw WriteError(error_);
}

void OutputFolder::write(const std::string& name, const std::string& content) {
  add(name);
  if (!ok()) return;
  if (const int err = write_new_file(staged(name), {content})) fail(name, err);
}

void OutputFolder::write_npy(const std::string& name, const std::vector<float>& data,
                             const std::vector<std::size_t>& shape) {
  add(name);
  if (!ok()) return;
  const std::string header = npy_header(shape);
  const std::string_view body(reinterpret_cast<const char*>(data.data()),
                              data.size() * sizeof(float));
  if (const int err = write_new_file(staged(name), {header, body})) fail(name, err);
}

bool OutputFolder::commit() {
  // On failure the staging folder goes now, not at destruction: on a full disk its space is the
  // error message's.
  auto discard = [&] {
    std::error_code ec;
    fs::remove_all(staging_, ec);
    return false;
  };
  if (!ok()) return discard();
  const SignalsWait signals_wait;
  // The earlier run's files move aside, report.json first, then this run's move in, report.json
  // last: while the files change no report describes the folder, and a rename that fails (a file
  // another user owns in a sticky folder, say) puts back every file that moved, so the folder is
  // as it was. Renames within one file system copy nothing. The folder aside is not a staging
  // folder, which a later run would clean up: if putting back fails, it keeps the earlier files.
  const fs::path aside = dir_ / fmt::format(".sdpa-earlier.{}.{}", host_name(), ::getpid());
  std::vector<std::pair<fs::path, fs::path>> moved;  // (from, to), in order
  bool restored = true;
  auto move = [&](const fs::path& from, const fs::path& to, const char* what) {
    if (::rename(from.c_str(), to.c_str()) == 0) {
      moved.emplace_back(from, to);
      return true;
    }
    error_ = fmt::format("{}: cannot {}: {}", (dir_ / to.filename()).string(), what,
                         std::strerror(errno));
    for (auto m = moved.rbegin(); m != moved.rend(); ++m)
      restored = ::rename(m->second.c_str(), m->first.c_str()) == 0 && restored;
    error_ += restored ? fmt::format(" (no results written; {} is as it was)", dir_.string())
                       : fmt::format(
                             " (and putting the files back failed: {} may hold part of "
                             "this run's files, and the earlier run's are in {})",
                             dir_.string(), aside.string());
    return false;
  };
  auto finish = [&](bool committed) {
    std::error_code ec;
    if (restored) fs::remove_all(aside, ec);
    discard();
    committed_ = committed;
    return committed;
  };
  std::vector<std::string> earlier, ours;
  for (const std::string& name : previous_) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(dir_ / name, ec)))
      earlier.insert(name == "report.json" ? earlier.begin() : earlier.end(), name);
  }
  for (const std::string& name : written_)
    ours.insert(name == "report.json" ? ours.end() : ours.begin(), name);
  if (!earlier.empty() && ::mkdir(aside.c_str(), 0777) != 0) {
    error_ = fmt::format("{}: cannot write: {} (no results written; {} is as it was)",
                         aside.string(), std::strerror(errno), dir_.string());
    return discard();
  }
  for (const std::string& name : earlier)
    if (!move(dir_ / name, aside / name, "move the earlier run's file aside")) return finish(false);
  for (const std::string& name : ours)
    if (!move(staged(name), dir_ / name, "move the file into place")) return finish(false);
  return finish(true);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  int err = write_new_file(tmp, {content});
  if (err == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
  }
  if (err != 0) throw WriteError(fmt::format("{}: cannot write: {}", path, std::strerror(err)));
}

// ---- VcdStream -----------------------------------------------------------------------------

struct VcdStream::State {
  std::thread thread;
  std::atomic<bool> done{false};
  int error = 0;  // the first failed write's errno; read after the thread has ended
};

namespace {

// Copies the FIFO `fifo` to the new file `path` until the last writer closes it, replacing the
// lines of the header's $date section. After a failed write it keeps reading (and dropping), so
// that SystemC never blocks on a full pipe. Returns the errno of the first failure, or 0.
int copy_vcd(const std::string& fifo, const std::string& path) {
  int err = 0;
  const int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (out < 0) err = errno;
  auto put = [&](const char* data, std::size_t size) {
    if (err == 0) err = write_all(out, data, size);
  };
  // Blocks until SystemC opens the trace (or finish() opens and closes it to end the wait).
  const int in = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0 && err == 0) err = errno;
  std::string header;  // header text not yet passed on
  bool in_header = true, in_date = false;
  std::vector<char> buf(1 << 16);
  while (in >= 0) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && err == 0) err = errno;
    if (n <= 0) break;
    if (!in_header) {
      put(buf.data(), std::size_t(n));
      continue;
    }
    header.append(buf.data(), std::size_t(n));
    std::string done;
    std::size_t begin = 0, end;
    // The header is a few lines; the $date section comes first.
    while (in_header && (end = header.find('\n', begin)) != std::string::npos) {
      std::string line = header.substr(begin, end - begin);
      begin = end + 1;
      if (in_date && line.rfind("$end", 0) != 0) line = "     (left out: reproducible output)";
      in_date = line.rfind("$date", 0) == 0 || (in_date && line.rfind("$end", 0) != 0);
      done += line + '\n';
      if (line.rfind("$enddefinitions", 0) == 0) in_header = false;
    }
    header.erase(0, begin);
    if (!in_header) {
      done += header;
      header.clear();
    }
    put(done.data(), done.size());
  }
  put(header.data(), header.size());
  if (in >= 0) ::close(in);
  if (out >= 0 && ::close(out) != 0 && err == 0) err = errno;
  return err;
}

// Ends copy_vcd's wait for a writer, if it still waits (SystemC never opened the trace).
void end_wait_for_writer(const std::string& fifo, const std::atomic<bool>& done) {
  for (int tries = 0; tries < 5000 && !done; ++tries) {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      ::close(fd);
      return;
    }
    if (errno != ENXIO) return;
    // No reader yet: the copy has not reached its open.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

VcdStream::VcdStream(OutputFolder& out, const std::string& name)
    : out_(out), name_(name), state_(std::make_shared<State>()) {
  systemc_name_ = out.staged(".systemc-trace").string();
  fifo_ = systemc_name_ + ".vcd";
  if (::mkfifo(fifo_.c_str(), 0600) != 0) {
    // A file system without FIFOs (vfat, some network mounts): a private folder in TMPDIR.
    std::string dir = (fs::temp_directory_path() / "sdpa-vcd-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr)
      throw WriteError(fmt::format("{}: cannot make a pipe for SystemC's VCD: {}",
                                   (out.dir() / name).string(), std::strerror(errno)));
    fifo_dir_ = dir;
    systemc_name_ = (fifo_dir_ / ".systemc-trace").string();
    fifo_ = systemc_name_ + ".vcd";
    if (::mkfifo(fifo_.c_str(), 0600) != 0) {
      const int err = errno;
      std::error_code ec;
      fs::remove_all(fifo_dir_, ec);
      throw WriteError(fmt::format("{}: cannot make a pipe for SystemC's VCD: {}",
                                   (out.dir() / name).string(), std::strerror(err)));
    }
  }
  state_->thread = std::thread([state = state_, fifo = fifo_, path = out.staged(name).string()] {
    state->error = copy_vcd(fifo, path);
    state->done = true;
  });
}

VcdStream::~VcdStream() {
  if (!finished_) {
    // A failed run: SystemC may still hold the pipe open, so the copy is left to end with the
    // process.
    end_wait_for_writer(fifo_, state_->done);
    state_->thread.detach();
  }
  std::error_code ec;
  if (!fifo_dir_.empty()) fs::remove_all(fifo_dir_, ec);
}

void VcdStream::finish() {
  if (finished_) return;
  end_wait_for_writer(fifo_, state_->done);
  state_->thread.join();
  finished_ = true;
  out_.add(name_);
  if (state_->error != 0) out_.fail(name_, state_->error);
}

// ---- GTKWave save file ---------------------------------------------------------------------

namespace {

// The scope of a name within its datapath: `lane2` of `lane2.scores`; none: empty.
std::string scope_of(const std::string& local) {
  const std::size_t dot = local.rfind('.');
  return dot == std::string::npos ? std::string() : local.substr(0, dot);
}

}  // namespace

DatapathStages stages_of(const AttentionDatapath& dp) {
  DatapathStages out{dp.basename(), {{"memory streams", {}, {}}}};
  for (const Graph::Edge& e : dp.edges()) {
    const std::string label = dp.is_input_stream(e) ? "memory streams" : e.stage;
    auto stage = std::find_if(out.stages.begin(), out.stages.end(),
                              [&](const Stage& s) { return s.label == label; });
    if (stage == out.stages.end()) stage = out.stages.insert(out.stages.end(), {label, {}, {}});
    stage->channels.push_back({std::string(e.channel->name()).substr(out.datapath.size() + 1),
                               e.channel->capacity(), e.row_latency != 0,
                               e.channel->stats().writes != 0});
  }
  // Units in edge order: each where its first output goes, a unit with none where its input is.
  std::set<const Unit*> placed;
  auto place = [&](const Unit* u, const Graph::Edge& e) {
    if (!placed.insert(u).second) return;
    const std::string label = dp.is_input_stream(e) ? "memory streams" : e.stage;
    for (Stage& st : out.stages)
      if (st.label == label)
        st.units.push_back(std::string(u->name()).substr(out.datapath.size() + 1));
  };
  for (const Graph::Edge& e : dp.edges()) place(e.producer, e);
  for (const Graph::Edge& e : dp.edges()) place(e.consumer, e);
  return out;
}

std::string gtkw_state_names() {
  // GTKWave fills a value's box in the colour between `?`s: the stalls stand out of the busy
  // cycles, which keep the trace's own colour.
  return fmt::format("{} idle\n{} busy\n{} ?orange?starved\n{} ?red?blocked\n",
                     int(UnitTrace::idle), int(UnitTrace::busy), int(UnitTrace::starved),
                     int(UnitTrace::blocked));
}

std::string gtkw_save_file(const std::string& vcd_name, const std::string& save_name,
                           const std::string& states_name,
                           const std::vector<DatapathStages>& datapaths, double end_ps,
                           double marker_ps) {
  // GTKWave opens a relative [dumpfile] from its working folder, unless [savefile] is also
  // given: then it looks for the dump where it lies relative to the save file, so the folder
  // opens from anywhere and may be moved (GTKWave's find_dumpfile).
  //
  // A group per stage holds its channels' occupancies, as analog steps two rows high (each
  // scaled to the least and most it holds over the whole run, not to what the window shows, so
  // the label gives the capacity, and the value at the marker the number), the bypasses, the
  // O(N) buffers, in red; a channel never written (downstream of a deadlock, an idle lane) as a
  // number, 0, since GTKWave draws an analog trace that never changes at half height, as if half
  // full; then its units' states, 0 idle, 1 busy, 2 starved (waiting for input), 3 blocked
  // (waiting for space), shown by name through the translate filter file `states_name` (file
  // filter 1, which GTKWave, like the dump, looks for beside the save file). Flags are GTKWave's
  // TR_* bits: decimal 0x4, right-justified 0x20, blank (a comment row) 0x200, translated by a
  // file filter 0x2000, analog step 0x8000, analog height extension 0x20000, analog full scale
  // 0x80000, group begin 0x800000 and end 0x1000000. The SST is collapsed to give the waves the
  // width; the signals pane is wide enough for the widest label (the state legend) and for a value
  // of seven characters (`blocked`) beside a name, which GTKWave right-justifies and would clip.
  // Its zoom z shows about 2^z·194 pixels per time unit, so 2.05 − log2(end) fits the run in the
  // ~810 pixels left of a 1400-pixel window.
  const double end = std::max(end_ps, 1.0);
  std::string s = fmt::format(
      "[dumpfile] \"{}\"\n[savefile] \"{}\"\n[timestart] 0\n[size] 1400 820\n[sst_expanded] 0\n"
      "[signals_width] 470\n*{:.6f} {:.0f}\n^1 {}\n",
      vcd_name, save_name, 2.05 - std::log2(end), std::floor(marker_ps), states_name);
  // A signal's label is its name in the datapath (the group names the datapath), with `/` for
  // the dot of a lane's name: GTKWave shows only the last dot-separated part (`lane1/q_rows`).
  const auto label = [](std::string local) {
    std::replace(local.begin(), local.end(), '.', '/');
    return local;
  };
  // A stage's signals of one scope (a lane: `lane1.` names), or of none.
  const auto signals = [&](const DatapathStages& dp, const Stage& stage, const std::string& scope) {
    std::string out;
    for (const StageChannel& ch : stage.channels) {
      if (scope_of(ch.name) != scope) continue;
      if (!ch.written) {
        out += fmt::format(
            "[color] {3}\n@24\n+{{{2} (capacity {4}, never written)}} "
            "SystemC.{0}.{1}.occupancy[31:0]\n",
            dp.datapath, ch.name, label(ch.name), ch.bypass ? 1 : 0, ch.capacity);
        continue;
      }
      out += fmt::format(
          "[color] {3}\n@88024\n+{{{2} (capacity {4})}} SystemC.{0}.{1}.occupancy[31:0]\n@20200\n"
          "-\n",
          dp.datapath, ch.name, label(ch.name), ch.bypass ? 1 : 0, ch.capacity);
    }
    bool legend = false;
    for (const std::string& unit : stage.units) {
      if (scope_of(unit) != scope) continue;
      if (!std::exchange(legend, true))
        out += "[color] 0\n@200\n-state: starved waits for input, blocked for space\n";
      out += fmt::format("[color] 0\n@2024\n+{{{2}}} SystemC.{0}.{1}.state[31:0]\n", dp.datapath,
                         unit, label(unit));
    }
    return out;
  };
  // With lanes, each lane's signals of a stage form a group inside it, the first lane's open and
  // the others closed (0x400000, and 0x1000 at their end, as GTKWave writes them), so that 64
  // lanes are 64 rows until one is opened; the signals the lanes share come first.
  for (const DatapathStages& dp : datapaths) {
    for (const Stage& stage : dp.stages) {
      const std::string group = fmt::format("{}: {}", dp.datapath, stage.label);
      s += fmt::format("@800200\n-{}\n", group);
      s += signals(dp, stage, "");
      std::vector<std::string> lanes;  // in order of appearance
      const auto note = [&](const std::string& name) {
        const std::string scope = scope_of(name);
        if (!scope.empty() && std::find(lanes.begin(), lanes.end(), scope) == lanes.end())
          lanes.push_back(scope);
      };
      for (const StageChannel& ch : stage.channels) note(ch.name);
      for (const std::string& unit : stage.units) note(unit);
      for (const std::string& lane : lanes) {
        const bool closed = lane != lanes.front();
        s += fmt::format("{}\n-{}\n{}{}\n-{}\n", closed ? "@c00200" : "@800200", lane,
                         signals(dp, stage, lane), closed ? "@1401200" : "@1000200", lane);
      }
      s += fmt::format("@1000200\n-{}\n", group);
    }
  }
  return s;
}

// ---- YAML as JSON --------------------------------------------------------------------------

namespace {

nlohmann::json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& entry : node) j[entry.first.as<std::string>()] = to_json(entry.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& item : node) j.push_back(to_json(item));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      // Plain scalars only: a quoted "true" stays a string.
      if (node.Tag() == "?" && (s == "true" || s == "false")) return s == "true";
      const char* first = s.data();
      const char* last = s.data() + s.size();
      std::uint64_t u = 0;
      if (auto [p, e] = std::from_chars(first, last, u); e == std::errc() && p == last) return u;
      std::int64_t i = 0;
      if (auto [p, e] = std::from_chars(first, last, i); e == std::errc() && p == last) return i;
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return d;
      return s;
    }
    default:
      return nullptr;
  }
}

}  // namespace

nlohmann::json yaml_to_json(const std::string& yaml) { return to_json(YAML::Load(yaml)); }

void remove_stale_folders(const fs::path& dir, const std::string& prefix) {
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string pid = name.substr(prefix.size());
    pid_t value = 0;  // out of pid_t's range: no pid of ours, and kill(-n) would test a group
    const auto [end, err] = std::from_chars(pid.data(), pid.data() + pid.size(), value);
    if (err != std::errc() || end != pid.data() + pid.size() || value <= 0) continue;
    if (::kill(value, 0) != 0 && errno == ESRCH) fs::remove_all(e.path(), ec);
  }
}

}  // namespace sdpa
