// The files a run writes, and the --out folder that receives them (docs/errors.md, "Output
// folder"): a reused folder shows exactly one run, and a failed write leaves it as it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw/attention.h"

namespace sdpa {

// The system refused to write an output (disk full, file too large, I/O error): exit 5. The
// message names the file and the errno text.
class WriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A run's output folder. The run writes its files into a private staging folder inside it;
// commit() then removes the files the previous run listed in its report.json and moves the
// new ones in, report.json last. Files the simulator did not write are never touched. Until
// commit(), the folder keeps its earlier contents: a run that fails to write leaves no trace.
//
// Writes do not throw: the first failure is kept, later writes are skipped, and commit()
// reports it. (An exception thrown after a simulation trips AddressSanitizer, which loses track
// of the stack after SystemC's coroutines: google/sanitizers#189.)
class OutputFolder {
 public:
  // Creates `dir` if needed and the staging folder in it, so an unusable folder is found before
  // any simulation; refuses to replace a file with one of `names` that no earlier run recorded
  // as its own. Errors are InputError (exit 2) naming the folder and the OS error.
  OutputFolder(std::filesystem::path dir, std::set<std::string> names);
  // Says on stderr that an earlier run's results will be replaced, and where a stopped run left
  // files aside: once nothing but the run itself can stop it (an error before would be the
  // note's second line, and replace nothing).
  void note_replacing() const;
  ~OutputFolder();  // removes the staging folder and the folders it created unless committed
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // Where the file `name` is written before commit().
  std::filesystem::path staged(const std::string& name) const;
  // Records `name` (one of `names`) as written by this run; write() and write_npy() do it.
  void add(const std::string& name);
  // The files written so far, sorted.
  std::vector<std::string> files() const { return {written_.begin(), written_.end()}; }

  void write(const std::string& name, const std::string& content);
  void write_npy(const std::string& name, const std::vector<float>& data,
                 const std::vector<std::size_t>& shape);
  // Records a failed write of `name` with errno `err`, unless one is already recorded.
  void fail(const std::string& name, int err);
  // The same with the reason in words (a tool that failed).
  void fail(const std::string& name, const std::string& why);
  // Forgets a written file: it is deleted from the staging folder (a VCD converted to FST).
  void discard(const std::string& name);
  bool ok() const { return error_.empty(); }
  // The first failure: which file, the errno text, and that the folder is as it was.
  const std::string& error() const { return error_; }
  // Throws WriteError if a write failed (for code that ran no simulation).
  void check() const;
  // Moves the files in; false when a write or the move failed (error()), and then the staging
  // folder is gone.
  bool commit();

 private:
  // Leaves things as they were: the staging folder and the folders created for dir_ go.
  void abandon();

