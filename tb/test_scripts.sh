#!/usr/bin/env bash
# Tests scripts/sweep, scripts/plot, scripts/models and scripts/numerics-study on tiny sweeps
# (about a minute in all).
# Usage: tb/test_scripts.sh [SDPA_SIM]   (default: build/bin/sdpa-sim)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
sim=$(realpath "${1:-$repo/build/bin/sdpa-sim}")
[[ -x $sim ]] || { echo "test_scripts: no simulator at $sim" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

source "$repo/tb/checks.sh"

# sweep_at DIR ARGS...: runs scripts/sweep --out DIR with a 60 s bound; sets $rc and $err (stderr).
sweep_at() {
  local dir=$1; shift
  rc=0
  timeout 60 "$repo/scripts/sweep" --sim "$sim" --out "$dir" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
}
# sweep ARGS...: sweep_at $tmp/sweep; sets $out and $csv too.
sweep() {
  out=$tmp/sweep
  sweep_at "$out" "$@"
  csv=$out/results.csv
}

# rows CSV EXPECTED PYTHON-CONDITIONS: the CSV has EXPECTED rows and each condition holds
# (rows is a list of dicts, r(...) finds the one row with the given column values).
rows() {
  /usr/bin/python3 - "$@" <<'EOF'
import csv, sys
path, expected, conditions = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = list(csv.DictReader(open(path)))
def r(**kw):
    found = [x for x in rows if all(x[k.replace("__", ".")] == str(v) for k, v in kw.items())]
    assert len(found) == 1, f"{kw}: {len(found)} rows"
    return found[0]
assert len(rows) == expected, f"{len(rows)} rows, expected {expected}"
for c in conditions:
    assert eval(c), f"not true: {c}"
EOF
}

# derive_csv IN OUT PYTHON: OUT holds IN's rows after PYTHON, run with rows (a list of dicts) and
# columns (the header's names, in order), which it may change: a CSV as an older sweep, a sparser
# one or an odd result would have written it.
derive_csv() {
  /usr/bin/python3 - "$@" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
columns = list(rows[0])
exec(sys.argv[3])
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
EOF
}

one_line_error() { [[ $rc == 2 && $(wc -l <<<"$err") == 1 && $err == "sweep: error: "* ]]; }

# A 2 x 2 grid; score_bypass = 32 holds less than a row of 64 scores, so that point deadlocks.
grid=(--grid "problem.seq_len=16,64" --grid "channels.depths.score_bypass=32,128"
      --set datapath=naive --set problem.head_dim=8 --jobs 2)
sweep "${grid[@]}"
check "sweep: 2 x 2 grid runs (exit 0)" test "$rc" = 0
check "sweep: one row per point, statuses, empty cycles when deadlocked" rows "$csv" 4 \
  'r(problem__seq_len=16, channels__depths__score_bypass=32)["status"] == "ok"' \
  'r(problem__seq_len=16, channels__depths__score_bypass=128)["status"] == "ok"' \
  'r(problem__seq_len=64, channels__depths__score_bypass=128)["status"] == "ok"' \
  'r(problem__seq_len=64, channels__depths__score_bypass=32)["status"] == "deadlock"' \
  'r(status="deadlock")["cycles"] == "" and r(status="deadlock")["exit_code"] == "3"' \
  'all(r(status="deadlock")[c] == "" for c in ("bytes_read", "bytes_read_per_cycle", "traffic_relative_to_minimum"))' \
  'r(status="deadlock")["scores_skipped"] == "0"' \
  'r(status="deadlock")["bottleneck"] == "stopped" and r(status="deadlock")["bottleneck_channel"] == "naive.score_bypass"' \
  'all(x["bottleneck"] == "none" and x["bottleneck_unit"] and x["bottleneck_channel"] == "" for x in rows if x["status"] == "ok")' \
  'all(x["datapath"] == "naive" and x["problem.head_dim"] == "8" for x in rows)' \
  'all(int(x["cycles"]) >= int(x["problem.seq_len"]) ** 2 for x in rows if x["status"] == "ok")' \
  'all(float(x["intermediate_high_water_elements"]) > 0 for x in rows)'
check "sweep: each point in its own run folder" test -f "$out/runs/002-seq_len=64_score_bypass=32/report.json"
check "sweep: one progress line per run" test "$(grep -c '^sweep: \[[1-4]/4\]' <<<"$err")" = 4

# A reader of stderr that goes away (`2>&1 | head -1`) does not stop the sweep or its CSV.
timeout 60 "$repo/scripts/sweep" --sim "$sim" --out "$tmp/piped" --grid problem.seq_len=8,16,24 \
  --set problem.head_dim=4 --set datapath=naive --jobs 1 2>&1 | head -1 >/dev/null
rc=${PIPESTATUS[0]}
check "sweep: stderr closed by its reader: exit 0 and every row" rows "$tmp/piped/results.csv" 3 \
  "'$rc' == '0'" 'all(x["status"] == "ok" for x in rows)'

# Two units at II 3 are named together (docs/timing.md, "Limits at the same rate").
sweep --grid units.running_sum.ii=1,3 --set units.running_max.ii=3 --set datapath=reordered \
  --set problem.seq_len=16 --set problem.head_dim=8
check "sweep: the limits at the same rate as the bottleneck" rows "$csv" 2 \
  'all(x["bottleneck"] == "slow_ii" and x["bottleneck_unit"] == "reordered.running_max" for x in rows)' \
  'r(units__running_sum__ii=1)["bottleneck_also"] == ""' \
  'r(units__running_sum__ii=3)["bottleneck_also"] == "slow_ii:reordered.running_sum"' \
  'all(x["bottleneck_reason"] == __import__("json").load(open(__import__("os").path.join(
         __import__("os").path.dirname(path), x["run_dir"], "report.json")))["runs"][0]["bottleneck"]["reason"]
       and x["bottleneck_reason"].startswith("running_max: II 3") for x in rows)' \
  'all(x["bottleneck_confirmed"] == "" and x["bottleneck_fastest"] == "" for x in rows)'
# --verify-bottleneck checks each point's statement (both confirmed: the running max relieved
# alone, then with the running sum); with `probs` 3 and `v_rows` 2 deep on a shared link, limits
# no bound sees are at one rate (docs/timing.md): not confirmed, and all that waited, relieved
# together, ran fastest.
sweep --grid units.running_sum.ii=1,3 --set units.running_max.ii=3 --set datapath=reordered \
  --set problem.seq_len=16 --set problem.head_dim=8 --verify-bottleneck
check "sweep: --verify-bottleneck's verdict per row" rows "$csv" 2 \
  'all(x["bottleneck_confirmed"] == "true" and x["bottleneck_fastest"] == "" for x in rows)'
sweep --grid channels.depths.v_rows=2 --set channels.depths.probs=3 --set memory.ports=shared \
  --set memory.bytes_per_cycle=48 --set memory.read_latency=2 --set datapath=naive \
  --set problem.seq_len=8 --set problem.head_dim=8 --verify-bottleneck
check "sweep: --verify-bottleneck's fastest other relief" rows "$csv" 1 \
  'rows[0]["bottleneck_confirmed"] == "false"' \
  'rows[0]["bottleneck_fastest"].count(" --set ") >= 2'

sweep "${grid[@]}"
check "sweep: says that it replaces results.csv" grep -q "replacing the results in $csv" <<<"$err"

for bad in "problem.seq_len" "problem.seq_len=" "=1,2" "problem.seq_len=1,,2" "a..b=1" "a=1,1"; do
  sweep --grid "$bad"
  check "sweep: bad --grid '$bad' is a one-line error, exit 2" one_line_error
done
sweep --grid problem.seq_len=8 --set datapath
check "sweep: bad --set is a one-line error, exit 2" one_line_error
# An --out that is no folder was "/dev/null: File exists", naming neither --out nor a folder.
touch "$tmp/a-file"
for bad in /dev/null "$tmp/a-file" "$tmp/a-file/sub"; do
  sweep_at "$bad" --grid problem.seq_len=8
  check "sweep: --out $bad, no folder, is a one-line error naming --out, exit 2" \
    eval 'one_line_error && [[ $err == "sweep: error: --out $bad: "* ]]'
done
# A later --set of a key replaces an earlier one (scripts/study's defaults, then the user's).
sweep --grid problem.seq_len=8 --set problem.head_dim=4 --set datapath=naive --set problem.head_dim=8
check "sweep: a later --set of a key wins" rows "$csv" 1 \
  'rows[0]["status"] == "ok" and rows[0]["problem.head_dim"] == "8"'
sweep --grid problem.seq_len=8 --jobs 0
check "sweep: --jobs 0 is a one-line error, exit 2" one_line_error
# A device or pipe as --base (the sweep hashes it: a pipe would hang), a dangling link as --out.
sweep --grid problem.seq_len=8 --base /dev/null
check "sweep: --base /dev/null is a one-line error, not a regular file, exit 2" \
  eval 'one_line_error && [[ $err == *"--base /dev/null: not a regular file"* ]]'
ln -s "$tmp/nowhere" "$tmp/dangling"
for dry in "" --dry-run; do
  sweep_at "$tmp/dangling" --grid problem.seq_len=8 $dry
  check "sweep: --out a dangling symbolic link is a one-line error naming its target, exit 2 ($dry)" \
    eval 'one_line_error && [[ $err == *"a symbolic link to $tmp/nowhere, which does not exist"* ]]'
done

# Where no earlier sweep would be replaced, a point the simulator rejects is an error row.
rm -rf "$tmp/sweep"
sweep --grid problem.seq_len=0,8 --set problem.head_dim=8
check "sweep: a point the simulator rejects is an error row (exit 1)" test "$rc" = 1
check "sweep: the error row has the simulator's exit code and message" rows "$csv" 3 \
  'r(problem__seq_len=0)["status"] == "error" and r(problem__seq_len=0)["exit_code"] == "2"' \
  '"problem.seq_len" in r(problem__seq_len=0)["message"]' \
  'r(problem__seq_len=8, datapath="naive")["status"] == "ok"'
sweep --grid problem.seq_len=4096 --set datapath=naive --timeout 0.2
check "sweep: a run over --timeout is an error row" rows "$csv" 1 \
  'rows[0]["status"] == "error" and "timed out" in rows[0]["message"]'
# The simulator's watchdog (exit 4) leaves a report: its runs are rows with status timeout.
sweep --grid sim.max_cycles=100 --set problem.seq_len=16 --set problem.head_dim=8
check "sweep: a watchdog stop is a result (exit 0)" test "$rc" = 0
check "sweep: ... a timeout row per datapath, with the simulator's exit code" rows "$csv" 2 \
  'all(x["status"] == "timeout" and x["exit_code"] == "4" for x in rows)' \
  'sorted(x["datapath"] for x in rows) == ["naive", "reordered"]' \
  'all(x["cycles"] == "" and x["bottleneck"] == "stopped" and x["message"] == "" for x in rows)'
check "sweep: ... and says so in its summary" grep -q "2 timeout" <<<"$err"
sweep --grid problem.no_such_key=1,2
check "sweep: every point rejected as bad parameters exits 2" test "$rc" = 2

