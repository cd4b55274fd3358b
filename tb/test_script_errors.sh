#!/usr/bin/env bash
# Tests that scripts/plot, numerics-study, models, study, sweep and setup answer bad input with one
# line on stderr and their documented exit status, never a traceback or a hang, that Ctrl-C stops
# them with one line and exit 130, and the tutorial's sweep command (about 40 s in all).
# Usage: tb/test_script_errors.sh [SDPA_SIM]   (default: build/bin/sdpa-sim)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
sim=$(realpath "${1:-$repo/build/bin/sdpa-sim}")
[[ -x $sim ]] || { echo "test_script_errors: no simulator at $sim" >&2; exit 2; }
tmp=$(mktemp -d)
fake_pid=$tmp/fake.pid
cleanup() {
  [[ -s $fake_pid ]] && kill "$(<"$fake_pid")" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

source "$repo/tb/checks.sh"
on_failure() { echo "  exit $rc, stderr: ${err:0:400}"; }

# try SCRIPT ARGS...: runs scripts/SCRIPT from a folder other than the repository, with a 60 s
# bound; sets $rc and $err (stderr).
try() {
  local script=$1; shift
  rc=0
  (cd "$tmp" && timeout 60 "$repo/scripts/$script" "$@") >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
}

# one_line STATUS PREFIX: the last run exited STATUS with one line on stderr, starting PREFIX.
one_line() { [[ $rc == "$1" && $(wc -l <<<"$err") == 1 && $err == "$2"* && $err != *Traceback* ]]; }
# interrupted PROG: the last run exited 130, its stderr ending with the one line "PROG:
# interrupted" (after its progress lines), and the simulator it ran was stopped.
interrupted() {
  [[ $rc == 130 && $(tail -n 1 <<<"$err") == "$1: interrupted" && $err != *Traceback* ]] &&
    ((orphan == 0))
}

# A simulator that records its pid and waits: a run to interrupt.
cat >"$tmp/fake-sim" <<EOF
#!/bin/sh
echo \$\$ >"$fake_pid"
exec sleep 30
EOF
chmod +x "$tmp/fake-sim"

# interrupt SIGNAL SCRIPT ARGS...: runs scripts/SCRIPT, and once the fake simulator runs sends
# SIGNAL (INT or TERM) to the script alone (as kill would; a terminal's Ctrl-C also reaches the
# simulator); sets $rc, $err and $orphan (1 if the fake simulator still runs).
interrupt() {
  local signal=$1 script=$2; shift 2
  rm -f "$fake_pid"
  # SIGINT back to its default first: a background job of a non-interactive shell ignores it, and
  # Python would inherit that.
  /usr/bin/python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$repo/scripts/$script" "$@" >"$tmp/stdout" 2>"$tmp/stderr" &
  local pid=$! i
  for ((i = 0; i < 100; i++)); do [[ -s $fake_pid ]] && break; sleep 0.1; done
  kill -"$signal" "$pid"
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null  # a script that ignored the interrupt: no hang here
  rc=0
  wait "$pid" || rc=$?
  err=$(<"$tmp/stderr")
  orphan=0
  if [[ -s $fake_pid ]] && kill -0 "$(<"$fake_pid")" 2>/dev/null; then
    orphan=1
    kill "$(<"$fake_pid")"
  fi
}

touch "$tmp/afile"

# ---------------------------------------------------------------- scripts/plot

# A results.csv of the columns --kind memory reads; its last row is cut short.
csv=$tmp/results.csv
printf '%s\n' "problem.seq_len,datapath,status,intermediate_high_water_elements" \
  "16,naive,ok,40" "32,naive,ok,72" "64,naive,ok,136" >"$csv"
try plot --csv "$csv" --kind memory --out "$tmp/afile/p.png"
check "plot: --out under a regular file: one line, exit 2" one_line 2 "plot: error: --out $tmp/afile/p.png"
try plot --csv "$csv" --kind memory --out /proc/p.png
check "plot: --out in a folder that cannot be written: one line, exit 2" one_line 2 "plot: error: --out /proc/p.png"
printf '\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe' >"$tmp/figure.png"
try plot --csv "$tmp/figure.png" --kind memory --out "$tmp/p.png"
check "plot: a --csv that is not text: one line, exit 2" one_line 2 "plot: error: $tmp/figure.png: not a text file"
printf '%s\n' "problem.seq_len,datapath,status,intermediate_high_water_elements" \
  "16,naive,ok,40" "32,naive,ok" >"$tmp/short.csv"
try plot --csv "$tmp/short.csv" --kind memory --out "$tmp/p.png"
check "plot: a row cut short: one line naming the line, exit 2" one_line 2 "plot: error: $tmp/short.csv: line 3: 3 fields, expected 4"
# Values that cannot be drawn: a 0 to divide by, a 0 on a log axis.
printf '%s\n' "problem.seq_len,datapath,status,cycles,scores" "8,naive,ok,72,64" "0,naive,ok,40,64" \
  >"$tmp/zero-n.csv"
try plot --csv "$tmp/zero-n.csv" --kind cycles --out "$tmp/p.png"
check "plot: --kind cycles, problem.seq_len 0: one line naming line and column, exit 2" \
  one_line 2 "plot: error: $tmp/zero-n.csv: line 3: column problem.seq_len: '0' is not a positive number"
printf '%s\n' "problem.seq_len,datapath,status,intermediate_high_water_elements" "16,naive,ok,40" \
  "32,naive,ok,0" >"$tmp/zero-mem.csv"
try plot --csv "$tmp/zero-mem.csv" --kind memory --out "$tmp/p.png"
check "plot: --kind memory, a 0 for the log axis: one line naming line and column, exit 2" \
  one_line 2 "plot: error: $tmp/zero-mem.csv: line 3: column intermediate_high_water_elements: '0' is not a positive number"
# Two --csv files with different results at one (datapath, x): not both drawn.
sed 's/^32,naive,ok,72$/32,naive,ok,99/' "$csv" >"$tmp/other.csv"
try plot --csv "$csv" --csv "$tmp/other.csv" --kind memory --out "$tmp/p.png"
check "plot: two --csv files disagreeing at one (datapath, x): one line naming both, exit 2" \
  eval 'one_line 2 "plot: error: $tmp/other.csv: line 3: naive at problem.seq_len = 32" &&
    [[ $err == *"but $csv line 3 has 72"* && ! -e $tmp/p.png ]]'
# A --where no row has: the values the rows do have (it said "no rows match --where" alone).
try plot --csv "$csv" --kind memory --where datapath=two_pass --out "$tmp/p.png"
check "plot: a --where no row has: one line naming the values there are, exit 2" \
  eval 'one_line 2 "plot: error: --where datapath=two_pass: no row has it; datapath is naive in the rows" &&
    [[ ! -e $tmp/p.png ]]'
# A value no axis holds: a NaN was a silent gap in a line, an infinity a traceback.
for bad in nan inf; do
  printf '%s\n' "problem.seq_len,datapath,status,cycles,scores" "8,naive,ok,72,64" \
    "16,naive,ok,$bad,256" >"$tmp/$bad.csv"
  try plot --csv "$tmp/$bad.csv" --kind cycles --out "$tmp/p.png"
  check "plot: a cycles value of $bad: one line naming line and column, exit 2" \
    one_line 2 "plot: error: $tmp/$bad.csv: line 3: column cycles: '$bad' is not a finite number"
done
# Cycles of 0 or fewer were drawn as zero or negative cycles per score, exit 0.
printf '%s\n' "problem.seq_len,datapath,status,cycles,scores" "8,naive,ok,72,64" \
  "16,naive,ok,-5,256" >"$tmp/negative.csv"
try plot --csv "$tmp/negative.csv" --kind cycles --out "$tmp/p.png"
check "plot: cycles of -5: one line naming line and column, exit 2" \
  one_line 2 "plot: error: $tmp/negative.csv: line 3: column cycles: '-5' is not a positive number, expected one for a cycle count"
# A column twice in the header: DictReader took the last, and the figure drew it, exit 0.
printf '%s\n' "problem.seq_len,datapath,status,cycles,scores,cycles" "8,naive,ok,72,64,999" \
  >"$tmp/twice.csv"
try plot --csv "$tmp/twice.csv" --kind cycles --out "$tmp/p.png"
check "plot: a column twice in the header: one line naming it, exit 2" \
  one_line 2 "plot: error: $tmp/twice.csv: column cycles twice in its header"
# Provisioned memory, drawn where the CSV has it, must agree at a point too.
printf '%s\n' "problem.seq_len,datapath,status,intermediate_high_water_elements,intermediate_capacity_elements" \
  "16,naive,ok,40,60" >"$tmp/cap-a.csv"
sed 's/,60$/,99/' "$tmp/cap-a.csv" >"$tmp/cap-b.csv"
try plot --csv "$tmp/cap-a.csv" --csv "$tmp/cap-b.csv" --kind memory --out "$tmp/p.png"
check "plot: two --csv files disagreeing on the provisioned memory: one line, exit 2" \
  one_line 2 "plot: error: $tmp/cap-b.csv: line 2: naive at problem.seq_len = 16 has intermediate_capacity_elements 99"
# The same columns in another order join (a sweep whose --set options came in another order).
printf '%s\n' "datapath,problem.seq_len,status,intermediate_high_water_elements,intermediate_capacity_elements" \
  "naive,32,ok,72,90" >"$tmp/cap-c.csv"
try plot --csv "$tmp/cap-a.csv" --csv "$tmp/cap-c.csv" --kind memory --out "$tmp/p.png"
check "plot: --csv files with the same columns in another order join (exit 0)" test "$rc" = 0
# The causal figure compares causal and full runs: without causal ones it would be flat at 1.
printf '%s\n' "problem.seq_len,datapath,status,causal,scores,scores_skipped,cycles,kv_len,bypass_high_water_elements" \
  "16,naive,ok,false,256,0,300,16,20" >"$tmp/full.csv"
try plot --csv "$tmp/full.csv" --kind causal --out "$tmp/p.png"
check "plot: --kind causal without causal runs: one line, exit 2" \
  one_line 2 "plot: error: $tmp/full.csv: no causal run among the rows drawn"
# The formats figure's x is a format column: with --x datapath its groups were datapaths, under
# an axis labelled "compute format".
printf '%s\n' "format,input_format,datapath,status,scores,energy_compute_pj,energy_intermediate_pj,energy_streams_pj,energy_memory_pj,area_intermediate_um2,area_streams_um2" \
  "fp32,fp32,naive,ok,256,10,5,5,40,100,200" "bf16,fp32,naive,ok,256,6,3,3,40,50,100" >"$tmp/formats.csv"
try plot --csv "$tmp/formats.csv" --kind formats --x datapath --out "$tmp/p.png"
check "plot: --kind formats --x datapath: one line naming the format columns, exit 2" \
  one_line 2 "plot: error: --x datapath: the formats figure's x is a format column, expected format (compute) or input_format"
cut -d, -f2- "$tmp/formats.csv" >"$tmp/no-format.csv"
try plot --csv "$tmp/no-format.csv" --kind formats --x input_format --out "$tmp/p.png"
check "plot: --kind formats without the format column: one line naming it, exit 2" \
  one_line 2 "plot: error: $tmp/no-format.csv: "

# ---------------------------------------------------------------- scripts/numerics-study

ns=(--out "$tmp/ns" --figure "$tmp/ns-figure")
try numerics-study --sim "$sim" --n 64,abc "${ns[@]}"
check "numerics-study: --n 64,abc: one line, exit 2" one_line 2 "numerics-study: error: --n 64,abc"
try numerics-study --sim "$sim" --seeds x "${ns[@]}"
check "numerics-study: --seeds x: one line, exit 2" one_line 2 "numerics-study: error: --seeds x"
try numerics-study --sim "$sim" --n 0 "${ns[@]}"
check "numerics-study: --n 0: one line, exit 2" one_line 2 "numerics-study: error: --n 0"
try numerics-study --sim "$sim" --n 2097152 --seeds 1 "${ns[@]}"
check "numerics-study: parameters the simulator rejects: its one line, exit 2" \
  one_line 2 "numerics-study: error: fp32/fp32 N = 2097152 seed 1: the simulator rejected"
try numerics-study --sim "$tmp/no-such-sim" "${ns[@]}"
check "numerics-study: --sim not an executable: one line, exit 2" one_line 2 "numerics-study: error: --sim $tmp/no-such-sim"
# Outside the repository, the default --sim is the repository's build/bin/sdpa-sim.
try numerics-study --n 2097152 --seeds 1 "${ns[@]}"
if [[ -x $repo/build/bin/sdpa-sim ]]; then
  check "numerics-study: the default --sim runs from another folder" \
    one_line 2 "numerics-study: error: fp32/fp32 N = 2097152 seed 1: the simulator rejected"
else
  check "numerics-study: the default --sim is the repository's" \
    one_line 2 "numerics-study: error: --sim $repo/build/bin/sdpa-sim"
fi
try numerics-study --sim "$sim" --n 16 --seeds 1 --out "$tmp/afile" --figure "$tmp/ns-figure"
check "numerics-study: --out a regular file: one line, exit 2" one_line 2 "numerics-study: error: --out $tmp/afile"
try numerics-study --sim "$sim" --n 16 --seeds 1 --out "$tmp/ns2" --figure "$tmp/no/such/fig"
check "numerics-study: --figure in no folder: one line, exit 2, before any run" \
  eval 'one_line 2 "numerics-study: error: --figure $tmp/no/such/fig" && ! ls "$tmp"/ns2/*-n16-* >/dev/null 2>&1'
interrupt INT numerics-study --sim "$tmp/fake-sim" --n 16 --seeds 1 "${ns[@]}"
check "numerics-study: Ctrl-C: 'interrupted', exit 130, the simulator stopped" \
  interrupted numerics-study
interrupt TERM numerics-study --sim "$tmp/fake-sim" --n 16 --seeds 1 "${ns[@]}"
check "numerics-study: SIGTERM: 'interrupted', exit 130, the simulator stopped" \
  interrupted numerics-study
try numerics-study --sim "$sim" --n 16,32,16 --seeds 1 --out "$tmp/ns3" --figure "$tmp/ns3.png"
check "numerics-study: --n with a value twice: one line, exit 2" \
  one_line 2 "numerics-study: error: --n 16,32,16: 16 given twice"
# A results.csv already in --out (one it did not write) is named when replaced, as sweep does.
mkdir -p "$tmp/ns4" && echo mine >"$tmp/ns4/results.csv"
try numerics-study --sim "$sim" --n 16 --seeds 1 --out "$tmp/ns4" --figure "$tmp/ns4-figure"
check "numerics-study: says that it replaces a results.csv already in --out" \
  eval '((rc == 0)) && grep -q "^numerics-study: note: replacing the results in $tmp/ns4/results.csv$" <<<"$err"'
# The figures that run wrote are named when the next replaces them, and are the same files: the
# SVG had the date and random ids in it.
cp "$tmp/ns4-figure.svg" "$tmp/ns4-first.svg" && cp "$tmp/ns4-figure.png" "$tmp/ns4-first.png"
try numerics-study --sim "$sim" --n 16 --seeds 1 --out "$tmp/ns4" --figure "$tmp/ns4-figure"
check "numerics-study: says that it replaces its figures" \
  eval '((rc == 0)) && grep -q "^numerics-study: note: replacing $tmp/ns4-figure.png and $tmp/ns4-figure.svg$" <<<"$err"'
check "numerics-study: the same figures, byte for byte, from the same results" \
  eval 'cmp -s "$tmp/ns4-first.svg" "$tmp/ns4-figure.svg" && cmp -s "$tmp/ns4-first.png" "$tmp/ns4-figure.png"'
try numerics-study --sim "$sim" --n 16 --seeds 1 --out "$tmp/ns5" --figure "$tmp/"
check "numerics-study: --figure a folder: one line, exit 2, naming a path to give" \
  one_line 2 "numerics-study: error: --figure $tmp/: a folder; expected the figure's path without its extension, e.g. $tmp/numerics"
# A name that is only the extension (it wrote .png.png, and a PNG as .svg.png).
try numerics-study --sim "$sim" --n 16 --seeds 1 --out "$tmp/ns6" --figure "$tmp/.png"
check "numerics-study: --figure .png: no name, one line, exit 2" \
  one_line 2 "numerics-study: error: --figure '$tmp/.png': no name"

# ---------------------------------------------------------------- scripts/models

interrupt INT models --sim "$tmp/fake-sim" --only bert-base --out "$tmp/models"
check "models: Ctrl-C: 'interrupted', exit 130, the simulator stopped" interrupted models
interrupt TERM models --sim "$tmp/fake-sim" --only bert-base --out "$tmp/models"
check "models: SIGTERM: 'interrupted', exit 130, the simulator stopped" interrupted models
"$sim" --set problem.seq_len=8 --set problem.head_dim=4 --size-buffers \
  --out "$tmp/models/bert-base" >/dev/null 2>&1
try models --no-run --only bert-base --out "$tmp/models"
check "models: --no-run on a --size-buffers report: one line, exit 2" \
  one_line 2 "models: error: $tmp/models/bert-base/report.json: no problem, runs, sim"
# What --no-run cannot tabulate or pass: a report without runs, a deadlocked run with cycles.
edit_bert() {
  /usr/bin/python3 -c "import json, sys
r = json.load(open(sys.argv[1])); $1
json.dump(r, open(sys.argv[1], 'w'))" "$tmp/models/bert-base/report.json"
}
"$sim" --set problem.seq_len=8 --set problem.head_dim=4 --set datapath=all \
  --out "$tmp/models/bert-base" >/dev/null 2>&1
cp "$tmp/models/bert-base/report.json" "$tmp/bert-report.json"
edit_bert 'r["runs"] = []'
try models --no-run --only bert-base --out "$tmp/models"
check "models: --no-run on a report with no runs: one line, exit 2" \
  one_line 2 "models: error: $tmp/models/bert-base/report.json: no run of naive, two_pass, reordered"
cp "$tmp/bert-report.json" "$tmp/models/bert-base/report.json"
# Without one datapath's run (its table rows were left out without a word).
edit_bert 'r["runs"] = [x for x in r["runs"] if x["datapath"] != "two_pass"]'
try models --no-run --only bert-base --out "$tmp/models"
check "models: --no-run on a report without a datapath's run: one line naming it, exit 2" \
  one_line 2 "models: error: $tmp/models/bert-base/report.json: no run of two_pass in its runs"
cp "$tmp/bert-report.json" "$tmp/models/bert-base/report.json"
edit_bert 'r["runs"][0]["status"] = "deadlock"'
try models --no-run --only bert-base --out "$tmp/models"
# (The report, of a smaller shape than BERT-base's, says so in a note first.)
deadlocked="models: mismatch: bert-base naive: status deadlock, not a completed run"
check "models: a deadlocked run with a cycle count is a failed check naming its status, exit 1" \
  eval '((rc == 1)) && [[ $(tail -n 1 <<<"$err") == "$deadlocked"* ]]'
try models --no-run --only bert-base --out ''
check "models: --out '': one line, exit 2" one_line 2 "models: error: --out '': expected a folder name"
try models --sim "$sim" --only bert-base --out "$tmp/afile"
check "models: --out a regular file: one line saying so, exit 2" \
  one_line 2 "models: error: --out $tmp/afile: is a file, expected a folder"

# ---------------------------------------------------------------- scripts/study

# --out is the study's folder: the first sweep writes DIR/scaling (every point stopped by the
# watchdog, so the study ends there, exit 1, saying so).
try study --sim "$sim" --out "$tmp/study" --set sim.max_cycles=1 --jobs 2
check "study: --out DIR: the scaling sweep in DIR/scaling, not DIR" \
  eval '((rc == 1)) && [[ -f $tmp/study/scaling/results.csv && ! -e $tmp/study/results.csv ]]'
check "study: ... stopped after that sweep, naming its watchdog stops" \
  eval '[[ ! -e $tmp/study/bypass && $(tail -n 1 <<<"$err") == "study: sweep scaling: 24 of 24 rows stopped by the watchdog"* ]]'
try study --sim "$sim" --out "$tmp/study2" --grid problem.seq_len=8
check "study: --grid: one line, exit 2, nothing run" \
  eval 'one_line 2 "study: error: --grid" && [[ ! -e $tmp/study2 ]]'

# Options no sweep takes are refused before the set-up: run from a copy of the scripts whose
# setup is a stand-in that records its call, so that a regression installs and builds nothing.
mkdir -p "$tmp/copy/scripts" "$tmp/copy/params"
cp "$repo/scripts/study" "$repo/scripts/sweep" "$tmp/copy/scripts/"
cp "$repo/params/default.yaml" "$tmp/copy/params/"
printf '#!/bin/sh\ntouch "%s"\nexit 1\n' "$tmp/setup-ran" >"$tmp/copy/scripts/setup"
chmod +x "$tmp/copy/scripts/setup"
for bad in "--bogus:unrecognized arguments: --bogus" "--set=foo:--set foo: expected key.path=value" \
  "--check:unrecognized arguments: --check" \
  "--dry-run:--dry-run is not an option of a study's sweeps"; do
  rc=0
  (cd "$tmp" && timeout 60 "$tmp/copy/scripts/study" "${bad%%:*}") >"$tmp/stdout" 2>"$tmp/stderr" ||
    rc=$?
  err=$(<"$tmp/stderr")
  check "study: ${bad%%:*}: the sweep's one line, exit 2, before setting up" \
    eval 'one_line 2 "sweep: error: ${bad#*:}" && [[ ! -e $tmp/setup-ran ]]'
done

# A format the formats sweep would refuse only minutes in, after the other sweeps.
INPUTS=fp32,fp33 try study --sim "$sim" --out "$tmp/study5"
check "study: INPUTS with a format the simulator refuses: one line naming it, exit 2, nothing run" \
  eval 'one_line 2 "study: error: INPUTS=fp32,fp33: --set numerics.input=fp33: numerics.input: expected one of" &&
    [[ ! -e $tmp/study5 ]]'
FORMATS=bogus try study --sim "$sim" --out "$tmp/study5"
check "study: FORMATS with a format the simulator refuses: one line naming it, exit 2, nothing run" \
  eval 'one_line 2 "study: error: FORMATS=bogus: --set numerics.compute=bogus" && [[ ! -e $tmp/study5 ]]'

# A --set of a key that a sweep sweeps: refused before anything runs, naming the sweep (it was
# refused only when that sweep started, after the sweeps before it).
try study --sim "$sim" --out "$tmp/study4" --set memory.bytes_per_cycle=64
check "study: --set of a swept key: one line naming the sweep, exit 2, nothing run" \
  eval 'one_line 2 "study: error: sweep bandwidth: --set memory.bytes_per_cycle: the key is also swept by --grid" &&
    [[ ! -e $tmp/study4 ]]'

# A --timeout too large for Python's waits: the scaling sweep's one line, exit 2, nothing run.
try study --sim "$sim" --out "$tmp/study3" --timeout 1e7
check "study: --timeout 1e7: sweep's one-line error, exit 2, nothing run" \
  eval '((rc == 2)) && [[ $(tail -n 1 <<<"$err") == "sweep: error: --timeout 1e7:"* &&
    $err != *Traceback* && ! -e $tmp/study3/scaling ]]'
