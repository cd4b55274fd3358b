#!/usr/bin/python3
"""Runs sdpa-sim and tb/timing_model.py, the timing contract implemented a second time from the
docs alone, on random configurations, and compares every statistic of the report: status, cycles,
span, each channel's capacity, writes, high water, stalls and last ready stamp, each unit's
firings, busy, starved, blocked and idle cycles, a deadlock's wait-for report, a shared link's
idle cycles. Then sdpa-sim --size-buffers: its depths keep the cycles of ample buffering in the
model, and none can lose a slot. Also the closed forms of docs/timing.md against the model.

  tb/test_timing_model.py [SDPA_SIM] [--seed S] [--runs-per-family N] [--sizings N]

Exit status: 0 all agree, 1 some run differs (each printed with its command line), 2 bad usage.
"""

import argparse
import collections
import copy
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing_model as model  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATAPATHS = ("naive", "two_pass", "reordered")
UNITS = {
    "naive": ["row_max", "subtract", "exp", "row_sum", "divide", "weighted_sum"],
    "two_pass": ["online_normalizer", "normalize", "weighted_sum"],
    "reordered": ["running_max", "running_sum", "rescale_accumulate", "row_divide"],
}
READERS_AND_DOT = ["q_reader", "k_reader", "v_reader", "dot_product"]
CHANNELS = {
    "naive": ["scores", "score_bypass", "maxima", "shifted", "exps", "exp_bypass", "sums",
              "probs"],
    "two_pass": ["scores", "score_bypass", "row_stats", "probs"],
    "reordered": ["scores", "sum_rescale", "acc_rescale", "sums", "acc_rows"],
}
STREAMS_AND_OUT = ["q_rows", "k_rows", "v_rows", "out_rows"]
INPUT_FORMAT = {2: "bf16", 1: "fp8_e4m3"}
WAIT = re.compile(r"\w+\.((?:lane\d+\.)?\w+) at cycle (\d+) waits to (read|write) "
                  r"\w+\.((?:lane\d+\.)?\w+): \w+ (\d+)/(\d+)")


def random_config(rng, family):
    """A small random configuration; the families widen what varies."""
    dp = rng.choice(DATAPATHS)
    n = rng.randint(4, 48)
    d = rng.choice([2, 4, 8, 16])
    lat = {u: rng.randint(1, 8) for u in READERS_AND_DOT + UNITS[dp] if rng.random() < 0.6}
    ii = {u: rng.randint(2, 3) for u in READERS_AND_DOT + UNITS[dp] + ["sink"]
          if rng.random() < 0.15}
    depths = {c: rng.randint(1 if rng.random() < 0.5 else 2, 2 * n)
              for c in STREAMS_AND_OUT + CHANNELS[dp] if rng.random() < 0.3}
    bpc = rng.choice([4, 8, 12, 16, 24, 32, 64, 256])
    kw = {}
    if family != "plain":
        if rng.random() < 0.3:
            kw["heads"] = rng.randint(1, 3)
        if rng.random() < 0.2:
            kw["batch"] = rng.randint(1, 2)
        if rng.random() < 0.3:
            kw["Nkv"] = rng.randint(1, 48)
        if rng.random() < 0.3:
            kw["causal"] = True
            if kw.get("Nkv", n) < n:
                kw["Nkv"] = rng.randint(n, 48)
        if rng.random() < 0.15:
            kw["default_depth"] = rng.randint(1, 8)
        if rng.random() < 0.2:
            ii["sink"] = rng.randint(2, 20)
        if rng.random() < 0.2:
            bpc = rng.randint(1, 70)
        if rng.random() < 0.2:
            kw["elem_bytes"] = 2
    if family in ("lanes", "shared", "watchdog"):
        if rng.random() < 0.3:
            kw["heads"] = rng.choice([2, 4, 6])
            kw["kv_heads"] = rng.choice([h for h in (1, 2, 3) if kw["heads"] % h == 0])
        if rng.random() < 0.15:
            kw["elem_bytes"] = 1
        if rng.random() < 0.2:
            n = rng.randint(1, 3)
            depths = {c: min(v, 2 * n) for c, v in depths.items()}
        if rng.random() < 0.1:
            kw["Nkv"], kw["causal"] = 1, False
        if rng.random() < 0.15:
            d = 1
        if rng.random() < 0.6:
            kw["lanes"] = rng.randint(2, 5)
    if family in ("shared", "watchdog") and rng.random() < 0.5:
        kw["shared"] = True
    cfg = model.Config(dp, N=n, d=d, lat=lat, ii=ii, depths=depths,
                       read_latency=rng.randint(1, 16), bytes_per_cycle=bpc, **kw)
    cfg.mode = "synchronized" if family == "synchronized" else "decoupled"
    if family == "watchdog":
        full = model.run(cfg)
        cfg.max_cycles = rng.randint(5, (full["cycles"] or full["span"]) + 5)
    return cfg


