// A per-process scratch file for the fuzz targets: the code under test reads from a path.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace sdpa::fuzz {

class TempFile {
 public:
  // `name` ends the file name; the process id keeps concurrent runs (ctest -j) apart.
  explicit TempFile(const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("sdpa-fuzz-" + std::to_string(::getpid()) + "-" + name))
                  .string()) {}
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // Replaces the contents with `data`; returns the path.
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) {
      // Not a finding in the code under test: stop rather than fuzz a stale file.
      std::perror(path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace sdpa::fuzz
