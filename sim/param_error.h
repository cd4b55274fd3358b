// The error of every bad parameter, from the params file, the cost file or a --set.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace sdpa {

// A bad parameter: the message names the file:line:column (or the --set), the key, and what
// was expected.
class ParamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A value as an error quotes it: in quotes, a long one cut short with its length. Header-only, so
// that the .npy reader uses it without the YAML reader.
inline std::string quoted(const std::string& value) {
  constexpr std::size_t kShown = 40;
  if (value.size() <= kShown) return "'" + value + "'";
  return fmt::format("'{}...' ({} characters)", value.substr(0, kShown), value.size());
}

}  // namespace sdpa