# A rejected sweep leaves the earlier one as it was; an interrupted one shows none of its rows.
sweep --grid problem.seq_len=8,16 --set problem.head_dim=8
before=$(cat "$csv"; ls "$out/runs")
sweep --grid problem.seq_len=8,16 --set problem.head_dim=8 --set no_such_key=1
check "sweep: a sweep rejected as bad parameters is one line, exit 2" one_line_error
check "sweep: ... and leaves the earlier results and run folders" test "$before" = "$(cat "$csv"; ls "$out/runs")"
# A file of the user's in an earlier run folder: refused, not removed with the folder.
run1=$(ls -d "$out"/runs/*/ | head -1)
echo "my notes" >"$run1/notes.txt"
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4
check "sweep: a file of the user's in an earlier run folder is a one-line error, exit 2" \
  eval 'one_line_error && [[ $err == *"${run1}notes.txt is not a file the sweep wrote"* ]]'
check "sweep: ... and everything stays" test "$before:my notes" = "$(cat "$csv"; ls "$out/runs"):$(<"$run1/notes.txt")"
rm "$run1/notes.txt"
# A --slurm submission that Slurm refuses (a stand-in sbatch first on PATH) leaves it too.
mkdir -p "$tmp/bin"
printf '#!/bin/bash
echo "sbatch: error: invalid partition specified: nowhere" >&2
exit 1
' \
  >"$tmp/bin/sbatch"
chmod +x "$tmp/bin/sbatch"
manifest=$(<"$out/manifest.json")
PATH="$tmp/bin:$PATH" sweep --slurm --grid problem.seq_len=8,16,32 --set problem.head_dim=8
check "sweep: a refused --slurm submission is exit 3 saying the earlier sweep is as it was" \
  grep -q "sbatch failed (exit 1): sbatch: error: invalid partition specified: nowhere (the earlier sweep in $out is as it was)" <<<"$err"
check "sweep: ... and leaves its results and run folders" test "$rc:$before" = "3:$(cat "$csv"; ls "$out/runs")"
check "sweep: ... and its manifest" test "$manifest" = "$(<"$out/manifest.json")"
# A simulator that interrupts the sweep as the first point starts (its --check passes), and then
# waits to be stopped, longer than the timeout below: the real one could finish that small point
# first (it did, one run in four on a busy machine), and its rows would look like the earlier
# sweep's.
printf '#!/bin/bash\n[[ " $* " == *" --check "* ]] && exec %q "$@"\nkill -TERM $PPID\nexec sleep 120\n' \
  "$sim" >"$tmp/interrupting-sim"
chmod +x "$tmp/interrupting-sim"
sweep_at "$out" --sim "$tmp/interrupting-sim" --jobs 1 --grid problem.seq_len=8,16 \
  --set problem.head_dim=4
check "sweep: interrupted, exit 130" test "$rc" = 130
check "sweep: ... no row shows the earlier sweep's result as this one's" rows "$csv" 2 \
  'all(x["status"] == "error" and x["head_dim"] in ("", "4") for x in rows)'
# The point it stopped says so: "killed by SIGKILL" read as the kernel's out-of-memory killer.
check "sweep: ... the running point stopped by the sweep, the next without a result, each said" rows "$csv" 2 \
  'r(problem__seq_len=8)["message"] == "stopped: the sweep was interrupted"' \
  'r(problem__seq_len=8)["exit_code"] == "-9"' \
  'r(problem__seq_len=16)["message"] in ("no result: the run did not finish", "not run: the sweep was stopped")'
# Ctrl-C reaches the runs too (the terminal signals the process group): a run ended by it was
# stopped with the sweep, not "killed by SIGINT".
printf '#!/bin/bash\n[[ " $* " == *" --check "* ]] && exec %q "$@"\nkill -INT 0\nexec sleep 120\n' \
  "$sim" >"$tmp/ctrl-c-sim"
chmod +x "$tmp/ctrl-c-sim"
rc=0
timeout 60 setsid --wait "$repo/scripts/sweep" --sim "$tmp/ctrl-c-sim" --out "$out" --jobs 1 \
  --grid problem.seq_len=8,16 --set problem.head_dim=4 >/dev/null 2>&1 || rc=$?
check "sweep: Ctrl-C to the process group: exit 130" test "$rc" = 130
check "sweep: ... the running point stopped by the sweep, said so" rows "$csv" 2 \
  'r(problem__seq_len=8)["message"] == "stopped: the sweep was interrupted"'
# The folders it left are its own: the same sweep re-runs (it refused them as the user's).
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4
check "sweep: re-runs over the folders of an interrupted sweep (exit 0)" test "$rc" = 0
# --resume keeps the points with a result and runs the rest (here an interrupted point, left by a
# simulator that is killed while a flag file exists: the same simulator file both times).
printf '#!/bin/bash\n[[ -e %q && " $* " == *seq_len=16* && " $* " != *" --check "* ]] && kill -9 $$\nexec %q "$@"\n' \
  "$tmp/kill16" "$sim" >"$tmp/flaky-sim"
chmod +x "$tmp/flaky-sim"
touch "$tmp/kill16"
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim"
check "sweep: a point killed is an error row" rows "$csv" 3 \
  'r(problem__seq_len=16)["status"] == "error" and r(problem__seq_len=16)["exit_code"] == "-9"' \
  'r(problem__seq_len=16)["message"] == "killed by SIGKILL"'
rm "$tmp/kill16"
kept=$(cat "$out"/runs/000-seq_len=8/{run.json,report.json})
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume runs the point without a result (exit 0)" test "$rc" = 0
check "sweep: ... saying how many it keeps" \
  grep -q "resuming the sweep in $out: 1 of 2 points has a result; running the other 1" <<<"$err"
check "sweep: ... and runs only that one" test "$(grep -c '^sweep: \[' <<<"$err")" = 1
check "sweep: ... keeps the other's run folder as it was" \
  test "$kept" = "$(cat "$out"/runs/000-seq_len=8/{run.json,report.json})"
check "sweep: ... and gathers all the rows" rows "$csv" 4 'all(x["status"] == "ok" for x in rows)'
before=$(cat "$csv"; ls -R "$out/runs")
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume with every point done runs nothing (exit 0)" \
  eval '((rc == 0)) && grep -q "every point of the sweep in $out has a result: nothing to run" <<<"$err"'
check "sweep: ... and changes nothing" test "$before" = "$(cat "$csv"; ls -R "$out/runs")"
# A point whose report cannot be read is an error row, and runs again; the order of the --grid
# keys orders the points and their folders, so swapped it is another sweep.
: >"$out"/runs/001-*/report.json
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume runs a point whose report.json is unreadable again" \
  eval '((rc == 0)) && grep -q "1 of 2 points has a result; running the other 1" <<<"$err"'
# Folders named otherwise (by another version of the sweep), as its manifest says: a point's
# result is kept where it is, not run again beside it.
mv "$out/runs/000-seq_len=8" "$out/runs/0-N8"
sed -i 's|"runs/000-seq_len=8"|"runs/0-N8"|' "$out/manifest.json"
: >"$out"/runs/001-*/report.json
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume keeps a result in a folder named as its manifest says, not the grid" \
  eval '((rc == 0)) && grep -q "1 of 2 points has a result; running the other 1" <<<"$err" &&
        [[ ! -e $out/runs/000-seq_len=8 ]]'
check "sweep: ... and its row comes from there" rows "$csv" 4 \
  'r(problem__seq_len=8, datapath="naive")["run_dir"] == "runs/0-N8"'
sweep --grid problem.seq_len=8,16 --grid datapath=naive --set problem.head_dim=4 --sim "$tmp/flaky-sim"
sweep --grid datapath=naive --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume with the --grid keys in another order is one line, exit 2" \
  eval 'one_line_error && [[ $err == *"--resume: --grid differs"* ]]'
# A point the simulator rejects has its result: resumed, the sweep does not refuse for it.
rm -rf "$tmp/sweep"
sweep --grid problem.head_dim=4,70000 --set problem.seq_len=8 --sim "$tmp/flaky-sim"
sweep --grid problem.head_dim=4,70000 --set problem.seq_len=8 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume keeps a point the simulator rejected as its result (exit 1, nothing to run)" \
  eval '((rc == 1)) && grep -q "nothing to run" <<<"$err"'
# Resumed under Slurm, a submission Slurm refuses leaves the folders of the points it would have
# run as they were (the stand-in sbatch above refuses every job).
touch "$tmp/kill16"
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim"
rm "$tmp/kill16"
before=$(cat "$csv" "$out"/runs/*/run.json; ls -R "$out/runs")
PATH="$tmp/bin:$PATH" sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" \
  --slurm --resume
check "sweep: --slurm --resume refused by Slurm is exit 3, the sweep as it was" \
  test "$rc:$before" = "3:$(cat "$csv" "$out"/runs/*/run.json; ls -R "$out/runs")"
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim"
# A file of the user's in a point's folder the sweep left without its record is refused before
# anything changes, named.
rm "$out"/runs/001-*/run.json
echo "my notes" >"$out"/runs/001-seq_len=16/notes.txt
before=$(cat "$csv"; ls -R "$out/runs")
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume over a point's folder holding the user's file is one line naming it, exit 2" \
  eval 'one_line_error && [[ $err == *"runs/001-seq_len=16 holds notes.txt, not a file the sweep wrote"* ]]'
check "sweep: ... and everything stays" test "$before" = "$(cat "$csv"; ls -R "$out/runs")"
rm "$out"/runs/001-seq_len=16/notes.txt
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
# --dry-run prints each command that would run and changes nothing, with or without --resume.
rm "$out"/runs/001-*/run.json
before=$(cat "$csv"; ls -R "$out/runs")
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume --dry-run
check "sweep: --resume --dry-run prints the one command that would run (exit 0)" \
  eval '((rc == 0)) && [[ $(<"$tmp/stdout") == "$tmp/flaky-sim "*"--set problem.seq_len=16 --out $out/runs/001-seq_len=16" ]]'
check "sweep: ... says what it would replace" \
  grep -q "dry run: 1 of 2 points would run again; 1 run folder in $out/runs/ would be replaced" <<<"$err"
check "sweep: ... and changes nothing" test "$before" = "$(cat "$csv"; ls -R "$out/runs")"
sweep --grid problem.seq_len=8,16,24 --set problem.head_dim=4 --dry-run
check "sweep: --dry-run prints each point's command (exit 0)" \
  eval '((rc == 0)) && (($(wc -l <"$tmp/stdout") == 3))'
check "sweep: ... and changes nothing" test "$before" = "$(cat "$csv"; ls -R "$out/runs")"
rc=0
"$repo/scripts/sweep" --sim "$sim" --out "$tmp/dry" --grid problem.seq_len=8 --dry-run \
  >/dev/null 2>&1 || rc=$?
check "sweep: --dry-run into a new folder creates none" eval '((rc == 0)) && [[ ! -e $tmp/dry ]]'
# A dry run into a folder another sweep is writing in says so, as that sweep would.
mkdir -p "$tmp/busy"
flock "$tmp/busy" sleep 30 &
holder=$!
sleep 0.5
rc=0
"$repo/scripts/sweep" --sim "$sim" --out "$tmp/busy" --grid problem.seq_len=8 --dry-run \
  >/dev/null 2>"$tmp/stderr" || rc=$?
err=$(<"$tmp/stderr")
kill "$holder" 2>/dev/null
check "sweep: --dry-run where another sweep writes is one line, exit 2" \
  eval 'one_line_error && [[ $err == *"another sweep is writing in $tmp/busy"* ]]'
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
before=$(cat "$csv"; ls -R "$out/runs")
# The Slurm job of a sweep killed outright (no chance to cancel it) is in the queue while its
# record is in DIR: a later sweep there is refused, resumed or not (a stand-in squeue answers).
mkdir -p "$out/slurm"
echo 4242 >"$out/slurm/job"
squeue_says() { printf '#!/bin/bash\n%s\n' "$1" >"$tmp/bin/squeue"; chmod +x "$tmp/bin/squeue"; }
squeue_says 'echo RUNNING; echo PENDING'
for resume in "" --resume; do
  PATH="$tmp/bin:$PATH" sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 \
    --sim "$tmp/flaky-sim" $resume
  check "sweep${resume:+ $resume}: an earlier sweep's Slurm job still queued is one line naming it, exit 2" \
    eval 'one_line_error && [[ $err == *"Slurm job 4242 of an earlier sweep in $out is still in the queue (PENDING, RUNNING)"*"scancel 4242 (nothing was changed)" ]]'
  check "sweep${resume:+ $resume}: ... and everything stays" \
    test "$before:4242" = "$(cat "$csv"; ls -R "$out/runs"):$(<"$out/slurm/job")"
done
# --gather, after such a sweep, reads the runs once the job is over.
gather_here() {
  rc=0
  PATH="$tmp/bin:$PATH" timeout 60 "$repo/scripts/sweep" --gather --out "$out" >/dev/null \
    2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
}
gather_here
check "sweep --gather: while the job is queued is one line naming it, exit 2" \
  eval 'one_line_error && [[ $err == *"Slurm job 4242 of an earlier sweep in $out is still in the queue"* ]]'
squeue_says 'echo "slurm_load_jobs error: Unable to contact slurm controller" >&2; exit 1'
PATH="$tmp/bin:$PATH" sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 \
  --sim "$tmp/flaky-sim" --resume
check "sweep: ... and one squeue cannot tell about is one line, exit 2" \
  eval 'one_line_error && [[ $err == *"4242 of an earlier sweep in $out may still run, and squeue cannot tell (exit 1: slurm_load_jobs error: Unable to contact slurm controller)"* ]]'
gather_here
check "sweep --gather: ... where squeue cannot tell, gathers saying so and keeps the record" \
  eval '((rc == 0)) && [[ $err == *"note: squeue cannot tell whether Slurm job 4242"* && $(<"$out/slurm/job") == 4242 ]]'
squeue_says 'echo COMPLETED; echo CANCELLED'
gather_here
check "sweep --gather: ... once the job is over, gathers and forgets it" \
  eval '((rc == 0)) && [[ ! -e $out/slurm/job ]]'
# A results.csv that cannot be written (here a file size limit; a full disk likewise) is named,
# and leaves no half-written file beside the runs.
rc=0
prlimit --fsize=100 timeout 60 "$repo/scripts/sweep" --gather --out "$out" >/dev/null \
  2>"$tmp/stderr" || rc=$?
err=$(<"$tmp/stderr")
check "sweep --gather: a results.csv it cannot write is one line naming it, exit 2" \
  eval 'one_line_error && [[ $err == "sweep: error: $out/results.csv: File too large" && ! -e $out/results.csv.tmp ]]'
echo 4242 >"$out/slurm/job"
PATH="$tmp/bin:$PATH" sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 \
  --sim "$tmp/flaky-sim" --resume
check "sweep: once the job is over, the sweep runs and forgets it" \
  eval '((rc == 0)) && [[ ! -e $out/slurm/job ]]'
echo 4242 >"$out/slurm/job"
squeue_says 'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1'
PATH="$tmp/bin:$PATH" sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 \
  --sim "$tmp/flaky-sim" --resume
check "sweep: ... as once Slurm no longer knows it" eval '((rc == 0)) && [[ ! -e $out/slurm/job ]]'
# A job on another cluster (sbatch --parsable prints ID;CLUSTER) is asked about there.
echo "4242;far" >"$out/slurm/job"
squeue_says '[[ $1 == -M && $2 == far ]] && echo RUNNING'
PATH="$tmp/bin:$PATH" sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 \
  --sim "$tmp/flaky-sim" --resume
check "sweep: ... a job of another cluster is asked about there, and named with it" \
  eval 'one_line_error && [[ $err == *"(RUNNING)"*"scancel -M far 4242 (nothing was changed)" ]]'
echo 4242 >"$out/slurm/job"
mkdir -p "$tmp/nobin"
rc=0
PATH="$tmp/nobin" /usr/bin/timeout 60 "$repo/scripts/sweep" --sim "$sim" --out "$out" \
  --grid problem.seq_len=8,16 --set problem.head_dim=4 >/dev/null 2>"$tmp/stderr" || rc=$?
err=$(<"$tmp/stderr")
check "sweep: ... and one with no squeue to ask is one line saying so, exit 2" \
  eval 'one_line_error && [[ $err == *"squeue cannot tell (not on PATH): once it is over, remove $out/slurm/job"* ]]'
echo "my notes" >"$out/slurm/job"
PATH="$tmp/bin:$PATH" sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 \
  --sim "$tmp/flaky-sim" --resume
check "sweep: a record that is no job id is one line naming it, exit 2, and stays" \
  eval 'one_line_error && [[ $err == *"$out/slurm/job: expected the Slurm job id an earlier sweep wrote, found '"'my notes'"'"* && $(<"$out/slurm/job") == "my notes" ]]'
rm "$out/slurm/job"
rm "$tmp/bin/squeue"
# Another sweep, or the same one with another simulator build, is not resumed: results would mix.
sweep --grid problem.seq_len=8,16 --set problem.head_dim=8 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume of another sweep is one line naming the difference, exit 2" \
  eval 'one_line_error && [[ $err == *"--resume: --set differs from the sweep'"'"'s in $out, {\"problem.head_dim\": \"4\"} there"* ]]'
