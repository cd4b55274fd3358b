// What a report records of where its numbers came from: the build (version, commit, build type)
// and the digests of the files a run read (inputs, cost table), so that a number in a paper can be
// traced to the binary and data that gave it.
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "sim/npy.h"
#include "sim/reference.h"
#include "sim/sha256.h"
#include "tb/cli.h"

namespace sdpa::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json report(const fs::path& out) { return json::parse(slurp(out / "report.json")); }

const std::string kSmall = "--set problem.seq_len=8 --set problem.head_dim=4 ";

// FIPS 180-4's examples (NIST's SHA-256 test vectors), one a block and a half long, and the
// padding's edges: 55 bytes take one block, 56 two, 64 two.
TEST(Sha256, GivesTheStandardDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjk"
                       "lmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(std::string(55, 'a')),
            "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')),
            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

// In pieces of any size, across the 64-byte blocks, the digest is the whole's.
TEST(Sha256, PiecesGiveTheDigestOfTheWhole) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += static_cast<char>(i * 37 + 11);
  const std::string whole = sha256_hex(text);
  for (std::size_t piece : {1, 3, 63, 64, 65, 128, 299}) {
    Sha256 digest;
    for (std::size_t at = 0; at < text.size(); at += piece)
      digest.update(std::string_view(text).substr(at, piece));
    EXPECT_EQ(digest.hex(), whole) << piece;
  }
}

// An input's digest is taken as its bytes are read, so that it is of the data the run used: equal
// to the whole file's, float32 read in place and float64 a chunk of 2^16 elements at a time.
TEST(Sha256, AnInputsDigestIsOfTheBytesReadWhole) {
  const fs::path d = scratch();
  for (const auto& [dtype, item] : {std::pair{"<f4", 4}, {"<f8", 8}}) {
    const std::size_t count = 3 * (std::size_t(1) << 16) + 5;  // past three chunks
    std::string header = npy_header({count});
    header.replace(header.find("<f4"), 3, dtype);
    std::string bytes = header;
    for (std::size_t i = 0; i < count; ++i) {
      const double value = std::sin(double(i));
      if (item == 4) {
        const float f = static_cast<float>(value);
        bytes.append(reinterpret_cast<const char*>(&f), 4);
      } else {
        bytes.append(reinterpret_cast<const char*>(&value), 8);
      }
    }
    write(d / "x.npy", bytes);
    const NpyArray a = read_npy((d / "x.npy").string());
    ASSERT_EQ(a.data.size(), count);
    EXPECT_EQ(a.sha256, sha256_hex(bytes)) << dtype;
  }
}

