// The simulator binary: bad input gets exit 2 and a one-line error naming key and line;
// outputs, exit statuses and the waveform.

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sim/npy.h"
#include "sim/params.h"
#include "sim/reference.h"
#include "sim/report.h"
#include "sim/simulation.h"
#include "tb/cli.h"

namespace sdpa::test {
namespace {

using namespace std::string_literals;

namespace fs = std::filesystem;

std::string params_arg(const fs::path& p, const fs::path& dir) {
  return shell_word(p) + out_arg(dir / "out");
}

TEST(Params, ShippedParameterFilesRun) {
  const fs::path d = scratch();
  for (const auto& entry : fs::directory_iterator(fs::path(SDPA_SOURCE_DIR) / "params")) {
    if (!entry.is_regular_file()) continue;  // params/cost/ holds cost tables
    // Small sizes: the model shapes' heads and d as shipped, their sequences cut short.
    const SimRun r = sim("'" + entry.path().string() +
                             "' --set problem.seq_len=24 --set problem.kv_len=48 --out '" +
                             (d / entry.path().stem()).string() + "'",
                         d);
    EXPECT_EQ(r.status, 0) << entry.path() << r.err;
  }
}

TEST(Params, AParamsFileMayFollowSetOptions) {
  const fs::path d = scratch();
  const SimRun r = sim("--set problem.seq_len=16 --set problem.head_dim=4 '" SDPA_SOURCE_DIR
                       "/params/naive.yaml' --out '" +
                           (d / "o").string() + "'",
                       d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("N = 16, d = 4"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(d / "o" / "o_naive.npy"));
  EXPECT_FALSE(fs::exists(d / "o" / "o_reordered.npy"));
}

TEST(Params, UnknownKeyNamesKeyAndLine) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "problem:\n  seq_len: 16\n  no_such_key: 1\n");
  expect_error(sim(params_arg(p, d), d), {"problem.no_such_key", "p.yaml:3:3", "unknown key"});
}

TEST(Params, WrongTypeNamesKeyAndLine) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "datapath: naive\nproblem:\n  seq_len: sixteen\n");
  expect_error(sim(params_arg(p, d), d), {"problem.seq_len", "p.yaml:3:12", "expected an integer"});
}

TEST(Params, OutOfRangeNamesKeyAndLine) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "units:\n  exp:\n    latency: 0\n");
  expect_error(sim(params_arg(p, d), d), {"units.exp.latency", "p.yaml:3:14", "[1, "});
}

// SystemC's time resolution is 1 ps: 1.5 ps per cycle would step 2 ps in the waveform.
TEST(Params, AClockPeriodOfPartPicosecondsIsRefused) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "clock:\n  period_ns: 0.0015\n");
  expect_error(sim(params_arg(p, d), d),
               {"clock.period_ns", "p.yaml:2:14", "a whole number of picoseconds"});
  // A thousandth of a picosecond off is off too, and half of one in a long period (both were
  // once within the slack and rounded).
  for (const char* off : {"1.000001", "999999.9995"})
    expect_error(
        sim(std::string("--set clock.period_ns=") + off + " --out " + shell_word(d / "o"), d),
        {"clock.period_ns", "a whole number of picoseconds"});
  // A decimal's own binary rounding is not: 0.1 ns is written back as 0.1.
  ASSERT_EQ(sim("--set clock.period_ns=0.1 --set problem.seq_len=8 --set problem.head_dim=4 "
                "--out " +
                    shell_word(d / "p"),
                d)
                .status,
            0);
  EXPECT_NE(slurp(d / "p" / "params.yaml").find("  period_ns: 0.1\n"), std::string::npos);
}

TEST(Params, BadChoiceListsTheChoices) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "datapath: fastest\n");
  expect_error(
      sim(params_arg(p, d), d),
      {"datapath", "p.yaml:1:11", fmt::format("{}, both, all", fmt::join(datapath_names(), ", "))});
}

TEST(Params, UnknownChannelNameInDepths) {
  const fs::path d = scratch();
  const auto p =
      write(d / "p.yaml", "datapath: reordered\nchannels:\n  depths:\n    score_bypass: 4\n");
  expect_error(sim(params_arg(p, d), d), {"channels.depths.score_bypass", "p.yaml:4:5"});
}

TEST(Params, DuplicateKeyNamesKeyAndLine) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "problem:\n  seq_len: 16\n  seq_len: 32\n");
  expect_error(sim(params_arg(p, d), d), {"problem.seq_len", "p.yaml:3:3", "duplicate key"});
}

TEST(Params, MalformedYamlNamesTheLine) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "problem:\n  seq_len: [1, 2\n");
  expect_error(sim(params_arg(p, d), d), {"p.yaml:", "YAML syntax error"});
  // yaml-cpp 0.7 reads no document here and reports one at the same place for ever (a fuzzer's
  // find: the run hung, allocating, until reading stopped at two documents).
  const auto comma = write(d / "c.yaml", ",problem: {seq_len: [\n");
  expect_error(sim(params_arg(comma, d), d), {"c.yaml:1:1: YAML syntax error: unexpected ','"});
}

// yaml-cpp ties an alias inside its anchor's node into a cycle, which every walk of the tree
// followed until the stack ran out (a crash) or memory did (a --set's value); aliases that repeat
// nodes a million times over would be walked as long.
TEST(Params, AliasesNoWalkCouldFinishAreRefused) {
  const fs::path d = scratch();
  expect_error(sim(params_arg(write(d / "c.yaml", "units: &r {exp: *r}\n"), d) + " --check", d),
               {"c.yaml:1:17: units.exp: an alias inside the node it names (a cycle)"});
  expect_error(sim(params_arg(write(d / "t.yaml", "&r {a: *r}\n"), d) + " --check", d),
               {"t.yaml:1:8: a: an alias inside the node it names"});
  expect_error(sim("--check --set 'problem=&r {seq_len: 16, x: *r}'", d),
               {"--set problem=&r {seq_len: 16, x: *r}: problem.x: an alias inside the node it "
                "names"});
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    laughs += fmt::format("a{0}: &a{0} [*a{1}", i, i - 1);
    for (int k = 1; k < 10; ++k) laughs += fmt::format(", *a{}", i - 1);
    laughs += "]\n";
  }
  expect_error(
      sim(params_arg(write(d / "l.yaml", laughs), d) + " --check", d),
      {"l.yaml:6:", "a5: more than 1048576 nodes, each alias counted as the nodes it repeats"});
  // An alias of a node that ends before it is YAML's sharing, and reads as the node.
  const SimRun shared =
      sim(params_arg(write(d / "s.yaml",
                           "problem: {seq_len: &n 16, kv_len: *n, head_dim: 4}\n"
                           "datapaths: {naive: &d {units: {dot_product: {latency: 7}}}, "
                           "reordered: *d}\n"),
                     d) +
              " --check",
          d);
  EXPECT_EQ(shared.status, 0) << shared.err;
}

// yaml-cpp marks a missing value at the next token: the line below the key, or past the end.
TEST(Params, AKeyWithoutAValueIsNamedWhereTheKeyIs) {
  const fs::path d = scratch();
  expect_error(sim(params_arg(write(d / "a.yaml", "problem:\n  seq_len:\n  head_dim: 8\n"), d), d),
               {"a.yaml:2:3: problem.seq_len: expected an integer in [1, 1048576], got nothing"});
  expect_error(sim(params_arg(write(d / "b.yaml", "problem:\n  causal:\n\n# end\n"), d), d),
               {"b.yaml:2:3: problem.causal: expected true or false, got nothing"});
  expect_error(sim(params_arg(write(d / "c.yaml", "problem:\n  causal: [true]\n"), d), d),
               {"c.yaml:2:11: problem.causal: expected true or false, got a list"});
}

// Two common mistakes that yaml-cpp's messages do not name, and a YAML feature it does not have.
TEST(Params, TabsCrLineEndsAndMergeKeysAreNamed) {
  const fs::path d = scratch();
  expect_error(sim(params_arg(write(d / "t.yaml", "problem:\n\tseq_len: 16\n"), d), d),
               {"t.yaml:2:", "YAML syntax error",
                "(a tab in the indentation: YAML indents with "
                "spaces)"});
  expect_error(
      sim(params_arg(write(d / "r.yaml", "problem:\r  seq_len: 16\r  head_dim: 8\r"), d), d),
      {"r.yaml:1:9: a line ending in a CR alone, which YAML reads as no line end: expected LF or "
       "CRLF line ends"});
  // Where YAML still parses, after a comment the rest was a comment: two_pass ran as `both`.
  expect_error(sim(params_arg(write(d / "c.yaml",
                                    "problem: {seq_len: 16, head_dim: 8} # small\rdatapath: "
                                    "two_pass\r"),
                              d),
                   d),
               {"c.yaml:1:44: a line ending in a CR alone"});
  expect_error(
      sim(params_arg(write(d / "x.yaml", "problem:\n  seq_len: 16 # a\r  head_dim: 8\n"), d), d),
      {"x.yaml:2:18: a line ending in a CR alone"});
  expect_error(sim(params_arg(write(d / "m.yaml", "units: {exp: {<<: {latency: 3}}}\n"), d), d),
               {"m.yaml:1:15: units.exp.<<: YAML merge keys are not supported, expected the keys "
                "written out"});
  // CRLF line ends are YAML's own.
  const SimRun crlf =
      sim(params_arg(write(d / "w.yaml", "problem:\r\n  seq_len: 16\r\n"), d) + " --check", d);
  EXPECT_EQ(crlf.status, 0) << crlf.err;
}

// yaml-cpp finds a bracket left open at the next line's token or at the end of the file: the hint
// names where it opened (quotes and comments aside).
TEST(Params, AnUnclosedBracketIsNamedWhereItOpens) {
  const fs::path d = scratch();
  expect_error(sim(params_arg(write(d / "u.yaml",
                                    "problem: {seq_len: 16}  # {\nunits:\n  exp: {latency: 4, "
                                    "ii: 1\n  row_sum: {latency: '}'}\n"),
                              d),
                   d),
               {"u.yaml:4:10: YAML syntax error: end of map flow not found (the '{' at line 3, "
                "column 8 is not closed)"});
  expect_error(sim(params_arg(write(d / "l.yaml", "units:\n  exp: {latency: [4, ii: 1}\n"), d), d),
               {"l.yaml:2:27: YAML syntax error: illegal flow end (the '[' at line 2, column 18 is "
                "not closed)"});
  // An apostrophe inside a plain scalar is no quote; a doubled one inside a quoted scalar is.
  expect_error(
      sim(params_arg(write(d / "a.yaml", "units: {exp: {latency: 4}, row_sum: {latency: it's}\n"),
                     d),
          d),
      {"(the '{' at line 1, column 8 is not closed)"});
  expect_error(
      sim(params_arg(write(d / "q.yaml", "units: {exp: {latency: 4}, row_sum: {latency: 'a''{'}\n"),
                     d),
          d),
      {"(the '{' at line 1, column 8 is not closed)"});
}

