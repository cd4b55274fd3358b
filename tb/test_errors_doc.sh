#!/usr/bin/env bash
# docs/errors.md against the simulator: each case below runs an input the doc describes and checks
# the exit status its row gives, that stderr's last line is the doc's example (whole, or with …
# standing for what varies, or containing the doc's part where it quotes only part), and that the
# doc still has the example text. A message changed in the code or in the doc fails here until
# the other follows. Cases that need root, a full disk, a machine's memory size or signals in
# flight are left to their own tests (test_outputs, test_cli).
# Usage: tb/test_errors_doc.sh [SDPA_SIM]   (default: build/bin/sdpa-sim)
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
S=$(realpath "${1:-$repo/build/bin/sdpa-sim}")
[[ -x $S ]] || { echo "test_errors_doc: no simulator at $S" >&2; exit 2; }
PY=/usr/bin/python3
W=$(mktemp -d)
trap 'chmod -R u+rwx "$W" 2>/dev/null; rm -rf "$W"' EXIT
cd "$W" || exit 2
export S PY repo W
source "$repo/tb/checks.sh"
on_failure() { echo "  status $rc; stderr's last line: ${last:0:400}"; }

# t ID STATUS MESSAGE COMMAND: COMMAND (bash, in $W) exits STATUS and its stderr's last line is
# MESSAGE (the "sdpa-sim: error: " prefix optional), which docs/errors.md has (its lines wrapped).
t() {
  local id=$1 status=$2 message=$3 command=$4
  rc=0
  (cd "$W" && timeout 60 bash -c "$command") >"$W/.out" 2>"$W/.err" || rc=$?
  last=$(grep -v '^$' "$W/.err" | tail -n 1)
  check "errors.md: $id" env MESSAGE="$message" LAST="$last" STATUS="$status" RC="$rc" \
    DOC="$repo/docs/errors.md" "$PY" -c '
import os, re, sys
e, a = os.environ["MESSAGE"], os.environ["LAST"]
body = a.removeprefix("sdpa-sim: error: ")
parts = e.split("…")
matched = (body == e or a == e or e in a
           or ("…" in e and re.fullmatch(".*".join(map(re.escape, parts)), body, re.S)))
doc = " ".join(open(os.environ["DOC"]).read().split())
in_doc = all(" ".join(p.split()) in doc for p in parts)
sys.exit(0 if matched and in_doc and os.environ["RC"] == os.environ["STATUS"] else 1)'
}