echo "# rebuilt" >>"$tmp/flaky-sim"
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim "$tmp/flaky-sim" --resume
check "sweep: --resume with the simulator changed since is one line, exit 2" \
  eval 'one_line_error && [[ $err == *"--resume: the simulator'"'"'s build differs"* ]]'
check "sweep: ... and changes nothing" test "$before" = "$(cat "$csv"; ls -R "$out/runs")"
# Resumed from another folder, the points run where the sweep was started: a relative inputs path
# names the same files there.
mkdir -p "$tmp/here" "$tmp/elsewhere"
/usr/bin/python3 -c "
import numpy as np
r = np.random.default_rng(1)
for n in 'qkv':
    np.save('$tmp/here/' + n + '.npy', r.standard_normal((8, 4)).astype(np.float32))"
relative=(--sim "$sim" --out "$tmp/rel" --grid datapath=naive,reordered --set inputs.q=q.npy
          --set inputs.k=k.npy --set inputs.v=v.npy)
rc=0
(cd "$tmp/here" && timeout 60 "$repo/scripts/sweep" "${relative[@]}") >/dev/null 2>&1 || rc=$?
check "sweep: relative inputs paths run (exit 0)" test "$rc" = 0
rm "$tmp"/rel/runs/001-*/run.json
rc=0
(cd "$tmp/elsewhere" && timeout 60 "$repo/scripts/sweep" "${relative[@]}" --resume --dry-run) \
  >"$tmp/stdout" 2>/dev/null || rc=$?
check "sweep: --resume --dry-run from another folder prints the command with a cd to where it ran" \
  eval '((rc == 0)) && [[ $(<"$tmp/stdout") == "cd $tmp/here && $sim "*"--set inputs.q=q.npy"* ]]'
rc=0
(cd "$tmp/elsewhere" && timeout 60 "$repo/scripts/sweep" "${relative[@]}" --resume) \
  >/dev/null 2>"$tmp/stderr" || rc=$?
check "sweep: --resume from another folder runs the point where the sweep was started (exit 0)" \
  eval '((rc == 0)) && grep -q "the points run in $tmp/here, where the sweep was started" "$tmp/stderr"'
check "sweep: ... its rows ok" rows "$tmp/rel/results.csv" 2 'all(x["status"] == "ok" for x in rows)'
rm "$tmp"/rel/runs/001-*/run.json
mv "$tmp/here" "$tmp/moved"
rc=0
(cd "$tmp/moved" && timeout 60 "$repo/scripts/sweep" "${relative[@]}" --resume) \
  >/dev/null 2>"$tmp/stderr" || rc=$?
check "sweep: --resume when that folder is gone runs the points here, saying so (exit 0)" \
  eval '((rc == 0)) && grep -q "$tmp/here, where the sweep was started, is gone: the points run here" "$tmp/stderr"'
# Started from a folder that no longer exists: one line saying so.
mkdir -p "$tmp/deleted"
rc=0
(cd "$tmp/deleted" && rmdir "$tmp/deleted" && timeout 60 "$repo/scripts/sweep" --sim "$sim" \
  --out "$tmp/from-deleted" --grid problem.seq_len=8) >/dev/null 2>"$tmp/stderr" || rc=$?
err=$(<"$tmp/stderr")
check "sweep: started from a deleted folder is one line, exit 2" \
  eval 'one_line_error && [[ $err == *"the current folder no longer exists"* ]]'
# With no sweep in DIR there is nothing to keep: every point runs (a study resumed runs the
# sweeps it had not reached).
rc=0
"$repo/scripts/sweep" --sim "$sim" --out "$tmp/no-sweep" --grid problem.seq_len=8 --resume \
  >/dev/null 2>"$tmp/stderr" || rc=$?
err=$(<"$tmp/stderr")
check "sweep: --resume with no sweep in DIR runs every point, saying so (exit 0)" \
  eval '((rc == 0)) && [[ $err == *"--resume: no sweep in $tmp/no-sweep yet: every point runs"* ]] &&
    rows "$tmp/no-sweep/results.csv" 2 "all(x[\"status\"] == \"ok\" for x in rows)"'
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4
# A file of the user's beside a run's outputs, named as the simulator might name one but not in
# the run's report.json list, is refused (it was removed with the folder).
touch "$out/runs/000-seq_len=8/graph.svg"
before=$(cat "$csv"; ls -R "$out/runs")
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4
check "sweep: a file its run's report does not list is the user's: one line, exit 2" \
  grep -q "runs/000-seq_len=8/graph.svg is not a file the sweep wrote" <<<"$err"
check "sweep: ... and everything stays" test "$rc:$before" = "2:$(cat "$csv"; ls -R "$out/runs")"
rm "$out/runs/000-seq_len=8/graph.svg"
before=$(cat "$csv"; ls -R "$out/runs")
# A simulator that accepts no point (it cannot run here) would fail every run: refused before the
# earlier sweep is removed.
sweep --grid problem.seq_len=8,16 --set problem.head_dim=4 --sim /bin/false
check "sweep: a simulator that accepts no point is one line, exit 2" one_line_error
check "sweep: ... saying what its check did" grep -q "the simulator accepted no point (its --check: exit code 1)" <<<"$err"
check "sweep: ... and the earlier sweep stays" test "$before" = "$(cat "$csv"; ls -R "$out/runs")"
# A --check slower than --timeout (a sanitizer build's) says nothing against the simulator: the
# points run.
printf '#!/bin/bash\n[[ " $* " == *" --check "* ]] && sleep 2\nexec %q "$@"\n' "$sim" >"$tmp/slow-check"
chmod +x "$tmp/slow-check"
sweep --grid problem.seq_len=8 --set problem.head_dim=4 --sim "$tmp/slow-check" --timeout 1
check "sweep: a --check over --timeout leaves the point to its run (exit 0)" test "$rc" = 0
# Two sweeps into one folder would each remove the other's runs: the second is refused.
printf '#!/bin/bash\n[[ " $* " == *" --check "* ]] && exec %q "$@"\nexec sleep 60\n' "$sim" \
  >"$tmp/slow-sim"
chmod +x "$tmp/slow-sim"
"$repo/scripts/sweep" --sim "$tmp/slow-sim" --out "$tmp/shared" --grid problem.seq_len=8 \
  --set problem.head_dim=4 >/dev/null 2>&1 &
first=$!
for ((i = 0; i < 100; i++)); do [[ -f $tmp/shared/manifest.json ]] && break; sleep 0.1; done
sweep_at "$tmp/shared" --grid problem.seq_len=16 --set problem.head_dim=4
check "sweep: a second sweep into a folder a sweep is writing is one line, exit 2" one_line_error
check "sweep: ... saying so" grep -q "another sweep is writing in $tmp/shared" <<<"$err"
# --gather too: it would write the running sweep's unfinished points as error rows.
rc=0
timeout 60 "$repo/scripts/sweep" --gather --out "$tmp/shared" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
err=$(<"$tmp/stderr")
check "sweep: --gather where a sweep is writing is one line, exit 2, and writes no results.csv" \
  eval 'one_line_error && [[ $err == *"another sweep is writing in $tmp/shared"* && ! -e $tmp/shared/results.csv ]]'
kill -TERM "$first"
wait "$first"
# A sweep killed outright leaves its runs writing: they hold the lock until they end.
printf '#!/bin/bash\n[[ " $* " == *" --check "* ]] && exec %q "$@"\necho $$ >%q\nexec sleep 60\n' \
  "$sim" "$tmp/orphan.pid" >"$tmp/orphaned-sim"
chmod +x "$tmp/orphaned-sim"
"$repo/scripts/sweep" --sim "$tmp/orphaned-sim" --out "$tmp/killed" --grid problem.seq_len=8 \
  --set problem.head_dim=4 >/dev/null 2>&1 &
