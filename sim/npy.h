// Reading and writing NumPy .npy files (format version 1.0-3.0, little-endian, C order).
#pragma once

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdpa {

// A bad data file or output option (--out, --trace-window, --trace-events): the message names
// the file or option and what was expected.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<float> data;  // converted to fp32
  // float64 only: nonzero values at most half float32's least subnormal, which round to zero.
  std::size_t flushed_to_zero = 0;
  // Of the file's bytes as read, as sha256sum gives it: the digest of the data the run used.
  std::string sha256;
};

// Accepts dtype <f4 or <f8 and a shape of non-negative integers; anything else is an InputError
// naming the file. `check_shape`, if given, sees the shape before any data is read, and may throw.
NpyArray read_npy(const std::string& path,
                  const std::function<void(const std::vector<std::size_t>&)>& check_shape = {});

// The shape in the file's header, checked as read_npy checks it, without reading the data.
std::vector<std::size_t> read_npy_shape(const std::string& path);

// The bytes before a float32 array's data: magic, version, header length, header (padded).
std::string npy_header(const std::vector<std::size_t>& shape);

}  // namespace sdpa
