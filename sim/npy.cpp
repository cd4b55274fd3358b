#include "sim/npy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string_view>

#include "sim/param_error.h"
#include "sim/sha256.h"

namespace sdpa {
namespace {

const char kMagic[] = "\x93NUMPY";

// The header: a Python dict literal of exactly the keys 'descr', 'fortran_order' and 'shape'
// (as numpy requires), each once (numpy would take the last of two silently), then padding. The
// values are kept as text: a quoted string, a word (True, False) or a bracketed literal, a list
// of fields for a structured dtype. Parsed by hand, not with std::regex, which recurses once per
// character and overflows the stack on a header of some 30 KB, which the format allows; quoted
// text is skipped as a whole, so that no key is found inside a value.
struct Header {
  std::string descr, fortran_order, shape;
};

// The first position from `at` that is not Python whitespace.
std::size_t past_space(const std::string& text, std::size_t at) {
  while (at < text.size() && (text[at] == ' ' || (text[at] >= '\t' && text[at] <= '\r'))) ++at;
  return at;
}

std::string parse_header(const std::string& text, Header& header) {
  std::size_t at = 0;
  const auto skip_space = [&] { at = past_space(text, at); };
  // The end of the quoted text starting at `at` (past its closing quote), or npos.
  const auto end_of_string = [&](std::size_t from) {
    for (std::size_t i = from + 1; i < text.size(); ++i) {
      if (text[i] == '\\')
        ++i;
      else if (text[i] == text[from])
        return i + 1;
    }
    return std::string::npos;
  };
  const auto value_end = [&]() -> std::size_t {
    if (at >= text.size()) return std::string::npos;
    if (text[at] == '\'' || text[at] == '"') return end_of_string(at);
    if (text[at] == '(' || text[at] == '[' || text[at] == '{') {
      int depth = 0;
      for (std::size_t i = at; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\'' || c == '"') {
          i = end_of_string(i);
          if (i == std::string::npos) return i;
          --i;
        } else if (c == '(' || c == '[' || c == '{') {
          ++depth;
        } else if ((c == ')' || c == ']' || c == '}') && --depth == 0) {
          return i + 1;
        }
      }
      return std::string::npos;
    }
    std::size_t i = at;
    while (i < text.size() &&
           (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_' || text[i] == '.' ||
            text[i] == '-' || text[i] == '+'))
      ++i;
    return i == at ? std::string::npos : i;
  };
  skip_space();
  if (at >= text.size() || text[at] != '{') return "expected a dict";
  ++at;
  std::set<std::string> seen;
  for (;;) {
    skip_space();
    if (at < text.size() && text[at] == '}') break;
    if (at >= text.size() || (text[at] != '\'' && text[at] != '"')) return "expected a quoted key";
    const std::size_t key_end = end_of_string(at);
    if (key_end == std::string::npos) return "unterminated key";
    const std::string key = text.substr(at + 1, key_end - at - 2);
    at = key_end;
    std::string* field = key == "descr"           ? &header.descr
                         : key == "fortran_order" ? &header.fortran_order
                         : key == "shape"         ? &header.shape
                                                  : nullptr;
    const std::string shown = quoted(key);
    if (field == nullptr)
      return fmt::format("unexpected key {}, expected 'descr', 'fortran_order' and 'shape'", shown);
    if (!seen.insert(key).second) return fmt::format("key {} given twice", shown);
    skip_space();
    if (at >= text.size() || text[at] != ':') return fmt::format("expected ':' after {}", shown);
    ++at;
    skip_space();
    const std::size_t end = value_end();
    if (end == std::string::npos) return fmt::format("no value for {}", shown);
    *field = text.substr(at, end - at);
    at = end;
    skip_space();
    if (at < text.size() && text[at] == ',') {
      ++at;
      continue;
    }
    if (at >= text.size() || text[at] != '}') return "expected ',' or '}'";
    break;
  }
  ++at;
  skip_space();
  if (at != text.size()) return "text after the dict";
  for (const char* key : {"descr", "fortran_order", "shape"})
    if (seen.count(key) == 0) return fmt::format("no '{}'", key);
  return {};
}

// The header's shape, a Python tuple of integers: "()", "(3,)", "(3, 4)" or "(3, 4,)"; anything
// else is not `valid`. A dimension too large for size_t reads as SIZE_MAX.
struct Shape {
  std::vector<std::size_t> dims;
  bool valid = false;
  bool negative = false;
};

Shape parse_shape(const std::string& text) {
  Shape shape;
  std::size_t at = 1;  // past '(': the header's shape is the text from '(' to ')'
  const auto skip_space = [&] { at = past_space(text, at); };
  for (;;) {
    skip_space();
    if (at >= text.size()) return shape;
    if (text[at] == ')') break;
    if (text[at] == '-') {
      shape.negative = true;
      ++at;
    }
    const std::size_t begin = at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    if (at == begin) return shape;
    std::size_t n = 0;  // from_chars, unlike stoull, reports a number too large without throwing
    if (std::from_chars(text.data() + begin, text.data() + at, n).ec != std::errc())
      n = std::numeric_limits<std::size_t>::max();
    shape.dims.push_back(n);
    skip_space();
    if (at < text.size() && text[at] == ',') {
      ++at;
      continue;
    }
    // One element needs its comma: "(3)" is not a tuple.
    if (at >= text.size() || text[at] != ')' || shape.dims.size() == 1) return shape;
    break;
  }
  shape.valid = at + 1 == text.size();
  return shape;
}

}  // namespace

