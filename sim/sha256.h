// SHA-256 (FIPS 180-4), for the digests a report records of the files a run read: equal to
// `sha256sum`'s, so a user checks them with standard tools. None of the project's libraries hashes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sdpa {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view bytes);
  // The digest in lower-case hex; the object is spent after it.
  std::string hex();

 private:
  void compress(const unsigned char* block);

  std::array<std::uint32_t, 8> state_;
  std::array<unsigned char, 64> block_{};
  std::size_t used_ = 0;      // bytes in block_
  std::uint64_t length_ = 0;  // bytes hashed
};

std::string sha256_hex(std::string_view bytes);

}  // namespace sdpa
