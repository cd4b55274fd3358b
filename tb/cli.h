// Runs the real sdpa-sim binary for end-to-end tests.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw/attention.h"
#include "sim/npy.h"
#include "tb/scratch.h"

namespace sdpa::test {

struct SimRun {
  int status = -1;
  std::string out, err;
};

// A float32 .npy file of `data` in `shape`: a test's input.
inline void write_npy(const std::string& path, const std::vector<float>& data,
                      const std::vector<std::size_t>& shape) {
  std::ofstream out(path, std::ios::binary);
  out << npy_header(shape);
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * sizeof(float)));
  if (!out) throw std::runtime_error(path + ": cannot write the file");
}

// A file's text; one that cannot be read fails the test (two missing files would compare equal).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) ADD_FAILURE() << "cannot read " << p.string();
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A path as one shell word (the tests' paths hold no quote), and the --out option naming one.
inline std::string shell_word(const std::filesystem::path& p) {
  return fmt::format("'{}'", p.string());
}
inline std::string out_arg(const std::filesystem::path& dir) {
  return fmt::format(" --out {}", shell_word(dir));
}

// `in`'s Q, K and V as q.npy, k.npy and v.npy in `dir`, Q of `q_shape` and K and V of
// `kv_shape`; returns the --set options that name them, each followed by a space.
inline std::string write_inputs(const std::filesystem::path& dir, const AttentionInputs& in,
                                const std::vector<std::size_t>& q_shape,
                                const std::vector<std::size_t>& kv_shape) {
  std::string sets;
  for (const auto& [name, values] : {std::pair{"q", &in.q}, {"k", &in.k}, {"v", &in.v}}) {
    const std::filesystem::path file = dir / (std::string(name) + ".npy");
    write_npy(file.string(), *values, name[0] == 'q' ? q_shape : kv_shape);
    sets += fmt::format("--set inputs.{}={} ", name, shell_word(file));
  }
  return sets;
}

// A shell command's exit status (-1: killed by a signal).
inline int shell(const std::string& cmd) {
  const int raw = std::system(cmd.c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

// `args` is appended to the simulator's path as shell words; runs from the source tree.
inline SimRun sim(const std::string& args, const std::filesystem::path& dir) {
  const std::string cmd = "cd '" SDPA_SOURCE_DIR "' && timeout 300 '" SDPA_SIM "' " + args + " >'" +
                          (dir / "stdout").string() + "' 2>'" + (dir / "stderr").string() + "'";
  SimRun r;
  r.status = shell(cmd);
  r.out = slurp(dir / "stdout");
  r.err = slurp(dir / "stderr");
  return r;
}

// Runs the simulator from the folder `cwd` through `prefix` (a command that runs it, or none);
// its output in `dir`/stdout and stderr.
inline SimRun sim_in(const std::filesystem::path& cwd, const std::string& args,
                     const std::filesystem::path& dir, const std::string& prefix = "",
                     const std::filesystem::path& binary = SDPA_SIM) {
  SimRun r;
  r.status =
      shell("cd " + shell_word(cwd) + " && " + prefix + "timeout 60 " + shell_word(binary) + " " +
            args + " >" + shell_word(dir / "stdout") + " 2>" + shell_word(dir / "stderr"));
  r.out = slurp(dir / "stdout");
  r.err = slurp(dir / "stderr");
  return r;
}

inline std::filesystem::path write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p;
}

// A refusal: exit 2 and one line on stderr naming each of `needles` and none of `absent`.
inline void expect_error(const SimRun& r, const std::vector<std::string>& needles,
                         const std::vector<std::string>& absent = {}) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  for (const std::string& n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << n << " in " << r.err;
  for (const std::string& n : absent)
    EXPECT_EQ(r.err.find(n), std::string::npos) << n << " in " << r.err;
}

}  // namespace sdpa::test