NpyArray read_npy(const std::string& path,
                  const std::function<void(const std::vector<std::size_t>&)>& check_shape) {
  auto fail = [&](const std::string& what) {
    return InputError(fmt::format("{}: {}", path, what));
  };
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw fail("is a folder, expected a .npy file");
  // An input is read twice (its header, then its data once the run is checked) and again by the
  // checks' child runs, and params.yaml names it for a rerun: a pipe could be read once.
  if (std::filesystem::exists(path, error) && !std::filesystem::is_regular_file(path, error))
    throw fail(
        "not a regular file (a pipe or a device): params.yaml names each input for reruns, which "
        "read it again; expected a .npy file");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw fail(fmt::format("cannot open the file: {}", std::strerror(errno != 0 ? errno : EIO)));
  // Every byte read is hashed as it is read: a file replaced after the run read it cannot give
  // the report another digest.
  Sha256 digest;
  auto read = [&](void* into, std::size_t n) {
    in.read(static_cast<char*>(into), static_cast<std::streamsize>(n));
    digest.update(std::string_view(static_cast<const char*>(into), std::size_t(in.gcount())));
  };
  char magic[6] = {};
  unsigned char version[2] = {};
  read(magic, 6);
  if (in.gcount() == 0) throw fail("the file is empty, expected a .npy file");
  read(version, 2);
  if (!in || std::memcmp(magic, kMagic, 6) != 0) throw fail("not a .npy file (bad magic)");
  std::uint32_t header_len = 0;
  if (version[0] == 1) {
    unsigned char len[2];
    read(len, 2);
    header_len = len[0] | (len[1] << 8);
  } else if (version[0] == 2 || version[0] == 3) {
    unsigned char len[4];
    read(len, 4);
    header_len = len[0] | (len[1] << 8) | (len[2] << 16) | (std::uint32_t(len[3]) << 24);
  } else {
    throw fail(fmt::format("unsupported .npy version {}", int(version[0])));
  }
  if (!in) throw fail("truncated .npy header");
  // numpy writes a few hundred bytes; a length past 1 MiB is a corrupt file, not one to read.
  if (header_len > (1u << 20))
    throw fail(fmt::format(".npy header of {} bytes, expected at most 1 MiB", header_len));
  std::string header(header_len, '\0');
  read(header.data(), header_len);
  if (!in) throw fail("truncated .npy header");

  Header fields;
  if (const std::string error = parse_header(header, fields); !error.empty())
    throw fail("malformed .npy header: " + error);
  const std::string& descr = fields.descr;
  const std::string& order = fields.fortran_order;
  const std::string& shape_text = fields.shape;
  std::size_t item = 0;
  if (descr == "'<f4'" || descr == "\"<f4\"")
    item = 4;
  else if (descr == "'<f8'" || descr == "\"<f8\"")
    item = 8;
  else
    throw fail(fmt::format("dtype {} not supported (expected float32 '<f4' or float64 '<f8')",
                           descr.size() > 40 ? descr.substr(0, 40) + "..." : descr));
  if (order == "True") throw fail("Fortran-ordered arrays are not supported (expected C order)");
  if (order != "False")
    throw fail(fmt::format("malformed .npy header: fortran_order {}, expected True or False",
                           order.size() > 40 ? order.substr(0, 40) + "..." : order));

  const Shape shape = parse_shape(shape_text);
  const std::string shown = shape_text.size() > 60 ? shape_text.substr(0, 60) + "..." : shape_text;
  if (shape.negative) throw fail(fmt::format("shape {} has a negative dimension", shown));
  if (!shape.valid || shape_text[0] != '(')
    throw fail(fmt::format("malformed .npy header: shape {} is not a tuple of integers", shown));
  NpyArray a;
  a.shape = shape.dims;
  std::size_t count = 1;
  for (std::size_t n : a.shape) {
    if (n != 0 && count > (std::size_t(1) << 40) / n)
      throw fail(fmt::format("shape {} is too large (more than 2^40 elements)", shown));
    count *= n;
  }
  if (check_shape) check_shape(a.shape);
  const std::size_t bytes = count * item;
  const auto truncated = [&](std::size_t got) {
    return fail(
        fmt::format("truncated data: {} bytes for shape {}, expected {}", got, shape_text, bytes));
  };
  // More than the header's shape holds: a wrong shape would otherwise run on part of the data.
  const auto data_after = [&] {
    return fail(
        fmt::format("data after the array: more than the {} bytes of shape {}", bytes, shape_text));
  };
  // float64 elements [first, first + n) from their bytes in `src`.
  const auto from_float64 = [&](const char* src, std::size_t first, std::size_t n) {
    for (std::size_t i = first; i < first + n; ++i) {
      double v;
      std::memcpy(&v, src + 8 * (i - first), 8);
      a.data[i] = static_cast<float>(v);
      // Finite in float64 but not in float32: the simulator's widest format.
      if (std::isfinite(v) && !std::isfinite(a.data[i]))
        throw fail(fmt::format("element {} is {}, beyond float32's largest finite value {}", i, v,
                               std::numeric_limits<float>::max()));
      if (v != 0 && a.data[i] == 0) ++a.flushed_to_zero;
    }
  };
  // The file's size bounds the header's claim (up to 8 TiB) before anything is allocated; its
  // data is then read once, in place (float32) or a chunk at a time (float64), so that a large
  // input takes its own size in memory, not two or three times that.
  const std::streamoff at = in.tellg();
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error || at < 0)
    throw fail(fmt::format("cannot read its size: {}", error ? error.message() : "tellg failed"));
  const std::uintmax_t available = size - std::min<std::uintmax_t>(size, std::uintmax_t(at));
  if (available < bytes) throw truncated(std::size_t(available));
  if (available > bytes) throw data_after();
  a.data.resize(count);
  constexpr std::size_t kChunk = std::size_t(1) << 16;  // elements: 512 KiB of float64
  std::vector<char> chunk(item == 4 ? 0 : std::min(count, kChunk) * item);
  for (std::size_t first = 0; first < count; first += kChunk) {
    const std::size_t n = std::min(kChunk, count - first);
    char* into = item == 4 ? reinterpret_cast<char*>(a.data.data() + first) : chunk.data();
    read(into, n * item);
    if (std::size_t(in.gcount()) != n * item)
      throw truncated(first * item + std::size_t(in.gcount()));
    if (item == 8) from_float64(chunk.data(), first, n);
  }
  if (in.peek() != std::char_traits<char>::eof()) throw data_after();
  a.sha256 = digest.hex();
  return a;
}

std::vector<std::size_t> read_npy_shape(const std::string& path) {
  // read_npy shows the shape before it reads any data: stop it there.
  struct HeaderRead {};
  std::vector<std::size_t> shape;
  try {
    read_npy(path, [&shape](const std::vector<std::size_t>& s) {
      shape = s;
      throw HeaderRead{};
    });
  } catch (const HeaderRead&) {
  }
  return shape;
}

std::string npy_header(const std::vector<std::size_t>& shape) {
  std::string dims;
  for (std::size_t n : shape) dims += std::to_string(n) + ",";
  if (shape.size() > 1) dims.pop_back();
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so that the data starts on a 64-byte boundary, header ending in a newline.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  const char version[2] = {1, 0};
  const char len[2] = {static_cast<char>(header.size() & 0xff),
                       static_cast<char>(header.size() >> 8)};
  return std::string(kMagic, 6) + std::string(version, 2) + std::string(len, 2) + header;
}

}  // namespace sdpa