// yaml-cpp ends a quote left open with the text if line breaks end it: `datapath: "naive` took
// the next lines as its value ("got 'naive problem: seq_len: 16 '"). Named where it opens; a
// quoted value over several lines is YAML's own.
TEST(Params, AQuoteLeftOpenIsNamedWhereItOpens) {
  const fs::path d = scratch();
  expect_error(
      sim(params_arg(write(d / "q.yaml", "datapath: \"naive\nproblem:\n  seq_len: 16\n"), d), d),
      {"q.yaml:1:11: YAML syntax error: a quote not closed"});
  expect_error(
      sim(params_arg(write(d / "s.yaml", "problem: {seq_len: 16}\ncost: 'x.yaml\n\n"), d), d),
      {"s.yaml:2:7: YAML syntax error: a quote not closed"});
  // A key's quote, after a closed one; blanks after the last line break.
  expect_error(
      sim(params_arg(write(d / "k.yaml", "datapath: \"naive\"\n\"channels:\n  default_depth: 8\n"),
                     d),
          d),
      {"k.yaml:2:1: YAML syntax error: a quote not closed"});
  expect_error(
      sim(params_arg(write(d / "w.yaml", "datapath: \"naive\nproblem:\n  seq_len: 16\n  "), d), d),
      {"w.yaml:1:11: YAML syntax error: a quote not closed"});
  expect_error(sim(params_arg(write(d / "e.yaml", "datapath: \"naive"), d), d),
               {"e.yaml:1:17: YAML syntax error: illegal EOF in scalar (a quote not closed"});
  const SimRun multi_line =
      sim(params_arg(write(d / "m.yaml", "datapath: \"na\n  ive\"\nproblem: {seq_len: 16}\n"), d) +
              " --check",
          d);
  EXPECT_NE(multi_line.err.find("got 'na ive'"), std::string::npos) << multi_line.err;
}

// What a terminal shows as a space or not at all is escaped: `seq_len\u200b` looked like a valid
// key that the run called unknown.
TEST(Params, InvisibleCharactersInAnErrorAreEscaped) {
  const fs::path d = scratch();
  expect_error(sim(params_arg(write(d / "z.yaml", "problem:\n  seq_len\xe2\x80\x8b: 16\n"), d), d),
               {"z.yaml:2:3: problem.seq_len\\u{200b}: unknown key"});
  expect_error(sim(params_arg(write(d / "n.yaml", "problem:\n  seq_len: 16\xc2\xa0\n"), d), d),
               {"got '16\\u{00a0}'"});
  // A byte that is not UTF-8 went out as it was, and so did an overlong form and a surrogate.
  expect_error(sim(params_arg(write(d / "b.yaml", "datapath: na\xffive\n"), d), d),
               {"b.yaml:1:11: datapath: expected one of", "got 'na\\xffive'"});
  expect_error(sim(params_arg(write(d / "o.yaml", "datapath: na\xc0\xafive\n"), d), d),
               {"got 'na\\xc0\\xafive'"});
  expect_error(sim(params_arg(write(d / "s.yaml", "datapath: na\xed\xa0\x80ive\n"), d), d),
               {"got 'na\\xed\\xa0\\x80ive'"});
}

// An escape can put a NUL in a scalar: a path ended there (`q.npy\0junk` read q.npy, the
// params recording another name) and an error quoting it was cut short at it.
TEST(Params, ANulInAScalarIsRefused) {
  const fs::path d = scratch();
  expect_error(sim(params_arg(write(d / "n.yaml", "cost: \"my_cost.yaml\\u0000junk\"\n"), d), d),
               {"n.yaml:1:7: cost: a NUL character (an escape such as \\0), expected text "
                "without one"});
  expect_error(sim(params_arg(write(d / "k.yaml", "problem: {\"seq_len\\0x\": 4}\n"), d), d),
               {"k.yaml:1:11: problem: a NUL character"});
  expect_error(sim("--check --set 'inputs.q=\"q.npy\\0x\"'", d),
               {"--set inputs.q=\"q.npy\\0x\": inputs.q: a NUL character"});
}

// An integer with a leading 0 is octal in YAML 1.1 and decimal in 1.2 (and yaml-cpp): `020` ran
// 20 query rows, even under `%YAML 1.1`.
TEST(Params, AnIntegerWithALeadingZeroIsRefused) {
  const fs::path d = scratch();
  expect_error(
      sim(params_arg(write(d / "o.yaml", "%YAML 1.1\n---\nproblem: {seq_len: 020}\n"), d), d),
      {"o.yaml:3:20: problem.seq_len: expected an integer in [1, 1048576] without a leading 0, "
       "got '020' (YAML 1.1 reads it as octal, 1.2 as decimal)"});
  // A number key too (01 ns), and a 0 alone is no leading 0 (an out-of-range latency).
  expect_error(sim("--check --set clock.period_ns=01", d),
               {"clock.period_ns: expected a number in [0.001, 1e+06] without a leading 0, got "
                "'01'"});
  expect_error(sim("--check --set units.exp.latency=0", d),
               {"units.exp.latency: expected an integer in [1, 1048576], got '0'"});
  EXPECT_EQ(sim("--check --set problem.seq_len=10 --set problem.head_dim=8", d).status, 0);
}

// yaml-cpp reads the first document and drops the rest: a header document before the
// parameters ran the defaults, and a syntax error after a '---' went unreported.
TEST(Params, ASecondYamlDocumentIsRefused) {
  const fs::path d = scratch();
  const auto header = write(d / "h.yaml", "---\n# header\n---\nproblem: {seq_len: 8}\n");
  expect_error(sim(params_arg(header, d), d), {"h.yaml:3", "a second YAML document"});
  const auto broken = write(d / "b.yaml", "problem: {seq_len: 8}\n---\n- garbage: [unclosed\n");
  expect_error(sim(params_arg(broken, d), d), {"b.yaml:"});
  // Nor is more after the one document's value (no '---'): `{...} {...}` ran the first.
  expect_error(sim(params_arg(write(d / "m.yaml", "{problem: {seq_len: 16}} {x: 1}\n"), d), d),
               {"m.yaml:1:26: more after the document's value: '{x: 1}', expected one YAML "
                "document"});
  // One document, with its markers, is fine.
  const auto one = write(d / "o.yaml", "---\nproblem: {seq_len: 8, head_dim: 4}\n...\n");
  EXPECT_EQ(sim("--check " + params_arg(one, d), d).status, 0);
}

// Read in full, /dev/zero grew without end; a params file is read up to 16 MiB.
TEST(Params, AnEndlessParamsFileIsRefused) {
  const fs::path d = scratch();
  expect_error(sim("--check /dev/zero", d), {"/dev/zero", "more than 16 MiB"});
}

// A --set's value is one YAML value: what follows it was dropped, the run going on without it.
TEST(Params, MoreAfterASetsValueIsRefused) {
  const fs::path d = scratch();
  expect_error(sim("--check --set 'problem={seq_len: 16} {head_dim: 4}'", d),
               {"--set problem={seq_len: 16} {head_dim: 4}: problem: expected one value, got more "
                "after it: '{head_dim: 4}'"});
  expect_error(sim("--check --set 'datapath=\"naive\" x'", d),
               {"datapath: expected one value, got more after it: 'x'"});
  // What follows may be broken YAML of its own: an error, not yaml-cpp's exception (exit 5).
  expect_error(sim("--check --set 'datapath=\"naive\" *x'", d),
               {"datapath: YAML syntax error: the referenced anchor is not defined"});
}

// An error is one line, whatever the value: a --set value over several lines is refused, and a
// long value is shown cut short.
TEST(Params, ErrorsStayOneLine) {
  const fs::path d = scratch();
  expect_error(sim("--check --set \"$(printf 'problem.seq_len=8\\n---\\n9')\"", d),
               {"problem.seq_len", "expected a value on one line"});
  expect_error(sim("--check --set problem.seq_len=" + std::string(300, '9'), d),
               {"problem.seq_len", "(300 characters)"});
  // The --set that the error names is cut short too (it repeated the whole value).
  const SimRun r = sim("--check --set problem.seq_len=" + std::string(100000, '9'), d);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_LT(r.err.size(), 300u) << r.err.substr(0, 300);
  EXPECT_EQ(r.err.rfind("sdpa-sim: error: --set problem.seq_len=" + std::string(44, '9') +
                            "... (100016 characters): problem.seq_len: expected an integer",
                        0),
            0u)
      << r.err.substr(0, 300);
}

// A read error is not the end of the file: reading /proc/self/mem fails at once, and the run
// went on with the defaults, as if from an empty params file (and an empty cost table).
TEST(Params, AReadErrorIsRefusedNotTakenForTheEnd) {
  if (!fs::exists("/proc/self/mem")) GTEST_SKIP() << "no /proc/self/mem";
  const fs::path d = scratch();
  expect_error(sim("--check /proc/self/mem", d),
               {"/proc/self/mem: cannot read the params file: Input/output error"});
  expect_error(sim("--check --set cost=/proc/self/mem", d),
               {"/proc/self/mem: cannot read the cost file: Input/output error"});
}

TEST(Params, UnreadableFile) {
  const fs::path d = scratch();
  expect_error(sim(params_arg(d / "missing.yaml", d), d),
               {"missing.yaml: cannot read the params file: No such file or directory"});
}

// An empty name (an unset variable in quotes) ran the built-in defaults.
TEST(Params, AnEmptyParamsFileNameIsRefused) {
  const fs::path d = scratch();
  expect_error(sim("'' --check", d), {"params '': expected a params file, got an empty name"});
}

// yaml-cpp took three NUL bytes for an empty file (the defaults ran) and more for an escape it
// named with a byte not in the file; a NUL inside a value cut the error line short.
TEST(Params, ABinaryFileIsRefusedAtItsFirstNul) {
  const fs::path d = scratch();
  expect_error(sim(shell_word(write(d / "z.yaml", std::string(3, '\0'))) + " --check", d),
               {"z.yaml:1:1: a NUL byte, expected a YAML text"});
  expect_error(
      sim(shell_word(write(d / "u.yaml", "problem:\n  seq_len: 8\ndatapath: \"na\0ive\"\n"s)) +
              " --check",
          d),
      {"u.yaml:3:14: a NUL byte"});
}