  std::filesystem::path dir_, staging_;
  std::vector<std::filesystem::path> created_;  // the folders it made for dir_, deepest first
  std::set<std::string> names_, previous_, written_;
  std::string error_;
  bool committed_ = false;
  int lock_ = -1;  // the folder, open and locked while this run may write it
};

// A name --trace-events may write in the --out folder: NAME.json, letters, digits and _ - .
bool is_trace_events_name(const std::string& name);

// The files a run writing `names` in `dir` replaces or removes: those and the earlier run's.
std::set<std::string> files_replaced(const std::filesystem::path& dir,
                                     const std::set<std::string>& names);
// Whether the file `path` is one of `replaced` in `dir` (the same file, however named).
bool among_replaced(const std::filesystem::path& dir, const std::set<std::string>& replaced,
                    const std::string& path);
// An input file `path` that is one of `replaced` in `dir`: the new params.yaml would name a file
// that no longer holds the input; an InputError (exit 2) says so before the run.
void refuse_input_in_output(const std::filesystem::path& dir, const std::set<std::string>& replaced,
                            const std::string& path);

// Says on stderr where a run stopped in its commit (SIGKILL) left an earlier run's files in `dir`,
// if one did: no run removes them (errors.md).
void note_files_left_aside(const std::filesystem::path& dir);

// What OutputFolder's constructor refuses, found without creating or writing anything (--check):
// a folder that cannot be created or written, a file of the user's among `names`. Returns whether
// the folder holds an earlier run's results, which a run would replace.
bool check_output_folder(const std::filesystem::path& dir, const std::set<std::string>& names);

// The default --out folder, and checks of a given one: an empty --out is an InputError.
std::filesystem::path output_folder(const std::string& out, bool given,
                                    const std::string& params_stem);

// Removes the folders PREFIXpid in `dir` whose process is gone (killed before it could clean up):
// a run's staging folder, child simulations' folders. A pid means something on its own host only:
// where other hosts may share `dir` (NFS, containers), PREFIX names this one's host_name().
void remove_stale_folders(const std::filesystem::path& dir, const std::string& prefix);
// gethostname's, '/' made '_' so that it can be part of a file name ("host" if there is none).
std::string host_name();

// Writes `content` to `path` through a temporary file in the same folder and a rename, so a
// failed or interrupted write never leaves a truncated file; WriteError on failure.
void write_file_atomic(const std::string& path, const std::string& content);

// Receives SystemC's VCD through a pipe (a FIFO in the staging folder, or in TMPDIR where the
// folder's file system has none) and writes it as `name`, checking every write (SystemC ignores
// write errors) and replacing the wall-clock date in the header, so that the same parameters
// give a byte-identical waveform. The constructor throws WriteError if no FIFO can be made.
class VcdStream {
 public:
  VcdStream(OutputFolder& out, const std::string& name);
  ~VcdStream();
  VcdStream(const VcdStream&) = delete;
  VcdStream& operator=(const VcdStream&) = delete;

  // The name to pass to sc_create_vcd_trace_file (which appends ".vcd").
  const std::string& systemc_name() const { return systemc_name_; }
  // After SystemC has closed the trace: waits for the last byte; a failed write is recorded in
  // the OutputFolder.
  void finish();

  struct State;

 private:
  OutputFolder& out_;
  std::string name_, systemc_name_, fifo_;
  std::filesystem::path fifo_dir_;  // a private folder in TMPDIR, when the FIFO is there
  std::shared_ptr<State> state_;
  bool finished_ = false;
};

// A datapath's channels and units by local name, grouped as its graph groups channels: the
// memory streams first, then each stage in the order it was built. A unit is in the stage of its
// first output channel (the sink, with none, in that of its input).
struct StageChannel {
  std::string name;  // within the datapath: `lane2.scores` with lanes
  std::size_t capacity = 0;
  bool bypass = false;  // holds a row while a reduction finishes (Depth::row_plus)
  bool written = true;  // after the run: any element was written to it
};
struct Stage {
  std::string label;
  std::vector<StageChannel> channels;
  std::vector<std::string> units;
};
struct DatapathStages {
  std::string datapath;
  std::vector<Stage> stages;
};
DatapathStages stages_of(const AttentionDatapath& dp);

// A GTKWave save file showing each datapath's channel occupancy (analog steps) and its units'
// states, a group per stage (with lanes, a group per lane inside it), zoomed to fit `end_ps`
// picoseconds (the VCD's time unit) in the window, the marker at `marker_ps`. `vcd_name` (a VCD or
// FST), `save_name` and `states_name` (gtkw_state_names) are file names in the same folder.
std::string gtkw_save_file(const std::string& vcd_name, const std::string& save_name,
                           const std::string& states_name,
                           const std::vector<DatapathStages>& datapaths, double end_ps,
                           double marker_ps);

// A GTKWave translate filter that shows a unit's state signal by name, a stall in colour.
std::string gtkw_state_names();

// A YAML document as JSON: scalars that read as numbers become numbers.
nlohmann::json yaml_to_json(const std::string& yaml);

}  // namespace sdpa
