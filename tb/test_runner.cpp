// Cases for tb/test_runner.sh, which runs this binary as a user would and checks how the test
// main (tb/test_main.cpp) runs them: each case elaborates, so two in one process would fail with
// E529; some fail on purpose; two leave a file in their scratch folder (tb/scratch.h). Without
// SDPA_RUNNER_SELFTEST in the environment every case skips, so a stray run of the binary passes.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <systemc>

#include "tb/scratch.h"

namespace {

void skip_unless_selftest() {
  if (std::getenv("SDPA_RUNNER_SELFTEST") == nullptr) GTEST_SKIP() << "run by tb/test_runner.sh";
}

// A module with one method that runs again a nanosecond later: a real elaboration and simulation.
// A method, as the model's processes are: with an SC_THREAD (SystemC maps its stack itself),
// LeakSanitizer's check at exit crashed in 4 of 10 runs on the CI machine (Linux 6.18, GCC 12:
// "Tracer caught signal 11"); with this method, in none of 10.
struct Waiter : sc_core::sc_module {
  bool ran = false;
  int calls = 0;
  SC_HAS_PROCESS(Waiter);
  explicit Waiter(const sc_core::sc_module_name& name) : sc_core::sc_module(name) {
    SC_METHOD(body);
  }
  void body() {
    if (calls++ == 0)
      next_trigger(1, sc_core::SC_NS);
    else
      ran = true;
  }
};

void elaborate_and_run() {
  Waiter waiter("waiter");
  sc_core::sc_start();
  EXPECT_TRUE(waiter.ran);
}

TEST(Runner, ElaboratesOnce) {
  skip_unless_selftest();
  elaborate_and_run();
}

TEST(Runner, ElaboratesAgainInAnotherProcess) {
  skip_unless_selftest();
  elaborate_and_run();
}

TEST(Runner, FailsAnExpectation) {
  skip_unless_selftest();
  EXPECT_EQ(1 + 1, 3) << "on purpose";
}

TEST(Runner, FailsOnASystemCWarning) {
  skip_unless_selftest();
  SC_REPORT_WARNING("sdpa/selftest", "a warning on purpose");
}

TEST(Runner, Crashes) {
  skip_unless_selftest();
  std::abort();
}

TEST(Runner, Skips) { GTEST_SKIP() << "on purpose"; }

TEST(Runner, PassesLeavingNoScratchFolder) {
  skip_unless_selftest();
  const auto dir = sdpa::test::scratch();
  std::ofstream(dir / "result") << "written";
  std::printf("scratch folder: %s\n", dir.c_str());
}

TEST(Runner, FailsKeepingItsScratchFolder) {
  skip_unless_selftest();
  std::ofstream(sdpa::test::scratch() / "result") << "written";
  ADD_FAILURE() << "on purpose";
}

}  // namespace
