#!/usr/bin/python3
"""A second implementation of the timing contract, written from the documentation alone.

docs/timing.md (and the design brief it follows) says how every stamp of a run is computed; the
datapath files in hw/datapaths/ say how the units are wired. This model was written from those
and nothing else of hw/ (not the channels, units, scheduler or graph), in the way the docs tell
it: each unit a Python generator with its own local cycle t, each channel a bounded FIFO of
elements with a write cycle, a ready stamp and a free cycle, and a scheduler that resumes any
unit whose pending operation can complete (the result does not depend on the order). Timing does
not depend on data, so no value is computed.

tb/test_timing_model.py runs it against sdpa-sim on random configurations and compares every
statistic the report gives: a difference is a bug in the simulator or in the docs (or here).
"""
import bisect
import math


# ----------------------------------------------------------------------------- channels


class Channel:
    """An element holds its slot from its write until the cycle after its read: element k's write
    waits for element k - C's free; it is ready at max(due, write cycle + 1)."""

    def __init__(self, name, cap, width=1):
        self.name = name
        self.cap = cap
        self.width = width
        self.wcyc = []   # write cycle b_w
        self.ready = []  # ready stamp
        self.free = []   # free cycle of element k (known once read)
        self.pstall = 0
        self.cstall = 0
        self.first_cstall = 0  # of cstall, the first read's

    # write side
    def can_write(self):
        k = len(self.ready)
        return k < self.cap or (k - self.cap) < len(self.free)

    def do_write(self, unit, due):
        k = len(self.ready)
        a = self.free[k - self.cap] if k >= self.cap else 0
        if a > unit.t:
            self.pstall += a - unit.t
            unit.blocked += a - unit.t
            unit.t = a
        self.wcyc.append(unit.t)
        self.ready.append(max(due, unit.t + 1))

    # read side
    def can_read(self):
        return len(self.free) < len(self.ready)

    def do_read(self, unit):
        r = self.ready[len(self.free)]
        if r > unit.t:
            self.cstall += r - unit.t
            if not self.free:
                self.first_cstall = r - unit.t
            unit.starved += r - unit.t
            unit.t = r
        self.free.append(unit.t + 1)

    def high_water(self):
        hw = 0
        fr = self.free  # non-decreasing
        for w, b in enumerate(self.wcyc):
            F = bisect.bisect_right(fr, b)
            hw = max(hw, w + 1 - F)
        return hw

    def stats(self):
        return dict(capacity=self.cap, writes=len(self.ready), high_water=self.high_water(),
                    producer_stall_cycles=self.pstall, consumer_stall_cycles=self.cstall,
                    first_read_stall_cycles=self.first_cstall,
                    last_ready=self.ready[-1] if self.ready else 0)


# ----------------------------------------------------------------------------- units


class Unit:
    def __init__(self, name, L, II):
        self.name = name
        self.L = L
        self.II = II
        self.t = 0
        self.t0 = None
        self.firings = 0
        self.starved = 0
        self.blocked = 0
        self.gen = None
        self.pending = None
        self.done = False
        self.link = None
        self.granted = None
        self.stopped = False

    # helpers used inside generator bodies: yield ("r", ch) / ("w", ch) / ("wd", ch, due)
    def end_firing(self):
        self.t += self.II
        self.t0 = None
        self.firings += 1


def R(ch):
    return ("r", ch)


def W(ch):
    return ("w", ch)


def map_body(u, inp, outs, n):
    """Map (one result per element), written to each of outs in fan-out order."""
    for _ in range(n):
        yield R(inp)
        for o in outs:
            yield W(o)
        u.end_firing()


def broadcast_body(u, operand, inp, outs, rows):
    """RowBroadcastMap: at row start read operand; read in; write out (each of outs)."""
    for l in rows:
        for j in range(l):
            if j == 0:
                yield R(operand)
            yield R(inp)
            for o in outs:
                yield W(o)
            u.end_firing()


def reduce_body(u, inp, out, rows):
    for l in rows:
        for j in range(l):
            yield R(inp)
            if j == l - 1:
                yield W(out)
            u.end_firing()


def vacc_body(u, weights, vrows, out, rows):
    for l in rows:
        for j in range(l):
            yield R(weights)
            yield R(vrows)
            if j == l - 1:
                yield W(out)
            u.end_firing()