def all_datapaths_config(rng):
    """datapath=all: keys of units and channels every datapath has apply to each, and
    datapaths.NAME.units.U.latency to one; each run must be the model of its datapath alone."""
    base = random_config(rng, "wide")
    base.datapath = "naive"
    common_units = READERS_AND_DOT + ["sink"]
    base.lat = {u: v for u, v in base.lat.items() if u in common_units}
    base.ii = {u: v for u, v in base.ii.items() if u in common_units}
    base.depths = {c: v for c, v in base.depths.items() if c in STREAMS_AND_OUT + ["scores"]}
    cfgs, own = {}, []
    for dp in DATAPATHS:
        cfg = copy.deepcopy(base)
        cfg.datapath = dp
        cfg.lat = dict(model.DEFAULT_LAT, **base.lat)
        cfg.ii = dict({u: 1 for u in model.DEFAULT_LAT}, **base.ii)
        for u in UNITS[dp]:
            if rng.random() < 0.3:
                cfg.lat[u] = rng.randint(1, 8)
                own.append(f"datapaths.{dp}.units.{u}.latency={cfg.lat[u]}")
        cfgs[dp] = cfg
    keys = [s for s in settings(base) if not s.startswith("datapath=")]
    return keys + ["datapath=all"] + own, cfgs


def settings(cfg):
    s = [f"datapath={cfg.datapath}", f"problem.seq_len={cfg.N}", f"problem.head_dim={cfg.d}",
         f"memory.read_latency={cfg.read_latency}", f"memory.bytes_per_cycle={cfg.bpc}",
         f"problem.kv_len={cfg.Nkv}", f"problem.heads={cfg.heads}", f"problem.batch={cfg.batch}",
         f"problem.kv_heads={cfg.kv_heads}", f"problem.causal={str(cfg.causal).lower()}",
         f"parallel.lanes={cfg.lanes}", f"memory.ports={'shared' if cfg.shared else 'private'}",
         f"sim.mode={cfg.mode}", f"channels.default_depth={cfg.default_depth}"]
    if cfg.elem_bytes in INPUT_FORMAT:
        s.append(f"numerics.input={INPUT_FORMAT[cfg.elem_bytes]}")
    if getattr(cfg, "max_cycles", None) is not None:
        s.append(f"sim.max_cycles={cfg.max_cycles}")
    s += [f"units.{u}.latency={v}" for u, v in sorted(cfg.lat.items())
          if v != model.DEFAULT_LAT[u]]
    s += [f"units.{u}.ii={v}" for u, v in sorted(cfg.ii.items()) if v != 1]
    s += [f"channels.depths.{c}={v}" for c, v in sorted(cfg.depths.items())]
    return s


def differences(run, m):
    """What a run of the simulator's report and the model disagree on: (what, simulator, model)."""
    diffs = []
    if run["status"] != m["status"]:
        return [("status", run["status"], m["status"])]
    stopped = run["status"] != "ok"
    if run["status"] == "deadlock":
        waits = set()
        for w in run["waits"]:
            g = WAIT.match(w)
            if not g:
                return [("wait not understood", w, None)]
            waits.add((g[1], g[3], g[4], int(g[5]), int(g[6]), int(g[2])))
        if waits != set(m["waits"]):
            diffs.append(("waits", sorted(waits - set(m["waits"])),
                          sorted(set(m["waits"]) - waits)))
    elif run["span_cycles"] != m["span"]:
        diffs.append(("span_cycles", run["span_cycles"], m["span"]))
    if run["status"] == "ok" and run["cycles"] != m["cycles"]:
        diffs.append(("cycles", run["cycles"], m["cycles"]))
    # A stopped run's too: every row granted was read, held by a reader that could not write it.
    if "link_idle_cycles" in m:
        idle = run["memory_traffic"]["link_idle_cycles"]
        if idle != m["link_idle_cycles"]:
            diffs.append(("link_idle_cycles", idle, m["link_idle_cycles"]))
        if not m["grants_in_time_order"]:
            diffs.append(("the model's grants out of time order", None, None))
    channels = {c["name"].split(".", 1)[1]: c for c in run["channels"]}
    if set(channels) != set(m["channels"]):
        return diffs + [("channels", sorted(channels), sorted(m["channels"]))]
    for name, mc in m["channels"].items():
        for k in ("capacity", "writes", "high_water", "producer_stall_cycles",
                  "consumer_stall_cycles", "first_read_stall_cycles", "last_ready"):
            if k == "last_ready" and stopped:
                continue
            if channels[name][k] != mc[k]:
                diffs.append((f"{name}.{k}", channels[name][k], mc[k]))
    units = {u["name"].split(".", 1)[1]: u for u in run["units"]}
    if set(units) != set(m["units"]):
        return diffs + [("units", sorted(units), sorted(m["units"]))]
    for name, mu in m["units"].items():
        expected = {"firings": mu["firings"], "busy_cycles": mu["busy"],
                    "starved_cycles": mu["starved"], "blocked_cycles": mu["blocked"]}
        if run["status"] != "deadlock":
            expected["idle_cycles"] = m["span"] - mu["t_end"]
        for k, v in expected.items():
            if units[name][k] != v:
                diffs.append((f"{name}.{k}", units[name][k], v))
    return diffs


