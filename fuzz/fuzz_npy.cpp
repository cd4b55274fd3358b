// libFuzzer target for sdpa::read_npy: the input is the file. InputError is the documented outcome
// for a bad file; anything else is a finding, as is an array whose data does not fill its shape.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "fuzz/temp_file.h"
#include "sim/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sdpa::fuzz::TempFile file("input.npy");
  try {
    const sdpa::NpyArray array = sdpa::read_npy(file.write(data, size));
    std::size_t count = 1;
    for (std::size_t n : array.shape) count *= n;
    if (array.data.size() != count) std::abort();
  } catch (const sdpa::InputError&) {
  }
  return 0;
}