def reader_body(u, targets, beats, read_latency):
    """targets: per firing, the list of channels the row goes to (lane order)."""
    link_free = 0
    for outs in targets:
        if u.link is not None:
            yield ("req", None)
            due = u.granted + read_latency + (u.L - 1)
        else:
            s = max(u.t, link_free)
            link_free = s + beats
            due = s + read_latency + beats - 1 + (u.L - 1)
        for out in outs:
            yield ("wd", out, due)
        u.end_firing()


def sink_body(u, inp, n):
    for _ in range(n):
        yield R(inp)
        u.end_firing()


# ----------------------------------------------------------------------------- graph


DEFAULT_LAT = {
    "q_reader": 1, "k_reader": 1, "v_reader": 1, "dot_product": 4, "sink": 1,
    "row_max": 1, "subtract": 1, "exp": 4, "row_sum": 1, "divide": 4, "weighted_sum": 4,
    "online_normalizer": 6, "normalize": 9,
    "running_max": 6, "running_sum": 2, "rescale_accumulate": 4, "row_divide": 4,
}


class SharedLink:
    """docs/timing.md, "A shared memory link": requests granted in order of request cycle, ties
    round-robin from the stream after the one granted last (streams K, V, lanes' Q); byte-time
    occupancy s = max(r*B, end), e = s + b; last beat in cycle ceil(e/B) - 1."""

    def __init__(self, B, row_bytes):
        self.B = B
        self.b = row_bytes
        self.end = 0
        self.streams = []  # units in K, V, Q-lanes order
        self.last = -1
        self.grants = []   # (request cycle, stream index, last beat cycle)
        self.bytes = 0

    def pending(self):
        return [(u.t, i) for i, u in enumerate(self.streams)
                if not u.done and u.pending[0] == "req"]

    def choose(self, force=False):
        """Index of the stream to grant now, or None."""
        pend = self.pending()
        if not pend:
            return None
        r = min(t for t, i in pend)
        if not force:
            for i, u in enumerate(self.streams):
                if u.done or (u.pending[0] == "req") or u.t > r:
                    continue
                return None
        cands = [i for t, i in pend if t == r]
        n = len(self.streams)
        cands.sort(key=lambda i: (i - self.last - 1) % n)
        return cands[0]

    def grant(self, i):
        u = self.streams[i]
        r = u.t
        s = max(r * self.B, self.end)
        e = s + self.b
        self.end = e
        last_beat = -(-e // self.B) - 1
        u.granted = last_beat
        self.last = i
        self.grants.append((r, i, last_beat))
        self.bytes += self.b


class Config:
    def __init__(self, datapath="reordered", N=16, d=4, Nkv=None, heads=1, batch=1, causal=False,
                 lat=None, ii=None, depths=None, default_depth="auto",
                 read_latency=10, bytes_per_cycle=256, elem_bytes=4, lanes=1, shared=False,
                 kv_heads=None):
        self.shared = shared
        self.kv_heads = kv_heads or heads
        self.lanes = lanes
        self.datapath = datapath
        self.N = N
        self.Nkv = N if Nkv is None else Nkv
        self.d = d
        self.heads = heads
        self.batch = batch
        self.causal = causal
        self.lat = dict(DEFAULT_LAT)
        self.lat.update(lat or {})
        self.ii = {k: 1 for k in DEFAULT_LAT}
        self.ii.update(ii or {})
        self.depths = depths or {}
        self.default_depth = default_depth
        self.read_latency = read_latency
        self.bpc = bytes_per_cycle
        self.elem_bytes = elem_bytes

    def rows(self):
        R = self.batch * self.heads * self.N
        if not self.causal:
            return [self.Nkv] * R
        return [(r % self.N) + self.Nkv - self.N + 1 for r in range(R)]


def per_row_result_depth(L, rows):
    """Depth::per_row_result as docs/timing.md describes it: the rows k < r whose results still
    wait when row r's is issued (l_{k+1}+...+l_r <= L + delta_k), plus one, or L + 1 if larger."""
    # delta_r = max(0, delta_{r-1} + l_{r-1} - l_r)
    delta = [0] * len(rows)
    for r in range(1, len(rows)):
        delta[r] = max(0, delta[r - 1] + rows[r - 1] - rows[r])
    best = 0
    for r in range(len(rows)):
        cnt = 0
        acc = 0
        for k in range(r - 1, -1, -1):
            acc += rows[k + 1]
            if acc <= L + delta[k]:
                cnt += 1
            # rows may grow again; cannot break early in general, but acc only grows and
            # L + delta_k is bounded by L + Nkv
            if acc > L + max(rows) + max(delta):
                break
        best = max(best, cnt)
    return max(L + 1, best + 1)


def joined_row_result_depth(L, M, rows):
    """max(L + 1, 1 + floor(M / l)), counted over the actual rows: the later rows whose results
    come within M cycles (one row per l cycles), and none when the run has one row."""
    best = 0
    for r in range(len(rows)):
        cnt = 0
        acc = 0
        for k in range(r - 1, -1, -1):
            acc += rows[k + 1]
            if acc <= M:
                cnt += 1
            else:
                break
        best = max(best, cnt)
    return max(L + 1, 1 + best)


def build(cfg):
    units = {}
    chans = {}
    lat, ii = cfg.lat, cfg.ii
    beats = math.ceil(cfg.d * cfg.elem_bytes / cfg.bpc)
    P = cfg.lanes
    Nmax = cfg.Nkv  # the longest row: what a bypass holds
    L = lat
    dp = cfg.datapath
    first_key = cfg.Nkv - cfg.N + 1

    def U(name, pre=""):
        u = Unit(pre + name, lat[name], ii[name])
        units[pre + name] = u
        return u

    def lmem(reader):
        return cfg.read_latency + beats - 1 + lat[reader] - 1

    def C(name, auto, width=1, pre=""):
        if name in cfg.depths:
            cap = cfg.depths[name]
        elif cfg.default_depth != "auto":
            cap = cfg.default_depth
        else:
            cap = auto
        ch = Channel(pre + name, cap, width)
        chans[pre + name] = ch
        return ch

    kr, vr = U("k_reader"), U("v_reader")
    # lane rows; K/V stream pattern: per run of P query rows of a group, keys of its last row
    # GQA on lanes: a group's g query heads, query rows position by position (query q // g);
    # with one lane, head after head (docs/timing.md, "Parallel lanes").
    gq = cfg.heads // cfg.kv_heads if P > 1 else 1
    groups = cfg.batch * cfg.heads // gq
    nq = gq * cfg.N
    lane_rows = [[] for _ in range(P)]
    runs = []  # (lanes_in_run, keys, run_start)
    for g in range(groups):
        for run_start in range(0, nq, P):
            n_in = min(P, nq - run_start)
            for p in range(n_in):
                q = run_start + p
                lane_rows[p].append(cfg.Nkv if not cfg.causal else q // gq + first_key)
            last = run_start + n_in - 1
            keys = cfg.Nkv if not cfg.causal else last // gq + first_key
            runs.append((n_in, keys, run_start))
    lanes_ch = []
    outs = []
    for p in range(P):
        pre = ("lane%d." % p) if P > 1 else ""
        lrows = lane_rows[p]
        Sl = sum(lrows)
        Rl = len(lrows)
        qr = U("q_reader", pre)
        dot = U("dot_product", pre)
        q_rows = C("q_rows", lmem("q_reader") + 1, cfg.d, pre)
        k_rows = C("k_rows", lmem("k_reader") + 1, cfg.d, pre)
        v_rows = C("v_rows", lmem("v_reader") + 1, cfg.d, pre)
        lanes_ch.append((k_rows, v_rows))
        qr.gen = reader_body(qr, [[q_rows]] * Rl, beats, cfg.read_latency)
        rows_ = lrows
        if dp == "naive":
            rmax, sub, ex, rsum, div, ws = (U(n, pre) for n in (
                "row_max", "subtract", "exp", "row_sum", "divide", "weighted_sum"))
            scores = C("scores", L["dot_product"] + 1, 1, pre)
            sbyp = C("score_bypass", Nmax + L["dot_product"] + L["row_max"], 1, pre)
            maxima = C("maxima", per_row_result_depth(L["row_max"], rows_), 1, pre)
            shifted = C("shifted", L["subtract"] + 1, 1, pre)
            exps = C("exps", L["exp"] + 1, 1, pre)
            ebyp = C("exp_bypass", Nmax + L["exp"] + L["row_sum"], 1, pre)
            sums = C("sums", per_row_result_depth(L["row_sum"], rows_), 1, pre)
            probs = C("probs", L["divide"] + 1, 1, pre)
            out = C("out_rows", L["weighted_sum"] + 1, cfg.d, pre)
            dot.gen = broadcast_body(dot, q_rows, k_rows, [scores, sbyp], rows_)
            rmax.gen = reduce_body(rmax, scores, maxima, rows_)
            sub.gen = broadcast_body(sub, maxima, sbyp, [shifted], rows_)
            ex.gen = map_body(ex, shifted, [exps, ebyp], Sl)
            rsum.gen = reduce_body(rsum, exps, sums, rows_)
            div.gen = broadcast_body(div, sums, ebyp, [probs], rows_)
            ws.gen = vacc_body(ws, probs, v_rows, out, rows_)
        elif dp == "two_pass":
            on, nz, ws = U("online_normalizer", pre), U("normalize", pre), U("weighted_sum", pre)
            scores = C("scores", L["dot_product"] + 1, 1, pre)
            sbyp = C("score_bypass", Nmax + L["dot_product"] + L["online_normalizer"], 1, pre)
            stats = C("row_stats", per_row_result_depth(L["online_normalizer"], rows_), 2, pre)
            probs = C("probs", L["normalize"] + 1, 1, pre)
            out = C("out_rows", L["weighted_sum"] + 1, cfg.d, pre)
            dot.gen = broadcast_body(dot, q_rows, k_rows, [scores, sbyp], rows_)
            on.gen = reduce_body(on, scores, stats, rows_)
            nz.gen = broadcast_body(nz, stats, sbyp, [probs], rows_)
            ws.gen = vacc_body(ws, probs, v_rows, out, rows_)
        elif dp == "reordered":
            rm, rs, ra, rd = (U(n, pre) for n in (
                "running_max", "running_sum", "rescale_accumulate", "row_divide"))
            scores = C("scores", L["dot_product"] + 1, 1, pre)
            srs = C("sum_rescale", L["running_max"] + 1, 2, pre)
            ars = C("acc_rescale", L["running_max"] + 1, 2, pre)
            M = max(L["running_sum"], L["rescale_accumulate"])
            sums = C("sums", joined_row_result_depth(L["running_sum"], M, rows_), 1, pre)
            accr = C("acc_rows", joined_row_result_depth(L["rescale_accumulate"], M, rows_), cfg.d,
                     pre)
            out = C("out_rows", L["row_divide"] + 1, cfg.d, pre)
            dot.gen = broadcast_body(dot, q_rows, k_rows, [scores], rows_)
            rm.gen = map_body(rm, scores, [srs, ars], Sl)
            rs.gen = reduce_body(rs, srs, sums, rows_)
            ra.gen = vacc_body(ra, ars, v_rows, accr, rows_)
            rd.gen = broadcast_body(rd, sums, accr, [out], [1] * Rl)
        else:
            raise ValueError(dp)
        sink = U("sink", pre)
        sink.gen = sink_body(sink, out, Rl)
        outs.append((out, Rl))
    ktargets, vtargets = [], []
    for n_in, keys, run_start in runs:
        for j in range(keys):
            first = 0
            if cfg.causal:
                past = gq * (j + 1 - first_key)
                if past > run_start:
                    first = past - run_start
            ktargets.append([lanes_ch[p][0] for p in range(first, n_in)])
            vtargets.append([lanes_ch[p][1] for p in range(first, n_in)])
    link = None
    if cfg.shared:
        link = SharedLink(cfg.bpc, cfg.d * cfg.elem_bytes)
        link.streams = [kr, vr] + [units[("lane%d." % p if P > 1 else "") + "q_reader"]
                                   for p in range(P)]
        for u in link.streams:
            u.link = link
    kr.gen = reader_body(kr, ktargets, beats, cfg.read_latency)
    vr.gen = reader_body(vr, vtargets, beats, cfg.read_latency)
    return units, chans, outs, link


def _completes_at(u, op):
    """The cycle an operation that can complete now completes at: after its stall, if any."""
    kind, ch = op[0], op[1]
    if kind == "req":
        return u.t
    if kind == "r":
        return max(u.t, ch.ready[len(ch.free)])
    k = len(ch.ready)
    return max(u.t, ch.free[k - ch.cap] if k >= ch.cap else 0)


def _resume(u):
    try:
        u.pending = next(u.gen)
    except StopIteration:
        u.done = True


def _passes_limit(u, op, can, limit):
    """docs/timing.md, "Watchdog": a unit stops at the first operation that finds its cycle past
    the limit, at its start or after its stall, which is counted in full."""
    if u.t > limit:
        return True
    if not can or op[0] == "req":
        return False
    wait = _completes_at(u, op) - u.t
    if u.t + wait <= limit:
        return False
    if op[0] == "r":
        op[1].cstall += wait
        if not op[1].free:
            op[1].first_cstall = wait
        u.starved += wait
    else:
        op[1].pstall += wait
        u.blocked += wait
    u.t += wait
    return True


def run(cfg):
    """Runs cfg to its end (complete, deadlock or, with cfg.max_cycles, the watchdog's stop)."""
    limit = getattr(cfg, "max_cycles", None)
    units, chans, outs, link = build(cfg)
    order = list(units.values())
    for u in order:
        _resume(u)
    while True:
        progress = False
        for u in order:
            while not u.done:
                op = u.pending
                kind, ch = op[0], op[1]
                can = kind == "req" or (ch.can_read() if kind == "r" else ch.can_write())
                if limit is not None and _passes_limit(u, op, can, limit):
                    u.done = u.stopped = progress = True
                    break
                if kind == "req":
                    i = link.choose()
                    if i is None or link.streams[i] is not u:
                        break
                    link.grant(i)
                elif not can:
                    break
                elif kind == "r":
                    ch.do_read(u)
                else:
                    if u.t0 is None:
                        u.t0 = u.t
                    ch.do_write(u, op[2] if kind == "wd" else u.t0 + u.L)
                progress = True
                _resume(u)
        if progress:
            continue
        # Nothing can move: a shared link grants its earliest request, if any.
        i = link.choose(force=True) if link is not None else None
        if i is None:
            break
        link.grant(i)
        _resume(link.streams[i])
    complete = all(len(o.free) == n for o, n in outs)
    stopped = any(u.stopped for u in order)
    waits = []
    if not complete:
        for u in order:
            if u.done:
                continue
            kind, ch = u.pending[0], u.pending[1]
            if ch is None:
                waits.append((u.name, "link", None, 0, 0, u.t))
            else:
                fill = len(ch.ready) - len(ch.free)
                waits.append((u.name, "read" if kind == "r" else "write", ch.name, fill, ch.cap,
                              u.t))
    res = dict(
        status="ok" if complete else ("timeout" if stopped else "deadlock"),
        cycles=max(o.ready[-1] for o, n in outs if n) if complete else None,
        span=max(u.t for u in order),
        channels={n: c.stats() for n, c in chans.items()},
        units={n: dict(firings=u.firings, busy=u.firings * u.II, starved=u.starved,
                       blocked=u.blocked, t_end=u.t) for n, u in units.items()},
        waits=waits,
    )
    if link is not None and link.grants:
        # The link's idle cycles before its last beat (docs/timing.md, "A shared memory link").
        last = max(g[2] for g in link.grants)
        res["link_idle_cycles"] = last - (-(-link.bytes // link.B) - 1)
        requests = [g[0] for g in link.grants]
        res["grants_in_time_order"] = all(a <= b for a, b in zip(requests, requests[1:]))
    return res


# ----------------------------------------------------------------------------- closed forms


def closed_form(cfg):
    L = cfg.lat
    beats = math.ceil(cfg.d * cfg.elem_bytes / cfg.bpc)
    Lmem = cfg.read_latency + beats - 1 + L["k_reader"] - 1
    rows = cfg.rows()
    S = sum(rows)
    Nkv = cfg.Nkv
    if cfg.datapath == "naive":
        return (S + 2 * Nkv - 3 + Lmem + L["dot_product"] + L["row_max"] + L["subtract"] + L["exp"]
                + L["row_sum"] + L["divide"] + L["weighted_sum"])
    if cfg.datapath == "two_pass":
        return (S + Nkv - 2 + Lmem + L["dot_product"] + L["online_normalizer"] + L["normalize"]
                + L["weighted_sum"])
    if cfg.datapath == "reordered":
        return (S - 1 + Lmem + L["dot_product"] + L["running_max"]
                + max(L["running_sum"], L["rescale_accumulate"]) + L["row_divide"])
    raise ValueError(f"no closed form for {cfg.datapath}")