# sdpa-sim's exit status for the statuses of its runs: the worst (docs/errors.md).
WORST_FIRST = [("timeout", 4), ("deadlock", 3), ("mismatch", 1), ("unverified", 6)]


def exit_status(statuses):
    return next((code for status, code in WORST_FIRST if status in statuses), 0)


# What the random runs must include, or they check less than they claim: (family or None for any,
# what, least count).
COVERAGE = [("plain", "ok", 20), ("lanes", "ok", 20), ("shared", "ok", 20),
            ("synchronized", "ok", 20), ("all", "ok", 20), (None, "deadlock", 10),
            ("watchdog", "timeout", 10), ("shared", "link idle", 10), ("lanes", "lanes > 1", 20)]


def check_closed_forms(rng, runs):
    """docs/timing.md's closed forms, on the model: at default parameters, and on random shapes
    with random unit latencies at one score per cycle (II 1, a row per beat, readers of latency 1,
    as the forms assume), where the automatic
    depths are what the closed forms need: no writer of a per-score or per-row channel waits for
    a slot (the model computes the depths by the same rules, so this checks the rules)."""
    configs = [model.Config(dp, N=n, d=64) for dp in DATAPATHS for n in (1, 2, 5, 16, 40)]
    for _ in range(runs):
        heads = rng.choice([1, 2, 4])
        n = rng.randint(1, 40)
        configs.append(model.Config(
            rng.choice(DATAPATHS), N=n, d=8, Nkv=rng.randint(n, 48) if rng.random() < 0.5 else n,
            heads=heads, kv_heads=rng.choice([h for h in (1, 2, 4) if heads % h == 0]),
            batch=rng.randint(1, 2), causal=rng.random() < 0.5, read_latency=rng.randint(1, 16),
            lat={u: rng.randint(1, 9) for u in model.DEFAULT_LAT
                 if u not in ("q_reader", "k_reader", "v_reader", "sink")}))
    bad = []
    for cfg in configs:
        r = model.run(cfg)
        waited = [c for c, st in r["channels"].items()
                  if st["producer_stall_cycles"] and c not in STREAMS_AND_OUT]
        if r["cycles"] != model.closed_form(cfg) or waited:
            bad.append(f"closed form: {cfg.datapath} N = {cfg.N}, N_kv = {cfg.Nkv}, heads "
                       f"{cfg.heads}/{cfg.kv_heads}, batch {cfg.batch}, causal {cfg.causal}, "
                       f"latencies {cfg.lat}: model {r['cycles']}, docs {model.closed_form(cfg)}"
                       f"; writers waited for slots of {waited}")
    return bad


def sizing_differences(sim, cfg, out):
    """sdpa-sim --size-buffers against the model: its depths give the cycles of the run with ample
    buffering, and one slot less in any channel (the others as sized) gives more, or a deadlock."""
    cfg.depths, cfg.default_depth = {}, "auto"
    keys = settings(cfg)
    command = [sim] + [a for s in keys for a in ("--set", s)] + ["--size-buffers"]
    done = subprocess.run(command + ["--out", out], capture_output=True, text=True, timeout=600)
    ample = re.search(r"^\w+: (\d+) cycles with ample buffering", done.stdout, re.M)
    if done.returncode != 0 or not ample:
        return command, [("--size-buffers", done.returncode, done.stderr.strip()[-300:])]
    with open(os.path.join(out, "sized.yaml")) as f:
        sized = yaml.safe_load(f)["datapaths"][cfg.datapath]["channels"]["depths"]
    cfg.depths = dict(sized)
    cycles = model.run(cfg)["cycles"]
    if cycles != int(ample[1]):
        return command, [("cycles with sized.yaml", int(ample[1]), cycles)]
    diffs = []
    for channel, depth in sized.items():
        cfg.depths[channel] = depth - 1
        less = model.run(cfg) if depth > 1 else None
        if less and less["status"] == "ok" and less["cycles"] == cycles:
            diffs.append((f"{channel} at {depth - 1} keeps the cycles", depth, depth - 1))
        cfg.depths[channel] = depth
    return command, diffs


