#include "sim/messages.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>

namespace sdpa {

std::string one_line(std::string_view message) {
  const auto invisible = [](char32_t c) {
    return (c >= 0x80 && c <= 0xa0) || c == 0xad || (c >= 0x2000 && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f) || c == 0x3000 ||
           c == 0xfeff;
  };
  std::string line;
  for (std::size_t i = 0; i < message.size();) {
    const auto b = static_cast<unsigned char>(message[i]);
    if (b == '\n') {
      line += "\\n";
      ++i;
      continue;
    }
    if (b < 0x20 || b == 0x7f) {
      line += fmt::format("\\x{:02x}", b);
      ++i;
      continue;
    }
    const std::size_t n = b < 0x80         ? 1
                          : (b >> 5) == 6  ? 2
                          : (b >> 4) == 14 ? 3
                          : (b >> 3) == 30 ? 4
                                           : 0;
    // A sequence is UTF-8 if its bytes continue it and it decodes to a code point that is no
    // surrogate, is at most U+10FFFF and needs its length (no overlong form such as C0 AF).
    bool utf8 = n != 0 && i + n <= message.size();
    char32_t c = n == 1 ? b : b & (0x7f >> n);
    for (std::size_t k = 1; utf8 && k < n; ++k) {
      const auto next = static_cast<unsigned char>(message[i + k]);
      utf8 = (next & 0xc0) == 0x80;
      c = (c << 6) | (next & 0x3f);
    }
    constexpr char32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (!utf8 || c < least[n] || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) {
      line += fmt::format("\\x{:02x}", b);
      ++i;
      continue;
    }
    if (invisible(c))
      line += fmt::format("\\u{{{:04x}}}", static_cast<std::uint32_t>(c));
    else
      line.append(message.substr(i, n));
    i += n;
  }
  return line;
}

void note(std::string_view message) {
  // One write, so that a note from the pipe-wait thread does not interleave with another.
  std::fputs(fmt::format("sdpa-sim: note: {}\n", one_line(message)).c_str(), stderr);
}

}  // namespace sdpa