first=$!
for ((i = 0; i < 100; i++)); do [[ -s $tmp/orphan.pid ]] && break; sleep 0.1; done
kill -KILL "$first"
wait "$first" 2>/dev/null
sweep_at "$tmp/killed" --grid problem.seq_len=8 --set problem.head_dim=4 --resume
check "sweep: over the runs a sweep killed outright left running is one line, exit 2" \
  eval 'one_line_error && [[ $err == *"another sweep is writing in $tmp/killed (or the runs of one killed outright)"* ]]'
kill -KILL "$(<"$tmp/orphan.pid")"
for ((i = 0; i < 100; i++)); do kill -0 "$(<"$tmp/orphan.pid")" 2>/dev/null || break; sleep 0.1; done
sweep_at "$tmp/killed" --grid problem.seq_len=8 --set problem.head_dim=4
check "sweep: ... and runs there once they ended" rows "$tmp/killed/results.csv" 2 'all(x["status"] == "ok" for x in rows)'
# Another user re-running the sweep cannot remove one of its folders: refused before anything is
# removed (it stopped half way). Run as nobody, with copies of the scripts it needs.
if [[ $(id -u) == 0 ]] && command -v setpriv >/dev/null; then
  as=$tmp/as-nobody
  mkdir -p "$as/scripts" "$as/params"
  cp "$repo/scripts/sweep" "$as/scripts/" && cp "$repo/params/default.yaml" "$as/params/"
  cp "$sim" "$as/"
  chmod o+x "$tmp" && chmod -R a+rX "$as"
  "$as/scripts/sweep" --sim "$as/sdpa-sim" --out "$as/out" --grid problem.seq_len=8,16 \
    --set problem.head_dim=4 >/dev/null 2>&1
  chmod 777 "$as/out" "$as/out/runs"
  chown -R 65534 "$as/out/runs/000-seq_len=8"
  before=$(ls -R "$as/out")
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups "$as/scripts/sweep" --sim "$as/sdpa-sim" \
    --out "$as/out" --grid problem.seq_len=8,16 --set problem.head_dim=4 \
    >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
  check "sweep: a folder of another user's sweep it cannot remove is one line, exit 2" one_line_error
  check "sweep: ... naming the folder" grep -q "runs/001-seq_len=16 is not writable (nothing was removed)" "$tmp/stderr"
  check "sweep: ... and nothing was removed" test "$before" = "$(ls -R "$as/out")"
else
  echo "SKIP sweep: another user's folders (needs root and setpriv)"
fi
# A value may be a YAML flow map, commas and all: two keys swept together, one point each.
sweep --grid 'problem={seq_len: 8, head_dim: 4},{seq_len: 16, head_dim: 8}' --set datapath=reordered
check "sweep: --grid of flow maps runs one point per map (exit 0)" test "$rc" = 0
check "sweep: ... each with its map's shape" rows "$csv" 2 \
  'r(problem="{seq_len: 8, head_dim: 4}")["seq_len"] == "8" and r(problem="{seq_len: 8, head_dim: 4}")["head_dim"] == "4"' \
  'r(problem="{seq_len: 16, head_dim: 8}")["seq_len"] == "16" and r(problem="{seq_len: 16, head_dim: 8}")["head_dim"] == "8"'
# Quotes and brackets are YAML's only where a value begins: '' escapes a quote, and a] is text.
sweep --grid "datapath='it''s, naive',x 'y,a]1" --set problem.seq_len=8 --set problem.head_dim=4
check "sweep: --grid splits only outside quoted values (the simulator refuses the first whole)" \
  eval 'one_line_error && [[ $err == *"got '"'"'it'"'"'s, naive'"'"'"* ]]'
sweep --grid 'problem={seq_len: 8,{seq_len: 16}' --set problem.head_dim=4
check "sweep: --grid with an unclosed brace is a one-line error, exit 2" \
  eval 'one_line_error && [[ $err == *"unbalanced brackets or quotes"* ]]'
# 04 is not 4 but a value the simulator refuses (a leading 0: octal in YAML 1.1): its own point,
# an error row saying why, not "a value appears twice".
rm -rf "$tmp/sweep"
sweep --grid problem.seq_len=04,4 --set problem.head_dim=4
check "sweep: --grid 04,4 runs 4 and makes 04 an error row naming the leading 0 (exit 1)" \
  rows "$csv" 3 '"without a leading 0" in r(problem__seq_len="04")["message"]' \
  'r(problem__seq_len=4, datapath="naive")["status"] == "ok"'
# The same sweep again loses nothing: its rejected point is not refused over the earlier one's.
sweep --grid problem.seq_len=04,4 --set problem.head_dim=4
check "sweep: the same sweep with a rejected point runs again over itself (exit 1)" \
  eval '((rc == 1)) && grep -q "replacing the results" <<<"$err"'
rm -rf "$tmp/sweep"
# A point of the earlier sweep that ran, refused under a new --set: its result would be lost.
sweep --grid problem.heads=2,3 --set problem.seq_len=4 --set problem.head_dim=4
before=$(ls -lR "$tmp/sweep"; cat "$tmp/sweep/results.csv")
sweep --grid problem.heads=2,3 --set problem.seq_len=4 --set problem.head_dim=4 \
  --set problem.kv_heads=2
check "sweep: a point that ran before, refused under another --set, is one line, exit 2" \
  eval 'one_line_error && [[ $err == *"(point 1: "*"does not divide problem.heads (3)"*"holds an earlier sweep"* ]]'
check "sweep: ... and the earlier sweep is as it was" \
  test "$before" = "$(ls -lR "$tmp/sweep"; cat "$tmp/sweep/results.csv")"
rm -rf "$tmp/sweep"
# YAML quotes are not part of a value: "4" and '4' are 4, "naive" is naive.
for quoted in "problem.seq_len=4,\"4\"" "problem.seq_len='4',4" "datapath=naive,\"naive\""; do
  sweep --grid "$quoted" --set problem.head_dim=4
  check "sweep: --grid $quoted (one value, quoted and not) is a one-line error, exit 2" \
    eval 'one_line_error && [[ $err == *"a value appears twice"*"are the same value)" ]]'
done
for t in 1e7 1e30; do
  sweep --grid problem.seq_len=8 --timeout "$t"
  check "sweep: --timeout $t (too large) is a one-line error, exit 2" \
    eval 'one_line_error && [[ $err == *"--timeout"* ]]'
done
sweep --grid problem.seq_len=8 --base "$tmp"
check "sweep: a folder as --base is a one-line error saying so, exit 2" \
  eval 'one_line_error && [[ $err == *"$tmp: is a folder, expected a parameter file"* ]]'
# A point's folder name taken by something the sweep did not make (no run.json): refused before
# anything is created or removed.
for kind in folder file link; do
  rm -rf "$tmp/sweep" && mkdir -p "$tmp/sweep/runs"
  case $kind in
    folder) mkdir "$tmp/sweep/runs/000-seq_len=4" && echo precious >"$tmp/sweep/runs/000-seq_len=4/notes.txt"
      want="holds notes.txt, not a file the sweep wrote" ;;
    file) echo precious >"$tmp/sweep/runs/000-seq_len=4" && want="is a file" ;;
    link) ln -s "$tmp/afolder" "$tmp/sweep/runs/000-seq_len=4" && want="is a symbolic link" ;;
  esac
  before=$(ls -lR "$tmp/sweep")
  sweep --grid problem.seq_len=4,8 --set problem.head_dim=4
  check "sweep: a $kind of the user's named as a point's run folder: one line naming it, exit 2" \
    eval 'one_line_error && [[ $err == *"runs/000-seq_len=4 $want"* ]]'
  check "sweep: ... and nothing was created or removed" test "$before" = "$(ls -lR "$tmp/sweep")"
done
# A manifest.json or results.csv that no sweep wrote is the user's: refused, not replaced with a
# note (the simulator refuses a params.yaml of the user's in its --out the same way).
rm -rf "$tmp/sweep" && mkdir "$tmp/sweep" && echo mine >"$tmp/sweep/manifest.json"
sweep --grid problem.seq_len=4 --set problem.head_dim=4
check "sweep: a manifest.json no sweep wrote is one line naming it, exit 2" \
  eval 'one_line_error && [[ $err == *"$tmp/sweep/manifest.json: not valid JSON"*"move it away"* ]]'
check "sweep: ... and it stays" eval '[[ $(<"$tmp/sweep/manifest.json") == mine && ! -e $tmp/sweep/runs ]]'
echo '{"grid": {}}' >"$tmp/sweep/manifest.json"
sweep --grid problem.seq_len=4 --set problem.head_dim=4
check "sweep: a JSON manifest.json that is not a sweep's is one line saying so, exit 2" \
  eval 'one_line_error && [[ $err == *"$tmp/sweep/manifest.json: not a sweep'"'"'s manifest"* ]]'
rm -rf "$tmp/sweep" && mkdir "$tmp/sweep" && echo my,own,data >"$tmp/sweep/results.csv"
sweep --grid problem.seq_len=4 --set problem.head_dim=4
check "sweep: a results.csv without a sweep's manifest beside it is one line naming it, exit 2" \
  eval 'one_line_error && [[ $err == *"$tmp/sweep/results.csv has no manifest.json beside it"* ]]'
check "sweep: ... and it stays" eval '[[ $(<"$tmp/sweep/results.csv") == my,own,data ]]'
# A sweep's own results are replaced, and it says so.
rm -rf "$tmp/sweep"
sweep --grid problem.seq_len=4 --set problem.head_dim=4
sweep --grid problem.seq_len=4,8 --set problem.head_dim=4
check "sweep: says that it replaces an earlier sweep's results.csv and manifest.json" \
  grep -q "replacing the results in $tmp/sweep/results.csv and $tmp/sweep/manifest.json" <<<"$err"
# A typo in one value, over an earlier sweep: refused before anything is removed (the point would
# be an error row, and the earlier sweep's results gone).
before=$(ls -lR "$tmp/sweep"; cat "$tmp/sweep/results.csv")
sweep --grid problem.seq_len=4,08 --set problem.head_dim=4
check "sweep: a point rejected over an earlier sweep is one line naming it, exit 2" \
  eval 'one_line_error && [[ $err == *"rejected 1 of 2 points'"'"' parameters (point 1: --set problem.seq_len=08: "*"holds an earlier sweep"* ]]'
check "sweep: ... and the earlier sweep is as it was" \
  test "$before" = "$(ls -lR "$tmp/sweep"; cat "$tmp/sweep/results.csv")"
rm -rf "$tmp/sweep"

V=$(seq -s, 1 1000)
sweep --grid "problem.seq_len=$V" --grid "problem.head_dim=$V" --grid "problem.seed=$V"
check "sweep: a grid of 10^9 points is refused at once, one line, exit 2" one_line_error

