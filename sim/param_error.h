// The error of every bad parameter, from the params file, the cost file or a --set.
#pragma once

#include <stdexcept>

namespace sdpa {

// A bad parameter: the message names the file:line:column (or the --set), the key, and what
// was expected.
class ParamError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sdpa
