// What the hardware does, counted as actions in the Accelergy sense: the arithmetic operations of
// the units (here), channel writes and reads and memory bytes (counted by the channels and the
// readers). Energy and area per action live outside hw/ (sim/cost.h, docs/cost.md).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace sdpa {

// The arithmetic operator kinds. A multiply-add is a multiply and an add in one operator (o + p·v);
// a subtract is an add; a max is a compare.
enum class Op : std::size_t { multiply_add, multiply, add, exp, divide, compare };
inline constexpr std::size_t kOpKinds = 6;
inline constexpr std::array<const char*, kOpKinds> kOpNames{"multiply_add", "multiply", "add",
                                                            "exp",          "divide",   "compare"};

// The format of the operator an operation amounts to, as the units compute it (docs/numerics.md,
// docs/cost.md): `compute` when its operands are values on channels and its result is rounded
// onto a channel (fp32 and a rounding is the compute format's operation); `input` for a product
// of two Q/K/V values and `wider` for one of a channel value and a V value (exact in fp32 for
// narrower formats: a multiplier of the input format, or of the wider of the two); `fp32` when an
// operand or the result is a unit's own fp32 state or intermediate (an accumulator, the running
// max's exponent arguments). A multiply-add's format is its multiplier's: its adder accumulates
// into fp32 state in every unit here.
enum class OpFormat : std::size_t { compute, input, wider, fp32 };
inline constexpr std::size_t kOpFormats = 4;
inline constexpr std::array<const char*, kOpFormats> kOpFormatNames{"compute", "input", "wider",
                                                                    "fp32"};

// Operations of one kind and format, counted.
struct OpCount {
  Op op;
  OpFormat format;
  std::uint64_t count;
};

// A count per kind and format: the operators a unit instantiates, or the operations it did.
struct OpCounts {
  std::array<std::array<std::uint64_t, kOpFormats>, kOpKinds> n{};

  OpCounts() = default;
  OpCounts(std::initializer_list<OpCount> counts) {
    for (const OpCount& c : counts) n[std::size_t(c.op)][std::size_t(c.format)] += c.count;
  }
  std::uint64_t at(Op op, OpFormat format) const { return n[std::size_t(op)][std::size_t(format)]; }
  // Of one kind, in any format.
  std::uint64_t operator[](Op op) const {
    std::uint64_t t = 0;
    for (std::uint64_t c : n[std::size_t(op)]) t += c;
    return t;
  }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (std::size_t i = 0; i < kOpKinds; ++i) t += (*this)[Op(i)];
    return t;
  }
  template <class F>
  OpCounts& apply(F f) {
    for (auto& kind : n)
      for (std::uint64_t& c : kind) c = f(c);
    return *this;
  }
  OpCounts& operator+=(const OpCounts& o) {
    for (std::size_t i = 0; i < kOpKinds; ++i)
      for (std::size_t j = 0; j < kOpFormats; ++j) n[i][j] += o.n[i][j];
    return *this;
  }
  friend OpCounts operator+(OpCounts a, const OpCounts& b) { return a += b; }
  friend OpCounts operator*(OpCounts a, std::uint64_t k) {
    return a.apply([k](std::uint64_t c) { return c * k; });
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