# Plots from the 2 x 2 sweep.
sweep "${grid[@]}"
plot() { rc=0; timeout 60 "$repo/scripts/plot" --csv "$csv" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?; err=$(<"$tmp/stderr"); }
is_png() { [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; }
plot --kind bypass --where problem.seq_len=64 --out "$tmp/fig/bypass.png"
check "plot: bypass figure from the sweep" is_png "$tmp/fig/bypass.png"
plot --kind memory --where channels.depths.score_bypass=128 --out "$tmp/memory.png"
check "plot: memory figure from the sweep" is_png "$tmp/memory.png"
plot --kind memory --where channels.depths.score_bypass=128 --out "$tmp/memory.png"
check "plot: says that it replaces an earlier figure" grep -q "^plot: replaced $tmp/memory.png$" <<<"$err"
plot --kind bandwidth --out "$tmp/bandwidth.png"
check "plot: a missing column is a one-line error, exit 2" \
  test "$rc" = 2 -a "$(wc -l <<<"$err")" = 1 -a ! -e "$tmp/bandwidth.png"
check "plot: the error names the column" grep -q "missing column(s) memory.bytes_per_cycle" <<<"$err"
plot --kind memory --out "$tmp/memory2.png"
check "plot: a second varying key asks for --where (exit 2)" grep -q -- "--where channels.depths.score_bypass" <<<"$err"

# figure NAME CSV CONDITIONS... -- PLOT ARGS...: a check that scripts/plot's main() draws, from
# (a copy of) CSV, a figure on which each Python condition holds. The checks run together at the
# end, in one Python process (matplotlib takes a while to load). In the conditions: axes (left to
# right), lines(ax, words of the label), ticks(ax, "x" or "y") (the ticks within the limits),
# legend_clear (a legend, and it overlaps no axes), label (the first axes' y label), and
# stderr (what main() printed there).
figures=0
figure() {
  figures=$((figures + 1))
  cp "$2" "$tmp/figure-$figures.csv"
  /usr/bin/python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \
    "$1" "$tmp/figure-$figures.csv" "${@:3}" >>"$tmp/figures.jsonl"
}
run_figures() {
  timeout 120 /usr/bin/python3 - "$repo/scripts/plot" "$tmp/figures.jsonl" >"$tmp/figures.out" <<'EOF' ||
import contextlib, importlib.machinery, importlib.util, io, json, re, sys, traceback
loader = importlib.machinery.SourceFileLoader("plot", sys.argv[1])
plot = importlib.util.module_from_spec(importlib.util.spec_from_loader("plot", loader))
loader.exec_module(plot)
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
for spec in map(json.loads, open(sys.argv[2])):
    name, csv, rest = spec[0], spec[1], spec[2:]
    conditions, args = rest[: rest.index("--")], rest[rest.index("--") + 1:]
    try:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            assert plot.main(["--csv", csv] + args) == 0
        stderr = err.getvalue()
        fig = plt.gcf()
        fig.canvas.draw()
        axes = sorted(fig.get_axes(), key=lambda a: a.get_position().x0)
        def lines(ax, part):  # whole words: "two_pass" is not part of "fused_two_pass"
            word = re.compile(r"(?<!\w)" + re.escape(part) + r"(?!\w)")
            return [l for l in ax.get_lines() if word.search(l.get_label())]
        def ticks(ax, which):
            lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
            locs = ax.get_xticks() if which == "x" else ax.get_yticks()
            return [t for t in locs if lo - 1e-9 <= t <= hi + 1e-9]
        legends = [a.get_legend() for a in axes if a.get_legend()]
        legend_clear = bool(legends) and all(
            not l.get_window_extent().overlaps(a.get_window_extent()) for l in legends for a in axes)
        label = axes[0].get_ylabel()
        for c in conditions:
            assert eval(c), f"not true: {c}"
        print(f"PASS {name}")
    except Exception as e:
        print(f"FAIL {name}: {type(e).__name__}: {e}")
    plt.close("all")
EOF
    echo "FAIL plot: the figure checks stopped (exit $?)" >>"$tmp/figures.out"
  local line
  while IFS= read -r line; do
    echo "$line"
    case $line in PASS*) passed=$((passed + 1)) ;; FAIL*) failed=$((failed + 1)) ;; esac
  done <"$tmp/figures.out"
}

# The 2 x 2 grid: at score_bypass = 32 the N = 64 point deadlocked.
figure "plot: a deadlocked row is a cross on the x axis, not a line that ends" "$csv" \
  '"marked 1 deadlocked row(s) on the x axis" in stderr' \
  'list(lines(axes[0], "naive: deadlocked")[0].get_xdata()) == [64]' \
  'list(lines(axes[0], "naive")[0].get_xdata()) == [16]' -- \
  --kind cycles --where channels.depths.score_bypass=32 --out "$tmp/dead.png"
figure "plot: memory figure has a labelled tick below the lowest curve, legend clear" "$csv" \
  'min(ticks(axes[0], "y")) < min(min(l.get_ydata()) for l in axes[0].get_lines())' \
  'legend_clear' -- --kind memory --where channels.depths.score_bypass=128 --out "$tmp/m.png"
figure "plot: cycles per score is cycles over the scores computed" "$csv" \
  'label.startswith("cycles / scores computed")' 'legend_clear' -- \
  --kind cycles --where channels.depths.score_bypass=128 --out "$tmp/c.png"

# With two heads, or a causal mask (half the scores), the label is the same division.
sweep --grid problem.seq_len=8,16 --set problem.heads=2 --set problem.head_dim=4 \
  --set problem.causal=true
figure "plot: cycles per score with two heads and a causal mask: over the scores computed" \
  "$csv" 'label.startswith("cycles / scores computed")' \
  'all(0.9 < y < 2 for l in axes[0].get_lines() if l.get_label() in ("naive", "reordered") for y in l.get_ydata())' \
  -- --kind cycles --out "$tmp/h.png"
# bf16 runs are unverified (their cycles measured like any others), and reordered has no bypass.
sweep --grid channels.depths.score_bypass=14,18,24 --set problem.seq_len=16 \
  --set problem.head_dim=4 --set datapath=all --set numerics.compute=bf16
figure "plot: bypass draws unverified rows, ringed, and leaves out a datapath with no bypass" \
  "$csv" 'sorted(lines(axes[0], "naive: cycles")[0].get_xdata()) == [18, 24]' \
  'len(lines(axes[0], "unverified")[0].get_xdata()) == 4' 'not lines(axes[0], "reordered")' \
  '"left out reordered: no bypass" in stderr' '"2 deadlocked row(s)" in stderr' \
  -- --kind bypass --out "$tmp/bb.png"
# A point the simulator refused, in a `datapath: all` sweep, is an error row of datapath all
# without results: skipped and counted, not read as a datapath without a bypass.
rm -rf "$tmp/sweep"
sweep --grid channels.depths.score_bypass=0,18,24 --set problem.seq_len=16 \
  --set problem.head_dim=4 --set datapath=all
figure "plot: bypass skips a datapath: all sweep's error row" "$csv" \
  'sorted(lines(axes[0], "naive: cycles")[0].get_xdata()) == [18, 24]' \
  '"skipped 1 row(s) with status error" in stderr' -- --kind bypass --out "$tmp/be.png"
# A row of scores is N_kv long: the bypass holds one from depth N_kv, not N_q (the line was at
# N_q). A quoted --set value is its value (the figure read it as text: a traceback).
sweep --grid channels.depths.score_bypass=30,32,34 --set problem.seq_len=8 \
  --set problem.kv_len='"32"' --set problem.head_dim=4 --set datapath=naive
figure "plot: bypass's one-row line at N_kv, from a quoted --set" "$csv" \
  'list(lines(axes[0], "one row: depth N_kv = 32")[0].get_xdata()) == [32, 32]' \
  -- --kind bypass --out "$tmp/bkv.png"
# Two sweeps' rows from different base parameters (d = 4 and 8 in their --base files, which no
# column of the sweeps' keys shows) are not one line.
for d in 4 8; do
  printf 'problem: {seq_len: 8, kv_len: 32, head_dim: %s}\ndatapath: naive\n' $d >"$tmp/base$d.yaml"
  sweep --grid channels.depths.score_bypass=30,36 --base "$tmp/base$d.yaml"
  cp "$csv" "$tmp/d$d.csv"
done
plot --kind bypass --out "$tmp/bd.png"
check "plot: the second sweep (d = 8) alone draws" eval '((rc == 0))'
plot --csv "$tmp/d4.csv" --kind bypass --out "$tmp/bd.png"
check "plot: rows of two --csv files with different d are a one-line error, exit 2" \
  eval '((rc == 2)) && [[ $err == "plot: error: "*"column head_dim varies (4, 8) where no swept column does"* && $err != *$'"'"'\n'"'"'* ]]'
# Another x than N names it on the axis and in the title.
sweep --grid problem.head_dim=4,8 --set problem.seq_len=16 --set datapath=naive
figure "plot: --x problem.head_dim labels the axis and the title with it" "$csv" \
  'axes[0].get_xlabel() == "problem.head_dim"' '"against d" in axes[0].get_title()' \
  -- --kind memory --x problem.head_dim --out "$tmp/x.png"

# A bypass other than score_bypass names itself on the axis and in the title (both said
# score_bypass); the title names the causal mask and a --where the shape does not, on a second
# line when long; cycles are ticked as they are, not as an offset.
sweep --grid channels.depths.exp_bypass=14,16,18,20,22 --grid memory.bytes_per_cycle=64,128 \
  --set datapath=naive --set problem.seq_len=16 --set problem.head_dim=4 --set problem.causal=true
figure "plot: bypass --x exp_bypass: its name on the axis and in the title, with causal and the --where" \
  "$csv" 'axes[0].get_xlabel() == "exp_bypass depth (elements)"' \
  'axes[0].get_title() == "naive: cycles against exp_bypass depth\n(N = 16, d = 4, causal) [memory.bytes_per_cycle = 64]"' \
  'not axes[0].yaxis.get_major_formatter().get_offset()' \
  -- --kind bypass --x channels.depths.exp_bypass --where memory.bytes_per_cycle=64 --out "$tmp/xb.png"

# All three datapaths, N = 8, 16, 32: each datapath has its own colour, the same in every figure
# (scripts/plot's STYLES), and the legend lists them by passes over the data.
sweep --grid problem.seq_len=8,16,32 --set datapath=all --set problem.head_dim=4 --jobs 2
styled='(all(l.get_color() == plot.STYLES[dp]["color"] for dp in ("naive", "two_pass", "reordered")
              for l in lines(axes[0], dp + ":")) and
          all(lines(axes[0], dp + ": used")[0].get_marker() == plot.STYLES[dp]["marker"]
              for dp in ("naive", "two_pass", "reordered")))'
figure "plot: memory figure of three datapaths, one colour each, in pass order" "$csv" \
  '[l.get_label() for l in axes[0].get_lines()][:3] == [dp + ": used (high water)"
    for dp in ("naive", "two_pass", "reordered")]' \
  'all(len(lines(axes[0], dp + ":")) == 2 for dp in ("naive", "two_pass", "reordered"))' \
  '(lambda rows: all([float(r[c]) for r in rows if r["datapath"] == dp]
                     == list(lines(axes[0], f"{dp}: {what}")[0].get_ydata())
                     for dp in ("naive", "two_pass", "reordered")
                     for c, what in (("intermediate_high_water_elements", "used"),
                                     ("intermediate_capacity_elements", "provisioned"))))(
     list(__import__("csv").DictReader(open(csv))))' \
  "$styled" 'legend_clear' -- --kind memory --out "$tmp/m3.png"
figure "plot: cycles figure of three datapaths; two_pass at (N² + N + 31) / N²" "$csv" \
  '[l.get_label() for l in axes[0].get_lines()][:3] == ["naive", "two_pass", "reordered"]' \
  'list(lines(axes[0], "two_pass")[0].get_ydata()) == [(n * n + n + 31) / n / n for n in (8, 16, 32)]' \
  'all(l.get_color() == plot.STYLES[l.get_label()]["color"] for l in axes[0].get_lines()[:3])' \
  'legend_clear' -- --kind cycles --out "$tmp/c3.png"

# A datapath without a style (a new one: docs/extending.md) has a colour no styled one has, with
# diamonds; it took reordered's blue. Its name holds two_pass's, which is not a series of it.
sed 's/,two_pass,/,fused_two_pass,/' "$csv" >"$tmp/fused.csv"
figure "plot: a datapath without a style of its own: a colour of its own, diamonds" "$tmp/fused.csv" \
  'len(lines(axes[0], "fused_two_pass")) == 1 and not lines(axes[0], "two_pass")' \
  'not any(matplotlib.colors.same_color(lines(axes[0], "fused_two_pass")[0].get_color(), s["color"])
           for s in plot.STYLES.values())' \
  'lines(axes[0], "fused_two_pass")[0].get_marker() == "D"' -- --kind cycles --out "$tmp/f3.png"

# Dense around N = 16, naive and two_pass: deadlock below 15 = N - 1, then stalls; full rate from
# 21 = N + L_dot + L_max (naive) and from 26 = N + L_dot + L_norm (two_pass).
sweep --grid "channels.depths.score_bypass=4,8,$(seq -s, 10 1 30),40,48,56,64" \
  --grid datapath=naive,two_pass --set problem.seq_len=16 --set problem.head_dim=4 --jobs 2
