#!/usr/bin/env python3
"""Helpers for bench/soak.sh (not meant to be run by hand).

  soak.py rss PID OUT                 sample VmRSS (KiB) and the thread count of PID every second
                                      into OUT ("epoch_ms rss_kib threads" per line) until PID
                                      exits or SIGTERM
  soak.py churn URL TOKEN OUT         the mutation loop: every CREATE_EVERY s, create a planned
                                      release (window CHURN_MIN/CHURN_MAX), deploy it, tick and
                                      waive its manual items, plus a few calls whose 4xx is
                                      expected (deploy twice: 409, tick an automated item: 409,
                                      create without the token: 401); on SIGTERM writes a JSON
                                      summary to OUT
  soak.py metric URL NAME             sum of a metric family's samples in URL/metrics
  soak.py report ARGS...              the final report and checks (see report() below); exit
                                      status 1 when a check fails

Everything talks to 127.0.0.1 only; the churn loop uses one keep-alive connection.
"""
import http.client
import json
import os
import re
import signal
import sys
import time
import urllib.parse
import urllib.request

STOP = False


def _stop(*_):
    global STOP
    STOP = True


def now_ms():
    return int(time.time() * 1000)


# ---------------------------------------------------------------------------------------------
# rss


def rss(pid, out):
    signal.signal(signal.SIGTERM, _stop)
    with open(out, "w") as f:
        next_t = time.monotonic()
        while not STOP:
            try:
                with open(f"/proc/{pid}/status") as s:
                    st = s.read()
            except OSError:
                break
            m = re.search(r"^VmRSS:\s+(\d+)", st, re.M)
            t = re.search(r"^Threads:\s+(\d+)", st, re.M)
            if not m:  # a zombie has no VmRSS
                break
            f.write(f"{now_ms()} {m.group(1)} {t.group(1) if t else 0}\n")
            f.flush()
            next_t += 1.0
            time.sleep(max(0.0, next_t - time.monotonic()))


# ---------------------------------------------------------------------------------------------
# churn


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


