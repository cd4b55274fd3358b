#include "sim/yaml_reader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/pipe_note.h"

namespace sdpa {
namespace {

// Where a YAML stream's documents start, and the first alias no reader of the tree could walk
// or scalar it could not use, found from the parser's events without building the tree.
class Structure final : public YAML::EventHandler {
 public:
  // The node count, each alias counting the nodes it repeats, past which a text is refused: a
  // params or cost file holds a few hundred, and a --set's value fewer.
  static constexpr std::uint64_t kMaxNodes = 1 << 20;

  std::vector<YAML::Mark> starts;
  std::optional<TreeProblem> problem;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t anchor) override { leaf(anchor, ""); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    // An escape (`\0`, `\u0000`) can put a NUL in a scalar: a path would end there, opening
    // another file than the one named, and a message that quotes it would be cut short.
    if (value.find('\0') != std::string::npos)
      fail(mark, "a NUL character (an escape such as \\0), expected text without one");
    leaf(anchor, value);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    // yaml-cpp ties an alias inside its anchor's collection into a cycle: the tree never ends.
    if (std::ranges::any_of(open_, [&](const Open& o) { return o.anchor == anchor; }))
      fail(mark,
           "an alias inside the node it names (a cycle), expected a value, or an alias of a "
           "node that ends before it");
    const auto size = sizes_.find(anchor);
    add(mark, size == sizes_.end() ? 1 : size->second);
    done("");
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open_.push_back({anchor, mark, 1, false, false, {}});
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open_.push_back({anchor, mark, 1, true, false, {}});
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    YAML::anchor_t anchor;
    YAML::Mark mark;
    std::uint64_t nodes;  // its own and those below it, aliases expanded
    bool map;
    bool at_value = false;  // a mapping's next node is the value of `key`
    std::string key;
  };

  void leaf(YAML::anchor_t anchor, const std::string& value) {
    if (anchor != YAML::NullAnchor) sizes_[anchor] = 1;
    if (!open_.empty()) ++open_.back().nodes;
    done(value);
  }
  void close() {
    const Open closed = open_.back();
    open_.pop_back();
    if (closed.anchor != YAML::NullAnchor) sizes_[closed.anchor] = closed.nodes;
    add(closed.mark, closed.nodes);
    done("");
  }
  // A node has ended: in a mapping, a key (its text kept for messages) or a value.
  void done(const std::string& text) {
    if (open_.empty() || !open_.back().map) return;
    Open& map = open_.back();
    if (!map.at_value) map.key = text;
    map.at_value = !map.at_value;
  }
  void add(const YAML::Mark& mark, std::uint64_t nodes) {
    if (open_.empty()) return;
    open_.back().nodes = std::min(open_.back().nodes + nodes, kMaxNodes + 1);
    if (open_.back().nodes > kMaxNodes)
      fail(mark, fmt::format("more than {} nodes, each alias counted as the nodes it repeats, "
                             "expected a params or cost file's few hundred",
                             kMaxNodes));
  }
  // The first problem stands, with the keys of the mappings it is in.
  void fail(const YAML::Mark& mark, std::string what) {
    if (problem) return;
    std::string key;
    for (const Open& o : open_)
      if (o.map && o.at_value) key += (key.empty() ? "" : ".") + o.key;
    problem = TreeProblem{mark, key.empty() ? "(top level)" : key, std::move(what)};
  }