// An empty or comment-only params file is valid YAML and ran the defaults without a word, as a
// file truncated to nothing would; a file that sets a key, or no file, gets no note.
TEST(Params, AParamsFileThatSetsNothingIsNoted) {
  const fs::path d = scratch();
  const std::string note = "sets no parameters: the defaults run";
  for (const char* text : {"", "# N = 4096 next\n", "problem: {}\n"}) {
    const SimRun r = sim(params_arg(write(d / "e.yaml", text), d) + " --check", d);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("note: the params file " + (d / "e.yaml").string() + " " + note + "\n"),
              std::string::npos)
        << text << ": " << r.err;
  }
  const SimRun with_set =
      sim(params_arg(write(d / "e.yaml", ""), d) + " --check --set problem.seq_len=8", d);
  EXPECT_NE(with_set.err.find(note + ", with the --set values"), std::string::npos) << with_set.err;
  EXPECT_NE(with_set.out.find("N = 8,"), std::string::npos) << with_set.out;
  // A file whose one key a --set replaces set something all the same. (The folder is the test's
  // own: the checkout's out/default, which scripts/run leaves, would bring a note of its own.)
  for (const std::string& args :
       {params_arg(write(d / "one.yaml", "problem: {seq_len: 8}\n"), d), out_arg(d / "out")}) {
    const SimRun r = sim(args + " --check --set problem.head_dim=4 --set problem.seq_len=16", d);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err.find("note:"), std::string::npos) << r.err;
  }
}

// yaml-cpp stops at a few hundred levels of nesting and said only "bad file".
TEST(Params, DeepNestingIsNamedAsSuch) {
  const fs::path d = scratch();
  const std::string text = "problem: " + std::string(600, '[') + std::string(600, ']') + "\n";
  expect_error(sim(params_arg(write(d / "n.yaml", text), d) + " --check", d),
               {"n.yaml:1:", "YAML nested deeper than the parser allows"});
  const fs::path cost = write(d / "c.yaml", text);
  expect_error(sim("--check --set cost=" + shell_word(cost), d),
               {"c.yaml:1:", "YAML nested deeper than the parser allows"});
  expect_error(sim("--check --set 'problem=" + text.substr(9, 1200) + "'", d),
               {"problem: YAML nested deeper than the parser allows"});
}

