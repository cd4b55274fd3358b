# The shell tests' counting, sourced by tb/test_*.sh: `check NAME COMMAND...` is one test, passing
# when the command succeeds; after a failure it calls the test file's `on_failure`, if defined,
# to show what it saw. `summary NAME` prints the counts and fails if any test failed.
passed=0 failed=0
check() {
  local name=$1; shift
  if "$@"; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"
    if declare -F on_failure >/dev/null; then on_failure; fi
  fi
}
summary() {
  echo "$1: $passed passed, $failed failed"
  ((failed == 0))
}