  std::vector<Open> open_;
  std::map<YAML::anchor_t, std::uint64_t> sizes_;
};

// The structure of a YAML text's first two documents. Two at most, not YAML::LoadAll: yaml-cpp
// 0.7 (Debian 12's) loops there for ever, allocating, on a stream it cannot advance in (a leading
// ','), reporting a document at the same place again and again. Throws what the parser throws.
Structure read_structure(const std::string& text) {
  Structure structure;
  std::istringstream in(text);
  YAML::Parser parser(in);
  for (int i = 0; i < 2 && parser.HandleNextDocument(structure); ++i) {
  }
  return structure;
}

// A byte offset in `text` as a 1-based line and column.
std::pair<std::size_t, std::size_t> line_and_column(const std::string& text, std::size_t at) {
  const std::size_t line_start = text.rfind('\n', at);
  const std::size_t line = std::size_t(std::count(text.begin(), text.begin() + at, '\n')) + 1;
  return {line, line_start == std::string::npos ? at + 1 : at - line_start};
}

// The last '{' or '[' before `end` that no '}' or ']' closes, outside quotes and comments
// (npos: none).
std::size_t unclosed_bracket(const std::string& text, std::size_t end) {
  std::vector<std::size_t> open;
  char quote = 0;
  for (std::size_t i = 0; i < std::min(end, text.size()); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == quote)
        quote = 0;
      else if (c == '\\' && quote == '"')
        ++i;
    } else if ((c == '"' || c == '\'') &&
               (i == 0 || text[i - 1] == c ||
                std::string_view(" \t\n[{,:").find(text[i - 1]) != std::string_view::npos)) {
      // Only where a scalar begins (an apostrophe inside a plain one is text), or after the
      // quote it doubles ('it''s').
      quote = c;
    } else if (c == '#' &&
               (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) {
      i = std::min(text.find('\n', i), end) - 1;
    } else if (c == '{' || c == '[') {
      open.push_back(i);
    } else if ((c == '}' || c == ']') && !open.empty()) {
      open.pop_back();
    }
    if (c == '\n') quote = 0;  // a quote left open: the bracket search starts over there
  }
  return open.empty() ? std::string::npos : open.back();
}

// Mistakes yaml-cpp's syntax errors do not name, or name where it noticed them, as "(...)" after
// them, or nothing.
std::string likely_cause(const std::string& text, const YAML::Mark& mark, const std::string& msg) {
  if (msg.find("EOF in scalar") != std::string::npos)
    return " (a quote not closed: a quoted value ends at its closing quote)";
  // yaml-cpp finds a bracket left open at the next line's token, at the end of the file, or at
  // a closing bracket of the other kind.
  const bool flow = msg.find("flow not found") != std::string::npos ||
                    msg.find("illegal flow end") != std::string::npos;
  if (flow && mark.pos >= 0)
    if (const std::size_t at = unclosed_bracket(text, std::size_t(mark.pos));
        at != std::string::npos) {
      const auto [line, column] = line_and_column(text, at);
      return fmt::format(" (the '{}' at line {}, column {} is not closed)", text[at], line, column);
    }
  std::size_t start = 0;  // of the error's line
  for (int line = 0; line < mark.line; ++line) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) return {};
    start = end + 1;
  }
  const std::size_t indent = text.find_first_not_of(" \t", start);
  const std::size_t tab = text.find('\t', start);
  if (tab != std::string::npos && tab < indent)
    return " (a tab in the indentation: YAML indents with spaces)";
  return {};
}

// An integer written with a leading 0 before another digit (`020`): YAML 1.1 reads it as octal
// (16), 1.2 and yaml-cpp as decimal (20); neither is taken for granted.
bool leading_zero(const std::string& text) {
  const std::size_t digits = text.find_first_not_of("+-");
  return digits != std::string::npos && text.size() > digits + 1 && text[digits] == '0' &&
         text.find_first_not_of("0123456789", digits) == std::string::npos;
}

// The error of such an integer: what was `expected`, and why the leading 0 is refused.
std::string without_leading_zero(const std::string& expected, const std::string& text) {
  return fmt::format("{} without a leading 0, got {} (YAML 1.1 reads it as octal, 1.2 as decimal)",
                     expected, quoted(text));
}

// What a node that is not a scalar is, as an error's "got ...".
std::string not_scalar(const YAML::Node& node) {
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

}  // namespace

std::string read_yaml_file(const std::string& path, const std::string& what) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    throw ParamError(fmt::format("{}: is a folder, expected a {} (YAML)", path, what));
  const PipeWaitNote note(path, what);
  errno = 0;
  std::ifstream in(path, std::ios::binary);  // the bytes: a cost table's digest is of them
  if (!in)
    throw ParamError(fmt::format("{}: cannot read the {}: {}", path, what,
                                 std::strerror(errno != 0 ? errno : EIO)));
  // Read up to a bound: /dev/zero or an endless pipe is not a YAML file, and would never end.
  // In chunks: a buffer of the bound, cleared for every file, cost more than reading a file.
  constexpr std::size_t kMaxBytes = 16 << 20;
  std::string text;
  std::array<char, 1 << 16> chunk;
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
    text.append(chunk.data(), std::size_t(in.gcount()));
    if (text.size() > kMaxBytes)
      throw ParamError(fmt::format("{}: more than 16 MiB, expected a {} (YAML)", path, what));
  }
  // A read error, not the end: what was read is not the file (/proc/self/mem reads nothing).
  if (in.bad())
    throw ParamError(fmt::format("{}: cannot read the {}: {}", path, what,
                                 std::strerror(errno != 0 ? errno : EIO)));
  return text;
}