# From its full-rate depth on, a bypass holds what full rate needs (21, 26) whatever its capacity;
# naive's exp_bypass, at its default depth 21, adds its 21 to both sums.
check "sweep: at and past full rate a bypass holds what full rate needs: its high water, not its capacity" \
  rows "$csv" 54 \
  'all(int(x["bypass_high_water_elements"]) == {"naive": 21 + 21, "two_pass": 26}[x["datapath"]]
       and int(x["bypass_capacity_elements"])
           == int(x["channels.depths.score_bypass"]) + {"naive": 21, "two_pass": 0}[x["datapath"]]
       for x in rows if int(x["channels.depths.score_bypass"]) >= {"naive": 21, "two_pass": 26}[x["datapath"]])'
figure "plot: bypass figure has a close-up from N - 1 to N + 5 with a tick at each depth" "$csv" \
  'len(axes) == 2' \
  'all(t in ticks(axes[1], "x") for t in range(15, 22))' \
  'all(t == int(t) for a in axes for t in ticks(a, "x"))' \
  'sorted(lines(axes[1], "deadlocked")[0].get_xdata()) == [11, 12, 13, 14]' \
  'len(lines(axes[1], "naive: full rate from depth 21")) == 1' \
  'legend_clear' -- --kind bypass --where datapath=naive --out "$tmp/b.png"
figure "plot: bypass figure of naive and two_pass: both deadlock below N - 1, full rate from 21 and 26" "$csv" \
  'len(axes) == 2' \
  'all(t in ticks(axes[1], "x") for t in range(15, 27))' \
  'all(sorted(lines(axes[1], dp + ": deadlocked")[0].get_xdata()) == [11, 12, 13, 14]
       for dp in ("naive", "two_pass"))' \
  'len(lines(axes[1], "naive: full rate from depth 21")) == 1' \
  'len(lines(axes[1], "two_pass: full rate from depth 26")) == 1' \
  'all(l.get_color() == plot.STYLES[dp]["color"] for a in axes for dp in ("naive", "two_pass")
       for l in lines(a, dp + ":"))' \
  'legend_clear' -- --kind bypass --out "$tmp/b2.png"
# The same sweep at a few depths: naive's fewest cycles first at 24, the depth swept before it 16,
# so full rate starts somewhere in 17 … 24 (at 21), which the label says instead of "from 24".
derive_csv "$csv" "$tmp/sparse.csv" \
  'rows = [r for r in rows if r["channels.depths.score_bypass"] in ("4", "8", "16", "24", "40", "64")]'
figure "plot: a sparse bypass sweep names the unswept depths where full rate starts, not a threshold" \
  "$tmp/sparse.csv" \
  'len(axes) == 1' \
  'len(lines(axes[0], "naive: full rate from a depth in 17 … 24 (unswept between)")) == 1' \
  'not lines(axes[0], "naive: full rate from depth")' \
  'legend_clear' -- --kind bypass --where datapath=naive --out "$tmp/b3.png"
# Shapes: two query heads on one K/V head, N_q = 8, N_kv = 12, full and causal. The causal mask
# leaves S = 2·(8·4 + 8·9/2) = 136 of the 192 scores; cycles are S + 2·N_kv + 26 (naive),
# S + N_kv + 31 (two_pass), S + 27 (reordered); K and V are read once per score and Q once per
# row (16 rows), 4d = 16 bytes each.
sweep --grid problem.causal=false,true --set problem.seq_len=8 --set problem.kv_len=12 \
  --set problem.heads=2 --set problem.kv_heads=1 --set problem.head_dim=4 --set datapath=all --jobs 2
check "sweep: the shape, score, per-token, bypass and traffic columns" rows "$csv" 6 \
  'all((x["batch"], x["heads"], x["kv_heads"], x["seq_len"], x["kv_len"], x["head_dim"])
       == ("1", "2", "1", "8", "12", "4") for x in rows)' \
  'all(x["causal"] == x["problem.causal"] for x in rows)' \
  'all((int(x["scores"]), int(x["scores_skipped"])) == ((136, 56) if x["causal"] == "true" else (192, 0)) for x in rows)' \
  'all(int(x["cycles"]) == int(x["scores"]) + {"naive": 24 + 26, "two_pass": 12 + 31, "reordered": 27}[x["datapath"]] for x in rows)' \
  'all(x["tokens"] == "8" and float(x["cycles_per_token"]) == int(x["cycles"]) / 8 for x in rows)' \
  'all(int(x["bytes_read"]) == 16 * (16 + 2 * int(x["scores"])) and float(x["bytes_read_per_token"]) == int(x["bytes_read"]) / 8 for x in rows)' \
  'all(x["footprint_bytes"] == "640" for x in rows)' \
  'r(datapath="naive", causal="false")["bypass_high_water_elements"] == "34"' \
  'r(datapath="two_pass", causal="false")["bypass_high_water_elements"] == "22"' \
  'all(x["bypass_high_water_elements"] == x["bypass_capacity_elements"] == "0" for x in rows if x["datapath"] == "reordered")'
figure "plot: causal figure, full and causal in each datapath's colour and marker, causal hollow" "$csv" \
  'len(axes) == 3' \
  '[l.get_label() for l in axes[0].get_lines()][:6] == [f"{dp}, {m}" for dp in ("naive", "two_pass", "reordered") for m in ("full", "causal")]' \
  'all(l.get_color() == plot.STYLES[dp]["color"] and l.get_marker() == plot.STYLES[dp]["marker"]
       for a in axes for dp in plot.STYLES for l in lines(a, dp + ","))' \
  'all(l.get_markerfacecolor() == "white" for a in axes for l in lines(a, ", causal"))' \
  'list(lines(axes[0], "naive, causal")[0].get_ydata()) == [136 / 192]' \
  'list(lines(axes[1], "reordered, causal")[0].get_ydata()) == [163 / 192]' \
  'list(lines(axes[2], "naive, full")[0].get_ydata()) == [34 / 12]' \
  'len(fig.legends) == 1 and fig.legends[0].get_window_extent().fully_overlaps(fig.bbox)' \
  'not any(fig.legends[0].get_window_extent().overlaps(a.get_window_extent()) for a in axes)' -- \
  --kind causal --out "$tmp/causal.png"

# Batches: B sequences of N_q = 4 queries over N_kv = 6 keys are B·4 tokens and S = B·24 scores,
# in S + 27 cycles (reordered); per token is over all of them.
sweep --grid problem.batch=1,3 --set problem.seq_len=4 --set problem.kv_len=6 \
  --set problem.head_dim=4 --set datapath=reordered --jobs 2
check "sweep: a batch's tokens are its sequences' queries, per-token columns over all of them" \
  rows "$csv" 2 \
  'all(int(x["tokens"]) == 4 * int(x["batch"]) and int(x["scores"]) == 24 * int(x["batch"]) for x in rows)' \
  'all(int(x["cycles"]) == int(x["scores"]) + 27 for x in rows)' \
  'all(float(x["cycles_per_token"]) == int(x["cycles"]) / int(x["tokens"])
       and float(x["bytes_read_per_token"]) == int(x["bytes_read"]) / int(x["tokens"]) for x in rows)'

# Decode: one query row per head (2 heads on 1 K/V head) against N_kv = 16, 64 and 131072; the
# last is unverified (fp32 cannot promise 1 % beyond N of about 80 000) but has its timing.
sweep --grid problem.kv_len=16,64,131072 --set problem.seq_len=1 --set problem.heads=2 \
  --set problem.kv_heads=1 --set problem.head_dim=4 --set datapath=all --jobs 2
check "sweep: decode rows, the longest unverified with its cycles" rows "$csv" 9 \
  'all(x["status"] == ("unverified" if x["kv_len"] == "131072" else "ok") for x in rows)' \
  'float(r(datapath="naive", kv_len=131072)["cycles_per_token"]) == 4 * 131072 + 26'
check "sweep: an unverified run's progress line gives its cycles" \
  grep -q "naive unverified, $((4 * 131072 + 26)) cycles;" <<<"$err"
figure "plot: decode figure, naive memory grows 2 per key, two_pass 1, reordered flat; unverified ringed" "$csv" \
  'len(axes) == 3' \
  'list(lines(axes[0], "naive")[0].get_xdata()) == [16, 64, 131072]' \
  '(lambda y: y[1] - y[0] == 2 * 48 and y[2] - y[1] == 2 * (131072 - 64))(lines(axes[0], "naive")[0].get_ydata())' \
  '(lambda y: y[1] - y[0] == 48 and y[2] - y[1] == 131072 - 64)(lines(axes[0], "two_pass")[0].get_ydata())' \
  'len(set(lines(axes[0], "reordered")[0].get_ydata())) == 1' \
  'list(lines(axes[1], "naive")[0].get_ydata()) == [4 * n + 26 for n in (16, 64, 131072)]' \
  'list(lines(axes[1], "reordered")[0].get_ydata()) == [2 * n + 27 for n in (16, 64, 131072)]' \
  'all(list(lines(a, "unverified")[0].get_xdata()) == [131072] * 3 for a in axes)' \
  'all(min(ticks(a, "y")) < min(min(l.get_ydata()) for l in a.get_lines()) for a in axes[:2])' \
  '"ringed 3 unverified row(s)" in stderr' \
  'all(l.get_color() == plot.STYLES[dp]["color"] for a in axes for dp in plot.STYLES for l in lines(a, dp))' \
  'len(fig.legends) == 1 and fig.legends[0].get_window_extent().fully_overlaps(fig.bbox)' \
  'not any(fig.legends[0].get_window_extent().overlaps(a.get_window_extent()) for a in axes)' -- \
  --kind decode --out "$tmp/decode.png"
# The same decode step on 4 lanes: its group's 2 query rows keep 2 busy, so the rate's reference
# is their peak, 2 scores per cycle, not one (reordered reaches 1.41 at N_kv = 64); the title
# names the lanes, which --set fixed.
sweep --grid problem.kv_len=16,64 --set problem.seq_len=1 --set problem.heads=2 \
  --set problem.kv_heads=1 --set problem.head_dim=4 --set parallel.lanes=4 --set datapath=all --jobs 2
figure "plot: decode figure on lanes: the peak of the busy lanes drawn, P in the title" "$csv" \
  'list(lines(axes[2], "peak")[0].get_ydata()) == [2, 2]' \
  'lines(axes[2], "peak")[0].get_label() == "peak: 2 scores per cycle (2 busy lanes)"' \
  'not lines(axes[2], "one score per cycle")' \
  '1 < max(lines(axes[2], "reordered")[0].get_ydata()) <= 2' \
  '"P = 4" in fig._suptitle.get_text()' -- \
  --kind decode --out "$tmp/decode-lanes.png"
# From a results.csv written before lanes_idle, the peak is the lanes' own: 4, not one.
derive_csv "$csv" "$tmp/decode-lanes-old.csv" 'columns.remove("lanes_idle")'
figure "plot: decode figure on lanes from a CSV without lanes_idle: the peak of all 4 lanes" \
  "$tmp/decode-lanes-old.csv" \
  'list(lines(axes[2], "peak")[0].get_ydata()) == [4, 4]' -- \
  --kind decode --out "$tmp/decode-lanes-old.png"

# Energy and area: the parts add up to the whole; the naive bypasses grow with N, the reordered
# datapath's channels and every stream buffer do not; the energy and formats figures draw them.
sweep --grid problem.seq_len=16,64 --set problem.head_dim=4 --set datapath=all --jobs 2
check "sweep: energy and area columns" rows "$csv" 6 \
  'all(x["format"] == "fp32" for x in rows)' \
  'all(abs(float(x["energy_per_score_pj"]) * int(x["scores"]) - sum(float(x[c]) for c in ("energy_compute_pj", "energy_intermediate_pj", "energy_streams_pj", "energy_memory_pj"))) <= 1e-9 * float(x["energy_per_score_pj"]) * int(x["scores"]) for x in rows)' \
  'all(abs(float(x["energy_per_token_pj"]) * int(x["tokens"]) - float(x["energy_per_score_pj"]) * int(x["scores"])) <= 1e-9 * float(x["energy_per_score_pj"]) * int(x["scores"]) for x in rows)' \
  'float(r(datapath="naive", seq_len=64)["area_intermediate_um2"]) > float(r(datapath="naive", seq_len=16)["area_intermediate_um2"])' \
  'r(datapath="reordered", seq_len=64)["area_intermediate_um2"] == r(datapath="reordered", seq_len=16)["area_intermediate_um2"]' \
  'all(r(datapath=dp, seq_len=64)["area_streams_um2"] == r(datapath=dp, seq_len=16)["area_streams_um2"]
       and float(r(datapath=dp, seq_len=16)["area_streams_um2"]) > 0 for dp in ("naive", "two_pass", "reordered"))' \
  'all(r(datapath=dp, seq_len=64)["area_compute_um2"] == r(datapath=dp, seq_len=16)["area_compute_um2"] for dp in ("naive", "two_pass", "reordered"))'
