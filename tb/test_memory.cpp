// The TLM-2.0 memory and a stream reader: row order, link bandwidth and latency, and the same
// timing through the direct memory interface as through b_transport.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "hw/memory.h"
#include "hw/scheduler.h"
#include "hw/units/stream_reader.h"

namespace sdpa {
namespace {

// Takes every row of a stream, recording its ready stamp and contents.
class RowRecorder : public Unit {
 public:
  In<RowView> rows{"rows"};
  std::vector<Cycle> ready;
  std::vector<Row> taken;
  std::vector<RowView> views;  // as received, to check after the run that they still hold
  RowRecorder(const sc_core::sc_module_name& name, std::size_t count)
      : Unit(name, Timing{}, RowShape{1, count}) {}

 private:
  Task body() override {
    for ([[maybe_unused]] const Firing& f : firings()) {
      const RowView row = co_await read(rows);
      ready.push_back(rows.ready());
      taken.emplace_back(row.begin(), row.end());
      views.push_back(row);
    }
  }
};

constexpr std::size_t kHeads = 2, kRows = 3, kPasses = 2, kDim = 8;
constexpr unsigned kLatency = 5;
// A row is 32 bytes: two beats of a 16-byte link.
constexpr MemoryTiming kMemory{kLatency, 16};
const sc_core::sc_time kPeriod(1, sc_core::SC_NS);

// Row r of head h holds h·100 + r·10 + c in column c.
std::shared_ptr<const std::vector<std::uint8_t>> image() {
  std::vector<float> values;
  for (std::size_t h = 0; h < kHeads; ++h)
    for (std::size_t r = 0; r < kRows; ++r)
      for (std::size_t c = 0; c < kDim; ++c) values.push_back(float(h * 100 + r * 10 + c));
  auto bytes = std::make_shared<std::vector<std::uint8_t>>(values.size() * sizeof(float));
  std::memcpy(bytes->data(), values.data(), bytes->size());
  return bytes;
}

// A memory, a reader with a deep output channel (no backpressure), and a recorder.
struct Stream {
  Stream(const char* name, bool dmi, const Clocking& clocking)
      : memory((std::string(name) + "_memory").c_str(), kLatency, kPeriod, dmi),
        reader((std::string(name) + "_reader").c_str(), Timing{},
               StreamPattern{.shape = RowShape{kHeads * kPasses, kRows},
                             .blocks = kHeads,
                             .block_rows = kRows,
                             .head_dim = kDim,
                             .rows_per_block = kPasses},
               kPeriod, kMemory),
        recorder((std::string(name) + "_recorder").c_str(), kHeads * kPasses * kRows),
        rows((std::string(name) + "_rows").c_str(), 64, kDim, clocking),
        scheduler((std::string(name) + "_scheduler").c_str(), clocking) {
    memory.load(image());
    reader.socket.bind(memory.socket);
    reader.rows(rows);
    recorder.rows(rows);
    scheduler.add({&reader, &recorder});
  }
  Memory memory;
  StreamReader reader;
  RowRecorder recorder;
  Channel<RowView> rows;
  Scheduler scheduler;
};

void expect_rows_and_timing(const Stream& s) {
  const std::size_t n = kHeads * kPasses * kRows;
  ASSERT_EQ(s.recorder.taken.size(), n);
  for (std::size_t k = 0; k < n; ++k) {
    // Each head's block twice, in order; the link admits a request every two cycles, and the
    // last beat arrives latency + 1 cycles after it.
    const std::size_t h = k / (kPasses * kRows), r = k % kRows;
    EXPECT_EQ(s.recorder.taken[k][3], float(h * 100 + r * 10 + 3)) << k;
    // A consumer may keep a row it read (the dot product keeps its query row for N firings).
    EXPECT_EQ(Row(s.recorder.views[k].begin(), s.recorder.views[k].end()), s.recorder.taken[k])
        << k;
    EXPECT_EQ(s.recorder.ready[k], Cycle(2 * k + kLatency + 1)) << k;
  }
}

void run_both_paths(Mode mode) {
  const Clocking clocking{mode, kPeriod};
  Stream direct("direct", true, clocking), transported("transported", false, clocking);
  sc_core::sc_start();
  expect_rows_and_timing(direct);
  expect_rows_and_timing(transported);
  // The first read asks through b_transport, which offers DMI; the rest use the pointer.
  EXPECT_EQ(direct.memory.transports(), 1u);
  EXPECT_EQ(transported.memory.transports(), kHeads * kPasses * kRows);
}

TEST(Memory, DmiAndTransportTimeTheSameDecoupled) { run_both_paths(Mode::decoupled); }

TEST(Memory, DmiAndTransportTimeTheSameSynchronized) { run_both_paths(Mode::synchronized); }

}  // namespace
}  // namespace sdpa