YAML::Node load_yaml_file(const std::string& path, const std::string& what) {
  return parse_yaml(read_yaml_file(path, what), path);
}

std::optional<TreeProblem> value_problem(const std::string& text) {
  // yaml-cpp reads the first value and drops the rest.
  Structure structure = read_structure(text);
  if (!structure.problem && structure.starts.size() > 1) {
    const auto at = static_cast<std::size_t>(structure.starts[1].pos);
    structure.problem =
        TreeProblem{structure.starts[1], "(top level)",
                    fmt::format("expected one value, got more after it: {}",
                                at < text.size() ? quoted(text.substr(at)) : "a '---'")};
  }
  return structure.problem;
}

std::string yaml_problem(const YAML::Exception& e) {
  // yaml-cpp says only "bad file" when it reaches its depth limit.
  if (dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr)
    return "nested deeper than the parser allows (a few hundred levels; params and cost files "
           "nest five at most)";
  return "syntax error: " + e.msg;
}

// The scalar of `node` that begins last, keys included: a quote left open takes in all that
// follows it, whatever its tag.
std::optional<YAML::Mark> last_scalar(const YAML::Node& node) {
  std::optional<YAML::Mark> last;
  const auto later = [&](const std::optional<YAML::Mark>& m) {
    if (m && (!last || m->pos > last->pos)) last = m;
  };
  if (node.IsScalar()) later(node.Mark());
  if (node.IsSequence())
    for (const YAML::Node& item : node) later(last_scalar(item));
  if (node.IsMap())
    for (const auto& entry : node) {
      later(last_scalar(entry.first));
      later(last_scalar(entry.second));
    }
  return last;
}

// yaml-cpp ends a quoted scalar left open with the text if a line break, and blanks after it,
// end the text (without them it says "illegal EOF in scalar"): `datapath: "naive` took the
// lines after it as its value. Where that scalar begins, if one was left open.
std::optional<YAML::Mark> open_quote(const std::string& text, const YAML::Node& root) {
  // Without a quote, or without blanks or line breaks at the end, there is nothing to parse again.
  const std::size_t last = text.find_last_not_of(" \t\r\n");
  if (text.find_first_of("\"'") == std::string::npos || last == std::string::npos ||
      last + 1 == text.size())
    return std::nullopt;
  try {
    YAML::Load(text.substr(0, last + 1));
  } catch (const YAML::Exception& e) {
    if (e.msg.find("EOF in scalar") != std::string::npos) return last_scalar(root);
  }
  return std::nullopt;
}

YAML::Node parse_yaml(const std::string& text, const std::string& name) {
  // yaml-cpp reads a NUL as the end of the text or as an escape it cannot name: a binary file
  // would run on what precedes it, or fail with a character that is not in the file.
  if (const auto nul = text.find('\0'); nul != std::string::npos) {
    const auto [line, column] = line_and_column(text, nul);
    throw ParamError(fmt::format("{}:{}:{}: a NUL byte, expected a YAML text", name, line, column));
  }
  // yaml-cpp takes a CR alone (old Mac line ends) for no line end: everything after the first
  // comment would be a comment, read without a word as the defaults.
  for (std::size_t cr = text.find('\r'); cr != std::string::npos; cr = text.find('\r', cr + 1))
    if (cr + 1 == text.size() || text[cr + 1] != '\n') {
      const auto [line, column] = line_and_column(text, cr);
      throw ParamError(
          fmt::format("{}:{}:{}: a line ending in a CR alone, which YAML reads as "
                      "no line end: expected LF or CRLF line ends",
                      name, line, column));
    }
  YAML::Node root;
  Structure documents;
  try {
    root = YAML::Load(text);
    documents = read_structure(text);
  } catch (const YAML::Exception& e) {
    throw ParamError(fmt::format("{}:{}:{}: YAML {}{}", name, e.mark.line + 1, e.mark.column + 1,
                                 yaml_problem(e), likely_cause(text, e.mark, e.msg)));
  }
  if (const std::optional<YAML::Mark> quote = open_quote(text, root))
    throw ParamError(
        fmt::format("{}:{}:{}: YAML syntax error: a quote not closed (a quoted "
                    "value ends at its closing quote, on its line or a later one)",
                    name, quote->line + 1, quote->column + 1));
  if (documents.problem)
    throw ParamError(fmt::format("{}:{}:{}: {}: {}", name, documents.problem->mark.line + 1,
                                 documents.problem->mark.column + 1, documents.problem->key,
                                 documents.problem->what));
  if (documents.starts.size() > 1) {
    const YAML::Mark& first = documents.starts[0];
    const YAML::Mark& second = documents.starts[1];
    if (second.pos == first.pos) {
      const auto at = static_cast<std::size_t>(second.pos);
      throw ParamError(fmt::format("{}:{}:{}: YAML syntax error: unexpected {}", name,
                                   second.line + 1, second.column + 1,
                                   at < text.size() ? quoted(text.substr(at, 1)) : "end"));
    }
    // yaml-cpp would read the first and drop the rest without a word.
    const auto at = static_cast<std::size_t>(second.pos);
    if (text.compare(at, 3, "---") != 0)
      throw ParamError(
          fmt::format("{}:{}:{}: more after the document's value: {}, expected one "
                      "YAML document",
                      name, second.line + 1, second.column + 1,
                      quoted(text.substr(at, text.find('\n', at) - at))));
    throw ParamError(
        fmt::format("{}:{}: a second YAML document (after '---'): the file is read as one "
                    "document; remove the '---' lines",
                    name, second.line + 1));
  }
  if (!root || root.IsNull()) return YAML::Node(YAML::NodeType::Map);
  return root;
}