# The value as given, not as Python prints a float (1000001 is not "1e+06").
for bad in 1000001 1234567 abc; do
  try sweep --sim "$sim" --grid problem.seq_len=4 --out "$tmp/sweep-timeout" --timeout "$bad"
  check "sweep: --timeout $bad: one line naming it as given, exit 2" \
    eval 'one_line 2 "sweep: error: --timeout $bad: expected a positive number of seconds" &&
      [[ ! -e $tmp/sweep-timeout ]]'
done

# ---------------------------------------------------------------- docs/tutorial.md

# Section 8's command that picks columns by name prints the header line the tutorial shows.
mkdir -p "$tmp/tutorial/out"
try sweep --sim "$sim" --grid problem.seq_len=8,16 --grid datapath=naive,reordered \
  --set problem.head_dim=4 --out "$tmp/tutorial/out/n"
awk '/^\$ cols=/ { on = 1 } on { print } /^\$ cut -d,/ { exit }' "$repo/docs/tutorial.md" |
  sed 's/^\$ //' >"$tmp/tutorial/columns.sh"
shown=$(awk 'on { print; exit } /^\$ cut -d,/ { on = 1 }' "$repo/docs/tutorial.md")
printed=$(cd "$tmp/tutorial" && bash columns.sh 2>&1 | head -1)
check "tutorial: section 8 prints the columns it shows" test -n "$shown" -a "$printed" = "$shown"

