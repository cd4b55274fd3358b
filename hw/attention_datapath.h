// What the naive and reordered SDPA datapaths share: the memory with Q, K, V, the three stream
// readers, the scaled dot product and the sink; plus channel construction and bookkeeping.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hw/channel.h"
#include "hw/memory.h"
#include "hw/scheduler.h"
#include "hw/units/map.h"
#include "hw/units/sink.h"
#include "hw/units/stream_reader.h"

namespace sdpa {

// Q, K, V as row-major [heads, seq_len, head_dim] fp32 arrays.
struct AttentionInputs {
  std::size_t heads = 1;
  std::size_t seq_len = 0;
  std::size_t head_dim = 0;
  std::vector<float> q, k, v;
};

struct DatapathConfig {
  Clocking clocking;
  sc_core::sc_trace_file* trace = nullptr;  // traces channel occupancy (synchronized mode)
  MemoryTiming memory;
  std::map<std::string, Timing> units;        // by unit name; a unit not listed gets Timing{}
  std::size_t default_depth = 0;              // 0: every channel gets its automatic depth
  std::map<std::string, std::size_t> depths;  // by channel name, over both of the above
};

class AttentionDatapath : public sc_core::sc_module {
 public:
  const std::vector<ChannelBase*>& channels() const { return channels_; }
  const std::vector<Unit*>& units() const { return units_; }
  const Sink& sink() const { return sink_; }
  // The stream readers' output buffers: sized by memory latency, the same in every datapath.
  bool is_input_stream(const ChannelBase* ch) const {
    return ch == &q_rows_ || ch == &k_rows_ || ch == &v_rows_;
  }
  // The same by channel name, before any datapath is built.
  static bool is_input_stream(const std::string& channel) {
    return channel == "q_rows" || channel == "k_rows" || channel == "v_rows";
  }

 protected:
  AttentionDatapath(const sc_core::sc_module_name& name, const DatapathConfig& config,
                    const AttentionInputs& inputs);

  Timing timing(const std::string& unit) const;
  // Latency of a stream reader's rows: memory latency plus the beats of one row.
  unsigned reader_latency() const;
  template <class T>
  Channel<T>& channel(const char* name, std::size_t automatic_depth) {
    auto owned =
        std::make_unique<Channel<T>>(name, depth(name, automatic_depth),
                                     element_width<T>(head_dim_), config_.clocking, config_.trace);
    Channel<T>& ref = *owned;
    channels_.push_back(&ref);
    owned_.push_back(std::move(owned));
    return ref;
  }
  void add_units(std::initializer_list<Unit*> units) {
    units_.insert(units_.end(), units);
    scheduler_.add(units);
  }

  const DatapathConfig config_;
  const std::size_t head_dim_;
  const RowShape shape_;
  std::vector<ChannelBase*> channels_;
  std::vector<Unit*> units_;
  std::vector<std::unique_ptr<ChannelBase>> owned_;

  Scheduler scheduler_;
  Memory memory_;
  StreamReader q_reader_;
  StreamReader k_reader_;
  StreamReader v_reader_;
  DotProduct dot_product_;
  Sink sink_;
  Channel<RowView>& q_rows_;
  Channel<RowView>& k_rows_;
  Channel<RowView>& v_rows_;

 private:
  std::size_t depth(const std::string& channel, std::size_t automatic_depth) const;
};

}  // namespace sdpa
