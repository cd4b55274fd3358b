// What the hardware does, counted as actions in the Accelergy sense: the arithmetic operations of
// the units (here), channel writes and reads and memory bytes (counted by the channels and the
// readers). Energy and area per action live outside hw/ (sim/cost.h, docs/cost.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <utility>

namespace sdpa {

// The arithmetic operator kinds. A multiply-add is a multiply and an add in one operator (o + p·v);
// a subtract is an add; a max is a compare.
enum class Op : std::size_t { multiply_add, multiply, add, exp, divide, compare };
inline constexpr std::size_t kOpKinds = 6;
inline constexpr std::array<const char*, kOpKinds> kOpNames{"multiply_add", "multiply", "add",
                                                            "exp",          "divide",   "compare"};

// A count of each kind: the operators a unit instantiates, or the operations it did.
struct OpCounts {
  std::array<std::uint64_t, kOpKinds> n{};

  OpCounts() = default;
  OpCounts(std::initializer_list<std::pair<Op, std::uint64_t>> counts) {
    for (const auto& [op, count] : counts) n[std::size_t(op)] += count;
  }
  std::uint64_t operator[](Op op) const { return n[std::size_t(op)]; }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (std::uint64_t c : n) t += c;
    return t;
  }
  OpCounts& operator+=(const OpCounts& o) {
    for (std::size_t i = 0; i < kOpKinds; ++i) n[i] += o.n[i];
    return *this;
  }
  friend OpCounts operator+(OpCounts a, const OpCounts& b) { return a += b; }
  friend OpCounts operator*(OpCounts a, std::uint64_t k) {
    for (std::uint64_t& c : a.n) c *= k;
    return a;
  }
  friend bool operator==(const OpCounts& a, const OpCounts& b) { return a.n == b.n; }
};

// What an operator (a unit's F) declares it computes per call, or nothing if it declares none.
template <class F>
OpCounts operators_of(const F& f) {
  if constexpr (requires { f.operators(); })
    return f.operators();
  else
    return {};
}

}  // namespace sdpa
