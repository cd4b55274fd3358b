// Units as straight-line coroutines: locals survive a blocked operation, a unit may loop on its
// own count, running shallow channels' readers in place changes no result, and a graph's wiring
// mistakes are elaboration errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hw/graph.h"
#include "hw/units/map.h"
#include "tb/elaboration_error.h"
#include "tb/feeds.h"

namespace sdpa {
namespace {

using Feed = test::Feed<int>;
using Collect = test::Collect<int>;
using test::elaboration_error;

// Per firing: a header h into a local, then a payload x; emits x + h. The payload read blocks
// after the header was taken (the payload's feed is slow), so h must survive the suspension.
class AddHeader : public Unit {
 public:
  static constexpr Timing default_timing{1, 1};
  In<int> headers{"headers"};
  In<int> payloads{"payloads"};
  Out<int> out{"out"};
  AddHeader(const sc_core::sc_module_name& name, Timing timing, std::size_t count)
      : Unit(name, timing, RowShape{1, count}) {}

 private:
  Task body() override {
    for ([[maybe_unused]] const Firing& f : firings()) {
      const int h = co_await read(headers);
      const int x = co_await read(payloads);
      co_await write(out, x + h);
    }
  }
};

// Reads a count n, then passes n elements on, one firing each: a loop of its own, not a shape.
class CountedRelay : public Unit {
 public:
  static constexpr Timing default_timing{2, 1};
  In<int> counts{"counts"};
  In<int> in{"in"};
  Out<int> out{"out"};
  using Unit::Unit;

