#!/usr/bin/env bash
# Runs test binaries directly, as a user would, and checks the test main (tb/test_main.cpp) runs
# each case in a process of its own, reports like GoogleTest and propagates failures.
# Usage: tb/test_runner.sh TEST_RUNNER_BINARY
set -uo pipefail
bin=$(realpath "$1")
[[ -x $bin ]] || { echo "test_runner: no binary at $bin" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SDPA_RUNNER_SELFTEST=1
# The cases' scratch folders (tb/scratch.h) go here, removed with the rest.
export TMPDIR=$tmp/scratch
mkdir "$TMPDIR"

source "$(dirname "$0")/checks.sh"
on_failure() { echo "--- output:"; cat "$tmp/out"; echo "---"; }
# run ARGS...: runs the binary with a 60 s bound; sets $rc, output in $tmp/out.
run() { rc=0; timeout 60 "$bin" "$@" >"$tmp/out" 2>&1 || rc=$?; }
has() { grep -qxF -- "$1" "$tmp/out"; }
lacks() { ! grep -qF -- "$1" "$tmp/out"; }
has_line() { grep -qE -- "$1" "$tmp/out"; }

run --gtest_filter='Runner.Elaborates*'
check "two elaborating cases pass, each in its own process (exit 0)" test "$rc" = 0
check "  each reported OK" \
  has_line '^\[       OK \] Runner.ElaboratesOnce \([0-9]+ ms\)$'
check "  and the other" \
  has_line '^\[       OK \] Runner.ElaboratesAgainInAnotherProcess \([0-9]+ ms\)$'
check "  summary" has "[  PASSED  ] 2 tests."
check "  no E529" lacks "E529"

run
check "all cases: failures propagate (exit 1)" test "$rc" = 1
check "  a failed expectation is listed" has "[  FAILED  ] Runner.FailsAnExpectation"
check "  a SystemC warning fails its case" has "[  FAILED  ] Runner.FailsOnASystemCWarning"
check "  a crash fails its case, naming the signal" \
  has_line '^\[  FAILED  \] Runner.Crashes \([0-9]+ ms, killed by signal 6 \(Aborted\)\)$'
check "  a failed case's output is shown" has_line "a warning on purpose"
check "  a skipped case is reported" has "[  SKIPPED ] Runner.Skips"
check "  summary counts" has "[  PASSED  ] 3 tests."
check "  summary lists 4 failures" has "4 FAILED TESTS"
check "  the passing cases are not listed as failed" lacks "FAILED  ] Runner.Elaborates"

run --gtest_filter=Runner.FailsAnExpectation
check "one case by exact name runs in this process and fails (exit 1)" test "$rc" = 1
check "  GoogleTest's own report" has_line '^\[==========\] 1 test from 1 test suite ran'
run --gtest_filter=Runner.ElaboratesOnce
check "one passing case by exact name (exit 0)" test "$rc" = 0

run --gtest_list_tests
check "--gtest_list_tests lists every case" test "$rc" = 0
check "  eight cases" test "$(grep -c '^  ' "$tmp/out")" = 8

run --gtest_filter='Runner.*-Runner.Fails*:Runner.Crashes'
check "a negative filter leaves out the failing cases (exit 0)" test "$rc" = 0
check "  four run" has_line '^\[==========\] 4 tests ran\.'

run --gtest_filter='Runner.Elaborates*' --gtest_repeat=2
check "--gtest_repeat runs each case once per iteration (exit 0)" test "$rc" = 0
check "  twice" test "$(grep -c '^\[       OK \] Runner.ElaboratesOnce' "$tmp/out")" = 2

run --gtest_filter='Runner.Fails*' --gtest_fail_fast
check "--gtest_fail_fast stops after the first failure (exit 1)" test "$rc" = 1
check "  one failure, two not run" has "(2 not run: --gtest_fail_fast)"

run --gtest_filter=Runner.PassesLeavingNoScratchFolder
passed_in=$(sed -n 's/^scratch folder: //p' "$tmp/out")
check "a case that passes leaves no scratch folder (exit 0)" test "$rc" = 0
check "  it had one" test -n "$passed_in"
check "  removed as the case ended" test ! -e "$passed_in"
run --gtest_filter=Runner.FailsKeepingItsScratchFolder
kept=$(sed -n 's/^scratch folder kept: //p' "$tmp/out")
check "a case that fails keeps its scratch folder (exit 1)" test "$rc" = 1
check "  named in the output, with what the case wrote" test -s "$kept/result"

run --gtest_filter='Runner.Elaborates*' --gtest_output="xml:$tmp/xml/"
check "--gtest_output=xml:DIR/ writes one file per case" test -s "$tmp/xml/Runner.ElaboratesOnce.xml"
check "  and the other" test -s "$tmp/xml/Runner.ElaboratesAgainInAnotherProcess.xml"
run --gtest_filter='Runner.Elaborates*' --gtest_output="xml:$tmp/one.xml"
check "--gtest_output=xml:FILE is refused with several processes (exit 2)" test "$rc" = 2

summary test_runner
