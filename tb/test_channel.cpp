// The channel contract of docs/timing.md on small scripted graphs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hw/channel.h"
#include "hw/scheduler.h"
#include "hw/units/map.h"
#include "tb/elaboration_error.h"

namespace sdpa {
namespace {

using test::elaboration_error;

// Emits 0, 1, 2, ... one per firing.
class Source : public Unit {
 public:
  Out<int> out{"out"};
  Source(const sc_core::sc_module_name& name, Timing timing, int count)
      : Unit(name, timing, RowShape{1, std::size_t(count)}) {}

 private:
  Task body() override {
    for (const Firing& f : firings()) co_await write(out, int(f.index));
  }
};

// Reads `count` elements, recording each ready stamp and the cycle it was taken.
class Recorder : public Unit {
 public:
  In<int> in{"in"};
  std::vector<int> values;
  std::vector<Cycle> ready, taken;
  Recorder(const sc_core::sc_module_name& name, Timing timing, int count)
      : Unit(name, timing, RowShape{1, std::size_t(count)}) {}

 private:
  Task body() override {
    for ([[maybe_unused]] const Firing& f : firings()) {
      values.push_back(co_await read(in));
      ready.push_back(in.ready());
      taken.push_back(cycle());
    }
  }
};

struct Identity {
  static constexpr Timing timing{1, 1};
  int operator()(int x) const { return x; }
};
using Relay = Map<int, int, Identity>;

const Clocking kClock{Mode::synchronized, sc_core::sc_time(1, sc_core::SC_NS)};

// source (L = 1) -> relay (latency L) -> recorder, relay output capacity C.
struct Pipeline {
  Pipeline(unsigned latency, unsigned ii, std::size_t capacity, int count)
      : source("source", {1, 1}, count),
        relay("relay", {latency, ii}, RowShape{std::size_t(count), 1}),
        recorder("recorder", {1, 1}, count),
        a("a", 2, 1, kClock),
        b("b", capacity, 1, kClock),
        scheduler("scheduler", kClock) {
    scheduler.add({&source, &relay, &recorder});
    source.out(a);
    relay.in(a);
    relay.out(b);
    recorder.in(b);
    sc_core::sc_start();
  }
  Source source;
  Relay relay;
  Recorder recorder;
  Channel<int> a, b;
  Scheduler scheduler;
};

TEST(Channel, CapacityLatencyPlusOneSustainsOnePerCycle) {
  constexpr unsigned L = 4;
  constexpr int n = 50;
  Pipeline p(L, 1, L + 1, n);
  // The relay reads element k at k + 1 (source latency 1) and issues it; ready L later.
  for (int k = 0; k < n; ++k) EXPECT_EQ(p.recorder.ready[k], Cycle(k + 1 + L)) << k;
  EXPECT_EQ(p.b.stats().producer_stall_cycles, 0u);
  EXPECT_EQ(p.b.stats().high_water, L + 1);
  EXPECT_EQ(p.b.stats().last_ready, p.recorder.ready.back());
}

TEST(Channel, CapacityLatencyLosesOneCyclePerLPlusOneElements) {
  constexpr unsigned L = 4;
  constexpr int n = 50;
  Pipeline p(L, 1, L, n);
  // Write k + L needs the slot of k, free at ready_k + 1 = issue_k + L + 1: one cycle late
  // (docs/timing.md). The stalled element keeps its due stamp (it waits in the relay's output
  // register), so only the elements after it are late, and the next L write into slots freed in
  // time: elements L, 2L + 1, 3L + 2, … stall, L + 1 elements per L + 2 cycles.
  for (int k = 0; k < n; ++k) EXPECT_EQ(p.recorder.ready[k], Cycle(k + 1 + L + k / (L + 1))) << k;
  EXPECT_EQ(p.b.stats().producer_stall_cycles, Cycle(n / (L + 1)));
  EXPECT_EQ(p.b.stats().high_water, L);
  EXPECT_EQ(p.b.stats().last_ready, p.recorder.ready.back());
  for (int k = 0; k < n; ++k) EXPECT_EQ(p.recorder.values[k], k);
}

TEST(Channel, ExactLatency) {
  Pipeline p(7, 1, 8, 1);
  EXPECT_EQ(p.recorder.ready.at(0), Cycle(1 + 7));
  EXPECT_EQ(p.recorder.taken.at(0), Cycle(1 + 7));
}

TEST(Channel, InitiationIntervalTwoHalvesTheRate) {
  constexpr unsigned L = 3;
  constexpr int n = 40;
  Pipeline p(L, 2, L + 1, n);
  for (int k = 0; k < n; ++k) EXPECT_EQ(p.recorder.ready[k], Cycle(1 + 2 * k + L)) << k;
  // The relay waits for its next issue slot, so every other cycle it finds data early.
  EXPECT_EQ(p.b.stats().producer_stall_cycles, 0u);
}

TEST(Channel, FanOutWritesInBindingOrder) {
  // The source writes `first` then `second`. `first`'s consumer takes 2 elements and stops, so
  // with capacity 1 the source blocks writing element 3 to `first` before writing it to
  // `second`: `second` has received elements 0, 1, 2 and no more.
  Source source("source", {1, 1}, 10);
  Recorder takes_two("takes_two", {1, 1}, 2);
  Recorder takes_all("takes_all", {1, 1}, 10);
  Channel<int> first("first", 1, 1, kClock), second("second", 4, 1, kClock);
  Scheduler scheduler("scheduler", kClock);
  scheduler.add({&source, &takes_two, &takes_all});
  source.out(first);
  source.out(second);
  takes_two.in(first);
  takes_all.in(second);
  sc_core::sc_start();
  EXPECT_EQ(first.stats().writes, 3u);
  EXPECT_EQ(second.stats().writes, 3u);
  EXPECT_EQ(takes_all.values, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(first.blocked_writer(), &source);
  EXPECT_EQ(second.blocked_reader(), &takes_all);
}

class FanOutStall : public testing::TestWithParam<Mode> {};

TEST_P(FanOutStall, ALaterCopyIsNeverReadyBeforeItsWrite) {
  // The source (L = 1) writes `slow` then `fast`, both of capacity 1. `slow`'s reader has
  // II = 10: it takes elements at 1, 11, 21, freeing the slot at 2, 12, 22. The source issues
  // element 1 at 1, stalls on `slow` until 2 (ready max(2, 3) = 3) and writes `fast` at 2;
  // element 2 issues at 3 and stalls on `slow` until 12: written there, both copies are ready
  // at 13, although `fast`'s slot was free since 4 and the element was due at 4.
  const Clocking clocking{GetParam(), sc_core::sc_time(1, sc_core::SC_NS)};
  Source source("source", {1, 1}, 3);
  Recorder slow_reader("slow_reader", {1, 10}, 3);
  Recorder fast_reader("fast_reader", {1, 1}, 3);
  Channel<int> slow("slow", 1, 1, clocking), fast("fast", 1, 1, clocking);
  Scheduler scheduler("scheduler", clocking);
  scheduler.add({&source, &slow_reader, &fast_reader});
  source.out(slow);
  source.out(fast);
  slow_reader.in(slow);
  fast_reader.in(fast);
  sc_core::sc_start();
  EXPECT_EQ(slow_reader.ready, (std::vector<Cycle>{1, 3, 13}));
  EXPECT_EQ(fast_reader.ready, (std::vector<Cycle>{1, 3, 13}));
  EXPECT_EQ(fast_reader.taken, (std::vector<Cycle>{1, 3, 13}));
}

INSTANTIATE_TEST_SUITE_P(Modes, FanOutStall, testing::Values(Mode::synchronized, Mode::decoupled),
                         [](const auto& info) {
                           return info.param == Mode::synchronized ? "synchronized" : "decoupled";
                         });

TEST(Channel, HighWaterAndStallsOnAScriptedScenario) {
  // Source L = 1, II = 1 writes 6 elements at cycles 0..5 into capacity 8; the recorder has
  // II = 3 and takes them at cycles 1, 4, 7, 10, 13, 16, freeing slots at 2, 5, 8, 11, 14, 17.
  // Occupancy at the writes: 1, 2, 2, 3, 4, 4 -> high water 4. The recorder waits one cycle
  // for the first element (ready at 1); nothing else stalls.
  Source source("source", {1, 1}, 6);
  Recorder recorder("recorder", {1, 3}, 6);
  Channel<int> ch("ch", 8, 1, kClock);
  Scheduler scheduler("scheduler", kClock);
  scheduler.add({&source, &recorder});
  source.out(ch);
  recorder.in(ch);
  sc_core::sc_start();
  EXPECT_EQ(recorder.taken, (std::vector<Cycle>{1, 4, 7, 10, 13, 16}));
  const ChannelStats s = ch.stats();
  EXPECT_EQ(s.high_water, 4u);
  EXPECT_EQ(s.writes, 6u);
  EXPECT_EQ(s.consumer_stall_cycles, 1u);
  EXPECT_EQ(s.producer_stall_cycles, 0u);
  EXPECT_EQ(s.capacity, 8u);
  EXPECT_EQ(s.last_ready, 6u);   // written at 5, ready the next cycle
  EXPECT_EQ(s.first_ready, 1u);  // written at 0
}

TEST(Channel, DecoupledModeGivesTheSameStamps) {
  // The recorder of the scripted scenario, with the source far ahead of SystemC time.
  const Clocking decoupled{Mode::decoupled, sc_core::sc_time(1, sc_core::SC_NS)};
  Source source("source", {1, 1}, 6);
  Recorder recorder("recorder", {1, 3}, 6);
  Channel<int> ch("ch", 8, 1, decoupled);
  Scheduler scheduler("scheduler", decoupled);
  scheduler.add({&source, &recorder});
  source.out(ch);
  recorder.in(ch);
  sc_core::sc_start();
  EXPECT_EQ(recorder.taken, (std::vector<Cycle>{1, 4, 7, 10, 13, 16}));
  EXPECT_EQ(ch.stats().high_water, 4u);
  EXPECT_EQ(sc_core::sc_time_stamp(), sc_core::SC_ZERO_TIME);
}

TEST(Scheduler, AUnitNoSchedulerRunsIsAnElaborationError) {
  Source source("source", {1, 1}, 4);
  Recorder recorder("recorder", {1, 1}, 4);
  Channel<int> ch("ch", 2, 1, kClock);
  Scheduler scheduler("scheduler", kClock);
  scheduler.add(source);
  source.out(ch);
  recorder.in(ch);
  EXPECT_NE(elaboration_error([] { sc_core::sc_start(); }).find("is not added to a Scheduler"),
            std::string::npos);
}

TEST(Scheduler, AddingAUnitTwiceIsAnError) {
  Source source("source", {1, 1}, 4);
  Scheduler first("first", kClock), second("second", kClock);
  first.add(source);
  EXPECT_NE(elaboration_error([&] { second.add(source); }).find("added twice"), std::string::npos);
}

}  // namespace
}  // namespace sdpa