# A checkout moved or copied with its build folders: scripts/setup drops each one's CMake cache
# and objects (CMake would refuse to configure), says so, and keeps the rest (a fuzz corpus); a
# build folder configured here is left alone. --no-build: nothing is installed or built.
moved=$tmp/moved
mkdir -p "$moved/scripts" "$moved/build/CMakeFiles/x.dir" "$moved/build/tb/CMakeFiles/y.dir" \
  "$moved/build-fuzz/CMakeFiles" "$moved/build-fuzz/corpus" "$moved/build-asan/CMakeFiles"
cp "$repo/scripts/setup" "$moved/scripts/"
printf 'CMAKE_HOME_DIRECTORY:INTERNAL=/gone/sdpa\n' >"$moved/build/CMakeCache.txt"
printf 'CMAKE_HOME_DIRECTORY:INTERNAL=/gone/sdpa\n' >"$moved/build-fuzz/CMakeCache.txt"
printf 'CMAKE_HOME_DIRECTORY:INTERNAL=%s\n' "$moved" >"$moved/build-asan/CMakeCache.txt"
touch "$moved/build/tb/CMakeFiles/y.dir/y.o" "$moved/build-fuzz/corpus/input"
# A dpkg-query that finds every package installed: the test installs nothing where one is missing.
mkdir -p "$tmp/installed"
printf '#!/bin/sh\nprintf "install ok installed"\n' >"$tmp/installed/dpkg-query"
chmod +x "$tmp/installed/dpkg-query"
rc=0
PATH=$tmp/installed:$PATH "$moved/scripts/setup" --no-build >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
err=$(<"$tmp/stderr")
check "setup: a build folder configured elsewhere loses its cache and objects, with a note" \
  eval '[[ $rc == 0 && ! -e $moved/build/CMakeCache.txt && ! -e $moved/build/CMakeFiles &&
          ! -e $moved/build/tb/CMakeFiles && ! -e $moved/build-fuzz/CMakeFiles &&
          -e $moved/build-fuzz/corpus/input &&
          $err == *"setup: build/ was configured in /gone/sdpa: building it over here"* ]]'