figure "plot: energy figure, three panels; reordered buffering area flat, naive growing" "$csv" \
  'len(axes) == 3' \
  'len(set(lines(axes[2], "reordered")[0].get_ydata())) == 1' \
  '(lambda y: y[1] > y[0])(lines(axes[2], "naive")[0].get_ydata())' \
  '"memory adds" in axes[0].get_title()' \
  'len(fig.legends) == 1 and not any(fig.legends[0].get_window_extent().overlaps(a.get_window_extent()) for a in axes)' -- \
  --kind energy --out "$tmp/energy.png"
# The fourth panel, on a log axis: each datapath's error on the unrounded inputs as its bar, the
# judged error (on the inputs as held) as a dot and the tolerance as a dash, from the CSV's row.
figure "plot: formats figure, bars per datapath at fp32, their errors beside their energy" "$csv" \
  'len(axes) == 4' \
  '[t.get_text() for t in axes[0].get_xticklabels()] == ["fp32"]' \
  'len(axes[0].patches) == 9 and len(axes[1].patches) == 3 and len(axes[2].patches) == 6' \
  'len(axes[3].patches) == 3 and axes[3].get_yscale() == "log"' \
  '(lambda at: [p.get_height() for p in axes[3].patches]
               == [float(at[dp]["max_abs_error_unrounded"]) for dp in ("naive", "two_pass", "reordered")]
           and list(lines(axes[3], "judged")[0].get_ydata()) == [float(at["naive"]["max_abs_error"])]
           and list(lines(axes[3], "tolerance")[0].get_ydata()) == [float(at["naive"]["tolerance"])])(
       {x["datapath"]: x for x in __import__("csv").DictReader(open(csv)) if x["seq_len"] == "64"})' -- \
  --kind formats --where problem.seq_len=64 --out "$tmp/formats.png"
# With the input format swept too, a bar group per (input, compute) pair; bf16 inputs halve the
# memory's energy per score.
sweep --grid numerics.input=fp32,bf16 --grid numerics.compute=fp32,bf16 --set problem.seq_len=16 \
  --set problem.head_dim=4 --set datapath=all --jobs 2
# The error against the unrounded inputs is the rounded-input error for fp32 inputs; for bf16
# inputs it is their rounding's effect on O (about 2^-9 here), far above fp32's tolerance.
check "sweep: the numerics columns, the error against the unrounded inputs its own" rows "$csv" 12 \
  'all((x["input_format"], x["compute_format"]) == (x["numerics.input"], x["numerics.compute"]) for x in rows)' \
  'all(x["max_abs_error_unrounded"] == x["max_abs_error"] for x in rows if x["input_format"] == "fp32")' \
  'all(float(x["max_abs_error_unrounded"]) > 10 * float(x["tolerance"]) for x in rows
       if x["input_format"] == "bf16" and x["compute_format"] == "fp32")'
figure "plot: formats figure, a bar group per input and compute format" "$csv" \
  'len(axes) == 4' \
  '[t.get_text() for t in axes[0].get_xticklabels()] == ["fp32/fp32", "fp32/bf16", "bf16/fp32", "bf16/bf16"]' \
  'len(axes[0].patches) == 36 and len(axes[1].patches) == 12' \
  '(lambda h: abs(h[0] - 2 * h[-1]) < 0.01 * h[0])([p.get_height() for p in axes[1].patches])' \
  'all(len(a.get_lines()) == 1 and len(a.get_lines()[0].get_xdata()) == 6 for a in axes[:3])' \
  'len(axes[3].patches) == 12' \
  '"ringed 6 unverified row(s)" in stderr' -- \
  --kind formats --out "$tmp/formats-pairs.png"
# Against the input format, the compute format kept to one: a bar group per input format, and
# the axis says so (it read "compute format" whatever the x).
figure "plot: formats figure against the input format, so labelled" "$csv" \
  '[t.get_text() for t in axes[0].get_xticklabels()] == ["fp32", "bf16"]' \
  'all(a.get_xlabel() == "input format" for a in axes)' -- \
  --kind formats --x input_format --where numerics.compute=bf16 --out "$tmp/formats-input.png"
# The format every row has is in the title, the other on the axis: with bf16 inputs and the
# compute format varying, the title said nothing of the inputs, which a reader took for fp32.
figure "plot: formats figure of one input format and two compute formats: the input in the title" \
  "$csv" \
  'fig._suptitle.get_text().endswith("input bf16)") and "compute" not in fig._suptitle.get_text()' \
  '"numerics" not in fig._suptitle.get_text()' -- \
  --kind formats --where numerics.input=bf16 --out "$tmp/formats-bf16-inputs.png"
figure "plot: ... and one compute format against the input format: the compute format in it" \
  "$csv" \
  'fig._suptitle.get_text().endswith("compute bf16)") and "input" not in fig._suptitle.get_text()' -- \
  --kind formats --x input_format --where numerics.compute=bf16 --out "$tmp/formats-input2.png"
# One format pair kept: the title names it, as energy and error depend on it, and memory's energy
# per score, one value, is said once (it read "41 nJ to 41 nJ" where rows differed past the
# third digit).
derive_csv "$csv" "$tmp/energy-close.csv" \
  'r = next(r for r in rows if r["input_format"] == r["format"] == "bf16")
r["energy_memory_pj"] = str(float(r["energy_memory_pj"]) * 1.0001)'
figure "plot: energy figure of one format pair: the pair in the title, memory's energy once" \
  "$tmp/energy-close.csv" \
  '"input bf16, compute bf16" in fig._suptitle.get_text() and "numerics" not in fig._suptitle.get_text()' \
  '"memory adds" in axes[0].get_title() and " to " not in axes[0].get_title()' -- \
  --kind energy --where numerics.input=bf16 --where numerics.compute=bf16 --out "$tmp/energy-bf16.png"
# A results.csv from before the error columns, which came with numerics.input and its columns,
# still draws its three energy and area panels, and says that the error panel is left out.
derive_csv "$csv" "$tmp/formats-old.csv" \
  'rows = [r for r in rows if r["numerics.input"] == "fp32"]
columns = [c for c in columns if c not in ("numerics.input", "input_format", "compute_format",
                                          "max_abs_error_unrounded", "tolerance")]'
figure "plot: formats figure from a CSV without the error columns: three panels, said on stderr" \
  "$tmp/formats-old.csv" \
  'len(axes) == 3' \
  '"no error panel" in stderr and "max_abs_error_unrounded" in stderr' -- \
  --kind formats --out "$tmp/formats-old.png"
# An exact result, an error of 0, has no place on the log axis: counted on stderr, not dropped
# unsaid.
derive_csv "$csv" "$tmp/formats-exact.csv" \
  'rows[0]["max_abs_error"] = rows[0]["max_abs_error_unrounded"] = "0"'
figure "plot: formats figure, an exact row's errors counted on stderr" "$tmp/formats-exact.csv" \
  '"2 error(s) of 0 (exact) not drawn" in stderr' -- \
  --kind formats --out "$tmp/formats-exact.png"
# Formats swept together as a flow map (sweeps.md), a column numerics of its own: a bar group per
# pair, as with two grids (it was refused as a second varying column).
sweep --grid 'numerics={input: fp32, compute: fp32},{input: bf16, compute: bf16}' \
  --set problem.seq_len=16 --set problem.head_dim=4 --set datapath=all --jobs 2
check "sweep: a flow map's run folder reads as its keys and values, no braces" \
  test -d "$out/runs/001-numerics=input-bf16-compute-bf16"
figure "plot: formats figure of a numerics flow-map sweep, a bar group per pair" "$csv" \
  '[t.get_text() for t in axes[0].get_xticklabels()] == ["fp32/fp32", "bf16/bf16"]' \
  'len(axes[3].patches) == 6' -- \
  --kind formats --out "$tmp/formats-map.png"
# Deadlocked rows: a cross where the bar would be, in every panel, and no empty bars (the formats
# are text: the x axis's crosses once refused the CSV, "'fp32' is not a number"). The title names
# d, which the base file fixes (it named only what --set and --grid gave).
sweep --grid numerics.compute=fp32,bf16 --set channels.depths.score_bypass=10 \
  --set problem.seq_len=32 --set datapath=all --jobs 2
figure "plot: formats figure, deadlocked rows crossed at their bars" "$csv" \
  '"marked 4 deadlocked row(s)" in stderr' \
  'fig._suptitle.get_text().endswith("(N = 32, d = 64, input fp32)")' \
  'all(len(lines(a, "naive: deadlocked")) == 1 and len(lines(a, "two_pass: deadlocked")) == 1 for a in axes)' \
  'len(axes[0].patches) == 6 and len(axes[1].patches) == 2' -- \
  --kind formats --out "$tmp/formats-dead.png"
# Lanes behind a shared link, N = 16, d = 4, fp32: a run of P query rows reads each K and V row
# once, so a score costs 16/N + 2·16/P = 1 + 32/P bytes (33 at P = 1, 17 at P = 2) and the
# roofline is min(P, B / (1 + 32/P)); the traffic is (2 + 2N/P)/4 = 0.5 + 8/P times the minimum
# (Q, K, V and O once each).
sweep --grid memory.bytes_per_cycle=4,16,64 --grid parallel.lanes=1,2,4 --set memory.ports=shared \
  --set problem.seq_len=16 --set problem.head_dim=4 --set datapath=reordered --jobs 2
figure "plot: roofline figure, min(P, B / bytes per score) per P, every run on or under its own" "$csv" \
  'len(axes) == 1' \
  '([list(l.get_ydata()) for l in axes[0].get_lines() if l.get_linestyle() == ":" and l.get_label().startswith("_")]
    == [[min(p, b / (1 + 32 / p)) for b in (4, 16, 64)] for p in (1, 2, 4)])' \
  'all(y <= min(p, b / (1 + 32 / p)) for p in (1, 2, 4)
       for b, y in zip(*lines(axes[0], f"P = {p}, reordered")[0].get_data()))' \
  'list(lines(axes[0], "P = 1, reordered")[0].get_ydata())[0] > 0.95 * 4 / 33' -- \
  --kind roofline --out "$tmp/roofline.png"
figure "plot: lanes figure, traffic 0.5 + 8/P times the minimum, rate at most P" "$csv" \
  'len(axes) == 3' \
  'list(lines(axes[0], "reordered")[0].get_ydata()) == [0.5 + 8 / p for p in (1, 2, 4)]' \
  'list(lines(axes[2], "peak")[0].get_ydata()) == [1, 2, 4]' \
  'all(x["lanes_idle"] == "0" for x in __import__("csv").DictReader(open(csv)))' \
  'all(y <= p for p, y in zip(*lines(axes[2], "reordered")[0].get_data()))' -- \
  --kind lanes --where memory.bytes_per_cycle=64 --out "$tmp/lanes.png"
# A decode step of Llama-3-8B: 4 query heads per K/V head keep 4 of 8 lanes busy, and the peak
# (it drew 8) says so.
sweep --base "$repo/params/llama3-8b-decode-8k.yaml" --grid parallel.lanes=1,2,4,8 \
  --set problem.kv_len=64 --set datapath=reordered