YamlReader::YamlReader(std::string file, std::map<std::string, std::string> set_origins,
                       std::map<std::string, std::string>* origins)
    : file_(std::move(file)), set_origins_(std::move(set_origins)), origins_(origins) {}

void YamlReader::fail(const YAML::Node& node, const std::string& key,
                      const std::string& what) const {
  fail_at(where(node, key), key, what);
}

void YamlReader::fail_at(const std::string& where, const std::string& key,
                         const std::string& what) {
  throw ParamError(fmt::format("{}: {}: {}", where, key, what));
}

std::string YamlReader::where(const YAML::Node& node, const std::string& key) const {
  for (std::string k = key; !k.empty(); k = k.substr(0, k.rfind('.'))) {
    if (auto it = set_origins_.find(k); it != set_origins_.end()) return it->second;
    if (k.find('.') == std::string::npos) break;
  }
  YAML::Mark mark = node.Mark();
  // yaml-cpp marks a key's missing value (`seq_len:` and the line's end) at the next token, a
  // line or more below: the key is where the user looks.
  if (node.IsNull())
    if (const auto k = null_value_keys_.find(key); k != null_value_keys_.end()) mark = k->second;
  if (mark.is_null()) {
    // Not from the file: a mapping a --set of a key below it made.
    const auto below = set_origins_.lower_bound(key + ".");
    if (below != set_origins_.end() && below->first.rfind(key + ".", 0) == 0) return below->second;
    return file_;
  }
  return fmt::format("{}:{}:{}", file_, mark.line + 1, mark.column + 1);
}

void YamlReader::keys(const YAML::Node& node, const std::string& key,
                      const std::vector<std::string>& allowed,
                      const std::function<std::string(const std::string&)>& explain) const {
  const std::string label = key.empty() ? "(top level)" : key;
  if (!node.IsMap()) fail(node, label, "expected a mapping");
  std::set<std::string> seen;
  for (const auto& entry : node) {
    // YAML allows any node as a key (`? [a, b]: 1`); as<std::string>() throws on those.
    if (!entry.first.IsScalar())
      fail(entry.first, label,
           fmt::format("expected a key name (one of: {})", fmt::join(allowed, ", ")));
    const std::string name = entry.first.Scalar();
    const std::string path = key.empty() ? name : key + "." + name;
    if (entry.second.IsNull()) null_value_keys_.emplace(path, entry.first.Mark());
    if (name == "<<")
      fail(entry.first, path, "YAML merge keys are not supported, expected the keys written out");
    if (std::ranges::find(allowed, name) == allowed.end())
      fail(entry.first, path,
           fmt::format("unknown key (expected one of: {}{})", fmt::join(allowed, ", "),
                       explain ? explain(name) : ""));
    // yaml-cpp keeps the first of duplicate keys silently; a second value is a mistake. It is
    // where the mapping holding both came from: a --set of one of them replaced only the first.
    if (!seen.insert(name).second) fail_at(where(entry.first, key), path, "duplicate key");
  }
}