check "setup: a build folder configured here keeps its cache" \
  eval '[[ -e $moved/build-asan/CMakeCache.txt && -d $moved/build-asan/CMakeFiles && $err != *build-asan* ]]'

# A user other than root, with packages missing and no sudo: one line naming them, nothing run
# (it was bash's "sudo: command not found"). Stand-ins: nothing installed, a uid of 1000, and an
# apt-get that records its call. Only where the machine has no sudo to find.
if ! command -v sudo >/dev/null; then
  mkdir -p "$tmp/nosudo"
  printf '#!/bin/sh
' >"$tmp/nosudo/dpkg-query"
  printf '#!/bin/sh
echo 1000
' >"$tmp/nosudo/id"
  printf '#!/bin/sh
touch "%s"
' "$tmp/apt-ran" >"$tmp/nosudo/apt-get"
  chmod +x "$tmp/nosudo/dpkg-query" "$tmp/nosudo/id" "$tmp/nosudo/apt-get"
  rc=0
  PATH=$tmp/nosudo:$PATH "$moved/scripts/setup" --no-build >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
  check "setup: packages missing without root or sudo: one line naming them, exit 1" \
    eval 'one_line 1 "setup: missing packages and no sudo: as root, apt-get install g++ cmake" &&
      [[ ! -e $tmp/apt-ran ]]'