// Opening a FIFO blocks until something writes it: the run waits, and says so.
TEST(Params, AParamsFileFromAPipeIsWaitedForWithANote) {
  const fs::path d = scratch();
  const fs::path fifo = d / "p.yaml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The writer comes after the note's two seconds, and gives up if no reader opens the FIFO
  // (a failed run): opening it for writing would otherwise wait for ever.
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    for (int tries = 0; tries < 600; ++tries) {
      if (const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK); fd >= 0) {
        const std::string text = "problem: {seq_len: 8, head_dim: 2}\n";
        EXPECT_EQ(::write(fd, text.data(), text.size()), ssize_t(text.size()));
        ::close(fd);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const SimRun r = sim(shell_word(fifo) + " --check", d);
  writer.join();
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("N = 8"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("sdpa-sim: note: waiting for " + fifo.string() +
                       " (a pipe) to deliver the params file"),
            std::string::npos)
      << r.err;
}

TEST(Params, AFolderAsTheParamsFile) {
  const fs::path d = scratch();
  fs::create_directories(d / "params");
  expect_error(sim(params_arg(d / "params", d), d), {"params", "is a folder"});
}

// A key that takes `auto` says so when its value is neither.
TEST(Params, AKeyThatTakesAutoNamesItInItsError) {
  const fs::path d = scratch();
  expect_error(sim("--check --set 'channels.default_depth=~'", d),
               {"channels.default_depth: expected auto or an integer in [1, 1073741824]"});
  expect_error(sim("--check --set sim.max_cycles=x", d),
               {"sim.max_cycles: expected auto or an integer in [1, ", "got 'x'"});
}

TEST(Params, BadSetValueNamesTheSet) {
  const fs::path d = scratch();
  expect_error(sim("--set problem.head_dim=-3 --out '" + (d / "o").string() + "'", d),
               {"--set problem.head_dim=-3", "problem.head_dim", "expected an integer"});
  expect_error(sim("--set problem --out '" + (d / "o").string() + "'", d),
               {"--set problem", "key.path=value"});
}

// `--set a=1 b=2` took b=2 for the params file, or for an argument not expected after one.
TEST(Params, ASecondValueAfterASetIsNamedAsSuch) {
  const fs::path d = scratch();
  expect_error(sim("--check --set problem.seq_len=16 problem.head_dim=8", d),
               {"problem.head_dim=8: no such params file, and a --set takes one key=value: write "
                "--set problem.head_dim=8 for a second"});
  const fs::path p = write(d / "p.yaml", "problem: {seq_len: 16}\n");
  expect_error(sim(params_arg(p, d) + " --check --set problem.seq_len=16 problem.head_dim=8", d),
               {"problem.head_dim=8", "(a --set takes one key=value: give each its own --set)"});
}

TEST(Params, UnknownOption) {
  const fs::path d = scratch();
  expect_error(sim("--bogus", d), {"--bogus"});
  // An unknown option with a value is not a second --set's.
  expect_error(sim("--OUT=x", d), {"--OUT=x (see --help)"});
}

// An option taken for a value: `--out --check` ran the default simulation into a folder named
// --check, and `--set --out x` read x as the params file.
TEST(Params, AnOptionWhereAValueGoesIsRefused) {
  const fs::path d = scratch();
  expect_error(sim("--out --check", d), {"--out --check: expected a folder name, got an option"});
  expect_error(sim("--set --out x", d), {"--set --out: expected key.path=value, got an option"});
  EXPECT_FALSE(fs::exists(fs::path(SDPA_SOURCE_DIR) / "--check"));
  // With `=` the folder's name is meant: no option is taken for it (--check creates nothing).
  const SimRun named = sim("--set problem.seq_len=4 --set problem.head_dim=2 --check --out=-x", d);
  EXPECT_EQ(named.status, 0) << named.err;
  EXPECT_FALSE(fs::exists(fs::path(SDPA_SOURCE_DIR) / "-x"));
}

// An empty value, as an unset variable gives: `--trace-events=$F` wrote trace.json, and with `=`
// CLI11 took the next word for the value (`--trace-window= --trace-events` said that
// --trace-window requires --trace-events). A flag takes no value: `--check=` is --check.
TEST(Params, AnEmptyValueIsRefused) {
  const fs::path d = scratch();
  const std::string empty = ": expected a value after '=', got none";
  expect_error(sim("--check --trace-events=", d), {"--trace-events=" + empty});
  expect_error(sim("--check --trace-window= --trace-events", d), {"--trace-window=" + empty});
  expect_error(sim("--check --out= --vcd", d), {"--out=" + empty});
  expect_error(sim("--check --set=", d), {"--set=" + empty});
  expect_error(sim("--check --set ''", d), {"--set '': expected key.path=value, got an empty one"});
  expect_error(sim("--check --trace-events --trace-window ''", d),
               {"--trace-window '': expected FROM:TO, two cycle numbers, got an empty one"});
  EXPECT_EQ(sim("--check= --set problem.seq_len=8" + out_arg(d / "o"), d).status, 0);
}

// The help's first line names the datapaths there are (it once named two of three).
TEST(Params, HelpNamesEveryDatapath) {
  const fs::path d = scratch();
  const SimRun r = sim("--help", d);
  EXPECT_EQ(r.status, 0) << r.err;
  const std::string first = r.out.substr(0, r.out.find('\n'));
  for (const std::string& dp : datapath_names())
    EXPECT_NE(first.find(dp), std::string::npos) << dp << " in " << first;
}

TEST(Inputs, RunsTooLargeForTheMachineAreRefusedWithTheFigure) {
  const fs::path d = scratch();
  expect_error(sim("--set problem.seq_len=1000000 --set problem.head_dim=4096 --out '" +
                       (d / "a").string() + "'",
                   d),
               {"problem.seq_len", "GiB of memory, more than the"});
  expect_error(sim("--set channels.default_depth=1000000000 --out '" + (d / "b").string() + "'", d),
               {"channels.default_depth", "GiB of memory"});
  // The largest shape the keys allow, 2^32 heads of 65536 x 65536, is 2^66 bytes: the estimate
  // once wrapped to a small number, --check said ok and the run aborted in the memory.
  const std::string largest =
      "--set problem.batch=65536 --set problem.heads=65536 --set problem.seq_len=65536 "
      "--set problem.head_dim=65536 --set datapath=naive";
  expect_error(sim(largest + " --out '" + (d / "c").string() + "'", d),
               {"problem.heads", "needs over 16 EiB of memory"});
  expect_error(sim("--check " + largest, d), {"problem.heads", "over 16 EiB"});
}

TEST(Inputs, NotAnNpyFileNamesTheFile) {
  const fs::path d = scratch();
  write(d / "q.npy", "hello");
  const auto p = write(d / "p.yaml", "inputs: {q: q.npy, k: q.npy, v: q.npy}\n");
  // The key and where it was given, then the file.
  expect_error(sim(params_arg(p, d), d),
               {"p.yaml:1:13: inputs.q: " + (d / "q.npy").string(), "not a .npy file"});
  // An empty file (a save that failed) says so, rather than that its magic number is wrong.
  write(d / "q.npy", "");
  expect_error(sim(params_arg(p, d), d), {"q.npy: the file is empty, expected a .npy file"});
}

// A version 2 header's length field can say 4 GiB; the message gives the length and the limit.
TEST(Inputs, AnOversizedOrTruncatedNpyHeaderSaysWhich) {
  const fs::path d = scratch();
  write(d / "big.npy", std::string("\x93NUMPY\x02\x00\x00\x00\x20\x00", 12));
  write(d / "short.npy", std::string("\x93NUMPY\x01\x00\x10", 9));
  for (const auto& [name, message] :
       {std::pair{"big.npy", ".npy header of 2097152 bytes, expected at most 1 MiB"},
        {"short.npy", "truncated .npy header"}}) {
    const std::string file = shell_word(d / name);
    expect_error(sim("--check --set inputs.q=" + file + " --set inputs.k=" + file +
                         " --set inputs.v=" + file,
                     d),
                 {std::string(name) + ": " + message});
  }
}

// An input is read twice and again by the checks' child runs, and params.yaml names it for a
// rerun: a pipe's array was read as far as its header, then the run waited for a second writer or
// took the data for a header (bad magic).
TEST(Inputs, APipeIsRefusedNotReadTwice) {
  const fs::path d = scratch();
  const std::string sets = write_inputs(d, random_inputs(1, 4, 3, 1), {4, 3}, {4, 3});
  fs::remove(d / "q.npy");
  ASSERT_EQ(::mkfifo((d / "q.npy").c_str(), 0600), 0);  // no writer: opening it would block
  expect_error(sim("--check " + sets, d), {"inputs.q: " + (d / "q.npy").string() +
                                           ": not a regular file (a pipe or a device)"});
}

// The shape's rules are the files' once inputs are given: the defaults (heads 1, N 1024) are not
// the problem, and a key that agrees with the files was refused against them.
TEST(Inputs, ProblemKeysThatAgreeWithTheFilesAreAccepted) {
  const fs::path d = scratch();
  const AttentionInputs gqa = random_inputs({1, 4, 2, 6, 6, 3}, 1);
  const std::string files = write_inputs(d, gqa, {1, 4, 6, 3}, {1, 2, 6, 3});
  const SimRun heads = sim("--check " + files + "--set problem.kv_heads=2", d);
  EXPECT_EQ(heads.status, 0) << heads.err;
  const AttentionInputs decode = random_inputs({1, 1, 1, 4, 9, 3}, 1);
  const fs::path e = d / "decode";
  fs::create_directories(e);
  const std::string long_kv = write_inputs(e, decode, {4, 3}, {9, 3});
  const SimRun causal =
      sim("--check " + long_kv + "--set problem.kv_len=9 --set problem.causal=true", e);
  EXPECT_EQ(causal.status, 0) << causal.err;
  // And the rule still holds for the files: more queries than keys under a causal mask.
  const std::string short_kv =
      write_inputs(e, random_inputs({1, 1, 1, 9, 4, 3}, 1), {9, 3}, {4, 3});
  expect_error(sim("--check " + short_kv + "--set problem.causal=true", e),
               {"N = 9 queries are more than inputs.k's N_kv = 4 keys"});
}

// Writes k.npy and v.npy valid for [n, d] and q.npy as given; returns the params file.
fs::path inputs_with_q(const fs::path& d, const std::string& q_bytes) {
  const AttentionInputs in = random_inputs(1, 4, 3, 1);
  write_npy((d / "k.npy").string(), in.k, {4, 3});
  write_npy((d / "v.npy").string(), in.v, {4, 3});
  write(d / "q.npy", q_bytes);
  return write(d / "p.yaml", "inputs: {q: q.npy, k: k.npy, v: v.npy}\n");
}

std::string npy_bytes(const std::vector<float>& data, const std::vector<std::size_t>& shape,
                      const fs::path& scratch_file) {
  write_npy(scratch_file.string(), data, shape);
  return slurp(scratch_file);
}

// A bad input into a folder with earlier results is the error alone: the note that they will be
// replaced came first, and nothing was replaced. With --size-buffers the error names the input
// and where it was given, not the child simulations' temporary params file.
TEST(Inputs, ABadInputIntoAFolderWithEarlierResultsIsOneLineNamingTheKey) {
  const fs::path d = scratch();
  ASSERT_EQ(sim("--set problem.seq_len=4 --set problem.head_dim=3" + out_arg(d / "out"), d).status,
            0);
  std::vector<float> nan(12, 0.5f);
  nan[5] = std::nanf("");
  const fs::path p = inputs_with_q(d, npy_bytes(nan, {4, 3}, d / "tmp.npy"));
  for (const std::string option : {"", " --size-buffers"}) {
    const SimRun r = sim(params_arg(p, d) + option, d);
    expect_error(r, {"p.yaml:1:13: inputs.q: " + (d / "q.npy").string(), "NaN or Inf"});
    EXPECT_EQ(r.err.find("replacing"), std::string::npos) << r.err;
  }
}

// An input in the --out folder that the run replaces (its own output's name) or removes (the
// earlier run's other files) is refused, by --check too: the new params.yaml would name a file
// that no longer holds it.
TEST(Inputs, AnInputTheRunWouldReplaceInItsOutFolderIsRefused) {
  const fs::path d = scratch();
  ASSERT_EQ(sim("--set problem.seq_len=4 --set problem.head_dim=3" + out_arg(d / "out"), d).status,
            0);
  const AttentionInputs in = random_inputs(1, 4, 3, 1);
  write_npy((d / "k.npy").string(), in.k, {4, 3});
  const std::string kv =
      " --set inputs.k=" + shell_word(d / "k.npy") + " --set inputs.v=" + shell_word(d / "k.npy");
  for (const char* run : {"o_naive.npy", "o_reordered.npy"}) {
    const std::string q = (d / "out" / run).string();
    for (const std::string check : {"", " --check"}) {
      const SimRun r = sim(
          "--set datapath=naive --set inputs.q=" + shell_word(q) + kv + check + out_arg(d / "out"),
          d);
      expect_error(r, {"inputs.q: " + q + " is a file this run replaces or removes in --out"});
    }
  }
  // Into another folder it is an input like any other.
  const SimRun elsewhere = sim(
      "--set inputs.q=" + shell_word(d / "out" / "o_naive.npy") + kv + out_arg(d / "elsewhere"), d);
  EXPECT_EQ(elsewhere.status, 0) << elsewhere.err;
}

TEST(Inputs, BadDataFilesAreRefusedNamingTheFile) {
  const fs::path d = scratch();
  const std::vector<float> good(12, 0.5f);
  std::vector<float> nan = good, inf = good;
  nan[5] = std::nanf("");
  inf[7] = INFINITY;
  const std::string valid = npy_bytes(good, {4, 3}, d / "tmp.npy");
  std::string int32 = valid;
  int32.replace(int32.find("<f4"), 3, "<i4");
  // float64 with one value finite there but beyond float32 (it became Inf, called NaN or Inf).
  std::string f8 = valid.substr(0, valid.size() - 12 * sizeof(float));
  f8.replace(f8.find("<f4"), 3, "<f8");
  for (int i = 0; i < 12; ++i) {
    const double x = i == 4 ? 1e300 : 0.5;
    f8.append(reinterpret_cast<const char*>(&x), sizeof x);
  }
  struct Case {
    std::string bytes, file, message;
  };
  const std::vector<Case> cases{
      {npy_bytes(nan, {4, 3}, d / "tmp.npy"), "q.npy", "NaN or Inf (element 5 is nan)"},
      {npy_bytes(inf, {4, 3}, d / "tmp.npy"), "q.npy", "NaN or Inf (element 7 is inf)"},
      {f8, "q.npy", "element 4 is 1e+300, beyond float32's largest finite value 3.4028235e+38"},
      {int32, "q.npy", "dtype '<i4' not supported"},
      {valid.substr(0, valid.size() - 5), "q.npy", "truncated data"},
      {valid.substr(0, 20), "q.npy", "truncated"},
      {npy_bytes(good, {12}, d / "tmp.npy"), "q.npy", "expected an array [B, heads, rows, d]"},
      // Q sets the problem: K is the one that does not fit.
      {npy_bytes(good, {3, 4}, d / "tmp.npy"), "k.npy", "does not fit inputs.q's [3, 4]"},
      {npy_bytes({}, {0, 3}, d / "tmp.npy"), "q.npy", "a dimension is 0"},
      // A header shape smaller than the data ran on part of it.
      {valid + std::string(8, '\0'), "q.npy", "data after the array"},
  };
  for (const Case& c : cases) {
    const fs::path p = inputs_with_q(d, c.bytes);
    expect_error(sim(params_arg(p, d), d), {(d / c.file).string(), c.message});
  }
}

// float64 values that round to 0 in float32 are read as 0: not an error, but a note says how many,
// so that a file of them does not run as zeros without a word; a file without them, no note.
TEST(Inputs, Float64ValuesTooSmallForFloat32AreNamedInANote) {
  const fs::path d = scratch();
  const std::string valid = npy_bytes(std::vector<float>(12, 0.5f), {4, 3}, d / "tmp.npy");
  std::string f8 = valid.substr(0, valid.size() - 12 * sizeof(float));
  f8.replace(f8.find("<f4"), 3, "<f8");
  for (int i = 0; i < 12; ++i) {
    const double x = i % 4 == 0 ? 0.5 : 1e-50;
    f8.append(reinterpret_cast<const char*>(&x), sizeof x);
  }
  const fs::path p = inputs_with_q(d, f8);
  const SimRun r = sim(params_arg(p, d), d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: inputs.q: " + (d / "q.npy").string() +
                       ": 9 of its 12 values are nonzero in float64 but round to 0 in float32"),
            std::string::npos)
      << r.err;
  std::string plain = f8.substr(0, f8.size() - 12 * sizeof(double));
  for (int i = 0; i < 12; ++i) {
    const double x = i % 4 == 0 ? 0.5 : 1e-30;  // a float32 normal
    plain.append(reinterpret_cast<const char*>(&x), sizeof x);
  }
  write(d / "q.npy", plain);
  const SimRun fine = sim(params_arg(p, d), d);
  ASSERT_EQ(fine.status, 0) << fine.err;
  EXPECT_EQ(fine.err.find("round to 0"), std::string::npos) << fine.err;
}

// Values that numerics.input rounds to 0 are counted in a note too: at or below half its least
// subnormal (2^-10 for fp8_e4m3; exactly half is a tie, which goes to the even 0), not above it.
TEST(Inputs, ValuesTheInputFormatRoundsTo0AreNamedInANote) {
  const fs::path d = scratch();
  const float half = std::ldexp(1.0f, -10);
  const std::vector<float> q = {0.5f,   half, -half, half / 3, 0.5f, std::nextafter(half, 1.0f),
                                1e-30f, 0.5f, 0.25f, -0.5f,    1.0f, 0.0f};
  const fs::path p = inputs_with_q(d, npy_bytes(q, {4, 3}, d / "tmp.npy"));
  const SimRun r = sim(params_arg(p, d) + " --set numerics.input=fp8_e4m3", d);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("note: inputs.q: " + (d / "q.npy").string() +
                       ": 4 of its 12 values are nonzero but round to 0 in numerics.input "
                       "fp8_e4m3 (at or below 0.000976562, half its least subnormal)"),
            std::string::npos)
      << r.err;
  const SimRun wide = sim(params_arg(p, d), d);
  ASSERT_EQ(wide.status, 0) << wide.err;
  EXPECT_EQ(wide.err.find("round to 0"), std::string::npos) << wide.err;
}

