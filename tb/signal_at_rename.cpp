// Preloaded into sdpa-sim by tests (LD_PRELOAD): with SDPA_SIGNAL_AT_RENAME="N SIGNAL [SIGNAL]",
// the process's Nth rename(2) first raises each SIGNAL in turn, as a Ctrl-C or a kill in the
// middle of a run's commit would arrive.
#include <dlfcn.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

extern "C" int rename(const char* from, const char* to) noexcept {
  static int calls = 0;
  using Rename = int (*)(const char*, const char*);
  static const auto real = reinterpret_cast<Rename>(::dlsym(RTLD_NEXT, "rename"));
  int at = 0, first = 0, second = 0;
  const char* spec = std::getenv("SDPA_SIGNAL_AT_RENAME");
  if (spec != nullptr && std::sscanf(spec, "%d %d %d", &at, &first, &second) >= 2 &&
      ++calls == at) {
    std::raise(first);
    if (second != 0) std::raise(second);
  }
  return real(from, to);
}
