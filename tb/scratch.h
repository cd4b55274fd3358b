// A scratch folder per test case, removed when the case passes.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <utility>

namespace sdpa::test {

// Removes the case's scratch folder as the case ends, unless it failed: then the folder stays,
// named in the output, with what the simulator wrote. Without this every suite run left a
// quarter of a gigabyte behind.
class ScratchCleanup : public testing::EmptyTestEventListener {
 public:
  explicit ScratchCleanup(std::filesystem::path dir) : dir_(std::move(dir)) {}
  void OnTestEnd(const testing::TestInfo& info) override {
    if (info.result()->Failed()) {
      std::printf("scratch folder kept: %s\n", dir_.c_str());
      return;
    }
    std::error_code ignored;  // a file another user left there: the folder stays
    std::filesystem::remove_all(dir_, ignored);
  }

 private:
  std::filesystem::path dir_;
};

// A fresh folder per test, in the system's temporary folder (some tests run the simulator as
// another user, who must reach it), one set per build tree: two suites running at once (a clean
// clone's CI beside a working tree's build) would otherwise remove each other's files.
inline std::filesystem::path scratch() {
  const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name)
    if (c == '/') c = '_';
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("sdpa-tests-{:016x}", std::hash<std::string>{}(SDPA_BUILD_DIR)) /
                   name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  // Once per case (each runs in a process of its own); GoogleTest owns and deletes the listener.
  static bool cleanup_registered = false;
  if (!cleanup_registered) {
    testing::UnitTest::GetInstance()->listeners().Append(new ScratchCleanup(dir));
    cleanup_registered = true;
  }
  return dir;
}

}  // namespace sdpa::test
