#!/usr/bin/env bash
# Tests scripts/sweep and scripts/plot on tiny sweeps (a few seconds in all).
# Usage: tb/test_scripts.sh [SDPA_SIM]   (default: build/bin/sdpa-sim)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
sim=$(realpath "${1:-$repo/build/bin/sdpa-sim}")
[[ -x $sim ]] || { echo "test_scripts: no simulator at $sim" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0 failed=0
check() {  # check NAME COMMAND...: one test, passing when the command succeeds
  local name=$1; shift
  if "$@"; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"
  fi
}

# sweep ARGS...: runs scripts/sweep with a 60 s bound; sets $rc, $err (stderr) and $csv.
sweep() {
  out=$tmp/sweep
  rc=0
  timeout 60 "$repo/scripts/sweep" --sim "$sim" --out "$out" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
  err=$(<"$tmp/stderr")
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
  'all(x["datapath"] == "naive" and x["problem.head_dim"] == "8" for x in rows)' \
  'all(int(x["cycles"]) >= int(x["problem.seq_len"]) ** 2 for x in rows if x["status"] == "ok")' \
  'all(float(x["intermediate_high_water_elements"]) > 0 for x in rows)'
check "sweep: each point in its own run folder" test -f "$out/runs/002-seq_len=64_score_bypass=32/report.json"
check "sweep: one progress line per run" test "$(grep -c '^sweep: \[[1-4]/4\]' <<<"$err")" = 4

sweep "${grid[@]}"
check "sweep: says that it replaces results.csv" grep -q "replacing the results in $csv" <<<"$err"

for bad in "problem.seq_len" "problem.seq_len=" "=1,2" "problem.seq_len=1,,2" "a..b=1" "a=1,1"; do
  sweep --grid "$bad"
  check "sweep: bad --grid '$bad' is a one-line error, exit 2" one_line_error
done
sweep --grid problem.seq_len=8 --set datapath
check "sweep: bad --set is a one-line error, exit 2" one_line_error
sweep --grid problem.seq_len=8 --jobs 0
check "sweep: --jobs 0 is a one-line error, exit 2" one_line_error

sweep --grid problem.seq_len=0,8 --set problem.head_dim=8
check "sweep: a point the simulator rejects is an error row (exit 1)" test "$rc" = 1
check "sweep: the error row has the simulator's exit code and message" rows "$csv" 3 \
  'r(problem__seq_len=0)["status"] == "error" and r(problem__seq_len=0)["exit_code"] == "2"' \
  '"problem.seq_len" in r(problem__seq_len=0)["message"]' \
  'r(problem__seq_len=8, datapath="naive")["status"] == "ok"'
sweep --grid problem.seq_len=4096 --set datapath=naive --timeout 0.2
check "sweep: a run over --timeout is an error row" rows "$csv" 1 \
  'rows[0]["status"] == "error" and "timed out" in rows[0]["message"]'
sweep --grid problem.no_such_key=1,2
check "sweep: every point rejected as bad parameters exits 2" test "$rc" = 2

# Plots from the 2 x 2 sweep.
sweep "${grid[@]}"
plot() { rc=0; timeout 60 "$repo/scripts/plot" --csv "$csv" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?; err=$(<"$tmp/stderr"); }
is_png() { [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; }
plot --kind bypass --where problem.seq_len=64 --out "$tmp/fig/bypass.png"
check "plot: bypass figure from the sweep" is_png "$tmp/fig/bypass.png"
plot --kind memory --where channels.depths.score_bypass=128 --out "$tmp/memory.png"
check "plot: memory figure from the sweep" is_png "$tmp/memory.png"
plot --kind bandwidth --out "$tmp/bandwidth.png"
check "plot: a missing column is a one-line error, exit 2" \
  test "$rc" = 2 -a "$(wc -l <<<"$err")" = 1 -a ! -e "$tmp/bandwidth.png"
check "plot: the error names the column" grep -q "missing column(s) memory.bytes_per_cycle" <<<"$err"
plot --kind memory --out "$tmp/memory2.png"
check "plot: a second varying key asks for --where (exit 2)" grep -q -- "--where channels.depths.score_bypass" <<<"$err"

# figure NAME CSV CONDITIONS... -- PLOT ARGS...: a check that scripts/plot's main() draws, from
# (a copy of) CSV, a figure on which each Python condition holds. The checks run together at the
# end, in one Python process (matplotlib takes a while to load). In the conditions: axes (left to
# right), lines(ax, label part), ticks(ax, "x" or "y") (the ticks within the limits),
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
import contextlib, importlib.machinery, importlib.util, io, json, sys, traceback
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
        def lines(ax, part):
            return [l for l in ax.get_lines() if part in l.get_label()]
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
figure "plot: cycles per score is cycles / N² for one head" "$csv" \
  'label.startswith("cycles / N²")' 'legend_clear' -- \
  --kind cycles --where channels.depths.score_bypass=128 --out "$tmp/c.png"

sweep --grid problem.seq_len=8,16 --set problem.heads=2 --set problem.head_dim=4
figure "plot: cycles per score is cycles / (H·N²) with two heads" "$csv" \
  'label.startswith("cycles / (H·N²)")' -- --kind cycles --out "$tmp/h.png"

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
  "$styled" 'legend_clear' -- --kind memory --out "$tmp/m3.png"
figure "plot: cycles figure of three datapaths; two_pass at (N² + N + 31) / N²" "$csv" \
  '[l.get_label() for l in axes[0].get_lines()][:3] == ["naive", "two_pass", "reordered"]' \
  'list(lines(axes[0], "two_pass")[0].get_ydata()) == [(n * n + n + 31) / n / n for n in (8, 16, 32)]' \
  'all(l.get_color() == plot.STYLES[l.get_label()]["color"] for l in axes[0].get_lines()[:3])' \
  'legend_clear' -- --kind cycles --out "$tmp/c3.png"

# Dense around N = 16, naive and two_pass: deadlock below 15 = N - 1, then stalls; full rate from
# 21 = N + L_dot + L_max (naive) and from 26 = N + L_dot + L_norm (two_pass).
sweep --grid "channels.depths.score_bypass=4,8,$(seq -s, 10 1 30),40,48,56,64" \
  --grid datapath=naive,two_pass --set problem.seq_len=16 --set problem.head_dim=4 --jobs 2
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
run_figures

echo "$passed passed, $failed failed"
((failed == 0))
