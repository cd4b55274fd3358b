#!/usr/bin/env bash
# Lints the C++ sources for a bug made twice and caught only by ASan in CI: a range-for over a part
# of a temporary reached through a call, `for (x : report(dir)["runs"])` or `f().items()`. C++20
# keeps the temporary alive only when the range is the temporary itself or one of its data
# members; through operator[] or a method it is destroyed before the loop runs. Keep the
# temporary in a variable first. (One line only: a range-for split over lines goes unseen.)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tb/checks.sh"

# A range-for's " : " then a call, then [ or a method call on its result.
# The call's arguments may hold one level of parentheses; a callee may be a member (r.report).
dangling='\bfor\s*\([^;)]*\s:\s*[A-Za-z_][\w:.>-]*(<[^;()]*>)?\((?:[^()]|\([^()]*\))*\)\s*(\[|(\.|->)\w+\s*\()'
lint() { grep -qP "$dangling"; }

# The lint itself: the two bad forms match; a data member of a temporary and a kept variable do not.
check "lint: a range-for over a temporary's operator[] matches" \
  lint <<<'  for (const json& run : report(d / "given")["runs"]) {'
check "lint: a range-for over a temporary's method matches" \
  lint <<<'  for (auto& [k, v] : run_report(dir, 2).items())'
check "lint: a data member of a temporary does not match" \
  eval '! lint <<<"  for (const DatapathResult& r : simulate(in, names, c).runs) {"'
check "lint: a member's call, and for( without a space, match" \
  lint <<<'  for(const json& run : r.report(dir)["runs"]) {'
check "lint: a variable's member does not match" \
  eval '! lint <<<"  for (const UnitStats& u : r.units) w = std::max(w, local_name(u.name).size());"'
check "lint: a call as the range and a method call in the body do not match" \
  eval '! lint <<<"  for (const auto& u : units(r)) w = std::max(w, name(u).size());"'

status=0
found=$(grep -rnP --include='*.cpp' --include='*.h' "$dangling" "$repo"/{hw,sim,tb,bench,fuzz}) ||
  status=$?
check "lint: no range-for over a part of a temporary in the sources (grep ran: status 1)" \
  test "$status:$found" = "1:"
[[ -z $found ]] || echo "$found"
summary test_lint