def main(argv):
    p = argparse.ArgumentParser(prog="test_timing_model")
    p.add_argument("sim", nargs="?", default=os.path.join(REPO, "build", "bin", "sdpa-sim"))
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--runs-per-family", type=int, default=70)
    p.add_argument("--sizings", type=int, default=6, help="--size-buffers runs checked")
    p.add_argument("--closed-forms", type=int, default=200,
                   help="random shapes whose closed forms the model is checked on")
    args = p.parse_args(argv)
    if not os.access(args.sim, os.X_OK):
        print(f"test_timing_model: error: no simulator at {args.sim}", file=sys.stderr)
        return 2
    rng = random.Random(args.seed)
    closed_forms = check_closed_forms(rng, args.closed_forms)
    for line in closed_forms:
        print("FAIL", line)
    runs = agreed = 0
    seen = collections.Counter()  # (family, what)

    def tally(label, command, diffs):
        nonlocal runs, agreed
        runs += 1
        if not diffs:
            agreed += 1
            return
        print(f"FAIL {label}: sdpa-sim " + " ".join(command[1:]))
        for what, sim, mod in diffs[:10]:
            print(f"    {what}: simulator {sim}, model {mod}")

    tmp = tempfile.mkdtemp(prefix="timing-model-")
    try:
        for family in ("plain", "wide", "lanes", "shared", "synchronized", "watchdog", "all"):
            for i in range(args.runs_per_family):
                if family == "all":
                    keys, cfgs = all_datapaths_config(rng)
                else:
                    cfg = random_config(rng, family)
                    keys, cfgs = settings(cfg), {cfg.datapath: cfg}
                out = os.path.join(tmp, f"{family}{i}")
                command = [args.sim] + [a for s in keys for a in ("--set", s)]
                done = subprocess.run(command + ["--out", out], capture_output=True, text=True,
                                      timeout=300)
                try:
                    with open(os.path.join(out, "report.json")) as f:
                        report = json.load(f)
                    diffs = []
                    statuses = [run["status"] for run in report["runs"]]
                    if done.returncode != exit_status(statuses):
                        diffs.append(("exit status", done.returncode, exit_status(statuses)))
                    for run in report["runs"]:
                        seen[(family, run["status"])] += 1
                        if run["memory_traffic"].get("link_idle_cycles"):
                            seen[(family, "link idle")] += 1
                        if run["lanes"] > 1:
                            seen[(family, "lanes > 1")] += 1
                        if run["datapath"] not in cfgs:  # registered since (docs/extending.md)
                            diffs.append((f"{run['datapath']}: datapath", "runs it",
                                          "has none: add it to tb/timing_model.py and DATAPATHS"))
                            continue
                        diffs += [(f"{run['datapath']}: {what}", sim, mod) for what, sim, mod
                                  in differences(run, model.run(cfgs[run["datapath"]]))]
                    if sorted(run["datapath"] for run in report["runs"]) != sorted(cfgs):
                        diffs.append(("datapaths", [run["datapath"] for run in report["runs"]],
                                      sorted(cfgs)))
                except OSError:
                    diffs = [("no report", done.returncode, done.stderr.strip()[-300:])]
                shutil.rmtree(out, ignore_errors=True)
                tally(f"{family} run {i}", command, diffs)
        for i in range(args.sizings):
            tally(f"sizing {i}", *sizing_differences(args.sim, random_config(rng, "wide"),
                                                      os.path.join(tmp, f"sizing{i}")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    short = []
    for family, what, least in COVERAGE:
        count = sum(n for (f, w), n in seen.items() if w == what and family in (None, f))
        if count < least:
            short.append(f"{family or 'all families'}: {count} runs with {what}, fewer than {least}")
    for line in short:
        print("FAIL coverage", line)
    print("test_timing_model: runs by family and status: " +
          ", ".join(f"{f} {w} {n}" for (f, w), n in sorted(seen.items())))
    print(f"test_timing_model: {agreed} of {runs} random runs and sizings agree on every "
          f"statistic and exit status (seed {args.seed}); the closed forms "
          f"{'differ' if closed_forms else 'hold'}; coverage "
          f"{'short' if short else 'as required'}")
    return 1 if closed_forms or agreed < runs or short else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