# ---------------------------------------------------------------- fixtures
$PY - <<'EOF'
import numpy as np, os
np.save("q.npy", np.zeros((8, 4), np.float32) + 0.5)
np.save("k.npy", np.zeros((8, 4), np.float32) + 0.25)
np.save("v.npy", np.ones((8, 4), np.float32))
os.makedirs("bad", exist_ok=True)
open("bad/q.npy", "wb").write(b"not an npy file at all, just text\n" * 4)
# heads: q 4 heads, k/v 3 heads
os.makedirs("heads", exist_ok=True)
np.save("heads/q.npy", np.zeros((1, 4, 8, 4), np.float32))
np.save("heads/k.npy", np.zeros((1, 3, 8, 4), np.float32))
np.save("heads/v.npy", np.zeros((1, 3, 8, 4), np.float32))
os.makedirs("fit", exist_ok=True)
np.save("fit/q.npy", np.zeros((3, 4), np.float32))
np.save("fit/k.npy", np.zeros((4, 3), np.float32))
np.save("fit/v.npy", np.zeros((4, 3), np.float32))
os.makedirs("causal", exist_ok=True)
np.save("causal/q.npy", np.zeros((4, 4), np.float32))
np.save("causal/k.npy", np.zeros((3, 4), np.float32))
np.save("causal/v.npy", np.zeros((3, 4), np.float32))
os.makedirs("kvlen", exist_ok=True)
np.save("kvlen/q.npy", np.zeros((2, 2, 6, 5), np.float32))
np.save("kvlen/k.npy", np.zeros((2, 2, 6, 5), np.float32))
np.save("kvlen/v.npy", np.zeros((2, 2, 6, 5), np.float32))
os.makedirs("dim1", exist_ok=True)
np.save("dim1/q.npy", np.zeros((8,), np.float32))
os.makedirs("nan", exist_ok=True)
a = np.zeros((8, 4), np.float32); a.flat[5] = np.nan; np.save("nan/q.npy", a)
os.makedirs("big", exist_ok=True)
a = np.zeros((8, 4), np.float64); a.flat[4] = 1e300; np.save("big/q.npy", a)
os.makedirs("fp16", exist_ok=True)
np.save("fp16/q.npy", np.zeros((8, 4), np.float32)); np.save("fp16/k.npy", np.zeros((8, 4), np.float32))
a = np.zeros((8, 4), np.float32); a.flat[14] = 100000; np.save("fp16/v.npy", a)
def raw(path, header):
    h = header.encode()
    pad = (64 - (10 + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + b"\0" * 128)
os.makedirs("hdr", exist_ok=True)
raw("hdr/twice.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 4), 'shape': (8, 4), }")
raw("hdr/x.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 4), 'x': 1, }")
os.makedirs("dir/q.npy", exist_ok=True)
EOF
cp k.npy v.npy bad/; cp k.npy v.npy dim1/; cp k.npy v.npy nan/; cp k.npy v.npy big/
cp k.npy v.npy hdr/; cp k.npy v.npy dir/
mkdir -p params          # a folder named like a params file
SMALL='--set problem.seq_len=16 --set problem.head_dim=4'
export SMALL

# ---------------------------------------------------------------- exit statuses table
t st4-watchdog-sized 4 'the watchdog stopped naive with depth 146 everywhere (sim.max_cycles: 50): raise it, or leave it auto' \
  '$S $SMALL --set datapath=naive --set sim.max_cycles=50 --size-buffers --out o/st4'
t st5-stdout-full 5 'standard output: cannot write the summary: … (the results are in …)' \
  '$S $SMALL --set datapath=naive --out o/st5 >/dev/full'

# ---------------------------------------------------------------- status-2 table
printf 'datapath: naive\nproblem:\n  no_such_key: 1\n' > unknown.yaml
t unknown-key 2 'p.yaml:3:3: problem.no_such_key: unknown key (expected one of: batch, heads, kv_heads, seq_len, kv_len, head_dim, causal, seed)' \
  'cp unknown.yaml p.yaml; $S p.yaml --out o/x'
t wrong-type 2 "p.yaml:3:12: problem.seq_len: expected an integer in [1, 1048576], got 'sixteen'" \
  'printf "datapath: naive\nproblem:\n  seq_len: sixteen\n" > p.yaml; $S p.yaml --out o/x'
t out-of-range 2 "p.yaml:3:14: units.exp.latency: expected an integer in [1, 1048576], got '0'" \
  'printf "units:\n  exp:\n    latency: 0\n" > p.yaml; $S p.yaml --out o/x'
t leading-zero 2 "p.yaml:3:20: problem.seq_len: expected an integer in [1, 1048576] without a leading 0, got '020' (YAML 1.1 reads it as octal, 1.2 as decimal)" \
  'printf "# a\n# b\nproblem: {seq_len: 020}\n" > p.yaml; $S p.yaml --out o/x'
t bad-choice 2 "p.yaml:1:11: datapath: expected one of: naive, two_pass, reordered, both, all, got 'fastest'" \
  'printf "datapath: fastest\n" > p.yaml; $S p.yaml --out o/x'
t dup-key 2 'p.yaml:3:3: problem.seq_len: duplicate key' \
  'printf "problem:\n  seq_len: 16\n  seq_len: 32\n" > p.yaml; $S p.yaml --out o/x'
t dup-set 2 '--set problem.seq_len=64: problem.seq_len: also set by --set problem={seq_len: 32}: give each key once' \
  '$S --set "problem={seq_len: 32}" --set problem.seq_len=64 --out o/x'
t unknown-channel 2 'p.yaml:4:5: channels.depths.score_bypass: unknown key (expected one of: …)' \
  'printf "datapath: reordered\nchannels:\n  depths:\n    score_bypass: 128\n" > p.yaml; $S p.yaml --out o/x'
t not-selected 2 'p.yaml:3:3: units.running_max: unknown key (expected one of: …; running_max is a unit of reordered, which datapath: naive does not select (select it, or put the key under datapaths.reordered.units))' \
  'printf "datapath: naive\nunits:\n  running_max: {latency: 3}\n" > p.yaml; $S p.yaml --out o/x'
t no-effect-override 2 '--set units.exp.latency=8: units.exp.latency: has no effect: datapaths.naive.units.exp.latency (p.yaml:7:22) overrides it in every selected datapath it applies to (…)' \
  'printf "datapath: both\nproblem: {seq_len: 16, head_dim: 4}\n# per datapath\ndatapaths:\n  naive:\n    units:\n      exp: {latency: 16}\n" > p.yaml; $S p.yaml --set units.exp.latency=8 --out o/x'
t no-effect-unselected 2 '--set datapaths.two_pass.units.normalize.ii=2: datapaths.two_pass.units.normalize.ii: has no effect: datapath: both does not select two_pass (select it, or leave the --set out)' \
  '$S --set datapaths.two_pass.units.normalize.ii=2 --out o/x'
t missing-input 2 '--set inputs.q=q.npy: inputs.k: missing: inputs.q is given, and the inputs are all of q, k and v, or none' \
  '$S --set inputs.q=q.npy --out o/x'
t empty-input 2 '--set inputs.q=: inputs.q: expected a file path' \
  '$S --set inputs.q= --out o/x'
t input-mapping 2 "--set inputs.q=in/c: d/q.npy: inputs.q: expected a file path, got a mapping (a path with ': ' in it needs quotes: 'in/a: b/q.npy')" \
  '$S --set "inputs.q=in/c: d/q.npy" --out o/x'
t seed-no-effect 2 "--set problem.seed=7: problem.seed: has no effect: the inputs are inputs.q, k and v's files, not random data; remove it" \
  '$S --set inputs.q=q.npy --set inputs.k=k.npy --set inputs.v=v.npy --set problem.seed=7 --out o/x'
t problem-inputs-disagree 2 'p.yaml:2:12: problem.seq_len: 1024 disagrees with inputs.q (q.npy has shape [8, 4], so N = 8): remove problem.seq_len or set it to 8' \
  'printf "problem:\n  seq_len: 1024\ninputs: {q: q.npy, k: k.npy, v: v.npy}\n" > p.yaml; $S p.yaml --out o/x'

# YAML syntax
t yaml-flow-open 2 "p.yaml:3:1: YAML syntax error: end of sequence flow not found (the '[' at line 2, column 12 is not closed)" \
  'printf "problem:\n  seq_len: [1, 2\n" > p.yaml; $S p.yaml --out o/x'
t yaml-tab 2 'p.yaml:2:9: YAML syntax error: illegal map value (a tab in the indentation: YAML indents with spaces)' \
  'printf "problem:\n\tseq_len: 16\n" > p.yaml; $S p.yaml --out o/x'
t yaml-comma 2 "p.yaml:1:1: YAML syntax error: unexpected ','" \
  'printf ",\n" > p.yaml; $S p.yaml --out o/x'
t yaml-quote 2 'p.yaml:1:11: YAML syntax error: a quote not closed (a quoted value ends at its closing quote, on its line or a later one)' \
  'printf "datapath: \"naive\nproblem: {seq_len: 16}\n" > p.yaml; $S p.yaml --out o/x'
t yaml-second-doc 2 "p.yaml:3: a second YAML document (after '---'): the file is read as one document; remove the '---' lines" \
  'printf "# params\ndatapath: naive\n---\nproblem: {seq_len: 16}\n" > p.yaml; $S p.yaml --out o/x'
t yaml-more-after 2 "p.yaml:1:26: more after the document's value: '{x: 1}', expected one YAML document" \
  'printf "{problem: {seq_len: 16}} {x: 1}\n" > p.yaml; $S p.yaml --out o/x'
t yaml-cr 2 'p.yaml:1:44: a line ending in a CR alone, which YAML reads as no line end: expected LF or CRLF line ends' \
  'printf "datapath: naive # an old Mac line end here:\rproblem: {seq_len: 16}\n" > p.yaml; $S p.yaml --out o/x'
t yaml-nul-escape 2 'p.yaml:1:7: cost: a NUL character (an escape such as \0), expected text without one' \
  'printf "cost: \"a\\\\0b.yaml\"\n" > p.yaml; cat p.yaml >&2; $S p.yaml --out o/x'
t yaml-deep 2 'p.yaml:1:1004: YAML nested deeper than the parser allows (a few hundred levels; params and cost files nest five at most)' \
  '$PY -c "open(\"p.yaml\",\"w\").write(\"a: \"+\"[\"*500+\"]\"*500+\"\\n\")"; $S p.yaml --out o/x'

# aliases
t alias-cycle 2 'p.yaml:1:17: units.exp: an alias inside the node it names (a cycle), expected a value, or an alias of a node that ends before it' \
  'printf "units: &r {exp: *r}\n" > p.yaml; $S p.yaml --out o/x'
t alias-bomb 2 'p.yaml:6:46: a5: more than 1048576 nodes, each alias counted as the nodes it repeats, expected a params or cost file'"'"'s few hundred' \
  '$PY -c "
print(\"a0: &a0 [x,x,x,x,x,x,x,x,x,x]\")
for k in range(1, 9): print(f\"a{k}: &a{k} [\" + \",\".join([f\"*a{k-1}\"]*10) + \"]\")
" > p.yaml; $S p.yaml --out o/x'
t alias-merge 2 'p.yaml:1:15: units.exp.<<: YAML merge keys are not supported, expected the keys written out' \
  'printf "units: {exp: {<<: {latency: 3}}}\n" > p.yaml; $S p.yaml --out o/x'

# unreadable params file
t params-missing 2 'missing.yaml: cannot read the params file: No such file or directory' '$S missing.yaml --out o/x'
t params-devzero 2 '/dev/zero: more than 16 MiB, expected a params file (YAML)' '$S /dev/zero --out o/x'
t params-nul 2 'z.yaml:1:1: a NUL byte, expected a YAML text' 'printf "\0\1\2binary" > z.yaml; $S z.yaml --out o/x'
t params-empty-name 2 "params '': expected a params file, got an empty name (see --help)" '$S "" --out o/x'
t params-folder 2 'params: is a folder, expected a params file (YAML)' '$S params --out o/x'

# cost
t cost-negative 2 "cost.yaml:39:22: arithmetic.fp32.exp.energy_pj: expected a number in [0, 1e+12], got '-8'" \
  'sed "39s/26.7/-8/" $repo/params/cost/horowitz-45nm.yaml > cost.yaml; $S --set cost=cost.yaml --out o/x'
t cost-missing-divide 2 'cost.yaml:29:5: arithmetic.fp32.divide: missing' \
  'sed "43d" $repo/params/cost/horowitz-45nm.yaml > cost.yaml; $S --set cost=cost.yaml --out o/x'
t cost-passwd 2 '/etc/passwd:1:1: (top level): expected a cost table: a mapping of technology, arithmetic, storage and memory' \
  '$S --set cost=/etc/passwd --out o/x'
t cost-nowhere 2 'p.yaml:2:7: cost: cannot read the cost file nowhere.yaml: No such file or directory' \
  'printf "datapath: naive\ncost: nowhere.yaml\n" > p.yaml; $S p.yaml --out o/x'
t cost-folder 2 'p.yaml:2:7: cost: cannot read the cost file …: it is a folder' \
  'printf "datapath: naive\ncost: params\n" > p.yaml; $S p.yaml --out o/x'
t cost-device 2 'p.yaml:2:7: cost: cannot read the cost file …: not a regular file' \
  'printf "datapath: naive\ncost: /dev/null\n" > p.yaml; $S p.yaml --out o/x'
t cost-no-fp32 2 'cost.yaml: arithmetic.fp32: missing: the run computes in fp32 (the file has: fp16)' \
  '$PY -c "
import yaml
c = yaml.safe_load(open(\"$repo/params/cost/horowitz-45nm.yaml\"))
c[\"arithmetic\"] = {\"fp16\": c[\"arithmetic\"][\"fp16\"]}
yaml.safe_dump(c, open(\"cost.yaml\", \"w\"))"; $S --set cost=cost.yaml --out o/x'
t cost-bf16-acc 2 "cost.yaml: arithmetic.fp32: missing: the units' fp32 accumulators (the file has: bf16)" \
  '$PY -c "
import yaml
c = yaml.safe_load(open(\"$repo/params/cost/horowitz-45nm.yaml\"))
c[\"arithmetic\"] = {\"bf16\": c[\"arithmetic\"][\"bf16\"]}
yaml.safe_dump(c, open(\"cost.yaml\", \"w\"))"; $S --set cost=cost.yaml --set numerics.input=bf16 --set numerics.compute=bf16 --out o/x'

# bad --set
t set-negative 2 "--set problem.head_dim=-3: problem.head_dim: expected an integer in [1, 65536], got '-3'" \
  '$S --set problem.head_dim=-3 --out o/x'
t set-more-after 2 "--set problem={seq_len: 16} {head_dim: 4}: problem: expected one value, got more after it: '{head_dim: 4}'" \
  '$S --set "problem={seq_len: 16} {head_dim: 4}" --out o/x'
t set-multiline 2 'expected a value on one line' \
  '$S --set "problem.seq_len=16
32" --out o/x'
# The no-break space as its UTF-8 bytes: bash's \u escape is left as text in the POSIX locale, a
# fresh machine's default.
t set-nbsp 2 "got '16\\u{00a0}'" \
  '$S --set problem.seq_len=$'"'"'16\xc2\xa0'"'"' --out o/x'
t set-second-value 2 'problem.head_dim=8: no such params file, and a --set takes one key=value: write --set problem.head_dim=8 for a second' \
  '$S --set problem.seq_len=16 problem.head_dim=8 --out o/x'
t set-second-after-params 2 'The following argument was not expected: problem.head_dim=8 (a --set takes one key=value: give each its own --set)' \
  'printf "datapath: naive\n" > p.yaml; $S p.yaml --set problem.seq_len=16 problem.head_dim=8 --out o/x'
t set-list 2 'expected true or false, got a list' '$S --set "problem.causal=[1]" --out o/x'
t key-no-value 2 'p.yaml:2:3: problem.seq_len: expected an integer in [1, 1048576], got nothing' \
  'printf "problem:\n  seq_len:\n" > p.yaml; $S p.yaml --out o/x'
t unknown-option 2 'The following argument was not expected: --bogus (see --help)' '$S --bogus --out o/x'

# bad data files
t npy-magic 2 'p.yaml:1:13: inputs.q: q.npy: not a .npy file (bad magic)' \
  'cd bad && printf "inputs: {q: q.npy, k: k.npy, v: v.npy}\n" > p.yaml && $S p.yaml --out o/x'
t npy-folder 2 'is a folder, expected a .npy file' \
  'cd dir && printf "inputs: {q: q.npy, k: k.npy, v: v.npy}\n" > p.yaml && $S p.yaml --out o/x'
t npy-device 2 'not a regular file (a pipe or a device): params.yaml names each input for reruns, which read it again; expected a .npy file' \
  '$S --set inputs.q=/dev/null --set inputs.k=k.npy --set inputs.v=v.npy --out o/x'
t npy-fifo 2 'not a regular file (a pipe or a device): params.yaml names each input for reruns, which read it again; expected a .npy file' \
  'rm -f fifo.npy; mkfifo fifo.npy; $S --set inputs.q=fifo.npy --set inputs.k=k.npy --set inputs.v=v.npy --out o/x'
t npy-shape-twice 2 "malformed .npy header: key 'shape' given twice" \
  '$S --set inputs.q=hdr/twice.npy --set inputs.k=hdr/k.npy --set inputs.v=hdr/v.npy --out o/x'
t npy-key-x 2 "unexpected key 'x', expected 'descr', 'fortran_order' and 'shape'" \
  '$S --set inputs.q=hdr/x.npy --set inputs.k=hdr/k.npy --set inputs.v=hdr/v.npy --out o/x'
t npy-1dim 2 'expected an array [B, heads, rows, d] (leading dimensions of 1 may be left out), got 1 dimension' \
  '$S --set inputs.q=dim1/q.npy --set inputs.k=dim1/k.npy --set inputs.v=dim1/v.npy --out o/x'
t npy-nan 2 'contains NaN or Inf (element 5 is nan)' \
  '$S --set inputs.q=nan/q.npy --set inputs.k=nan/k.npy --set inputs.v=nan/v.npy --out o/x'
t npy-1e300 2 "element 4 is 1e+300, beyond float32's largest finite value 3.4028235e+38" \
  '$S --set inputs.q=big/q.npy --set inputs.k=big/k.npy --set inputs.v=big/v.npy --out o/x'
t npy-fp16 2 "p.yaml:1:33: inputs.v: v.npy: element 14 is 100000, beyond numerics.input fp16's largest finite value 65504 (p.yaml:2:19): scale the inputs or choose a wider format" \
  'cd fp16 && printf "inputs: {q: q.npy, k: k.npy, v: v.npy}\nnumerics: {input: fp16}\n" > p.yaml && $S p.yaml --out o/x'

# shapes that disagree
t kv-heads-divide 2 '--set problem.kv_heads=4: problem.kv_heads: 4 does not divide problem.heads (6): …' \
  '$S --set problem.heads=6 --set problem.kv_heads=4 --out o/x'
t causal-kvlen 2 'problem.seq_len: 8 queries are more than problem.kv_len (4) keys: a causal mask is bottom-right aligned and needs N_q <= N_kv' \
  '$S --set problem.causal=true --set problem.seq_len=8 --set problem.kv_len=4 --set problem.head_dim=4 --out o/x'
t npy-heads 2 "p.yaml:1:23: inputs.k: k.npy: 3 K/V heads do not divide inputs.q's 4 query heads (q.npy)" \
  'cd heads && printf "inputs: {q: q.npy, k: k.npy, v: v.npy}\n" > p.yaml && $S p.yaml --out o/x'
t npy-fit 2 "p.yaml:1:23: inputs.k: k.npy: shape [4, 3] does not fit inputs.q's [3, 4] (q.npy): expected the same batch and d" \
  'cd fit && printf "inputs: {q: q.npy, k: k.npy, v: v.npy}\n" > p.yaml && $S p.yaml --out o/x'
t npy-causal 2 "p.yaml:1:13: inputs.q: q.npy: N = 4 queries are more than inputs.k's N_kv = 3 keys: problem.causal (--set problem.causal=true) needs N <= N_kv (the mask is bottom-right aligned)" \
  'cd causal && printf "inputs: {q: q.npy, k: k.npy, v: v.npy}\n" > p.yaml && $S p.yaml --set problem.causal=true --out o/x'
t npy-kvlen 2 '--set problem.kv_len=7: problem.kv_len: 7 disagrees with inputs.k (k.npy has shape [2, 2, 6, 5], so N_kv = 6): …' \
  'cd kvlen && printf "inputs: {q: q.npy, k: k.npy, v: v.npy}\n" > p.yaml && $S p.yaml --set problem.kv_len=7 --out o/x'

# too large for the machine
t too-large-16eib 2 'needs over 16 EiB' \
  '$S --set problem.batch=65536 --set problem.heads=65536 --set problem.seq_len=65536 --set problem.head_dim=65536 --set datapath=naive --out o/x'

# options that exclude each other
t vcd-size 2 '--vcd excludes --size-buffers (see --help)' '$S --vcd --size-buffers --out o/x'
t shared-size 2 '--set memory.ports=shared: memory.ports: shared: --size-buffers needs private links: …' \
  '$S --size-buffers --set memory.ports=shared --out o/x'

# trace window / events
t tw-order 2 '--trace-window 10:5: FROM must be less than TO (the window is FROM <= cycle < TO)' \
  '$S --trace-events --trace-window 10:5 --out o/x'
t tw-one 2 '--trace-window 5: expected FROM:TO, two cycle numbers (e.g. 0:5000)' \
  '$S --trace-events --trace-window 5 --out o/x'
t tw-needs 2 '--trace-window requires --trace-events (see --help)' '$S --trace-window 0:5 --out o/x'
t te-dotdot 2 '--trace-events ../x.json: expected a file name ending in .json (letters, digits, _ - .), written in the --out folder' \
  '$S --trace-events ../x.json --out o/x'
t te-report 2 "the run's own report" '$S --trace-events report.json --out o/x'
t te-empty 2 "--trace-events '': expected a file name, got an empty one" '$S --trace-events "" --out o/x'
t te-long 2 'expected a file name of at most 255 bytes' \
  '$S --trace-events $(printf "a%.0s" $(seq 300)).json --out o/x'
t te-params 2 '(a params file after --trace-events is taken for its name: put the params file first, or write --trace-events=NAME.json)' \
  'printf "datapath: naive\n" > p.yaml; $S --trace-events p.yaml --out o/x'

# --out
t out-notdir 2 '--out results/q.npy/run: cannot create the folder: Not a directory' \
  'mkdir -p results; cp q.npy results/; $S $SMALL --out results/q.npy/run'
t empty-out 2 "--out '': expected a folder name, got an empty one" '$S --out ""'
t empty-set 2 "--set '': expected key.path=value, got an empty one" '$S --set "" --out o/x'
t empty-tw 2 "--trace-window '': expected FROM:TO, two cycle numbers, got an empty one" '$S --trace-events --trace-window "" --out o/x'
t option-for-out 2 "--out --check: expected a folder name, got an option (for a folder of that name, write ./--check) (see --help)" '$S --out --check'
t option-for-set 2 "--set --out: expected key.path=value, got an option (see --help)" '$S --set --out x'
t out-eq 2 "--out=: expected a value after '=', got none" '$S --out='
t set-eq 2 "expected a value after '=', got none (see --help)" '$S --set= --out o/x'
t yours-unlisted 2 '--out results: params.yaml is there but is not the output of an earlier run (its report.json does not list it); move it away or choose another folder' \
  'rm -rf results; mkdir results; echo "datapath: naive" > results/params.yaml; echo "{\"version\": 1, \"files\": [\"report.json\"]}" > results/report.json; $S $SMALL --out results'
t yours-noreport 2 'there is no report.json' \
  'rm -rf results; mkdir results; echo "datapath: naive" > results/params.yaml; $S $SMALL --out results'
t yours-badjson 2 'its report.json is not valid JSON' \
  'rm -rf results; mkdir results; echo "datapath: naive" > results/params.yaml; echo "{not json" > results/report.json; $S $SMALL --out results'

# ---------------------------------------------------------------- prose examples
t note-sets-nothing 0 'sdpa-sim: note: the params file p.yaml sets no parameters: the defaults run' \
  ': > p.yaml; $S p.yaml --check --out o/x'
t note-sets-nothing-set 0 'sdpa-sim: note: the params file p.yaml sets no parameters: the defaults run…, with the --set values' \
  ': > p.yaml; $S p.yaml --set datapath=naive --check --out o/x'
t note-replacing 0 'sdpa-sim: note: replacing the results in out/default' \
  'rm -rf out; $S $SMALL --set datapath=naive --out out/default >/dev/null 2>&1; $S $SMALL --set datapath=naive --out out/default 2>&1 >/dev/null | grep note >&2'
t note-would-replace 0 'sdpa-sim: note: a run would replace the results in out/default' \
  '$S $SMALL --set datapath=naive --out out/default --check'
t note-pipe 0 'sdpa-sim: note: waiting for /dev/fd/63 (a pipe) to deliver the params file: …' \
  '$S <(sleep 3; echo "datapath: naive"; echo "problem: {seq_len: 16, head_dim: 4}") --out o/pipe 2>&1 >/dev/null | grep waiting >&2'
t broken-pipe 5 'standard output: cannot write the summary: Broken pipe (the results are in …)' \
  '$S $SMALL --set datapath=naive --out o/bp | true; exit ${PIPESTATUS[0]}'
t broken-pipe-check 5 'standard output: cannot write: Broken pipe' \
  '$PY -c "
import subprocess, os, sys
r, w = os.pipe(); os.close(r)
p = subprocess.run([os.environ[\"S\"], \"--set\", \"problem.seq_len=16\", \"--set\", \"problem.head_dim=4\", \"--out\", \"o/bpc\", \"--check\"], stdout=w)
sys.exit(p.returncode)"'
t earlier-noreport 2 '--out out/x: params.yaml is there but is not the output of an earlier run (there is no report.json; a run stopped while it replaced the results there, and the earlier run'"'"'s files are in out/x/.sdpa-earlier.vm.4242)' \
  'rm -rf out/x; mkdir -p out/x/.sdpa-earlier.vm.4242; echo "datapath: naive" > out/x/params.yaml; $S $SMALL --out out/x'
t earlier-note 0 'sdpa-sim: note: out/x/.sdpa-earlier.vm.4242 holds the files of an earlier run, moved aside by a run stopped while it replaced them; no run removes it' \
  'rm -rf out/x; mkdir -p out/x/.sdpa-earlier.vm.4242; $S $SMALL --out out/x --check'
t dot-missing 0 "sdpa-sim: note: graph.svg not written: Graphviz's dot is not installed (Debian package graphviz); graph.dot is" \
  'mkdir -p nodot; for b in /usr/bin/*; do [ "$(basename $b)" = dot ] || ln -sf $b nodot/; done 2>/dev/null; PATH=$W/nodot $S $SMALL --set datapath=naive --dot --out o/dot 2>&1 >/dev/null | grep graph.svg >&2'
t efbig 5 'File too large' \
  'ulimit -f 20; $S $SMALL --set datapath=naive --vcd --out o/fsz'
t dot-fails 5 "…/graph.svg: cannot write: Graphviz's dot exited with status 1 (no results written; …)" \
  'mkdir -p faildot; printf "#!/bin/sh\nexit 1\n" > faildot/dot; chmod +x faildot/dot; PATH=$W/faildot:$PATH $S $SMALL --set datapath=naive --dot --out o/dotf'

summary test_errors_doc
