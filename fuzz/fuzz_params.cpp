// libFuzzer target for sdpa::load_params. The input up to the first NUL byte is the params file;
// each further NUL-separated piece is one --set string (a command-line argument holds no NUL).
// ParamError is the documented outcome for bad parameters; anything else is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/temp_file.h"
#include "sim/params.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sdpa::fuzz::TempFile file("params.yaml");
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t yaml_end = std::min(input.find('\0'), input.size());
  std::vector<std::string> sets;
  for (std::size_t begin = yaml_end; begin < input.size();) {
    const std::size_t end = std::min(input.find('\0', begin + 1), input.size());
    sets.push_back(input.substr(begin + 1, end - begin - 1));
    begin = end;
  }
  try {
    // sdpa-sim writes every accepted parameter set back out with to_yaml.
    sdpa::to_yaml(sdpa::load_params(file.write(data, yaml_end), sets));
  } catch (const sdpa::ParamError&) {
  }
  return 0;
}
