#!/usr/bin/env python3
"""The heartbeat benchmark (run it through scripts/bench.sh).

Real redis-server and PostgreSQL, an asyncio HTTP stub and a fake launchctl,
all on loopback in one temp folder. Every run of every scenario is measured
by runone (C, fork + wait4): wall time, user+sys CPU and peak RSS of the
process and everything it waited for. The healthy, scale, baseline and
spawn-floor scenarios are interleaved round by round, so background load
hits them alike and their ratios are fair.

Environment: BENCH_RUNS (default 30), BENCH_SLOW_RUNS (hung and daily,
default 20), BENCH_OUT (markdown file to write, default
target/bench/bench-<UTC time>.md), OPS_ATOMIC_BIN (binary under test).
"""

import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "30"))
SLOW_RUNS = int(os.environ.get("BENCH_SLOW_RUNS", "20"))
WARMUP = 2
TIMEOUTS = (3000, 5000, 5000)  # redis, database, api (the defaults)
HUNG_LIMIT_MS = max(TIMEOUTS) + 250


def make_root(tmp, name, **cfg):
    root = os.path.join(tmp, name)
    os.makedirs(os.path.join(root, "g", "config"))
    h.write_config(os.path.join(root, "g", "config", "ops_atomic.toml"), **cfg)
    return root


BASELINE_SH = r"""#!/bin/bash
# The healthy checks the way the old shell heartbeat did them: one program
# per check, in sequence, then a report written with shell builtins.
fail=0
out=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1); [ "$out" = PONG ] || fail=1
psql "$DATABASE_URL" -X -q -t -c 'select 1' >/dev/null 2>&1 || fail=1
curl -fsS -m 5 -o /dev/null "$API_1" || fail=1
curl -fsS -m 5 -o /dev/null "$API_2" || fail=1
list=$(launchctl list)
for label in $LABELS; do
  case "$list" in *"	$label"*) ;; *) fail=1 ;; esac
done
printf '# heartbeat\nredis: %s\nfail: %s\n' "$out" "$fail" > "$ROOT/report.md"
exit $fail
"""


