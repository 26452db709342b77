#!/usr/bin/env python3
"""The endurance run (run it through scripts/soak.sh).

Phase 1: SOAK_RUNS (default 1,000) heartbeats back to back, release build,
against real services that go down and up on a fixed schedule:

  - redis-server is stopped for 6 runs out of every 50 (an incident: alert
    at the 3rd CRITICAL run, recovery at the first good one);
  - the HTTP API (severity critical) answers 503 for 2 runs out of every 40
    (never reaches alert_threshold 3: must stay silent) and for 10 runs out
    of every 200;
  - PostgreSQL stays up (every run connects and queries it);
  - the webhook sink answers 503 for 2 runs out of every 100, right when an
    alert is decided, so the alert waits in pending_notifications and must
    go out exactly once on a later run.

The expected status of every run, and the alerts and recoveries, come from
simulating the SPEC §7 rules over the schedule; the run's exit code, the
history's `events`, the state and the sink's log must all agree with it.

Phase 2: 5 rounds of 50 concurrent heartbeats (Redis down in rounds 1-2, up
in 3-5): `runs` must grow by exactly 250 and the incident must give exactly
one alert and one recovery.

Prints one PASS/FAIL line per property; exits 1 on any FAIL. Bounded: each
run is killed after 60 s, and soak.sh kills the whole thing after
SOAK_TIMEOUT seconds (default 1200).
"""

import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RUNS = int(os.environ.get("SOAK_RUNS", "1000"))
ROUNDS, CONCURRENCY = 5, 50
THRESHOLD = 3
RSS_MARGIN_MB = 1.0

results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}: {what}{' — ' + detail if detail else ''}", flush=True)


def schedule(i):
    """(redis_down, api_down, sink_down) for run i (1-based)."""
    k = i - 1
    return (k % 50 in range(20, 26), k % 40 in range(5, 7) or k % 200 in range(100, 110), k % 100 in range(22, 24))


def simulate(criticals):
    """SPEC §7 with alert_threshold 3, recovery_threshold 1, no reminders:
    the event of each run (None, 'alert', 'recovery') and the final counters."""
    cf = cs = 0
    active = False
    events = []
    for crit in criticals:
        ev = None
        if crit:
            cf, cs = cf + 1, 0
            if cf >= THRESHOLD and not active:
                active, ev = True, "alert"
        else:
            cf, cs = 0, cs + 1
            if active and cs >= 1:
                active, ev = False, "recovery"
        events.append(ev)
    return events, cf, active


