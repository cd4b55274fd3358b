#include "sim/pipe_note.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "sim/messages.h"

namespace sdpa {

PipeWaitNote::PipeWaitNote(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) return;
  thread_ = std::thread([this, path, what] {
    std::unique_lock lock(mutex_);
    if (read_.wait_for(lock, std::chrono::seconds(2), [this] { return done_; })) return;
    note(fmt::format(
        "waiting for {} (a pipe) to deliver the {}: nothing runs until whatever writes it has "
        "finished",
        path, what));
  });
}

PipeWaitNote::~PipeWaitNote() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  read_.notify_one();
  thread_.join();
}

}  // namespace sdpa