class Client:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None
        self.calls = {}  # kind -> {"status": {code: n}, "ms": [..], "unexpected": n}
        self.five = 0
        self.unexpected = 0
        self.conn_errors = 0
        self.samples = []  # first few unexpected answers

    def call(self, kind, method, path, body, expect, auth=True):
        """One request; `expect` = the statuses that are right for this call. Returns
        (status, parsed JSON or None); status 0 = the connection failed."""
        rec = self.calls.setdefault(kind, {"status": {}, "ms": [], "unexpected": 0})
        headers = {"content-type": "application/json"}
        if auth and self.token:
            headers["authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else b""
        t0 = time.monotonic()
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                status = r.status
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                break
            except (OSError, http.client.HTTPException) as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                # A kept-alive connection the server closed between calls: retry once on a new one.
                if attempt == 2 or not isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    self.conn_errors += 1
                    rec["status"]["conn-error"] = rec["status"].get("conn-error", 0) + 1
                    if len(self.samples) < 10:
                        self.samples.append(f"{kind} {method} {path}: connection error {e!r}")
                    return 0, None
        ms = (time.monotonic() - t0) * 1000
        rec["ms"].append(ms)
        rec["status"][str(status)] = rec["status"].get(str(status), 0) + 1
        if status >= 500:
            self.five += 1
        if status not in expect:
            self.unexpected += 1
            rec["unexpected"] += 1
            if len(self.samples) < 10:
                self.samples.append(f"{kind} {method} {path}: {status} {raw[:300]!r}")
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def churn(url, token, out):
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    every = float(os.environ.get("CREATE_EVERY", "2"))
    wmin = os.environ.get("CHURN_MIN", "1s")
    wmax = os.environ.get("CHURN_MAX", "2s")
    prefix = os.environ.get("CHURN_SERVICE", "soak-churn")
    c = Client(url, token)
    manual = automated = None
    created = deployed = ticks = waives = cycles = 0
    started = now_ms()
    t0 = time.monotonic()
    i = 0
    while not STOP:
        i += 1
        st, rel = c.call("create", "POST", "/api/v1/releases",
                         {"service": prefix, "version": f"2.0.{i}", "planned": True,
                          "window": {"min": wmin, "max": wmax}}, {201})
        if st == 201 and rel:
            created += 1
            rid = rel["id"]
            if manual is None:
                _, full = c.call("get", "GET", f"/api/v1/releases/{rid}", None, {200})
                items = (full or {}).get("items") or []
                manual = [x["id"] for x in items if not x.get("automated")]
                automated = [x["id"] for x in items if x.get("automated")]
            q = urllib.parse.quote
            st, _ = c.call("deploy", "POST", f"/api/v1/releases/{q(rid)}/deploy", None, {200})
            deployed += st == 200
            for k, item in enumerate(manual or []):
                if STOP:
                    break
                if k % 2 == 0:
                    st, _ = c.call("tick", "POST", f"/api/v1/releases/{q(rid)}/items/{q(item)}/tick",
                                   {"by": "soak", "note": f"cycle {i}"}, {200})
                    ticks += st == 200
                else:
                    st, _ = c.call("waive", "POST", f"/api/v1/releases/{q(rid)}/items/{q(item)}/waive",
                                   {"by": "soak", "reason": "not applicable to the soak test"}, {200})
                    waives += st == 200
            # Calls whose 4xx is the right answer (they must never be a 5xx).
            c.call("deploy-again (409 expected)", "POST", f"/api/v1/releases/{q(rid)}/deploy", None, {409})
            if automated:
                c.call("tick-automated (409 expected)", "POST",
                       f"/api/v1/releases/{q(rid)}/items/{q(automated[i % len(automated)])}/tick",
                       {"by": "soak"}, {409})
        if token:
            c.call("create-no-token (401 expected)", "POST", "/api/v1/releases",
                   {"service": prefix, "version": "never"}, {401}, auth=False)
        cycles += 1
        # Pace: cycle i ends no earlier than t0 + i * every (a slow cycle is not made up for).
        wait = t0 + i * every - time.monotonic()
        while wait > 0 and not STOP:
            time.sleep(min(wait, 0.2))
            wait = t0 + i * every - time.monotonic()
    summary = {
        "started_ms": started, "ended_ms": now_ms(), "cycles": cycles, "created": created,
        "deployed": deployed, "ticks": ticks, "waives": waives, "five_xx": c.five,
        "unexpected": c.unexpected, "conn_errors": c.conn_errors, "samples": c.samples,
        "manual_items": len(manual or []),
        "calls": {k: {"status": v["status"], "unexpected": v["unexpected"], "n": len(v["ms"]),
                      "p50_ms": round(pct(v["ms"], 50), 1), "p99_ms": round(pct(v["ms"], 99), 1),
                      "max_ms": round(max(v["ms"]) if v["ms"] else 0, 1)} for k, v in c.calls.items()},
    }
    with open(out + ".tmp", "w") as f:
        json.dump(summary, f, indent=1)
    os.replace(out + ".tmp", out)


# ---------------------------------------------------------------------------------------------
# metrics


def metric(url, name):
    body = urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=30).read().decode()
    s = 0.0
    for line in body.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            s += float(line.rsplit(" ", 1)[1])
    return s


# ---------------------------------------------------------------------------------------------
# report


def dur_s(d):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", d.strip())
    if not m:
        return float(d)
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def kv(line):
    return dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)