def sink_log(control):
    path = os.path.join(control, "sink.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def kind_of(post):
    body = post.get("body") or {}
    content = body.get("content", "")
    color = (body.get("embeds") or [{}])[0].get("color")
    if content.startswith("❌") and color == 15158332:
        return "alert"
    if content.startswith("✅") and color == 3066993:
        return "recovery"
    return f"unexpected({content[:40]!r}, color {color})"


def footer_of(post):
    return ((post.get("body") or {}).get("embeds") or [{}])[0].get("footer", {}).get("text")


def read_state(root):
    with open(os.path.join(root, "g", "state", "ops_atomic_monitor.json")) as f:
        return json.load(f)


def read_history(root):
    with open(os.path.join(root, "g", "state", "heartbeat_history.jsonl")) as f:
        raw = [line for line in f.read().split("\n") if line]
    parsed = []
    bad = 0
    for line in raw:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            bad += 1
    return parsed, bad


def main():
    exe = h.binary()
    tmp = h.setup("soak")
    runone = h.build_runone(tmp)
    started = time.time()

    h.log("starting redis-server, PostgreSQL (initdb), the HTTP stub and the webhook sink")
    redis, pg, http, control = h.start_services(tmp)
    sink = h.Stub("sink", control)
    labels = ["com.02luka.redis", "com.02luka.api"]
    lc = h.fake_launchctl(os.path.join(tmp, "launchctl"), labels)
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "g", "config"))
    h.write_config(
        os.path.join(root, "g", "config", "ops_atomic.toml"),
        redis=redis.url, database=pg.url, apis=[("Orders API", f"http://127.0.0.1:{http.port}/api/health")],
        labels=labels, webhook=f"http://127.0.0.1:{sink.port}/api/webhooks/123456/soak-token",
        threshold=THRESHOLD, severity_api="critical",
    )
    env = h.clean_env(lc)
    logfile = os.path.join(tmp, "runs.log")
    argv = [exe, "--root", root, "heartbeat"]

    def set_flag(name, on):
        path = os.path.join(control, name)
        if on and not os.path.exists(path):
            open(path, "w").close()
        elif not on and os.path.exists(path):
            os.remove(path)

    def set_redis(down):
        if down and redis.proc:
            redis.stop()
        elif not down and not redis.proc:
            redis.start()

    # ---- phase 1: back to back ------------------------------------------
    plan = [schedule(i) for i in range(1, RUNS + 1)]
    expected_events, expected_cf, expected_active = simulate([r or a for r, a, _ in plan])
    n_alerts = expected_events.count("alert")
    n_recoveries = expected_events.count("recovery")
    h.log(f"phase 1: {RUNS} heartbeats back to back; the schedule gives {n_alerts} alerts, "
          f"{n_recoveries} recoveries, {sum(1 for r, a, _ in plan if r or a)} CRITICAL runs")
    samples = []
    for i, (redis_down, api_down, sink_down) in enumerate(plan, start=1):
        set_redis(redis_down)
        set_flag("api_down", api_down)
        set_flag("sink_down", sink_down)
        samples.append(h.measure(runone, argv, env=env, logfile=logfile, timeout=60))
        if i % 100 == 0:
            h.log(f"  {i}/{RUNS} runs, {time.time() - started:.0f} s")
    set_redis(False)
    set_flag("api_down", False)
    set_flag("sink_down", False)
    phase1_s = time.time() - started

    want_codes = [2 if (r or a) else 0 for r, a, _ in plan]
    wrong = [(i + 1, s.code, w) for i, (s, w) in enumerate(zip(samples, want_codes)) if s.code != w]
    check(not wrong, f"{RUNS} runs exited with the expected status (0 HEALTHY / 2 CRITICAL)",
          f"{len(wrong)} wrong, first: {wrong[:5]}; see {logfile}" if wrong else "")
    hung = [s.wall_ms for s in samples if s.wall_ms > 10_000]
    check(not hung, "no run took more than 10 s", f"{len(hung)} did" if hung else "")

    try:
        st = read_state(root)
        check(True, "state file parses as JSON")
    except (OSError, ValueError) as e:
        st = {}
        check(False, "state file parses as JSON", str(e))
    check(st.get("runs") == RUNS, f"state runs == {RUNS}", f"runs = {st.get('runs')}")
    check(st.get("pending_notifications") == [], "no pending notifications",
          f"{len(st.get('pending_notifications') or [])} pending")
    check(st.get("alert_active") == expected_active and st.get("consecutive_failures") == expected_cf,
          "alert_active and consecutive_failures match the schedule",
          f"alert_active={st.get('alert_active')} consecutive_failures={st.get('consecutive_failures')}")
    corrupt = glob.glob(os.path.join(root, "g", "state", "*.corrupt-*"))
    check(not corrupt, "no state file was ever found corrupt", ", ".join(corrupt))

    hist, bad = read_history(root)
    check(len(hist) == RUNS and bad == 0, f"history has {RUNS} lines that all parse", f"{len(hist)} lines, {bad} bad")
    got_events = [(i + 1, ev) for i, line in enumerate(hist) for ev in line.get("events", [])]
    want_events = [(i + 1, ev) for i, ev in enumerate(expected_events) if ev]
    check(got_events == want_events, "history events (alert/recovery) are exactly the simulated ones, on the same runs",
          f"{len(got_events)} vs {len(want_events)} expected" if got_events != want_events else
          f"{n_alerts} alerts, {n_recoveries} recoveries")
    reports = glob.glob(os.path.join(root, "g", "reports", "ops_atomic", "heartbeat_*.md"))
    check(len(reports) == RUNS, f"{RUNS} reports written", f"{len(reports)}")

    posts = sink_log(control)
    delivered = [p for p in posts if p["code"] == 200]
    refused = len(posts) - len(delivered)
    kinds = [kind_of(p) for p in delivered]
    check(kinds.count("alert") == n_alerts, f"sink received every alert exactly once ({n_alerts})",
          f"got {kinds.count('alert')}")
    check(kinds.count("recovery") == n_recoveries == n_alerts,
          f"sink received every recovery exactly once ({n_recoveries}), as many as alerts",
          f"got {kinds.count('recovery')}")
    check(kinds == [ev for _, ev in want_events], "deliveries arrived in order (alert, recovery, alert, …)")
    footers = [footer_of(p) for p in delivered]
    check(len(set(footers)) == len(footers), "no message was delivered twice (distinct report names in footers)")
    check(refused > 0 and all(p["body"].get("allowed_mentions") == {"parse": []} for p in delivered),
          "every post had allowed_mentions {parse: []}; sink outages were exercised",
          f"{refused} posts answered 503 and were retried on later runs")

    rss = [s.rss_mb for s in samples]
    healthy_rss = [s.rss_mb for s, w in zip(samples, want_codes) if w == 0]
    first, last = h.median(healthy_rss[:100]), h.median(healthy_rss[-100:])
    check(abs(rss[-1] - rss[0]) <= RSS_MARGIN_MB and abs(last - first) <= RSS_MARGIN_MB,
          f"memory flat: peak RSS run #1 vs run #{RUNS} within {RUNS and RSS_MARGIN_MB} MB",
          f"run #1 {rss[0]:.1f} MB, run #{RUNS} {rss[-1]:.1f} MB; median of the first 100 healthy runs "
          f"{first:.1f} MB, last 100 {last:.1f} MB; max {max(rss):.1f} MB")
    buckets = [samples[i:i + 100] for i in range(0, RUNS, 100)]
    h.log("per 100 runs — median wall ms / median peak RSS MB: " + ", ".join(
        f"{h.median([s.wall_ms for s in b]):.0f}/{h.median([s.rss_mb for s in b]):.1f}" for b in buckets))
    h.log(f"phase 1 took {phase1_s:.0f} s")

    # ---- phase 2: concurrent rounds -------------------------------------
    h.log(f"phase 2: {ROUNDS} rounds of {CONCURRENCY} concurrent heartbeats (Redis down in rounds 1-2)")
    before_posts = len(delivered)
    codes = []
    for rnd in range(1, ROUNDS + 1):
        set_redis(rnd <= 2)
        procs = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(CONCURRENCY)]
        round_codes = []
        for p in procs:
            try:
                round_codes.append(p.wait(timeout=120))
            except subprocess.TimeoutExpired:
                p.kill()
                round_codes.append(p.wait())
        codes.append(round_codes)
    set_redis(False)
    want = [2, 2, 0, 0, 0]
    wrong = [(r + 1, c) for r, rc in enumerate(codes) for c in rc if c != want[r]]
    check(not wrong, f"{ROUNDS * CONCURRENCY} concurrent runs exited with the expected status",
          f"{len(wrong)} wrong: {wrong[:5]}" if wrong else "")
    st = read_state(root)
    total = RUNS + ROUNDS * CONCURRENCY
    check(st.get("runs") == total, f"runs exact after the concurrent rounds: {total}", f"runs = {st.get('runs')}")
    check(st.get("pending_notifications") == [] and st.get("alert_active") is False,
          "nothing pending, no alert active after the concurrent rounds")
    hist, bad = read_history(root)
    check(len(hist) == total and bad == 0, f"history has {total} lines that all parse", f"{len(hist)} lines, {bad} bad")
    new_events = [ev for line in hist[RUNS:] for ev in line.get("events", [])]
    check(sorted(new_events) == ["alert", "recovery"], "the concurrent incident decided exactly one alert and one recovery",
          f"events {new_events}")
    posts = [p for p in sink_log(control) if p["code"] == 200]
    new_kinds = [kind_of(p) for p in posts[before_posts:]]
    check(new_kinds == ["alert", "recovery"], "the sink received exactly one alert then one recovery",
          f"got {new_kinds}")
    footers = [footer_of(p) for p in posts]
    check(len(set(footers)) == len(footers), "no message was ever delivered twice")
    corrupt = glob.glob(os.path.join(root, "g", "state", "*.corrupt-*"))
    check(not corrupt, "still no corrupt state file")

    failed = results.count(False)
    h.log(f"done in {time.time() - started:.0f} s")
    print(f"{'PASS' if not failed else 'FAIL'}: soak — {len(results) - failed}/{len(results)} checks passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
