// A reconvergent graph whose bypass cannot hold a row deadlocks, and the run says where at once.
#include <gtest/gtest.h>

#include <chrono>

#include "hw/channel.h"
#include "hw/scheduler.h"
#include "hw/units/map.h"
#include "hw/units/reduce.h"

namespace sdpa {
namespace {

class Scores : public Unit {
 public:
  Out<float> out{"out"};
  Scores(const sc_core::sc_module_name& name, int count)
      : Unit(name, {1, 1}, RowShape{1, std::size_t(count)}) {}

 private:
  Task body() override {
    for (const Firing& f : firings()) co_await write(out, float(f.index % 5));
  }
};

const char* name(Mode mode) { return mode == Mode::synchronized ? "synchronized" : "decoupled"; }

class Deadlock : public testing::TestWithParam<Mode> {};

TEST_P(Deadlock, ShortBypassIsReportedNamingTheFullChannel) {
  // scores -+-> reduce -> row_max -+
  //         +-> bypass (depth 2) ---+-> subtract -> sink: rows of 8 cannot fit the bypass.
  // Both modes stop at once with the same wait-for report.
  const Clocking clock{GetParam(), sc_core::sc_time(1, sc_core::SC_NS)};
  const RowShape shape{4, 8};
  Scores scores("scores", 32);
  RowMax row_max("row_max", {1, 1}, shape);
  Subtract subtract("subtract", {1, 1}, shape);
  Exp sink_side("exp", {1, 1}, shape);
  Channel<float> to_max("to_max", 2, 1, clock), bypass("bypass", 2, 1, clock),
      maxima("maxima", 2, 1, clock), shifted("shifted", 2, 1, clock), out("out", 64, 1, clock);
  Scheduler scheduler("scheduler", clock);
  scheduler.add({&scores, &row_max, &subtract, &sink_side});
  scores.out(to_max);
  scores.out(bypass);
  row_max.in(to_max);
  row_max.out(maxima);
  subtract.operand(maxima);
  subtract.in(bypass);
  subtract.out(shifted);
  sink_side.in(shifted);
  sink_side.out(out);

  const auto start = std::chrono::steady_clock::now();
  sc_core::sc_start();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  EXPECT_FALSE(subtract.finished());
  const auto waits = wait_for_report({&to_max, &bypass, &maxima, &shifted, &out});
  // The source wrote elements 0..2 to the reduction path, 0..1 to the bypass, and blocks on
  // element 2 (issued at cycle 2); row_max took its three and waits for a fourth.
  EXPECT_EQ(waits, (std::vector<std::string>{"row_max at cycle 4 waits to read to_max: empty 0/2",
                                             "scores at cycle 2 waits to write bypass: full 2/2",
                                             "subtract at cycle 0 waits to read maxima: empty 0/2",
                                             "exp at cycle 0 waits to read shifted: empty 0/2"}));
}

INSTANTIATE_TEST_SUITE_P(Modes, Deadlock, testing::Values(Mode::synchronized, Mode::decoupled),
                         [](const testing::TestParamInfo<Mode>& info) { return name(info.param); });

}  // namespace

void PrintTo(Mode mode, std::ostream* os) { *os << name(mode); }

}  // namespace sdpa
