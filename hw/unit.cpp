#include "hw/unit.h"

#include <algorithm>
#include <stdexcept>

#include "hw/channel.h"
#include "hw/scheduler.h"

namespace sdpa {

Unit::Unit(const sc_core::sc_module_name& name, Timing timing, RowShape shape)
    : sc_module(name), timing_(timing), shape_(shape) {
  if (timing_.latency < 1 || timing_.ii < 1)
    throw std::invalid_argument(std::string(this->name()) + ": latency and II must be >= 1");
}

void Unit::watch(sc_core::sc_trace_file* waveform, TraceWindow window) {
  trace_ = std::make_unique<UnitTrace>();
  trace_->window = window;
  if (waveform != nullptr) {
    trace_->waveform = true;
    sc_core::sc_trace(waveform, trace_->state, std::string(name()) + ".state");
  }
}

Cycle Unit::rows_begun() const {
  // The firings go row by row: the first fired_ of them fall in the rows they reach.
  Cycle begun = 0, firings = 0;
  for (std::size_t row = 0; row < shape_.rows && firings < fired_; ++row)
    if (const std::size_t len = shape_.row_length(row); len != 0) {
      firings += len;
      ++begun;
    }
  return begun;
}

void Unit::end_of_elaboration() {
  if (scheduler_ == nullptr)
    SC_REPORT_ERROR(name(), "is not added to a Scheduler: it would not run");
  const std::vector<sc_core::sc_object*>& children = get_child_objects();
  source_ = std::none_of(children.begin(), children.end(), [](const sc_core::sc_object* child) {
    return dynamic_cast<const InputPort*>(child) != nullptr;
  });
  // The body starts suspended: creating it runs nothing until the scheduler resumes it.
  task_ = body();
}

}  // namespace sdpa