def regenerate_week(root, template_line, report_text):
    """A week of heartbeats: 2,016 history lines 5 min apart ending now, and
    2,016 heartbeat reports dated the same way (name and mtime)."""
    g = os.path.join(root, "g")
    reports = os.path.join(g, "reports", "ops_atomic")
    shutil.rmtree(reports, ignore_errors=True)
    os.makedirs(reports)
    os.makedirs(os.path.join(g, "state"), exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    base = json.loads(template_line)
    lines = []
    for i in range(2016, 0, -1):
        t = now - datetime.timedelta(minutes=5 * i)
        base["ts"] = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lines.append(json.dumps(base, separators=(",", ":")))
        path = os.path.join(reports, f"heartbeat_{t.strftime('%Y-%m-%d_%H-%M-%S')}.md")
        with open(path, "w") as f:
            f.write(report_text)
        ts = t.timestamp()
        os.utime(path, (ts, ts))
    with open(os.path.join(g, "state", "heartbeat_history.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")


def stats(samples):
    wall = [s.wall_ms for s in samples]
    cpu = [s.cpu_ms for s in samples]
    rss = [s.rss_mb for s in samples]
    codes = {}
    for s in samples:
        codes[s.code] = codes.get(s.code, 0) + 1
    return {
        "n": len(samples),
        "wall_med": h.median(wall), "wall_p95": h.percentile(wall, 95), "wall_max": max(wall),
        "cpu_med": h.median(cpu), "cpu_p95": h.percentile(cpu, 95),
        "user_med": h.median([s.user_ms for s in samples]), "sys_med": h.median([s.sys_ms for s in samples]),
        "rss_med": h.median(rss), "rss_max": max(rss),
        "codes": ", ".join(f"{n}× exit {c}" for c, n in sorted(codes.items())),
    }


def main():
    exe = h.binary()
    tmp = h.setup("bench")
    runone = h.build_runone(tmp)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    h.log(f"binary {exe} ({version}); temp folder {tmp}")

    h.log("starting redis-server, PostgreSQL (initdb), the HTTP stub and the hung listeners")
    redis, pg, http, _ = h.start_services(tmp)
    hung = h.Stub("hung", 3)
    api = f"http://127.0.0.1:{http.port}"

    labels2 = ["com.02luka.redis", "com.02luka.api"]
    labels50 = [f"com.02luka.agent{i:02d}" for i in range(50)]
    lc2 = h.fake_launchctl(os.path.join(tmp, "launchctl-2"), labels2)
    lc50 = h.fake_launchctl(os.path.join(tmp, "launchctl-50"), labels50)
    apis2 = [("API Health", f"{api}/api/health"), ("API Status", f"{api}/api/status")]
    apis100 = [(f"API {i:03d}", f"{api}/api/{i}/health") for i in range(100)]

    roots = {
        "healthy": make_root(tmp, "healthy", redis=redis.url, database=pg.url, apis=apis2, labels=labels2),
        "scale": make_root(tmp, "scale", redis=redis.url, database=pg.url, apis=apis100, labels=labels50),
        "hung": make_root(
            tmp, "hung", redis=f"redis://127.0.0.1:{hung.ports[0]}",
            database=f"postgresql://postgres@127.0.0.1:{hung.ports[1]}/postgres",
            apis=[("API Health", f"http://127.0.0.1:{hung.ports[2]}/api/health"),
                  ("API Status", f"http://127.0.0.1:{hung.ports[2]}/api/status")],
            labels=labels2, deadline_ms=10000, timeouts=TIMEOUTS),
        "daily": make_root(tmp, "daily", redis=redis.url, database=pg.url, apis=apis2, labels=labels2,
                           extra="\n[daily]\nretention_days = 1\n"),
    }
    env = {name: h.clean_env(lc50 if name == "scale" else lc2) for name in roots}

    baseline_root = os.path.join(tmp, "baseline")
    os.makedirs(baseline_root)
    baseline_sh = os.path.join(tmp, "baseline.sh")
    with open(baseline_sh, "w") as f:
        f.write(BASELINE_SH)
    os.chmod(baseline_sh, 0o755)
    bin_dir = os.path.join(tmp, "bin")
    os.makedirs(bin_dir)
    os.symlink(lc2, os.path.join(bin_dir, "launchctl"))
    benv = h.clean_env(lc2)
    benv.update({"PATH": f"{bin_dir}:{benv['PATH']}", "REDIS_PORT": str(redis.port), "DATABASE_URL": pg.url,
                 "API_1": apis2[0][1], "API_2": apis2[1][1], "LABELS": " ".join(labels2), "ROOT": baseline_root})
    for tool in ("redis-cli", "psql", "curl"):
        if not shutil.which(tool):
            h.die(f"{tool} not found (apt-get install -y redis-tools postgresql-client curl): the baseline needs it")

    logs = os.path.join(tmp, "logs")
    os.makedirs(logs)

    def hb(name):
        return lambda: h.measure(runone, [exe, "--root", roots[name], "heartbeat"], env=env[name],
                                 logfile=os.path.join(logs, f"{name}.log"))

    fast = {
        "healthy": hb("healthy"),
        "scale": hb("scale"),
        "baseline": lambda: h.measure(runone, [baseline_sh], env=benv, logfile=os.path.join(logs, "baseline.log")),
        "floor: /bin/true": lambda: h.measure(runone, ["/bin/true"], env=benv),
        "floor: fake launchctl list": lambda: h.measure(runone, [lc2, "list"], env=benv),
    }
    samples = {k: [] for k in fast}
    h.log(f"interleaved rounds: {WARMUP} warm-up + {RUNS} measured, scenarios {', '.join(fast)}")
    for i in range(WARMUP + RUNS):
        for name, run in fast.items():
            s = run()
            if i >= WARMUP:
                samples[name].append(s)
    for name in ("healthy", "scale", "baseline"):
        bad = [s.code for s in samples[name] if s.code != 0]
        if bad:
            h.die(f"{name}: runs were not HEALTHY (exit codes {bad}); see {logs}/{name}.log")

    h.log(f"hung: {SLOW_RUNS} runs of ~{max(TIMEOUTS) / 1000:.0f} s")
    samples["hung"] = [hb("hung")() for _ in range(SLOW_RUNS)]

    # daily: a week of history and reports, regenerated before every run.
    hist = os.path.join(roots["healthy"], "g", "state", "heartbeat_history.jsonl")
    with open(hist) as f:
        template_line = f.readlines()[-1]
    reports_dir = os.path.join(roots["healthy"], "g", "reports", "ops_atomic")
    with open(os.path.join(reports_dir, sorted(os.listdir(reports_dir))[-1])) as f:
        report_text = f.read()
    daily_state = os.path.join(roots["daily"], "g", "state")
    os.makedirs(daily_state, exist_ok=True)
    shutil.copy(os.path.join(roots["healthy"], "g", "state", "ops_atomic_monitor.json"), daily_state)
    regenerate_week(roots["daily"], template_line, report_text)
    probe = subprocess.run([exe, "--root", roots["daily"], "daily", "--no-notify"], env=env["daily"],
                           capture_output=True, text=True, timeout=120)
    daily_note = None
    if probe.returncode == 3 and "not implemented" in (probe.stdout + probe.stderr):
        daily_note = "not available yet (`ops-atomic daily` is still a stub)"
        h.log(f"daily: {daily_note}")
    else:
        left = len(os.listdir(os.path.join(roots["daily"], "g", "reports", "ops_atomic")))
        h.log(f"daily: probe exit {probe.returncode}; {left} report files left after pruning")
        h.log(f"daily: {SLOW_RUNS} runs, each on a freshly generated week")
        samples["daily"] = []
        for _ in range(SLOW_RUNS):
            regenerate_week(roots["daily"], template_line, report_text)
            samples["daily"].append(h.measure(runone, [exe, "--root", roots["daily"], "daily", "--no-notify"],
                                              env=env["daily"], logfile=os.path.join(logs, "daily.log")))

    st = {k: stats(v) for k, v in samples.items()}
    table = render(st, daily_note, version)
    print(table)
    out = os.environ.get("BENCH_OUT") or os.path.join(
        h.REPO, "target", "bench", f"bench-{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H-%M-%SZ}.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(table)
    h.log(f"results written to {out}")
    failed = [line for line in table.splitlines() if "| ❌" in line]
    return 1 if failed else 0


def fmt(v, unit="ms"):
    return f"{v:.1f} {unit}" if v < 100 else f"{v:.0f} {unit}"


def render(st, daily_note, version):
    def verdict(ok):
        return "✅" if ok else "❌"

    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    lines = [
        f"Machine: {cpus} cores ({model or platform.machine()}), {platform.system()} {platform.release()}; "
        f"{version}, release build; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"{RUNS} runs per fast scenario (after {WARMUP} warm-up, interleaved), {SLOW_RUNS} for hung and daily.",
        "",
        "| scenario | runs | wall median | wall p95 | CPU median (user+sys) | peak RSS median (max) | target | |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    targets = {
        "healthy": ("wall ≤ 25 ms, CPU ≤ 15 ms, RSS ≤ 15 MB",
                    lambda s: s["wall_med"] <= 25 and s["cpu_med"] <= 15 and s["rss_max"] <= 15),
        "scale": ("wall ≤ 100 ms", lambda s: s["wall_med"] <= 100),
        "hung": (f"every run ≤ {HUNG_LIMIT_MS} ms (max {st['hung']['wall_max']:.0f} ms)",
                 lambda s: s["wall_max"] <= HUNG_LIMIT_MS),
        "daily": ("wall ≤ 500 ms", lambda s: s["wall_med"] <= 500),
    }
    names = {
        "healthy": "1. healthy: Redis, PostgreSQL, 2 APIs, 2 labels",
        "scale": "2. scale: 100 APIs, 50 labels",
        "hung": "3. hung: every service accepts, never answers",
        "baseline": "4. baseline: bash + redis-cli, psql, 2× curl, launchctl",
        "daily": "5. daily, a week of history (2,016 lines + reports)",
        "floor: /bin/true": "reference: spawn `/bin/true`",
        "floor: fake launchctl list": "reference: the fake `launchctl list` (dash)",
    }
    for key in ["healthy", "scale", "hung", "baseline", "daily", "floor: /bin/true", "floor: fake launchctl list"]:
        if key == "daily" and key not in st:
            lines.append(f"| {names[key]} | – | – | – | – | – | wall ≤ 500 ms | {daily_note} |")
            continue
        s = st[key]
        target, ok = targets.get(key, ("", None))
        mark = verdict(ok(s)) if ok else ""
        lines.append(
            f"| {names[key]} | {s['n']} | {fmt(s['wall_med'])} | {fmt(s['wall_p95'])} | {fmt(s['cpu_med'])} "
            f"| {s['rss_med']:.1f} MB ({s['rss_max']:.1f}) | {target} | {mark} |"
        )
    hs, sc, bl = st["healthy"], st["scale"], st["baseline"]
    lines += [
        "",
        f"- Growth from 1 to 2 (+98 endpoints, +48 labels): wall +{sc['wall_med'] - hs['wall_med']:.1f} ms "
        f"(×{sc['wall_med'] / hs['wall_med']:.2f}), CPU +{sc['cpu_med'] - hs['cpu_med']:.1f} ms, "
        f"peak RSS +{sc['rss_med'] - hs['rss_med']:.1f} MB; per added endpoint ≈ "
        f"{(sc['cpu_med'] - hs['cpu_med']) / 98 * 1000:.0f} µs CPU.",
        f"- Baseline / healthy: wall ×{bl['wall_med'] / hs['wall_med']:.2f}, CPU ×{bl['cpu_med'] / hs['cpu_med']:.2f} "
        f"(the shell script writes no state and no history).",
        f"- Healthy CPU split: user {hs['user_med']:.1f} ms, sys {hs['sys_med']:.1f} ms. Exit codes: "
        + "; ".join(f"{k} {st[k]['codes']}" for k in ("healthy", "scale", "hung", "baseline") + (("daily",) if "daily" in st else ())),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