// The build behind the numbers: report.json's `build` and --version say the same.
TEST(Build, TheReportAndVersionNameTheVersionCommitAndBuildType) {
  const fs::path d = scratch();
  const SimRun r = sim(kSmall + out_arg(d / "o"), d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json build = report(d / "o")["build"];
  EXPECT_EQ(build["version"], SDPA_VERSION);
  EXPECT_EQ(build["type"], SDPA_BUILD_TYPE);
  EXPECT_EQ(build["compiler"], SDPA_COMPILER);
  EXPECT_EQ(build["flags"], SDPA_BUILD_FLAGS);
  const SimRun v = sim("--version", d);
  EXPECT_EQ(v.status, 0) << v.err;
  if (build["commit"].is_null()) {
    EXPECT_TRUE(build["modified"].is_null());
    EXPECT_EQ(v.out, "sdpa-sim " SDPA_VERSION " (commit unknown, " SDPA_BUILD_TYPE " build)\n");
  } else {
    const std::string commit = build["commit"];
    EXPECT_TRUE(std::regex_match(commit, std::regex("[0-9a-f]{40}"))) << commit;
    EXPECT_EQ(v.out,
              fmt::format("sdpa-sim {} (commit {}{}, {} build)\n", SDPA_VERSION, commit,
                          build["modified"].get<bool>() ? ", modified" : "", SDPA_BUILD_TYPE));
  }
}

// cmake/build_commit.cmake, run as the build runs it, on a repository of the test's own, out of
// reach of the user's git settings (hooks, signing, a hook's GIT_DIR or GIT_INDEX_FILE).
class BuildCommit : public testing::Test {
 protected:
  void SetUp() override {
    for (const char* variable : {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"})
      ::unsetenv(variable);
    ::setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
    ::setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
    d_ = scratch();
    repo_ = d_ / "repo";
    fs::create_directories(repo_ / "sim");
    fs::create_directories(repo_ / "docs");
    write(repo_ / "sim" / "a.cpp", "int a;\n");
    write(repo_ / "docs" / "a.md", "a\n");
    git("init -q");
    commit("one");
  }
  void git(const std::string& args) {
    ASSERT_EQ(shell("cd " + shell_word(repo_) + " && git " + args + " >/dev/null 2>&1"), 0) << args;
  }
  void commit(const std::string& message) {
    git("add -A && git -c user.name=t -c user.email=t@t commit -q -m " + message);
  }
  std::string head() {
    EXPECT_EQ(shell("git -C " + shell_word(repo_) + " rev-parse HEAD >" + shell_word(d_ / "head")),
              0);
    const std::string h = slurp(d_ / "head");
    return h.substr(0, h.find('\n'));
  }
  // What the header the script writes for `source` says: the commit and whether it was modified.
  std::pair<std::string, std::string> header(const fs::path& source) {
    EXPECT_EQ(shell(fmt::format("'{}' -DSOURCE_DIR={} -DOUTPUT={} -P '{}/cmake/build_commit.cmake' "
                                "2>{}",
                                SDPA_CMAKE, shell_word(source), shell_word(d_ / "commit.h"),
                                SDPA_SOURCE_DIR, shell_word(d_ / "stderr"))),
              0);
    const std::string h = slurp(d_ / "commit.h");
    std::smatch m;
    if (!std::regex_search(h, m,
                           std::regex(R"re(kCommit = "([0-9a-f]*)";[\s\S]*kModified = (\w+);)re")))
      return {"no match in", h};
    return {m[1].str(), m[2].str()};
  }
  fs::path d_, repo_;
};

using Said = std::pair<std::string, std::string>;

TEST_F(BuildCommit, NamesTheCommitAndWhetherTheBuiltFilesDifferFromIt) {
  const std::string first = head();
  EXPECT_EQ(header(repo_), Said(first, "false"));
  write(repo_ / "sim" / "a.cpp", "int a = 1;\n");
  EXPECT_EQ(header(repo_), Said(first, "true"));
  git("checkout -q sim/a.cpp");
  // Untracked, but the build takes it, whatever a setting says of untracked files.
  git("config status.showUntrackedFiles no");
  fs::create_directories(repo_ / "hw" / "datapaths");
  write(repo_ / "hw" / "datapaths" / "new.cpp", "");
  EXPECT_EQ(header(repo_), Said(first, "true"));
  fs::remove_all(repo_ / "hw");
  // Files the binary is not built from, changed or committed, leave it as it was.
  write(repo_ / "docs" / "a.md", "b\n");
  write(repo_ / "plot.png", "");
  EXPECT_EQ(header(repo_), Said(first, "false"));
  commit("docs");
  EXPECT_NE(head(), first);
  EXPECT_EQ(header(repo_), Said(first, "false"));
  write(repo_ / "sim" / "a.cpp", "int a = 2;\n");
  commit("code");
  EXPECT_EQ(header(repo_), Said(head(), "false"));
  EXPECT_EQ(slurp(d_ / "stderr"), "");
}

TEST_F(BuildCommit, SourcesThatAreNoCheckoutHaveNoCommitAndSayNothing) {
  // An unpacked tarball inside another repository, and a folder outside any.
  EXPECT_EQ(header(repo_ / "sim"), Said("", "false"));
  EXPECT_EQ(slurp(d_ / "stderr"), "");
  fs::create_directories(d_ / "plain");
  EXPECT_EQ(header(d_ / "plain"), Said("", "false"));
  EXPECT_EQ(slurp(d_ / "stderr"), "");
}

// Another user's checkout, which git refuses to read for root ("dubious ownership").
TEST_F(BuildCommit, ACheckoutGitRefusesHasNoCommitAndTheBuildSaysWhy) {
  if (::geteuid() != 0) GTEST_SKIP() << "hands the checkout to another user: needs root";
  ASSERT_EQ(shell("chown -R 65534:65534 " + shell_word(repo_)), 0);
  EXPECT_EQ(header(repo_), Said("", "false"));
  const std::string err = slurp(d_ / "stderr");
  EXPECT_NE(err.find("sdpa-sim will not name its commit"), std::string::npos) << err;
  EXPECT_NE(err.find("dubious ownership"), std::string::npos) << err;
}

TEST_F(BuildCommit, AnUnchangedHeaderIsNotRewritten) {
  header(repo_);
  const fs::path h = d_ / "commit.h";
  const auto aged = fs::last_write_time(h) - std::chrono::hours(1);
  fs::last_write_time(h, aged);
  header(repo_);
  EXPECT_EQ(fs::last_write_time(h), aged);  // nothing recompiles
  write(repo_ / "sim" / "a.cpp", "int a = 2;\n");
  header(repo_);
  EXPECT_NE(fs::last_write_time(h), aged);
}

// Input files are recorded with their digests, as sha256sum gives them; a changed file shows.
TEST(InputDigests, AreRecordedForEachFile) {
  const fs::path d = scratch();
  const AttentionShape shape = AttentionShape::square(2, 8, 4);
  const std::string sets = write_inputs(d, random_inputs(shape, 7), {1, 2, 8, 4}, {1, 2, 8, 4});
  ASSERT_EQ(sim(sets + out_arg(d / "o"), d).status, 0);
  const json inputs = report(d / "o")["inputs"];
  for (const char* name : {"q", "k", "v"}) {
    const fs::path file = d / (std::string(name) + ".npy");
    EXPECT_EQ(inputs[name]["file"], file.string());
    EXPECT_EQ(inputs[name]["sha256"], sha256_hex(slurp(file))) << name;
  }
  const std::string q_digest = inputs["q"]["sha256"];
  write_inputs(d, random_inputs(shape, 8), {1, 2, 8, 4}, {1, 2, 8, 4});
  ASSERT_EQ(sim(sets + out_arg(d / "o"), d).status, 0);
  EXPECT_NE(report(d / "o")["inputs"]["q"]["sha256"], q_digest);
  // Random inputs: problem.seed names them, and no file.
  ASSERT_EQ(sim(kSmall + out_arg(d / "r"), d).status, 0);
  EXPECT_TRUE(report(d / "r")["inputs"].is_null());
}

// The cost table: the built-in one's digest is the source file's; a file given is named as
// params.yaml names it (absolute), with its own digest.
TEST(CostDigest, IsRecordedWithTheTablesAbsolutePath) {
  const fs::path d = scratch();
  ASSERT_EQ(sim(kSmall + out_arg(d / "o"), d).status, 0);
  const json built_in = report(d / "o")["runs"][0]["energy"];
  const fs::path source = fs::path(SDPA_SOURCE_DIR) / "params/cost/horowitz-45nm.yaml";
  EXPECT_EQ(built_in["cost_sha256"], sha256_hex(slurp(source)));
  EXPECT_EQ(built_in["cost_table"], "params/cost/horowitz-45nm.yaml (built in)");
  // A relative path, from the working folder; a table of the user's, which differs from the
  // built-in one (here by a comment) and has its own digest.
  const std::string mine = slurp(source) + "# mine\n";
  write(d / "mine.yaml", mine);
  const SimRun r = sim_in(d, kSmall + "--set cost=mine.yaml --out o2", d);
  ASSERT_EQ(r.status, 0) << r.err;
  const json rep = report(d / "o2");
  // The working folder as the simulator sees it: with a temporary folder behind a link, the target.
  EXPECT_EQ(rep["runs"][0]["energy"]["cost_table"], (fs::canonical(d) / "mine.yaml").string());
  EXPECT_EQ(rep["runs"][0]["energy"]["cost_table"], rep["params"]["cost"]);
  EXPECT_EQ(rep["runs"][0]["energy"]["cost_sha256"], sha256_hex(mine));
}

}  // namespace
}  // namespace sdpa::test