// K and V of one wrong width differ from Q, not from each other: the error names K against Q.
// A V alone of another shape is named against K, and a causal Q longer than K against K.
TEST(Inputs, KIsCheckedAgainstQBeforeVAgainstK) {
  const fs::path d = scratch();
  const std::vector<float> q(12, 0.5f), wide(16, 0.25f);
  const fs::path p = inputs_with_q(d, npy_bytes(q, {4, 3}, d / "tmp.npy"));
  write_npy((d / "k.npy").string(), wide, {4, 4});
  write_npy((d / "v.npy").string(), wide, {4, 4});
  // Each named by its key, where the params file gives it.
  expect_error(sim(params_arg(p, d), d), {"p.yaml:1:23: inputs.k: " + (d / "k.npy").string() +
                                          ": shape [4, 4] does not fit inputs.q's [4, 3]"});
  write_npy((d / "k.npy").string(), q, {4, 3});
  expect_error(sim(params_arg(p, d), d), {"p.yaml:1:33: inputs.v: " + (d / "v.npy").string() +
                                          ": shape [4, 4] differs from inputs.k's [4, 3]"});
  // More queries than keys under a causal mask: Q's key, and where the mask was asked for.
  write_npy((d / "k.npy").string(), std::vector<float>(9, 0.5f), {3, 3});
  write_npy((d / "v.npy").string(), std::vector<float>(9, 0.5f), {3, 3});
  expect_error(sim(params_arg(p, d) + " --set problem.causal=true", d),
               {"p.yaml:1:13: inputs.q: " + (d / "q.npy").string() +
                ": N = 4 queries are more than inputs.k's N_kv = 3 keys: problem.causal (--set "
                "problem.causal=true) needs N <= N_kv"});
}

// A value the input format cannot hold was inf or NaN in memory: a mismatch blamed on the
// datapath, or an unverified run. It is the input's problem, named with the format's bound.
TEST(Inputs, AValueBeyondTheInputFormatIsRefused) {
  const fs::path d = scratch();
  std::vector<float> q(12, 0.5f);
  q[7] = 1e5f;
  const fs::path p = inputs_with_q(d, npy_bytes(q, {4, 3}, d / "tmp.npy"));
  expect_error(sim(params_arg(p, d) + " --set numerics.input=fp16", d),
               {(d / "q.npy").string(), "element 7 is 100000", "fp16's largest finite value 65504",
                "--set numerics.input=fp16"});
  expect_error(sim(params_arg(p, d) + " --set numerics.input=fp8_e4m3", d), {"element 7", "448"});
  EXPECT_EQ(sim(params_arg(p, d) + " --set numerics.input=bf16 --check", d).status, 0);
}

TEST(Inputs, NpyFilesDefineTheProblemAndOutputsRoundTrip) {
  const fs::path d = scratch();
  const AttentionInputs in = random_inputs(1, 12, 5, 77);
  write_npy((d / "q.npy").string(), in.q, {12, 5});
  write_npy((d / "k.npy").string(), in.k, {12, 5});
  write_npy((d / "v.npy").string(), in.v, {12, 5});
  const auto p = write(d / "p.yaml", "datapath: naive\ninputs: {q: q.npy, k: k.npy, v: v.npy}\n");
  const SimRun r = sim(params_arg(p, d), d);
  ASSERT_EQ(r.status, 0) << r.err;
  const NpyArray o = read_npy((d / "out" / "o_naive.npy").string());
  EXPECT_EQ(o.shape, (std::vector<std::size_t>{1, 1, 12, 5}));  // [B, H, N, d]
  const Check c = check_output(reference_attention(in), o.data, 12, 5);
  EXPECT_LE(c.max_abs_error, c.tolerance);
  const auto report = nlohmann::json::parse(slurp(d / "out" / "report.json"));
  EXPECT_EQ(report["runs"][0]["scores"], 144);
}

// --write-inputs writes the run's Q, K and V as the seed drew them, before numerics.input rounds
// them, in the layout inputs.* reads: passed back, they give the same outputs and cycles.
TEST(Inputs, WrittenInputsPassedBackGiveTheSameRun) {
  const fs::path d = scratch();
  const std::string problem =
      "--set datapath=all --set problem.causal=true --set numerics.input=bf16"
      " --set problem.heads=4 --set problem.kv_heads=2 --set problem.batch=2";
  const std::string shape =
      " --set problem.seq_len=6 --set problem.kv_len=9 "
      "--set problem.head_dim=5 --set problem.seed=7";
  const SimRun first = sim(problem + shape + " --write-inputs" + out_arg(d / "first"), d);
  ASSERT_EQ(first.status, 0) << first.err;
  const AttentionInputs drawn = random_inputs({2, 4, 2, 6, 9, 5, true}, 7);
  const std::vector<std::size_t> q_shape{2, 4, 6, 5}, kv_shape{2, 2, 9, 5};
  for (const auto& [name, data, shape_of] : {std::tuple{"q.npy", &drawn.q, &q_shape},
                                             {"k.npy", &drawn.k, &kv_shape},
                                             {"v.npy", &drawn.v, &kv_shape}}) {
    const NpyArray a = read_npy((d / "first" / name).string());
    EXPECT_EQ(a.shape, *shape_of) << name;
    EXPECT_EQ(a.data, *data) << name;
  }
  const std::string inputs = " --set inputs.q=" + shell_word(d / "first" / "q.npy") +
                             " --set inputs.k=" + shell_word(d / "first" / "k.npy") +
                             " --set inputs.v=" + shell_word(d / "first" / "v.npy");
  const SimRun again = sim(problem + inputs + out_arg(d / "again"), d);
  ASSERT_EQ(again.status, 0) << again.err;
  const auto cycles = [&](const char* run) {
    std::vector<std::uint64_t> c;
    const auto report = nlohmann::json::parse(slurp(d / run / "report.json"));
    for (const auto& r : report["runs"]) c.push_back(r["cycles"].get<std::uint64_t>());
    return c;
  };
  EXPECT_EQ(cycles("again"), cycles("first"));
  for (const std::string& dp : datapath_names())
    EXPECT_EQ(slurp(d / "again" / ("o_" + dp + ".npy")), slurp(d / "first" / ("o_" + dp + ".npy")))
        << dp;
  // A q.npy of the user's in the --out folder is never replaced; sizing writes no inputs.
  fs::create_directories(d / "mine");
  write(d / "mine" / "q.npy", "mine\n");
  expect_error(sim(problem + shape + " --write-inputs" + out_arg(d / "mine"), d),
               {"q.npy is there"});
  EXPECT_EQ(slurp(d / "mine" / "q.npy"), "mine\n");
  EXPECT_EQ(sim("--write-inputs --size-buffers", d).status, 2);
}

// --check refuses what a run would refuse before simulating, with the same message and status,
// and writes nothing.
TEST(Check, AcceptsWhatRunsAndWritesNothing) {
  const fs::path d = scratch();
  const SimRun r = sim("--check --set datapath=all" + out_arg(d / "out"), d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with(
      fmt::format("parameters ok: N = 1024, d = 64, heads = 1, datapaths {}; the run needs about ",
                  fmt::join(datapath_names(), ", "))))
      << r.out;
  EXPECT_TRUE(r.out.ends_with(" MiB of memory\n")) << r.out;
  EXPECT_EQ(r.err, "");
  EXPECT_FALSE(fs::exists(d / "out"));
}

// As the run itself says before it starts, a check of a folder with earlier results says that a
// run would replace them (and replaces nothing).
TEST(Check, SaysARunWouldReplaceEarlierResults) {
  const fs::path d = scratch();
  const std::string small = "--set problem.seq_len=8 --set problem.head_dim=4" + out_arg(d / "o");
  ASSERT_EQ(sim(small, d).status, 0);
  const std::string report = slurp(d / "o" / "report.json");
  const SimRun r = sim("--check " + small, d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err,
            "sdpa-sim: note: a run would replace the results in " + (d / "o").string() + "\n");
  EXPECT_EQ(slurp(d / "o" / "report.json"), report);
  // An empty name (an unset variable in quotes) is not the default file name.
  expect_error(sim("--check --trace-events ''", d),
               {"--trace-events '': expected a file name, got an empty one"});
  // Nor is a name no file system takes, which failed only when the run wrote it (exit 5).
  expect_error(sim("--check --trace-events=" + std::string(251, 'a') + ".json", d),
               {"(256 characters): expected a file name of at most 255 bytes"});
  EXPECT_EQ(
      sim("--check --trace-events=" + std::string(250, 'a') + ".json" + out_arg(d / "t"), d).status,
      0);
}

// The memory --check says a run needs is the run's peak resident memory, within 10%: what the
// process holds once the graphs are built, and the estimate of what the run allocates.
void expect_estimate_holds(const std::string& settings, double least_mib, const fs::path& d) {
  const std::string args = settings + out_arg(d / "out");
  const SimRun check = sim("--check " + args, d);
  ASSERT_EQ(check.status, 0) << check.err;
  const std::string prefix = "the run needs about ";
  const std::size_t at = check.out.find(prefix);
  ASSERT_NE(at, std::string::npos) << check.out;
  const double predicted_mib = std::stod(check.out.substr(at + prefix.size()));
  ASSERT_TRUE(check.out.ends_with(" MiB of memory\n")) << check.out;
  const SimRun run = sim(args, d);
  ASSERT_EQ(run.status, 0) << run.err;
  // The largest of the children waited for: the run (the check's is smaller).
  rusage children{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &children), 0);
  const double peak_mib = double(children.ru_maxrss) / 1024;
  EXPECT_GT(peak_mib, least_mib);  // the part under test dominates
  EXPECT_NEAR(predicted_mib, peak_mib, 0.1 * peak_mib);
}

class CheckMemory : public testing::TestWithParam<std::pair<const char*, double>> {};

TEST_P(CheckMemory, IsTheRunsPeakResidentMemory) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer's own memory is not the simulator's";
#endif
  expect_estimate_holds(GetParam().first, GetParam().second, scratch());
}

// Inputs from .npy files of 16 MiB (K and V of a decode step): read once, in place, not through a
// buffer the size of the data that the process then keeps (the run took 106 MiB against 75).
TEST(Check, TheEstimateHoldsWithLargeNpyInputs) {
#ifdef __SANITIZE_ADDRESS__
  GTEST_SKIP() << "AddressSanitizer's own memory is not the simulator's";
#endif
  const fs::path d = scratch();
  const AttentionInputs in = random_inputs({1, 32, 8, 1, 4096, 128, true}, 3);
  expect_estimate_holds(write_inputs(d, in, {1, 32, 1, 128}, {1, 8, 4096, 128}) +
                            "--set datapath=reordered --set problem.causal=true",
                        60, d);
}

INSTANTIATE_TEST_SUITE_P(
    Check, CheckMemory,
    testing::Values(
        // The arrays of heads × N × d elements: Q, K and V, the reference's output, the outputs.
        std::pair{"--set problem.seq_len=64 --set problem.heads=1024 --set datapath=reordered",
                  100.0},
        // The report of 3 × 64 lanes' units and channels (the estimate once left it out: 33 MiB
        // against 60).
        std::pair{"--set datapath=all --set parallel.lanes=64", 50.0},
        // Inputs rounded to numerics.input: Q, K and V a second time, with a second reference.
        std::pair{"--set problem.seq_len=64 --set problem.heads=1024 --set datapath=reordered "
                  "--set numerics.input=bf16",
                  100.0}),
    [](const auto& info) {
      return info.index == 0 ? "arrays" : info.index == 1 ? "lanes" : "rounded_inputs";
    });

