// Replays files through a fuzz target's LLVMFuzzerTestOneInput without libFuzzer: the regression
// test for the seed corpora and the crash files, in any build. Usage: replay PATH... where a PATH
// is a file or a folder (every regular file below it, in sorted order).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

int main(int argc, char* argv[]) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    if (fs::is_regular_file(path)) {
      files.push_back(path);
    } else if (fs::is_directory(path)) {
      for (const auto& entry : fs::recursive_directory_iterator(path))
        if (entry.is_regular_file()) files.push_back(entry.path());
    } else {
      // A missing folder would otherwise pass silently.
      std::fprintf(stderr, "replay: %s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());

  int failures = 0;
  for (const fs::path& file : files) {
    // Named first, so that a crash or sanitizer report follows its input's name.
    std::fprintf(stderr, "replay: %s\n", file.c_str());
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    try {
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "replay: FAILED %s: uncaught exception: %s\n", file.c_str(), e.what());
      ++failures;
    } catch (...) {
      std::fprintf(stderr, "replay: FAILED %s: uncaught non-std exception\n", file.c_str());
      ++failures;
    }
  }
  std::fprintf(stderr, "replay: %zu files, %d failed\n", files.size(), failures);
  return failures == 0 ? 0 : 1;
}