void YamlReader::require(const YAML::Node& node, const std::string& key,
                         const std::vector<std::string>& required) const {
  for (const std::string& name : required)
    if (!node[name]) fail(node, key.empty() ? name : key + "." + name, "missing");
}

std::uint64_t YamlReader::integer(const YAML::Node& node, const std::string& key, std::uint64_t min,
                                  std::uint64_t max) const {
  return integer(node, key, min, max, fmt::format("expected an integer in [{}, {}]", min, max));
}

std::uint64_t YamlReader::integer(const YAML::Node& node, const std::string& key, std::uint64_t min,
                                  std::uint64_t max, const std::string& expected) const {
  if (!node.IsScalar()) fail(node, key, fmt::format("{}, got {}", expected, not_scalar(node)));
  const std::string& text = node.Scalar();
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    fail(node, key, fmt::format("{}, got {}", expected, quoted(text)));
  if (leading_zero(text)) fail(node, key, without_leading_zero(expected, text));
  note(node, key);
  return value;
}

double YamlReader::number(const YAML::Node& node, const std::string& key, double min,
                          double max) const {
  const std::string expected = std::isinf(max)
                                   ? fmt::format("expected a number >= {:g}", min)
                                   : fmt::format("expected a number in [{:g}, {:g}]", min, max);
  if (!node.IsScalar()) fail(node, key, fmt::format("{}, got {}", expected, not_scalar(node)));
  double value = 0;
  try {
    value = node.as<double>();
  } catch (const YAML::Exception&) {
    fail(node, key, fmt::format("{}, got {}", expected, quoted(node.Scalar())));
  }
  if (!std::isfinite(value) || value < min || value > max)
    fail(node, key, fmt::format("{}, got {}", expected, quoted(node.Scalar())));
  if (leading_zero(node.Scalar())) fail(node, key, without_leading_zero(expected, node.Scalar()));
  note(node, key);
  return value;
}

bool YamlReader::boolean(const YAML::Node& node, const std::string& key) const {
  if (!node.IsScalar())
    fail(node, key, fmt::format("expected true or false, got {}", not_scalar(node)));
  const std::string& text = node.Scalar();
  if (text != "true" && text != "false")
    fail(node, key, fmt::format("expected true or false, got {}", quoted(text)));
  note(node, key);
  return text == "true";
}

std::string YamlReader::choice(const YAML::Node& node, const std::string& key,
                               const std::vector<std::string>& allowed) const {
  const std::string expected = fmt::format("expected one of: {}", fmt::join(allowed, ", "));
  if (!node.IsScalar()) fail(node, key, fmt::format("{}, got {}", expected, not_scalar(node)));
  if (std::ranges::find(allowed, node.Scalar()) == allowed.end())
    fail(node, key, fmt::format("{}, got {}", expected, quoted(node.Scalar())));
  note(node, key);
  return node.Scalar();
}

std::uint64_t YamlReader::integer_or_auto(const YAML::Node& node, const std::string& key,
                                          std::uint64_t max) const {
  if (node.IsScalar() && node.Scalar() == "auto") {
    note(node, key);
    return 0;
  }
  return integer(node, key, 1, max, fmt::format("expected auto or an integer in [1, {}]", max));
}

std::string YamlReader::path(const YAML::Node& node, const std::string& key) const {
  // A path with ": " in it reads as a mapping of one scalar to another: the fix is quotes.
  if (node.IsMap() && node.size() == 1 && node.begin()->first.IsScalar() &&
      node.begin()->second.IsScalar())
    fail(node, key,
         "expected a file path, got a mapping (a path with ': ' in it needs quotes: "
         "'in/a: b/q.npy')");
  if (node.IsMap()) fail(node, key, "expected a file path, got a mapping");
  if (node.IsSequence()) fail(node, key, "expected a file path, got a list");
  if (!node.IsScalar() || node.Scalar().empty()) fail(node, key, "expected a file path");
  std::filesystem::path p(node.Scalar());
  if (p.is_relative() && where(node, key).rfind("--set", 0) != 0)
    p = std::filesystem::path(file_).parent_path() / p;
  note(node, key);
  return p.lexically_normal().string();
}

std::string YamlReader::text(const YAML::Node& node, const std::string& key) const {
  if (!node.IsScalar() || node.Scalar().empty()) fail(node, key, "expected a text");
  note(node, key);
  return node.Scalar();
}

void YamlReader::note(const YAML::Node& node, const std::string& key) const {
  if (origins_ != nullptr) (*origins_)[key] = where(node, key);
}

}  // namespace sdpa