 private:
  Task body() override {
    const int n = co_await read(counts);
    for (int i = 0; i < n; ++i) {
      const int x = co_await read(in);
      co_await write(out, x);
      next_firing();
    }
  }
};

class Coroutines : public testing::TestWithParam<Mode> {
 protected:
  GraphConfig config() const {
    GraphConfig c;
    c.clocking.mode = GetParam();
    return c;
  }
};

const char* name(Mode mode) { return mode == Mode::synchronized ? "synchronized" : "decoupled"; }

// A graph built in its constructor, as every datapath is.
// (The module name is a parameter: it must live until the constructor ends, or the units made
// in it would not be the graph's children.)
struct HeaderGraph : Graph {
  explicit HeaderGraph(const GraphConfig& config, const sc_core::sc_module_name& name = "g")
      : Graph(name, config, 1),
        headers(unit<Feed>("header_feed", std::vector<int>{0, 1, 2})),
        payloads(unit<Feed>("payload_feed", std::vector<int>{10, 20, 30})),
        add(unit<AddHeader>("add", 3)),
        collect(unit<Collect>("collect", 3)) {
    connect(headers.out, add.headers, "headers");
    connect(payloads.out, add.payloads, "payloads", Depth::exactly(1));
    connect(add.out, collect.in, "sums");
  }
  Feed& headers;
  Feed& payloads;
  AddHeader& add;
  Collect& collect;
};

TEST_P(Coroutines, ALocalReadBeforeABlockedReadSurvivesIt) {
  GraphConfig c = config();
  c.timings["payload_feed"] = {1, 7};  // the payloads arrive slowly: the unit blocks on them
  HeaderGraph g(c);
  sc_core::sc_start();
  EXPECT_EQ(g.collect.values, (std::vector<int>{10, 21, 32}));
  // Firing k reads the payload ready at 7k + 1 and writes it due one cycle later.
  EXPECT_EQ(g.collect.cycle(), Cycle(7 * 2 + 2 + 1));
}

struct CountedGraph : Graph {
  explicit CountedGraph(const GraphConfig& config, const sc_core::sc_module_name& name = "g")
      : Graph(name, config, 1),
        count(unit<Feed>("count", std::vector<int>{4})),
        feed(unit<Feed>("feed", std::vector<int>{5, 6, 7, 8})),
        relay(unit<CountedRelay>("relay", RowShape{})),
        collect(unit<Collect>("collect", 4)) {
    connect(count.out, relay.counts, "counts");
    connect(feed.out, relay.in, "elements", Depth::exactly(1));
    connect(relay.out, collect.in, "relayed");
  }
  Feed& count;
  Feed& feed;
  CountedRelay& relay;
  Collect& collect;
};

TEST_P(Coroutines, AUnitLoopingOnItsOwnCountFinishes) {
  CountedGraph g(config());
  sc_core::sc_start();
  EXPECT_EQ(g.collect.values, (std::vector<int>{5, 6, 7, 8}));
  EXPECT_TRUE(g.relay.finished());
  EXPECT_EQ(g.relay.firings_done(), 4u);
  // Depth 1 and the feed's latency 1: one element every 2 cycles; the relay adds 2.
  EXPECT_EQ(g.collect.cycle(), Cycle(1 + 2 * 3 + 2 + 1));
}

// Two AddHeader units in a chain of channels 2 and 1 deep, the second unit's headers slow: in
// decoupled mode a writer finding such a channel full runs its reader in place, which may run its
// own reader in place in turn (Scheduler::run_now), and the second unit runs out of headers
// mid-nest: their feed, woken there, runs only once the outermost unit suspends.
struct ChainGraph : Graph {
  explicit ChainGraph(const GraphConfig& config, const sc_core::sc_module_name& name = "g")
      : Graph(name, config, 1),
        payloads(unit<Feed>("payload_feed", std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8})),
        first_headers(unit<Feed>("first_header_feed", std::vector<int>(8, 100))),
        second_headers(
            unit<Feed>("second_header_feed", std::vector<int>{0, 10, 20, 30, 40, 50, 60, 70})),
        first(unit<AddHeader>("first", 8)),
        second(unit<AddHeader>("second", 8)),
        collect(unit<Collect>("collect", 8)) {
    connect(payloads.out, first.payloads, "payloads", Depth::exactly(2));
    connect(first_headers.out, first.headers, "first_headers");
    connect(first.out, second.payloads, "firsts", Depth::exactly(2));
    connect(second_headers.out, second.headers, "second_headers");
    connect(second.out, collect.in, "seconds", Depth::exactly(1));
  }
  Feed& payloads;
  Feed& first_headers;
  Feed& second_headers;
  AddHeader& first;
  AddHeader& second;
  Collect& collect;
};

TEST_P(Coroutines, ShallowChannelsInAChainKeepValuesAndCycles) {
  GraphConfig c = config();
  c.timings["second_header_feed"] = {1, 3};  // header k ready at 3k + 1: the chain's pace
  ChainGraph g(c);
  sc_core::sc_start();
  EXPECT_EQ(g.collect.values, (std::vector<int>{101, 112, 123, 134, 145, 156, 167, 178}));
  // For k ≥ 1 the first unit's result k is ready before 3k + 1 (its 2 slots free up as the
  // second reads), so the second issues firing k at 3k + 1, due a cycle later, when the collector
  // reads it: the last at 3·7 + 2.
  EXPECT_EQ(g.collect.cycle(), Cycle(3 * 7 + 2 + 1));
  for (const Unit* u : {static_cast<const Unit*>(&g.first), static_cast<const Unit*>(&g.second)})
    EXPECT_TRUE(u->finished()) << u->name();
  // Results never show it: that the readers did run in place is the scheduler's count.
  if (GetParam() == Mode::decoupled)
    EXPECT_GT(g.scheduler().runs_in_place(), 0u);
  else
    EXPECT_EQ(g.scheduler().runs_in_place(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, Coroutines, testing::Values(Mode::synchronized, Mode::decoupled),
                         [](const testing::TestParamInfo<Mode>& info) { return name(info.param); });

TEST(Graph, AnUnboundPortIsAnElaborationError) {
  struct Unbound : Graph {
    explicit Unbound(const sc_core::sc_module_name& name = "unbound")
        : Graph(name, GraphConfig{}, 1) {
      auto& feed = unit<Feed>("feed", std::vector<int>{1});
      unit<Collect>("collect", 1);  // its input is never connected
      auto& other = unit<Collect>("other", 1);
      connect(feed.out, other.in, "ok");
    }
  } g;
  // Found once the graph is built, naming the port, before any simulation.
  EXPECT_NE(
      elaboration_error([&] { g.require_connected(); }).find("unbound.collect.in is not connected"),
      std::string::npos);
  EXPECT_NE(elaboration_error([] { sc_core::sc_start(); }).find("port not bound"),
            std::string::npos);
}

// Constructed directly, a unit is the graph's child but unscheduled and unconfigured, and --check
// passed it: only the run's start found it ("not added to a Scheduler", or an unbound port).
TEST(Graph, AUnitNotMadeWithUnitIsAnElaborationError) {
  struct Stray : Graph {
    explicit Stray(const sc_core::sc_module_name& name = "strays")
        : Graph(name, GraphConfig{}, 1), stray("stray", Timing{}, 1) {
      auto& feed = unit<Feed>("feed", std::vector<int>{1});
      connect(feed.out, stray.in, "to_stray");
    }
    Collect stray;
  } g;
  EXPECT_NE(elaboration_error([&] {
              g.require_connected();
            }).find("strays.stray was not made with unit<U>(name, ...)"),
            std::string::npos);
}

TEST(Graph, ConnectingAnOutputTwiceIsAnError) {
  const std::string error = elaboration_error([] {
    struct Twice : Graph {
      explicit Twice(const sc_core::sc_module_name& name = "twice")
          : Graph(name, GraphConfig{}, 1) {
        auto& feed = unit<Feed>("feed", std::vector<int>{1});
        auto& a = unit<Collect>("a", 1);
        auto& b = unit<Collect>("b", 1);
        connect(feed.out, a.in, "to_a");
        connect(feed.out, b.in, "to_b");
      }
    } g;
  });
  EXPECT_NE(error.find("twice.feed.out is connected twice"), std::string::npos) << error;
}

// SystemC would rename the second object, and its parameter keys with it, with only a warning.
TEST(Graph, ANameTakenTwiceIsAnError) {
  const std::string error = elaboration_error([] {
    struct Clash : Graph {
      explicit Clash(const sc_core::sc_module_name& name = "clash")
          : Graph(name, GraphConfig{}, 1) {
        scope("lane0", [&] {
          auto& feed = unit<Feed>("feed", std::vector<int>{1});
          auto& collect = unit<Collect>("collect", 1);
          connect(feed.out, collect.in, "collect");
        });
      }
    } g;
  });
  EXPECT_NE(error.find("clash.lane0.collect is named twice"), std::string::npos) << error;
}

TEST(Graph, ANameOfTheGraphsOwnIsTaken) {
  const std::string error = elaboration_error([] {
    struct Clash : Graph {
      explicit Clash(const sc_core::sc_module_name& name = "clash")
          : Graph(name, GraphConfig{}, 1) {
        unit<Feed>("scheduler", std::vector<int>{1});
      }
    } g;
  });
  EXPECT_NE(error.find("clash.scheduler is named twice"), std::string::npos) << error;
}

TEST(Graph, DepthRulesAndConfiguredDepths) {
  struct Chain : Graph {
    explicit Chain(const GraphConfig& config, const sc_core::sc_module_name& name = "chain")
        : Graph(name, config, 1) {
      auto& feed = unit<Feed>("feed", std::vector<int>{1, 2});
      auto& relay = unit<CountedRelay>("relay", RowShape{});
      auto& counts = unit<Feed>("counts", std::vector<int>{2});
      auto& collect = unit<Collect>("collect", 2);
      plain = &connect(feed.out, relay.in, "plain");
      bypass = &connect(counts.out, relay.counts, "bypass", Depth::row_plus(10, {&feed, &relay}));
      configured = &connect(relay.out, collect.in, "configured");
    }
    ChannelBase* plain = nullptr;
    ChannelBase* bypass = nullptr;
    ChannelBase* configured = nullptr;
  };
  GraphConfig c;
  c.timings["feed"] = {3, 1};
  c.depths["configured"] = 7;
  Chain g(c);
  EXPECT_EQ(g.plain->capacity(), 4u);            // the feed's latency + 1
  EXPECT_EQ(g.bypass->capacity(), 10u + 3 + 2);  // a row + the feed's and the relay's latencies
  EXPECT_EQ(g.configured->capacity(), 7u);
  EXPECT_EQ(g.used_depth_keys(), (std::set<std::string>{"configured"}));
  EXPECT_EQ(g.used_timing_keys(), (std::set<std::string>{"feed"}));
  EXPECT_EQ(g.default_timings().at("relay"), (Timing{2, 1}));
  sc_core::sc_start();
}

}  // namespace
}  // namespace sdpa