TEST(Check, RefusesWhatARunRefuses) {
  const fs::path d = scratch();
  const auto p = write(d / "p.yaml", "problem:\n  seq_len: 16\n  no_such_key: 1\n");
  expect_error(sim("--check " + params_arg(p, d), d), {"problem.no_such_key", "p.yaml:3:3"});
  expect_error(sim("--check --set problem.seq_len=1000000 --set problem.head_dim=4096", d),
               {"problem.seq_len", "GiB of memory"});
  expect_error(sim("--check --set channels.depths.no_such_channel=4", d),
               {"channels.depths.no_such_channel"});
  // The output folder, as the run finds it, without creating it (it once went unchecked).
  write(d / "afile", "");
  expect_error(sim("--check --out " + shell_word(d / "afile" / "sub"), d),
               {"afile/sub: cannot create the folder: Not a directory"});
  fs::create_directories(d / "mine");
  write(d / "mine" / "params.yaml", "my own\n");
  expect_error(sim("--check --out " + shell_word(d / "mine"), d),
               {"params.yaml is there but is not the output of an earlier run"});
  EXPECT_EQ(sim("--check --out " + shell_word(d / "new" / "deeper"), d).status, 0);
  EXPECT_FALSE(fs::exists(d / "new"));
  // The user's inputs are read whole: a NaN is found without a run.
  std::vector<float> nan(12, 0.5f);
  nan[5] = std::nanf("");
  const fs::path inputs = inputs_with_q(d, npy_bytes(nan, {4, 3}, d / "tmp.npy"));
  expect_error(sim("--check " + params_arg(inputs, d), d), {"q.npy", "NaN or Inf"});
  expect_error(sim("--check --size-buffers", d), {"--size-buffers excludes --check"});
  EXPECT_FALSE(fs::exists(d / "out"));
}

TEST(Exit, DeadlockExitsThreeWithTheReport) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=naive --set problem.seq_len=64 --set problem.head_dim=8 "
          "--set channels.depths.score_bypass=16 --out '" +
              (d / "o").string() + "'",
          d);
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.out.find("naive.dot_product at cycle"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("waits to write naive.score_bypass: full 16/16"), std::string::npos);
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  EXPECT_EQ(report["runs"][0]["status"], "deadlock");
}

TEST(Exit, WatchdogStopsARunawayRunWithExitFourAndWhereUnitsStand) {
  // N = 64 needs N² + 2N + 26 = 4250 cycles (docs/timing.md); the limit is 2000.
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=naive --set problem.seq_len=64 --set problem.head_dim=4 "
          "--set sim.max_cycles=2000 --out '" +
              (d / "o").string() + "'",
          d);
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("STOPPED by the watchdog"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("naive.dot_product at cycle 2001: passed the cycle limit"),
            std::string::npos);
  EXPECT_NE(r.out.find("naive.sink at cycle"), std::string::npos);
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  EXPECT_EQ(report["runs"][0]["status"], "timeout");
  EXPECT_EQ(report["runs"][0]["waits"].size(), 11u);
}

// A waveform runs synchronized, on SystemC's time line, which ends at 2^64 ps: a run of more
// cycles than that holds at a long clock period wrapped around and never ended (N = 136 needs
// about 1.8·10^10 cycles of 1 ms here). The watchdog now stops it short of the end and says why.
TEST(Exit, AWaveformRunPastTheEndOfSystemCTimeIsStoppedSayingWhy) {
  const fs::path d = scratch();
  const std::string run =
      "--set datapath=reordered --set problem.seq_len=136 --set problem.head_dim=1 "
      "--set clock.period_ns=1000000 --set units.k_reader.ii=1048576 ";
  const SimRun r = sim(run + "--vcd --out " + shell_word(d / "o"), d);
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.out.find("STOPPED by the watchdog"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is where SystemC time ends (2^64 time units, less a margin) at this "
                       "clock.period_ns in synchronized mode (--vcd, --fst or sim.mode: "
                       "synchronized): run decoupled"),
            std::string::npos)
      << r.out;
  // Without the waveform (decoupled: no SystemC time per cycle) the same run completes.
  const SimRun fast = sim(run + "--out " + shell_word(d / "fast"), d);
  EXPECT_EQ(fast.status, 0) << fast.err;
}

TEST(Exit, OneDatapathsWatchdogLeavesTheOtherAsItIsAlone) {
  // Reordered needs N² + 27 = 4123 cycles at N = 64, naive N² + 2N + 26 = 4250: a limit of 4200
  // stops naive only; in both modes reordered reports exactly what it reports alone.
  const fs::path d = scratch();
  const std::string common =
      "--set problem.seq_len=64 --set problem.head_dim=8 --set sim.max_cycles=4200 ";
  const SimRun alone =
      sim(common + "--set datapath=reordered --out '" + (d / "alone").string() + "'", d);
  ASSERT_EQ(alone.status, 0) << alone.err;
  const auto expected = nlohmann::json::parse(slurp(d / "alone" / "report.json"))["runs"][0];
  EXPECT_EQ(expected["cycles"], 4123);
  for (const char* mode : {"decoupled", "synchronized"}) {
    const fs::path o = d / mode;
    const SimRun both = sim(common + "--set sim.mode=" + mode + " --out '" + o.string() + "'", d);
    EXPECT_EQ(both.status, 4) << mode << both.err;
    const auto report = nlohmann::json::parse(slurp(o / "report.json"));
    EXPECT_EQ(report["runs"][0]["status"], "timeout") << mode;
    EXPECT_EQ(report["runs"][1], expected) << mode;
    EXPECT_EQ(slurp(o / "o_reordered.npy"), slurp(d / "alone" / "o_reordered.npy")) << mode;
  }
}

// The statuses of naive, two_pass and reordered in report.json, in that order (a datapath added
// to the registry runs with them in `datapath=all` but is not what these tests are about).
std::vector<std::string> statuses(const fs::path& out) {
  const auto report = nlohmann::json::parse(slurp(out / "report.json"));
  std::vector<std::string> found;
  for (const char* datapath : {"naive", "two_pass", "reordered"})
    for (const auto& run : report["runs"])
      if (run["datapath"] == datapath) found.push_back(run["status"]);
  return found;
}

// Datapaths run together exit with the worst status (errors.md): a watchdog stop over deadlocks,
// a deadlock over a run that completed, ok or unverified.
TEST(Exit, SeveralDatapathsExitWithTheWorstStatus) {
  const fs::path d = scratch();
  // Both bypasses 8 deep for rows of 64: naive and two_pass deadlock.
  const std::string shallow =
      "--set datapath=all --set problem.seq_len=64 --set problem.head_dim=8 "
      "--set channels.depths.score_bypass=8 ";
  const SimRun deadlocks = sim(shallow + out_arg(d / "a"), d);
  EXPECT_EQ(deadlocks.status, 3) << deadlocks.err;
  EXPECT_EQ(statuses(d / "a"), (std::vector<std::string>{"deadlock", "deadlock", "ok"}));
  const SimRun stopped = sim(shallow + "--set sim.max_cycles=200" + out_arg(d / "b"), d);
  EXPECT_EQ(stopped.status, 4) << stopped.err;
  EXPECT_EQ(statuses(d / "b"), (std::vector<std::string>{"deadlock", "deadlock", "timeout"}));
  // Scores of 1e30: every completed run is unverified (exit 6 alone).
  const std::string huge = write_inputs(d, random_inputs(1, 12, 5, 77, 1e30f), {12, 5}, {12, 5});
  const SimRun unverified = sim(huge + "--set datapath=reordered" + out_arg(d / "c"), d);
  EXPECT_EQ(unverified.status, 6) << unverified.err;
  const SimRun worse =
      sim(huge + "--set datapath=all --set channels.depths.score_bypass=4" + out_arg(d / "e"), d);
  EXPECT_EQ(worse.status, 3) << worse.err;
  EXPECT_EQ(statuses(d / "e"), (std::vector<std::string>{"deadlock", "deadlock", "unverified"}));
}

// The worst status whatever the datapaths' order: a watchdog stop in the first datapath stays exit
// 4 when a later one deadlocks (naive needs N² + 2N + 26 = 4250 cycles at N = 64, reordered
// N² + 27 = 4123: a limit of 4200 stops naive only; two_pass's 8-deep bypass deadlocks it).
TEST(Exit, AWatchdogStopBeforeADeadlockIsStillTheWorst) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=all --set problem.seq_len=64 --set problem.head_dim=8 "
          "--set datapaths.two_pass.channels.depths.score_bypass=8 --set sim.max_cycles=4200" +
              out_arg(d / "o"),
          d);
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_EQ(statuses(d / "o"), (std::vector<std::string>{"timeout", "deadlock", "ok"}));
}

TEST(Exit, AutomaticWatchdogNeverStopsARunThatCompletes) {
  // A memory latency of 2^20 cycles puts every run beyond a limit that ignores latencies.
  const fs::path d = scratch();
  const SimRun r =
      sim("--set memory.read_latency=1048576 --set problem.seq_len=16 --set problem.head_dim=4 "
          "--out '" +
              (d / "o").string() + "'",
          d);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  EXPECT_GT(report["runs"][0]["cycles"].get<Cycle>(), 1048576u);
}

