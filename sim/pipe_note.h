// A note on stderr when reading a named pipe keeps the run waiting.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace sdpa {

// Opening a FIFO blocks until something opens it for writing, and reading it until that writes.
// A params file given as `<(command)` rightly waits for its command, so the run waits too; after
// two seconds it says what it waits for instead of hanging without a word (inputs and cost tables
// must be regular files, and are refused before they are opened). Nothing for any other kind of
// file. Lives while the file is read.
class PipeWaitNote {
 public:
  PipeWaitNote(const std::string& path, const std::string& what);
  ~PipeWaitNote();
  PipeWaitNote(const PipeWaitNote&) = delete;
  PipeWaitNote& operator=(const PipeWaitNote&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable read_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace sdpa