figure "plot: lanes figure of a decode step: its peak is the lanes with a query row" "$csv" \
  '[x["lanes_idle"] for x in __import__("csv").DictReader(open(csv))] == ["0", "0", "0", "4"]' \
  'list(lines(axes[2], "peak")[0].get_ydata()) == [1, 2, 4, 4]' \
  'lines(axes[2], "peak")[0].get_label().endswith("less idle lanes")' -- \
  --kind lanes --out "$tmp/lanes-idle.png"
# Behind a shared link the same decode step on 8 lanes runs as on 4 (4 idle): the roofline drew
# P = 8's points over P = 4's, which vanished from the figure; they are hollow now, and named.
sweep --base "$repo/params/llama3-8b-decode-8k.yaml" --grid memory.bytes_per_cycle=256,1024 \
  --grid parallel.lanes=4,8 --set memory.ports=shared --set problem.kv_len=16 \
  --set datapath=reordered
figure "plot: roofline figure, a P that runs as a smaller one is drawn hollow and named so" "$csv" \
  'lines(axes[0], "P = 8, reordered")[0].get_label() == "P = 8, reordered (the same as P = 4)"' \
  'lines(axes[0], "P = 8, reordered")[0].get_markerfacecolor() == "none"' \
  'lines(axes[0], "P = 4, reordered")[0].get_label() == "P = 4, reordered"' -- \
  --kind roofline --out "$tmp/roofline-idle.png"
run_figures

# scripts/models: the shipped 8K decode, run for real, matches its closed forms; a report whose
# cycles are one off is named as a mismatch (exit 1).
models() { rc=0; timeout 60 "$repo/scripts/models" --sim "$sim" --out "$tmp/models" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?; err=$(<"$tmp/stderr"); }
models --only llama3-8b-decode-8k
check "models: the 8K decode runs and matches S + 2·N_kv + 26, S + N_kv + 31, S + 27 (exit 0)" \
  test "$rc" = 0 -a -f "$tmp/models/llama3-8b-decode-8k/run.json"
check "models: its rows in the table" grep -qF \
  "| Llama-3-8B decode, 8K cache | naive | ok | 278554 | S + 2·N_kv + 26 | 262144 | 0 |" "$tmp/stdout"
models --only llama3-8b-decode-8k --only llama3-8b-decode-8k --no-run
check "models: a model named twice is tabulated once" \
  test "$rc:$(grep -c '^| Llama-3-8B decode, 8K cache | naive |' "$tmp/stdout")" = 0:1
# Sizes as the simulator's summary gives them (Summary.BytesHaveOneDecimalInTheUnitTheyRoundTo).
check "models: sizes take the unit they round to, as the simulator's summary" /usr/bin/python3 -c "
import importlib.machinery, importlib.util
loader = importlib.machinery.SourceFileLoader('models', '$repo/scripts/models')
models = importlib.util.module_from_spec(importlib.util.spec_from_loader('models', loader))
loader.exec_module(models)
cases = {0: '0 B', 1023: '1023 B', 1024: '1.0 KiB', 1048524: '1023.9 KiB', 1048525: '1.0 MiB',
         2 ** 30 - 1: '1.0 GiB', 2 ** 40: '1024.0 GiB'}
assert all(models.size(b) == text for b, text in cases.items()), [models.size(b) for b in cases]"
# edit_report PYTHON: runs PYTHON on the 8K decode's report as r, and writes it back.
edit_report() {
  /usr/bin/python3 -c "import json, sys
r = json.load(open(sys.argv[1])); $1
json.dump(r, open(sys.argv[1], 'w'))" "$tmp/models/llama3-8b-decode-8k/report.json"
}
edit_report 'r["runs"][1]["cycles"] += 1'
models --only llama3-8b-decode-8k --no-run
check "models: a cycle count off its closed form is named, exit 1" \
  test "$rc" = 1 -a "$(grep -c 'mismatch: llama3-8b-decode-8k two_pass: ok, 270368 cycles' <<<"$err")" = 1
# A run with no cycle count (a deadlock's null) is a row with dashes and a mismatch; a report
# without a key the table reads is a one-line error, not a traceback.
edit_report 'r["runs"][0].update(cycles=None, scores_per_cycle=None); r["runs"][0]["per_token"]["cycles"] = None'
models --only llama3-8b-decode-8k --no-run
check "models: a run without a cycle count is a row of dashes and a mismatch, exit 1" \
  test "$rc" = 1 -a "$(grep -c 'mismatch: llama3-8b-decode-8k naive: ok, no cycle count' <<<"$err")" = 1 \
  -a "$(grep -c '| naive | ok | — | S + 2·N_kv + 26 \*\*(no)\*\* | 262144 | 0 | — |' "$tmp/stdout")" = 1
edit_report 'del r["runs"][2]["memory_traffic"]'
models --only llama3-8b-decode-8k --no-run
# The edited report is not the one run.json records: a note, then the error, in one line.
check "models: a report without a key it reads is one line naming it, exit 2" \
  test "$rc" = 2 -a "$(grep -c 'error:' <<<"$err")" = 1 \
  -a "$(tail -n 1 <<<"$err" | grep -c "error: .*report.json: no 'memory_traffic'")" = 1
check "models: ... after a note that run.json is of another run than the report" \
  grep -q "run.json: of another run than .*report.json" <<<"$err"
models --no-run --only bert-base
check "models: no report is a one-line error, exit 2" test "$rc" = 2 -a "$(wc -l <<<"$err")" = 1
# A run into a model's folder by hand, after scripts/models: run.json's time and memory are the
# earlier run's, not shown beside this report; a shape other than the model file's is named in
# its rows, not passed off as the model's.
"$sim" "$repo/params/llama3-8b-decode-8k.yaml" --set problem.kv_len=512 \
  --out "$tmp/models/llama3-8b-decode-8k" >/dev/null 2>&1
models --only llama3-8b-decode-8k --no-run
check "models: a report run by hand since is tabulated without run.json's time and memory" \
  test "$rc" = 0 \
  -a "$(grep -c '| 1 | 512 | 128 | yes | .* | — ([0-9.]* s) | — |$' "$tmp/stdout")" = 1
check "models: ... its rows name the value that is not the model file's" \
  test "$(grep -c '^| Llama-3-8B decode, 8K cache (problem.kv_len=512) |' "$tmp/stdout")" = 4
check "models: ... and notes say both" \
  test "$(grep -c 'of another run than\|not a run of' <<<"$err")" = 2
echo '[1]' >"$tmp/models/llama3-8b-decode-8k/run.json"
models --only llama3-8b-decode-8k --no-run
check "models: a malformed run.json is named, not its report, exit 2" \
  test "$rc" = 2 -a "$(grep -c 'error: .*/run.json: not a record' <<<"$err")" = 1
printf '#!/bin/sh\nexit 1\n' >"$tmp/exit1-sim"
chmod +x "$tmp/exit1-sim"
rc=0
timeout 60 "$repo/scripts/models" --sim "$tmp/exit1-sim" --out "$tmp/models" \
  --only llama3-8b-decode-8k >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
check "models: a simulator exiting 1 without a report is exit 2, not the earlier report's table" \
  test "$rc" = 2 -a "$(grep -c 'exited 1 writing no report' "$tmp/stderr")" = 1
# models_with NAME SETTING...: the 8K decode through a stand-in simulator, the real one with
# these --set settings after the model's, into $tmp/models-NAME.
models_with() {
  local name=$1
  shift
  printf '#!/bin/bash\nexec %q "$@"%s\n' "$sim" "$(printf ' --set %q' "$@")" >"$tmp/$name-sim"
  chmod +x "$tmp/$name-sim"
  rc=0
  timeout 60 "$repo/scripts/models" --sim "$tmp/$name-sim" --out "$tmp/models-$name" \
    --only llama3-8b-decode-8k >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
}
# A run that deadlocks (smaller, its bypass too shallow) is a row of dashes and a failed check
# against the shape's S, exit 1, not a missing table.
models_with deadlock problem.kv_len=256 problem.heads=8 problem.kv_heads=2 channels.depths.score_bypass=8
check "models: a deadlocked run is a row of dashes and a mismatch, exit 1" \
  test "$rc" = 1 -a "$(grep -c '| naive | deadlock | — | S + 2·N_kv + 26 \*\*(no)\*\* |' "$tmp/stdout")" = 1
check "models: ... its closed form of the shape's S (8·256 scores), not the scores it reached" \
  grep -q 'mismatch: llama3-8b-decode-8k naive: deadlock, no cycle count, closed form S + 2·N_kv + 26 = 2586' <<<"$err"
# bf16 inputs on a link of 256 bytes per cycle: a row of d = 128 is one beat, as fp32's was at 512;
# the closed form counts the link's beats in the input format (it counted fp32's: 2, one cycle off).
models_with bf16 problem.kv_len=256 numerics.input=bf16 memory.bytes_per_cycle=256
check "models: bf16 inputs' rows take the beats of 2 bytes per element: every closed form exact, exit 0" \
  test "$rc" = 0 -a "$(grep -c 'S + 2·N_kv + 26 | ' "$tmp/stdout")" = 1

# numerics-study's table is relative to max|v| and says so above it: pasted alone it read as
# absolute errors. One N and seed: six format pairs, three datapaths each.
rc=0
timeout 60 "$repo/scripts/numerics-study" --sim "$sim" --n 8 --seeds 1 --out "$tmp/numerics" \
  --figure "$tmp/numerics/figure" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
check "numerics-study: exit 0, a caption naming max|v| and the seeds, then a row per format pair" \
  test "$rc" = 0 -a "$(head -1 "$tmp/stdout" | grep -c 'relative to max|v|, worst of the seeds (1;')" = 1 \
  -a "$(grep -c '^| [a-z0-9_]* / [a-z0-9_]* | 8 | ' "$tmp/stdout")" = 6

# --sorted claimed the running max moves at every key (C = N − 1) in every format; in bf16 the
# rounded scores tie, and it moves less. C is counted, and checked here against an independent
# count: fp64 scores of the inputs it wrote, rounded to bf16 on the bits. --figure x.png names x.
rc=0
timeout 60 "$repo/scripts/numerics-study" --sim "$sim" --sorted --n 64 --seeds 1 \
  --out "$tmp/sorted" --figure "$tmp/sorted/figure.png" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
check "numerics-study --sorted: exit 0, C = N − 1 in fp32, the new largest bf16 scores in bf16" \
  /usr/bin/python3 - "$rc" "$tmp/sorted" "$tmp/stdout" <<'EOF'
import csv, sys
import numpy as np
rc, out, stdout = sys.argv[1:]
assert rc == "0", rc
q, k = (np.load(f"{out}/sorted-n64-s1-{m}.npy").astype(np.float64) for m in "qk")
u = (k @ q[0] / 8).astype(np.float32).view(np.uint32)
bf16 = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).view(np.float32)
moves = lambda s: sum(s[j] > max(s[:j]) for j in range(1, len(s)))
rows = csv.DictReader(open(f"{out}/results.csv"))
c = {(r["input"], r["compute"]): r["moves_per_row"] for r in rows}
assert c[("fp32", "fp32")] == "63", c
assert c[("fp32", "bf16")] == str(moves(bf16)) != "63", (c, moves(bf16))
assert "| fp32 / fp32 | 64 | 63 | " in open(stdout).read()
EOF
check "numerics-study: --figure x.png writes x.png and x.svg (it wrote x.png.png and x.png.svg)" \
  test -f "$tmp/sorted/figure.png" -a -f "$tmp/sorted/figure.svg" \
  -a ! -e "$tmp/sorted/figure.png.png"
# A FIGURE.png that is a folder: refused before the first run, not after the whole study.
mkdir -p "$tmp/figdir/f.png"
rc=0
timeout 60 "$repo/scripts/numerics-study" --sim "$sim" --n 8 --seeds 1 --out "$tmp/figdir/out" \
  --figure "$tmp/figdir/f" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
check "numerics-study: a folder FIGURE.png: one line, exit 2, nothing run" \
  test "$rc" = 2 -a "$(wc -l <"$tmp/stderr")" = 1 -a ! -e "$tmp/figdir/out/fp32-fp32-n8-s1" \
  -a "$(grep -c "numerics-study: error: --figure .*f.png is a folder" "$tmp/stderr")" = 1

summary test_scripts