TEST(Determinism, SameParamsGiveByteIdenticalOutputs) {
  const fs::path d = scratch();
  for (const char* run : {"a", "b"}) {
    const SimRun r =
        sim("--set problem.seq_len=12 --set problem.head_dim=3 --set problem.seed=9 "
            "--vcd --out '" +
                (d / run).string() + "'",
            d);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  for (const char* file :
       {"o_naive.npy", "o_reordered.npy", "trace.vcd", "trace.gtkw", "trace.states", "params.yaml"})
    EXPECT_EQ(slurp(d / "a" / file), slurp(d / "b" / file)) << file;
  auto report = [&](const char* run) {
    auto j = nlohmann::json::parse(slurp(d / run / "report.json"));
    j["sim"].erase("wall_seconds");
    return j.dump();
  };
  EXPECT_EQ(report("a"), report("b"));
}

// A save file's zoom line `*Z M`: GTKWave's zoom Z and its marker M, in ps (-1: no such line).
std::pair<double, long> gtkw_zoom(const std::string& gtkw) {
  const std::size_t zoom = gtkw.find("\n*");
  EXPECT_NE(zoom, std::string::npos) << gtkw;
  if (zoom == std::string::npos) return {0, -1};
  std::istringstream line(gtkw.substr(zoom + 2));
  double z = 0;
  long marker = 0;
  line >> z >> marker;
  return {z, marker};
}

// A unit's `state` in a SystemC VCD (one unit of that name: a datapath alone) at time `ps`: the
// last value written at or before it, and the file's last time step; -1 where not found.
std::pair<long, long> vcd_state_at(const std::string& vcd, const std::string& unit, long ps) {
  std::istringstream in(vcd);
  std::string line, id;
  bool in_unit = false;
  long value = -1, time = -1;
  while (std::getline(in, line)) {
    if (line == "$scope module " + unit + " $end") in_unit = true;
    if (in_unit && line.starts_with("$var") && line.find(" state ") != std::string::npos) {
      std::istringstream var(line);
      std::string skip;
      var >> skip >> skip >> skip >> id;
      in_unit = false;
    }
    if (line.starts_with("#")) time = std::stol(line.substr(1));
    const std::size_t space = line.find(' ');
    if (!id.empty() && time <= ps && line.starts_with("b") && space != std::string::npos &&
        line.substr(space + 1) == id)
      value = std::stol(line.substr(1, space - 1), nullptr, 2);
  }
  return {value, time};
}

TEST(Waveform, VcdListsEveryChannelAndGtkwaveAcceptsIt) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=naive --set problem.seq_len=8 --set problem.head_dim=4 --vcd "
          "--out '" +
              (d / "o").string() + "'",
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string vcd = slurp(d / "o" / "trace.vcd");
  const std::string gtkw = slurp(d / "o" / "trace.gtkw");
  for (const char* ch : {"q_rows", "k_rows", "v_rows", "scores", "score_bypass", "maxima",
                         "shifted", "exps", "exp_bypass", "sums", "probs", "out_rows"}) {
    EXPECT_NE(vcd.find(std::string("$scope module ") + ch + " $end"), std::string::npos) << ch;
    EXPECT_NE(gtkw.find(std::string("SystemC.naive.") + ch + ".occupancy[31:0]"), std::string::npos)
        << ch;
  }
  // A run that completes has the marker mid-run, in its steady state (`*Z M`, M in ps), on a
  // whole cycle: the span, 107 cycles, is odd.
  const auto span =
      nlohmann::json::parse(slurp(d / "o" / "report.json"))["runs"][0]["span_cycles"].get<long>();
  const auto [z, marker] = gtkw_zoom(gtkw);
  ASSERT_EQ(span % 2, 1);
  EXPECT_EQ(marker, span / 2 * 1000);
  // GTKWave's converter parses the whole file and must find the bypass's signal.
  const std::string fst = (d / "o" / "trace.fst").string();
  ASSERT_EQ(std::system(
                ("vcd2fst '" + (d / "o" / "trace.vcd").string() + "' '" + fst + "' >/dev/null 2>&1")
                    .c_str()),
            0);
  const std::string back = (d / "o" / "back.vcd").string();
  ASSERT_EQ(std::system(("fst2vcd '" + fst + "' > '" + back + "' 2>/dev/null").c_str()), 0);
  EXPECT_NE(slurp(back).find("occupancy"), std::string::npos);
}

// The last values of a VCD, by signal (`naive.sink.state`), and its last timestamp.
struct VcdEnd {
  std::map<std::string, long> values;
  long last_time = -1;
};
VcdEnd vcd_end(const std::string& vcd) {
  std::map<std::string, std::string> names;  // identifier code -> scoped name
  std::vector<std::string> scope;
  VcdEnd end;
  std::istringstream lines(vcd);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream w(line);
    std::string first, a, b, c, e;
    w >> first;
    if (first == "$scope") {
      w >> a >> b;
      scope.push_back(b);
    } else if (first == "$upscope") {
      scope.pop_back();
    } else if (first == "$var") {
      w >> a >> b >> c >> e;  // wire 32 code name
      std::string name;
      for (std::size_t i = 1; i < scope.size(); ++i) name += scope[i] + ".";  // below SystemC
      names[c] = name + e;
    } else if (!first.empty() && first[0] == '#') {
      end.last_time = std::stol(first.substr(1));
    } else if (!first.empty() && first[0] == 'b') {
      w >> a;
      end.values[names.at(a)] = std::stol(first.substr(1), nullptr, 2);
    }
  }
  return end;
}

// SystemC writes a time step's values when time next advances: the waveform runs one cycle past
// the span so that the last changes show, every channel empty and every unit idle.
TEST(Waveform, EndsWithEveryChannelEmptyAndEveryUnitIdle) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=all --set problem.seq_len=8 --set problem.head_dim=4 --vcd "
          "--out '" +
              (d / "o").string() + "'",
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const VcdEnd end = vcd_end(slurp(d / "o" / "trace.vcd"));
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  Cycle span = 0;
  std::size_t units = 0, channels = 0;
  for (const auto& run : report["runs"]) {
    span = std::max(span, run["span_cycles"].get<Cycle>());
    units += run["units"].size();
    channels += run["channels"].size();
  }
  EXPECT_EQ(end.last_time, long(span + 1) * 1000);  // in ps, 1 ns per cycle
  std::size_t states = 0, occupancies = 0;
  for (const auto& [name, value] : end.values) {
    EXPECT_EQ(value, 0) << name;
    states += name.ends_with(".state");
    occupancies += name.ends_with(".occupancy");
  }
  EXPECT_EQ(states, units);
  EXPECT_EQ(occupancies, channels);
}

// The view fits the latest unit's end, a deadlocked run's too (it has no cycle count): GTKWave's
// zoom line `*Z M` puts the marker M at its span, in ps, the cycle from which its units wait, as
// the values column shows (at the cycle before, the marker's place until 2026-12-05, the row max
// was still busy).
TEST(Waveform, ADeadlockedRunsViewFitsWhereItsUnitsWait) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=naive --set problem.seq_len=32 --set problem.head_dim=4 "
          "--set channels.depths.score_bypass=16 --vcd --out '" +
              (d / "o").string() + "'",
          d);
  ASSERT_EQ(r.status, 3) << r.err;
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  const Cycle span = report["runs"][0]["span_cycles"].get<Cycle>();
  ASSERT_GT(span, 0u);  // where its units wait: its cycle count is 0
  const std::string gtkw = slurp(d / "o" / "trace.gtkw");
  const auto [z, marker] = gtkw_zoom(gtkw);
  EXPECT_EQ(marker, long(span) * 1000);  // 1 ns per cycle
  EXPECT_NEAR(z, 2.05 - std::log2(double(span) * 1000), 1e-6);
  const std::string vcd = slurp(d / "o" / "trace.vcd");
  EXPECT_EQ(vcd_state_at(vcd, "row_max", marker).first, 2);      // starved: scores is empty
  EXPECT_EQ(vcd_state_at(vcd, "dot_product", marker).first, 3);  // blocked: score_bypass is full
  // Each occupancy is scaled to its own range over the run (analog, full scale: 0x80000), not
  // to the window: its label gives the capacity.
  EXPECT_NE(gtkw.find("@88024\n+{score_bypass (capacity 16)}"), std::string::npos) << gtkw;
  EXPECT_NE(gtkw.find("+{score_bypass (capacity 16)} SystemC.naive.score_bypass.occupancy[31:0]"),
            std::string::npos)
      << gtkw;
  // The bypasses, the graph's row-holding channels, in red (GTKWave's colour 1); the others not.
  EXPECT_NE(gtkw.find("[color] 1\n@88024\n+{score_bypass "), std::string::npos) << gtkw;
  EXPECT_NE(gtkw.find("[color] 0\n@88024\n+{scores "), std::string::npos) << gtkw;
  EXPECT_EQ(gtkw.find("[color] 1\n@88024\n+{scores "), std::string::npos) << gtkw;
  // Downstream of the deadlock nothing was written: a number (0), not an analog trace, which
  // GTKWave would draw at half height when it never changes.
  long exp_capacity = 0;
  for (const auto& ch : report["runs"][0]["channels"])
    if (ch["name"] == "naive.exp_bypass") exp_capacity = ch["capacity"].get<long>();
  ASSERT_GT(exp_capacity, 0);
  EXPECT_NE(gtkw.find(fmt::format("[color] 1\n@24\n+{{exp_bypass (capacity {}, never written)}} "
                                  "SystemC.naive.exp_bypass.occupancy[31:0]\n",
                                  exp_capacity)),
            std::string::npos)
      << gtkw;
  EXPECT_NE(gtkw.find("[color] 0\n@24\n+{shifted (capacity 2, never written)}"), std::string::npos)
      << gtkw;
}

// Where one datapath stops and another completes later, the view ends where the stopped one's
// units wait, not at the other's end, where the stop would be a sliver at the left edge.
TEST(Waveform, AStopBesideACompletedRunIsWhereTheViewEnds) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=both --set problem.seq_len=32 --set problem.head_dim=4 "
          "--set channels.depths.score_bypass=16 --vcd --out '" +
              (d / "o").string() + "'",
          d);
  ASSERT_EQ(r.status, 3) << r.err;
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  ASSERT_EQ(report["runs"][0]["datapath"], "naive");
  ASSERT_EQ(report["runs"][0]["status"], "deadlock");
  ASSERT_EQ(report["runs"][1]["status"], "ok");
  const long stop = report["runs"][0]["span_cycles"].get<long>();
  ASSERT_LT(stop * 4, report["runs"][1]["span_cycles"].get<long>());
  const auto [z, marker] = gtkw_zoom(slurp(d / "o" / "trace.gtkw"));
  EXPECT_EQ(marker, stop * 1000);
  EXPECT_NEAR(z, 2.05 - std::log2(double(stop) * 1000), 1e-6);
}

// A run the watchdog stopped may have a span past its limit (a unit's stall jumps over it), but
// SystemC time, and with it the waveform, stops a cycle past the limit: the view and the marker
// end at the waveform's last values, not in the blank beyond them.
TEST(Waveform, AStoppedRunsViewEndsWithItsWaveform) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=naive --set problem.seq_len=32 --set problem.head_dim=8 "
          "--set memory.read_latency=40 --set sim.max_cycles=20 --vcd --out '" +
              (d / "o").string() + "'",
          d);
  ASSERT_EQ(r.status, 4) << r.err;
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  ASSERT_GT(report["runs"][0]["span_cycles"].get<long>(), 21);  // past the limit
  const auto [z, marker] = gtkw_zoom(slurp(d / "o" / "trace.gtkw"));
  const long last = vcd_state_at(slurp(d / "o" / "trace.vcd"), "k_reader", 0).second;
  EXPECT_EQ(last, 21000);  // the limit and one cycle
  EXPECT_EQ(marker, last - 1000);
  EXPECT_NEAR(z, 2.05 - std::log2(double(marker)), 1e-6);
}

