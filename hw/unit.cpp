#include "hw/unit.h"

#include <stdexcept>

namespace sdpa {

Unit::Unit(const sc_core::sc_module_name& name, Timing timing) : sc_module(name), timing_(timing) {
  if (timing_.latency < 1 || timing_.ii < 1)
    throw std::invalid_argument(std::string(this->name()) + ": latency and II must be >= 1");
}

}  // namespace sdpa