def report(a):
    """a: dict of the paths and figures soak.sh collected."""
    fails = []
    mib = 1024.0
    wrk_t0, wrk_t1 = int(a["wrk_t0"]), int(a["wrk_t1"])
    win = float(a["rss_window"])
    ratio_allow, abs_allow = float(a["rss_ratio"]), float(a["rss_abs_mib"])

    # wrk
    wrk_out = open(a["wrk_out"]).read()
    wl = [l for l in wrk_out.splitlines() if l.startswith("SOAK_WRK ")]
    if not wl:
        print("wrk: no summary line; its output was:\n" + wrk_out)
        fails.append("wrk did not report")
        w = {}
    else:
        w = kv(wl[-1])
    bad = [l[len("SOAK_BAD "):] for l in wrk_out.splitlines() if l.startswith("SOAK_BAD ")]
    churn = json.load(open(a["churn_out"])) if os.path.exists(a["churn_out"]) else None

    # RSS
    samples = []
    for line in open(a["rss_out"]):
        p = line.split()
        if len(p) >= 2:
            samples.append((int(p[0]), int(p[1]), int(p[2]) if len(p) > 2 else 0))
    during = [s for s in samples if wrk_t0 <= s[0] <= wrk_t1]
    first = [s[1] for s in during if s[0] < wrk_t0 + win * 1000]
    last = [s[1] for s in during if s[0] > wrk_t1 - win * 1000]

    print()
    print("== soak result ==")
    span = (wrk_t1 - wrk_t0) / 1000
    if w:
        print(f"API load (wrk -t{a['threads']} -c{a['conns']} -d{a['duration']}s, mix {a['mix']}):")
        print(f"  requests {w['requests']} in {float(w['duration_s']):.1f} s = {float(w['rps']):.1f} req/s; "
              f"latency p50 {float(w['p50_ms']):.2f} ms, p99 {float(w['p99_ms']):.2f} ms, max {float(w['max_ms']):.2f} ms; "
              f"read {int(w['bytes']) / 1e6:.0f} MB")
        print(f"  status: 2xx {w['n2xx']}, expected 404 (unknown release id) {w['n404x']}, "
              f"other 4xx {w['n4xx']}, 5xx {w['n5xx']}, other {w['nother']}")
        print(f"  socket errors: connect {w['e_connect']}, read {w['e_read']}, write {w['e_write']}, timeout {w['e_timeout']}")
        for b in bad:
            print(f"  unexpected answer: {b}")
    if churn:
        print(f"mutation loop (one release every {a['create_every']} s, window {a['churn_min']}/{a['churn_max']}; "
              f"{churn['manual_items']} manual items each, alternately ticked and waived):")
        print(f"  releases created {churn['created']}, deployed {churn['deployed']}, ticks {churn['ticks']}, "
              f"waives {churn['waives']}, cycles {churn['cycles']}")
        print(f"  5xx {churn['five_xx']}, unexpected status {churn['unexpected']}, connection errors {churn['conn_errors']}")
        for k, v in churn["calls"].items():
            st = ", ".join(f"{s}: {n}" for s, n in sorted(v["status"].items()))
            print(f"    {k:<32} n={v['n']:<5} p50 {v['p50_ms']:7.1f} ms  p99 {v['p99_ms']:7.1f} ms  max {v['max_ms']:7.1f} ms  [{st}]")
        for s in churn["samples"]:
            print(f"  unexpected: {s}")
    elif a["churn"] == "1":
        print("mutation loop: no summary (did it crash? see its stderr above)")
        fails.append("the mutation loop did not report")
    else:
        print("mutation loop: off (CHURN=0)")

    runs0, runs1 = float(a["runs0"]), float(a["runs1"])
    per_rel = int(a["probes"]) / dur_s(a["every"])
    base_rate = int(a["base"]) * per_rel
    # A churn release runs its (spread) probes from deploy until its window closes at max; count
    # the releases actually added during the run (a slow cycle is not made up for).
    added = int(a["rel_end"]) - int(a["rel_start"])
    churn_rate = per_rel * min(dur_s(a["churn_max"]), dur_s(a["every"])) * added / max(span, 1e-9)
    print(f"probes executed during the wrk run: {runs1 - runs0:.0f} = {(runs1 - runs0) / max(span, 1e-9):.1f}/s "
          f"(planned ~{base_rate + churn_rate:.0f}/s: {a['base']} base release(s) x {a['probes']} probes / {a['every']} = "
          f"{base_rate:.0f}/s + {added} churn releases x ~{per_rel * min(dur_s(a['churn_max']), dur_s(a['every'])):.0f} runs "
          f"= ~{churn_rate:.0f}/s); {runs1:.0f} since start")
    print(f"releases known to the daemon: {a['rel_start']} when wrk started, {a['rel_end']} at the end")

    print(f"memory (VmRSS every 1 s, {len(during)} samples during wrk):")
    if first and last:
        f_mean, l_mean = sum(first) / len(first), sum(last) / len(last)
        f_max, l_max = max(first), max(last)
        per_rel_kib = float(a["rss_per_release_kib"])
        limit = f_mean * ratio_allow + abs_allow * mib + added * per_rel_kib
        print(f"  first {win:.0f} s: mean {f_mean / mib:.1f} MiB, max {f_max / mib:.1f} MiB; "
              f"last {win:.0f} s: mean {l_mean / mib:.1f} MiB, max {l_max / mib:.1f} MiB")
        allrss = [s[1] for s in samples]
        print(f"  whole run: min {min(allrss) / mib:.1f} MiB, max {max(allrss) / mib:.1f} MiB; VmHWM at the end "
              f"{int(a['hwm']) / mib:.1f} MiB; threads {during[0][2]} -> {during[-1][2]}")
        # Slope over the wrk run (least squares), to tell a trend from a step.
        xs = [(s[0] - wrk_t0) / 1000 for s in during]
        ys = [s[1] / mib for s in during]
        n = len(xs)
        mx, my = sum(xs) / n, sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs) or 1e-9
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
        print(f"  trend over the run: {slope * 60:+.2f} MiB/min (least squares)")
        if added:
            print(f"  growth last-vs-first mean {(l_mean - f_mean) / mib:+.2f} MiB with {added} releases added meanwhile "
                  f"= {(l_mean - f_mean) / added:+.0f} KiB per release added")
        if os.path.exists(a["malloc_out"]):
            for l in open(a["malloc_out"]):
                print(f"  glibc heap {l.strip()}")
        # Thumbnail of the series: one value per 5 s.
        step = 5
        thumb = []
        for k in range(0, int(span) + 1, step):
            v = [s[1] for s in during if k * 1000 <= s[0] - wrk_t0 < (k + step) * 1000]
            if v:
                thumb.append(f"{max(v) / mib:.0f}")
        print(f"  series (max per {step} s, MiB): {' '.join(thumb)}")
        ok = l_mean <= limit
        print(f"  check: mean RSS of the last {win:.0f} s <= mean of the first {win:.0f} s x {ratio_allow:.2f} + "
              f"{abs_allow:g} MiB + {added} releases added x {per_rel_kib:g} KiB = {limit / mib:.1f} MiB: "
              f"{l_mean / mib:.1f} MiB -> {'ok' if ok else 'FAIL'}")
        if not ok:
            fails.append(f"RSS grew: last {win:.0f} s mean {l_mean / mib:.1f} MiB > {limit / mib:.1f} MiB")
    else:
        print("  not enough samples")
        fails.append("no RSS samples during the wrk run (did the daemon die?)")

    # The checks.
    print("checks:")

    def check(name, ok, detail=""):
        print(f"  [{'ok' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}")
        if not ok:
            fails.append(name)

    if w:
        check("no 5xx from the API under wrk", int(w["n5xx"]) == 0, f"{w['n5xx']} 5xx")
        check("no unexpected non-2xx under wrk", int(w["n4xx"]) + int(w["nother"]) == 0,
              f"{int(w['n4xx']) + int(w['nother'])} unexpected, {w['n404x']} expected 404s")
        errs = sum(int(w[k]) for k in ("e_connect", "e_read", "e_write", "e_timeout"))
        check("no socket errors or timeouts under wrk", errs == 0, f"{errs} (wrk --timeout {a['wrk_timeout']})")
    if churn:
        check("no 5xx in the mutation loop", churn["five_xx"] == 0, f"{churn['five_xx']} 5xx")
        check("every mutation answered as expected", churn["unexpected"] == 0 and churn["conn_errors"] == 0,
              f"{churn['unexpected']} unexpected, {churn['conn_errors']} connection errors")
        check("releases were created", churn["created"] > 0, f"{churn['created']}")
    planned = (base_rate + churn_rate) * span
    check("probes kept running (>= 50% of the planned runs)", runs1 - runs0 >= 0.5 * planned,
          f"{runs1 - runs0:.0f} of ~{planned:.0f} planned ({(runs1 - runs0) / max(planned, 1e-9) * 100:.0f}%)")
    check("daemon still alive", a["alive"] == "1")
    check("/-/ready is 200 at the end", a["ready"] == "200", f"HTTP {a['ready']}")
    log = open(a["log"], errors="replace").read().splitlines() if os.path.exists(a["log"]) else []
    log = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in log]
    warn = [l for l in log if re.search(r"\b(WARN|ERROR)\b", l)]
    panic = [l for l in log if "panicked" in l]
    print(f"daemon log: {len(log)} lines, {len(warn)} WARN/ERROR, {len(panic)} panics")
    for l in (panic + warn)[:8]:
        print(f"  {l[:300]}")
    check("no panic in the daemon log", not panic)
    print()
    if fails:
        print("SOAK FAILED: " + "; ".join(fails))
        return 1
    print("SOAK PASSED")
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "rss":
        rss(int(sys.argv[2]), sys.argv[3])
    elif cmd == "churn":
        churn(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "metric":
        print(f"{metric(sys.argv[2], sys.argv[3]):.0f}")
    elif cmd == "report":
        sys.exit(report(dict(x.split("=", 1) for x in sys.argv[2:])))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