// Every whole number of picoseconds is a clock period, whichever way its decimal's binary
// rounding went: 1.001 ns is 1000.9999999999999 ps multiplied out.
TEST(Params, EveryWholeNumberOfPicosecondsIsAClockPeriod) {
  const fs::path d = scratch();
  for (const char* whole : {"0.001", "1.001", "2.002", "1000000"})
    EXPECT_EQ(
        sim(std::string("--check --set clock.period_ns=") + whole + out_arg(d / "o"), d).status, 0)
        << whole;
}

// Each integer key takes every value of its documented range, its bounds included, and refuses
// the values next to them (docs/params.md), with the other keys small enough for any machine.
TEST(Params, IntegerKeysTakeTheirBoundsAndRefuseWhatLiesPast) {
  const fs::path d = scratch();
  // The problem at its smallest, but for `key`.
  const auto small = [](const std::string& key) {
    std::string args = "--check --set datapath=naive ";
    for (const char* other : {"problem.seq_len", "problem.head_dim"})
      if (key != other) args += fmt::format("--set {}=1 ", other);
    return args;
  };
  struct Range {
    std::string key;
    std::uint64_t min, max;
  };
  for (const Range& k : {Range{"problem.batch", 1, 1 << 16}, Range{"problem.heads", 1, 1 << 16},
                         Range{"problem.seq_len", 1, 1 << 20},
                         Range{"problem.head_dim", 1, 1 << 16}, Range{"parallel.lanes", 1, 256}}) {
    for (const std::uint64_t ok : {k.min, k.max}) {
      const SimRun r =
          sim(small(k.key) + fmt::format("--set {}={}", k.key, ok) + out_arg(d / "o"), d);
      EXPECT_EQ(r.status, 0) << k.key << "=" << ok << ": " << r.err;
    }
    for (const std::uint64_t past : {k.min - 1, k.max + 1})
      expect_error(
          sim(small(k.key) + fmt::format("--set {}={}", k.key, past) + out_arg(d / "o"), d),
          {fmt::format("{}: expected an integer in [{}, {}]", k.key, k.min, k.max)});
  }
  // A seed is any 64-bit number, 0 included.
  for (const char* seed : {"0", "18446744073709551615"})
    EXPECT_EQ(sim(small("") + "--set problem.seed=" + seed + out_arg(d / "o"), d).status, 0)
        << seed;
}

// The problem's line (--check's, and the summary's first) names kv_heads where they are not the
// query heads (GQA, and MQA with one), and only there.
TEST(Check, TheProblemLineNamesKvHeadsWhereTheyAreNotTheHeads) {
  const fs::path d = scratch();
  const std::string shape =
      "--check --set datapath=naive --set problem.seq_len=8 --set problem.head_dim=4 "
      "--set problem.heads=4 ";
  for (const auto& [kv_heads, line] :
       {std::pair{"--set problem.kv_heads=2", "N = 8, d = 4, heads = 4 (kv_heads = 2), "},
        {"--set problem.kv_heads=1", "N = 8, d = 4, heads = 4 (kv_heads = 1), "},
        {"--set problem.kv_heads=4", "N = 8, d = 4, heads = 4, "},
        {"", "N = 8, d = 4, heads = 4, "}}) {
    const SimRun r = sim(shape + kv_heads + out_arg(d / "o"), d);
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.out.starts_with(std::string("parameters ok: ") + line + "datapaths naive;"))
        << kv_heads << ": " << r.out;
  }
}

// `auto`, as a params.yaml written without inputs gives kv_heads and kv_len, follows the files:
// it is no value that could disagree with them.
TEST(Inputs, AutoKvHeadsAndKvLenFollowTheFiles) {
  const fs::path d = scratch();
  const AttentionInputs gqa = random_inputs({1, 4, 2, 6, 9, 3}, 1);
  const std::string files = write_inputs(d, gqa, {1, 4, 6, 3}, {1, 2, 9, 3});
  const SimRun r =
      sim("--check " + files + "--set problem.kv_heads=auto --set problem.kv_len=auto", d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(
      r.out.starts_with("parameters ok: N_q = 6, N_kv = 9, d = 3, heads = 4 (kv_heads = 2)"))
      << r.out;
}

// Files may have each dimension at the most its key allows (as `problem.head_dim: 65536` may).
TEST(Inputs, AFilesDimensionAtItsKeysMostIsAccepted) {
  const fs::path d = scratch();
  const std::size_t d_max = 1 << 16;
  const std::string files =
      write_inputs(d, random_inputs({1, 1, 1, 1, 1, d_max}, 1), {1, d_max}, {1, d_max});
  const SimRun r = sim("--check " + files + out_arg(d / "o"), d);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("parameters ok: N = 1, d = 65536, heads = 1,")) << r.out;
}

// The summary's table gives the report's numbers, each cell from its datapath's run: a causal
// run with bf16 inputs, so that the scores skipped and the two errors differ from zero and from
// each other.
TEST(Summary, EveryCellIsItsRunsNumberInTheReport) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set problem.seq_len=16 --set problem.head_dim=4 --set problem.causal=true "
          "--set numerics.input=bf16" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto report = nlohmann::json::parse(slurp(d / "o" / "report.json"));
  // The cells of the row `label`, separated by two spaces or more.
  const auto row = [&](const std::string& label) {
    std::vector<std::string> cells;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with(label + "  ")) continue;
      for (std::size_t at = line.find_first_not_of(' ', label.size()); at != std::string::npos;) {
        const std::size_t end = line.find("  ", at);
        cells.push_back(line.substr(at, end - at));
        at = line.find_first_not_of(' ', end);
      }
      break;
    }
    cells.resize(2);
    return cells;
  };
  ASSERT_EQ(report["runs"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto& run = report["runs"][i];
    const std::string dp = run["datapath"];
    const auto& memory = run["memory"];
    const auto& intermediate = memory["intermediate"];
    const std::uint64_t read = run["memory_traffic"]["bytes_read"]["total"];
    const Cycle cycles = run["cycles"];
    EXPECT_EQ(row("cycles")[i], fmt::format("{}", cycles)) << dp;
    EXPECT_EQ(row("scores computed (masked)")[i],
              fmt::format("{} ({})", run["scores"].get<std::uint64_t>(),
                          run["scores_skipped"].get<std::uint64_t>()))
        << dp;
    EXPECT_EQ(row("memory read")[i],
              fmt::format("{} ({:.1f} B/cycle)", bytes_text(read), double(read) / double(cycles)))
        << dp;
    EXPECT_EQ(
        row("intermediate memory, provisioned")[i],
        fmt::format("{} elements ({})", intermediate["capacity_elements"].get<std::uint64_t>(),
                    bytes_text(intermediate["capacity_bytes"])))
        << dp;
    EXPECT_EQ(
        row("intermediate memory, used (high water)")[i],
        fmt::format("{} elements ({})", intermediate["high_water_elements"].get<std::uint64_t>(),
                    bytes_text(intermediate["high_water_bytes"])))
        << dp;
    EXPECT_EQ(row("Q/K/V stream buffers, provisioned")[i],
              fmt::format("{} elements ({})",
                          memory["capacity_elements"].get<std::uint64_t>() -
                              intermediate["capacity_elements"].get<std::uint64_t>(),
                          bytes_text(memory["capacity_bytes"].get<std::uint64_t>() -
                                     intermediate["capacity_bytes"].get<std::uint64_t>())))
        << dp;
    EXPECT_EQ(row("max abs error (tolerance)")[i],
              fmt::format("{:.2g} ({:.2g})", run["max_abs_error"].get<double>(),
                          run["tolerance"].get<double>()))
        << dp;
    EXPECT_EQ(
        row("max abs error, unrounded inputs")[i],
        fmt::format("{:.2g}", run["numerics"]["max_abs_error_unrounded_inputs"].get<double>()))
        << dp;
    const auto& energy = run["energy"];
    const double scores = run["scores"];
    EXPECT_EQ(row("energy per score (compute, buffers, memory)")[i],
              fmt::format("{} ({}, {}, {})", energy_text(energy["per_score_pj"]),
                          energy_text(energy["compute_pj"].get<double>() / scores),
                          energy_text(energy["buffering_pj"]["total"].get<double>() / scores),
                          energy_text(energy["memory_pj"].get<double>() / scores)))
        << dp;
    EXPECT_EQ(row("area, compute + buffering")[i],
              fmt::format("{:.3f} + {:.3f} mm²", run["area"]["compute_um2"].get<double>() * 1e-6,
                          run["area"]["buffering_um2"]["total"].get<double>() * 1e-6))
        << dp;
  }
}

// A params file is read up to 16 MiB, far more than any params file (/dev/zero or an endless pipe
// would never end): one byte more is refused, the 16 MiB themselves are read.
TEST(Params, AParamsFileIsReadUpTo16MiB) {
  const fs::path d = scratch();
  const auto file = [&](std::size_t bytes) {
    return shell_word(write(d / "p.yaml", "# " + std::string(bytes - 3, 'x') + "\n"));
  };
  expect_error(sim("--check " + file((16 << 20) + 1), d),
               {"p.yaml: more than 16 MiB, expected a params file (YAML)"});
  EXPECT_EQ(sim("--check " + file(16 << 20) + out_arg(d / "o"), d).status, 0);
}

// The least traffic reads Q, K and V once in numerics.input and writes O once in
// numerics.compute: with bf16 inputs and fp32 results, 2 bytes per input element, 4 per output.
TEST(Traffic, TheMinimumWritesOInTheComputeFormat) {
  const fs::path d = scratch();
  const SimRun r =
      sim("--set datapath=reordered --set problem.seq_len=8 --set problem.kv_len=12 "
          "--set problem.head_dim=4 --set numerics.input=bf16" +
              out_arg(d / "o"),
          d);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto traffic =
      nlohmann::json::parse(slurp(d / "o" / "report.json"))["runs"][0]["memory_traffic"];
  const std::uint64_t q = 8 * 4, kv = 12 * 4;
  EXPECT_EQ(traffic["footprint_bytes"], 2 * (q + 2 * kv));
  EXPECT_EQ(traffic["bytes_written"], 4 * q);
  EXPECT_EQ(traffic["minimum_bytes"], 2 * (q + 2 * kv) + 4 * q);
  EXPECT_DOUBLE_EQ(traffic["relative_to_minimum"].get<double>(),
                   double(traffic["bytes_read"]["total"].get<std::uint64_t>() + 4 * q) /
                       double(2 * (q + 2 * kv) + 4 * q));
}

}  // namespace
}  // namespace sdpa::test