fi

# Options: --help prints the header and does nothing else, an unknown option is one line, exit 2.
# Run from copies, with the stand-in dpkg-query above and a setup that records its call, so that a
# regression installs, builds or draws nothing here (graphs --help regenerated the figures; setup took --help for a package).
mkdir -p "$tmp/opts/scripts"
cp "$repo/scripts/graphs" "$repo/scripts/fuzz" "$repo/scripts/run" "$repo/scripts/test" \
  "$tmp/opts/scripts/"
cp "$moved/scripts/setup" "$tmp/opts/scripts/setup-real"
printf '#!/bin/sh\ntouch "%s"\nexit 1\n' "$tmp/opts-setup-ran" >"$tmp/opts/scripts/setup"
chmod +x "$tmp/opts/scripts/setup"
for help in "graphs:The graph figures of docs/architecture.md" \
  "setup-real:Installs the Debian packages the project needs" \
  "run:Sets up when needed, then runs the simulator" \
  "test:Sets up when needed, then runs the whole test suite"; do
  rc=0
  PATH=$tmp/installed:$PATH "$tmp/opts/scripts/${help%%:*}" --help >"$tmp/stdout" 2>"$tmp/stderr" ||
    rc=$?
  check "${help%%:*} --help: its header, exit 0, nothing else done" \
    eval '[[ $rc == 0 && $(<"$tmp/stdout") == "${help#*:}"* && ! -s $tmp/stderr &&
      ! -e $tmp/opts/docs && ! -e $tmp/opts/build ]]'
done
for args in "graphs --bogus:graphs: unknown argument '--bogus'" "graphs --sim:graphs: --sim needs a path" \
  "setup-real --no-build --bogus:setup: unknown option --bogus" \
  "setup-real gdb --help:Installs the Debian packages" \
  "fuzz 60s:fuzz: SECONDS: expected a whole number above 0, got '60s'" \
  "fuzz 0:fuzz: SECONDS: expected a whole number above 0, got '0'"; do
  read -ra words <<<"${args%%:*}"
  rc=0
  PATH=$tmp/installed:$PATH "$tmp/opts/scripts/${words[0]}" "${words[@]:1}" >"$tmp/stdout" \
    2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
  if [[ ${args#*:} == Installs* ]]; then
    check "${args%%:*}: an option after a package name is still an option" \
      eval '[[ $rc == 0 && $(<"$tmp/stdout") == "${args#*:}"* ]]'
  else
    check "${args%%:*}: one line, exit 2, nothing run" \
      eval 'one_line 2 "${args#*:}" && [[ ! -e $tmp/opts-setup-ran && ! -e $tmp/opts/docs ]]'
  fi
done

summary test_script_errors
