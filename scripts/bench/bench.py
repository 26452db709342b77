#!/usr/bin/env python3
"""The heartbeat benchmark (run it through scripts/bench.sh).

Real redis-server and PostgreSQL, an asyncio HTTP stub, TCP services, a
channel sink, a fake launchctl and a fake osascript, all on loopback in one
temp folder. Every run of every scenario is measured by runone (C, fork +
wait4): wall time, user+sys CPU and peak RSS of the process and everything it
waited for. The scenarios of each table are interleaved round by round, in a
shuffled order, so background load hits them alike and their ratios are
fair. The targets are issue 20's; a missed one makes the exit status 1.

Environment: BENCH_RUNS (default 30), BENCH_SLOW_RUNS (hung, daily, summary,
events, page; default 20), BENCH_OUT (markdown file to write, default
target/bench/bench-<UTC time>.md), OPS_ATOMIC_BIN (binary under test).
"""

import datetime
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
from fullhouse import PARTS, FullHouse  # noqa: E402

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


def regenerate_events(path, checks, lines=100_000, days=30):
    """`lines` event lines over the last `days` days for `checks` [(id, name)]:
    incidents (status, down, notified, status, up, notified), flaps and repairs,
    oldest first, as the heartbeat writes them."""
    rnd = random.Random(20)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    start = now - datetime.timedelta(days=days)
    step = (now - start) / lines
    out = []
    t = start

    def ev(**kw):
        nonlocal t
        t += step
        kw = {"ts": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z", **kw}
        out.append(json.dumps(kw, separators=(",", ":"), ensure_ascii=False))

    while len(out) < lines:
        cid, name = checks[rnd.randrange(len(checks))]
        r = rnd.random()
        if r < 0.8:
            ev(check=cid, name=name, type="status", **{"from": "ok"}, to="fail", message="connection refused")
            ev(check=cid, name=name, type="down", **{"from": None}, message="connection refused (3 failures)")
            ev(type="notified", **{"from": None}, channel="discord", notification="alert")
            ev(check=cid, name=name, type="status", **{"from": "fail"}, to="ok", message="PONG")
            ev(check=cid, name=name, type="up", **{"from": None}, message="PONG", lasted_s=rnd.randrange(300, 7200))
            ev(type="notified", **{"from": None}, channel="discord", notification="recovery")
        elif r < 0.9:
            ev(check=cid, name=name, type="flapping", **{"from": None}, message="7 changes in 20 runs")
            ev(check=cid, name=name, type="stable", **{"from": None}, message="2 changes in 20 runs")
        else:
            ev(check=cid, name=name, type="repair", **{"from": None}, message="`brew services restart x`: exit 0",
               command="brew services restart x", exit=0, output="restarted")
    with open(path, "w") as f:
        f.write("\n".join(out[:lines]) + "\n")


def big_log(path, week_events, mb):
    """An event log of about `mb` MB: months of one check flapping (every
    cycle a status change, a down, two alerts, an up, a recovery), all older
    than 8 days, then the 30 days of `week_events` (real incidents) at its end."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    cycle = (
        '{{"ts":"{t}.000Z","check":"api:flappy","name":"Flappy","type":"status","from":"ok","to":"fail",'
        '"message":"HTTP 503 from http://127.0.0.1:8080/health (expected 200)"}}\n'
        '{{"ts":"{t}.000Z","check":"api:flappy","name":"Flappy","type":"down","from":null,'
        '"message":"HTTP 503 from http://127.0.0.1:8080/health (expected 200) (3 failures)"}}\n'
        '{{"ts":"{t}.000Z","type":"notified","from":null,"channel":"discord","notification":"alert"}}\n'
        '{{"ts":"{t}.000Z","type":"notified","from":null,"channel":"phone","notification":"alert"}}\n'
        '{{"ts":"{u}.000Z","check":"api:flappy","name":"Flappy","type":"up","from":null,"message":"HTTP 200",'
        '"lasted_s":60}}\n'
        '{{"ts":"{u}.000Z","type":"notified","from":null,"channel":"discord","notification":"recovery"}}\n'
    )
    per = len(cycle.format(t="2026-01-01T00:00:00", u="2026-01-01T00:01:00"))
    cycles = max(1, int(mb * 1e6) // per)
    start = now - datetime.timedelta(days=400)
    step = (datetime.timedelta(days=400 - 31)) / cycles
    fmt = "%Y-%m-%dT%H:%M:%S"
    with open(path, "w") as f:
        for i in range(cycles):
            t = start + step * i
            f.write(cycle.format(t=t.strftime(fmt), u=(t + datetime.timedelta(seconds=60)).strftime(fmt)))
        with open(week_events) as w:
            shutil.copyfileobj(w, f)


def regenerate_week_plain(root, template_line):
    """A week of history only (2,016 lines 5 min apart ending now), one check
    failing for an hour every day."""
    g = os.path.join(root, "g", "state")
    os.makedirs(g, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    base = json.loads(template_line)
    lines = []
    for i in range(2016, 0, -1):
        t = now - datetime.timedelta(minutes=5 * i)
        line = json.loads(json.dumps(base))
        line["ts"] = t.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        line.pop("events", None)
        if (i % 288) < 12 and line["checks"]:
            line["checks"][0]["status"] = "fail"
            line["checks"][0]["message"] = "connection refused"
            line["status"] = "CRITICAL"
        lines.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False))
    with open(os.path.join(g, "heartbeat_history.jsonl"), "w") as f:
        f.write("\n".join(lines) + "\n")


def proc_count():
    return sum(1 for d in os.listdir("/proc") if d.isdigit()) if os.path.isdir("/proc") else 0


def has_command(exe, name):
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    return any(line.strip().startswith(name + " ") for line in out.stdout.splitlines())


def npm_baseline(tmp):
    """The seed's Node.js heartbeat with its npm clients installed from the
    lock file into target/bench/baseline_node (kept between runs). Returns
    (script, None) or (None, why)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return None, "node or npm not found (apt-get install -y nodejs npm)"
    src = os.path.join(h.HERE, "baseline_node")
    dest = os.path.join(h.REPO, "target", "bench", "baseline_node")
    os.makedirs(dest, exist_ok=True)
    for name in ("package.json", "package-lock.json", "ops_atomic_monitor.cjs"):
        shutil.copy(os.path.join(src, name), dest)
    stamp = os.path.join(dest, "node_modules", ".ops-atomic-lock")
    with open(os.path.join(src, "package-lock.json"), "rb") as f:
        lock = f.read()
    have = open(stamp, "rb").read() if os.path.exists(stamp) else b""
    if have != lock:
        h.log("installing the Node.js baseline's redis and pg clients (npm ci, pinned by package-lock.json)")
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=dest,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            return None, f"npm ci failed: {(r.stderr or r.stdout).strip()[-300:]}"
        with open(stamp, "wb") as f:
            f.write(lock)
    return os.path.join(dest, "ops_atomic_monitor.cjs"), None


def main():
    exe = h.binary()
    tmp = h.setup("bench")
    runone = h.build_runone(tmp)
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    h.log(f"binary {exe} ({version}); temp folder {tmp}")
    node_script, node_note = npm_baseline(tmp)
    if node_note:
        h.log(f"Node.js baseline: {node_note}")

    h.log("starting redis-server, PostgreSQL (initdb), the HTTP stub, the channel sink and the hung listeners")
    redis, pg, http, control = h.start_services(tmp)
    sink = h.Stub("sink", control)
    hung = h.Stub("hung", 3)
    tcp = h.Stub("tcp", control, "svc0", "svc1", "svc2", *[f"t{i:02d}" for i in range(50)])
    api = f"http://127.0.0.1:{http.port}"

    labels2 = ["com.02luka.redis", "com.02luka.api"]
    labels50 = [f"com.02luka.agent{i:02d}" for i in range(50)]
    lc2 = h.fake_launchctl(os.path.join(tmp, "launchctl-2"), labels2)
    lc50 = h.fake_launchctl(os.path.join(tmp, "launchctl-50"), labels50)
    apis2 = [("API Health", f"{api}/api/health"), ("API Status", f"{api}/api/status")]
    apis100 = [(f"API {i:03d}", f"{api}/api/{i}/health") for i in range(100)]
    needles = ["redis-server", "postgres", "stubs.py"]
    scale_extra = "".join(
        f'\n[[tcp]]\nname = "t{i:02d}"\naddress = "127.0.0.1:{p}"\n' for i, p in enumerate(tcp.ports[3:53])
    ) + "".join(
        f'\n[[process]]\nname = "p{i:02d}"\ncmdline_contains = "{needles[i % 3]}"\n' for i in range(20)
    )
    fh = FullHouse(os.path.join(tmp, "fullhouse"), redis=redis.url, pg=pg.url, api_port=http.port,
                   sink_port=sink.port, labels=labels2, process_needles=needles, tcp_ports=tcp.ports[:3])
    # The full house + a push: a real Pushgateway (Debian's prometheus-pushgateway) on a free port.
    push_port = h.free_port()
    pushgateway = h.spawn(["/usr/bin/prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{push_port}"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not h.wait_port(push_port, pushgateway, "prometheus-pushgateway"):
        h.die("prometheus-pushgateway exited at start (apt-get install -y prometheus-pushgateway)")
    docker_sock = os.path.join(tmp, "docker.sock")
    h.Stub("docker", docker_sock)
    hung_cmd = os.path.join(tmp, "hang.sh")
    with open(hung_cmd, "w") as f:
        f.write("#!/bin/sh\nexec sleep 60\n")
    os.chmod(hung_cmd, 0o755)

    roots = {
        "healthy": make_root(tmp, "healthy", redis=redis.url, database=pg.url, apis=apis2, labels=labels2),
        "fullhouse": fh.make_root(tmp, "fullhouse-root"),
        "incident": fh.make_root(tmp, "incident-root", macos=True),
        "fullhouse+push": fh.make_root(tmp, "fullhouse-push-root", push=f"http://127.0.0.1:{push_port}"),
        "fullhouse+conditions": fh.make_root(tmp, "fullhouse-conditions-root", conditions=True),
        "fullhouse+stack": fh.make_root(tmp, "fullhouse-stack-root", docker=docker_sock),
        "scale": make_root(tmp, "scale", redis=redis.url, database=pg.url, apis=apis100, labels=labels50,
                           extra=scale_extra),
        "hung": make_root(
            tmp, "hung", redis=f"redis://127.0.0.1:{hung.ports[0]}",
            database=f"postgresql://postgres@127.0.0.1:{hung.ports[1]}/postgres",
            apis=[("API Health", f"http://127.0.0.1:{hung.ports[2]}/api/health"),
                  ("API Status", f"http://127.0.0.1:{hung.ports[2]}/api/status")],
            labels=labels2, deadline_ms=10000, timeouts=TIMEOUTS,
            extra=f'\n[[command]]\nname = "hung plugin"\ncommand = ["{hung_cmd}"]\ntimeout_s = 5\n'),
        "daily": make_root(tmp, "daily", redis=redis.url, database=pg.url, apis=apis2, labels=labels2,
                           extra="\n[daily]\nretention_days = 1\n"),
        "empty": make_root(tmp, "empty", labels=[]),
        "process1": make_root(tmp, "process1", labels=[],
                              extra='\n[[process]]\nname = "redis"\ncmdline_contains = "redis-server"\n'),
    }
    for part in PARTS:
        roots[f"-{part}"] = fh.make_root(tmp, f"fullhouse-without-{part}", without=(part,))
    env = {name: h.clean_env(lc50 if name == "scale" else lc2) for name in roots}
    for name in roots:
        if name in ("fullhouse", "incident", "fullhouse+push", "fullhouse+conditions", "fullhouse+stack") or name.startswith("-"):
            env[name] = fh.env(lc2)
    for name, root in roots.items():
        r = subprocess.run([exe, "--root", root, "config", "check"], env=env[name], capture_output=True, text=True)
        if r.returncode != 0:
            h.die(f"{name}: config check failed:\n{r.stdout}{r.stderr}")

    # The shell baseline, as before.
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
    node_root = os.path.join(tmp, "node")
    os.makedirs(node_root)
    nenv = dict(benv, ROOT=node_root, REDIS_URL=redis.url, API_URLS=" ".join(f"{n.replace(' ', '_')}={u}"
                                                                              for n, u in apis2))

    logs = os.path.join(tmp, "logs")
    os.makedirs(logs)

    def hb(name, *args):
        return lambda: h.measure(runone, [exe, "--root", roots[name], "heartbeat", *args], env=env[name],
                                 logfile=os.path.join(logs, f"{name}.log"))

    recoveries = []

    def incident():
        """The alert run (measured), then its recovery run (kept aside), so
        every alert run starts from a healthy state."""
        run = hb("incident")
        open(fh.flag, "w").close()
        alert = run()
        os.remove(fh.flag)
        recoveries.append(run())
        return alert

    fast = {
        "healthy": hb("healthy"),
        "fullhouse": hb("fullhouse"),
        "fullhouse+push": hb("fullhouse+push"),
        "fullhouse+conditions": hb("fullhouse+conditions"),
        "fullhouse+stack": hb("fullhouse+stack"),
        "incident": incident,
        "scale": hb("scale"),
        "baseline": lambda: h.measure(runone, [baseline_sh], env=benv, logfile=os.path.join(logs, "baseline.log")),
        "floor: /bin/true": lambda: h.measure(runone, ["/bin/true"], env=benv),
        # A job's wrapper (issue 28): the full house's config is read for its secrets.
        "run /bin/true": lambda: h.measure(runone, [exe, "--root", roots["fullhouse"], "run", "bench", "--",
                                                    "/bin/true"], env=env["fullhouse"]),
        "floor: fake launchctl list": lambda: h.measure(runone, [lc2, "list"], env=benv),
    }
    if node_script:
        fast["node"] = lambda: h.measure(runone, [shutil.which("node"), node_script], env=nenv,
                                         logfile=os.path.join(logs, "node.log"))
    samples = interleave(fast, RUNS, "main")
    samples["incident recovery"] = recoveries[WARMUP:]
    want = {"healthy": {0}, "fullhouse": {0, 1}, "fullhouse+push": {0, 1}, "fullhouse+conditions": {0, 1}, "fullhouse+stack": {0, 1}, "scale": {0}, "baseline": {0}, "node": {0},
            "incident": {2}, "incident recovery": {0, 1}}
    for name, ok in want.items():
        bad = [s.code for s in samples.get(name, []) if s.code not in ok]
        if bad:
            h.die(f"{name}: unexpected exit codes {bad}; see {logs}/{name.split()[0]}.log")
    posts = sum(1 for _ in open(os.path.join(control, "sink.jsonl")))
    boxed = len(os.listdir(fh.outbox))
    shown = sum(1 for _ in open(fh.osascript_log)) if os.path.exists(fh.osascript_log) else 0
    h.log(f"incident runs: the sink received {posts} requests, the outbox holds {boxed} files, "
          f"osascript was run {shown} times")
    st = json.load(open(os.path.join(roots["incident"], "g", "state", "ops_atomic_monitor.json")))
    if st.get("pending_notifications"):
        h.die(f"incident: {len(st['pending_notifications'])} messages were not delivered; see {logs}/incident.log")
    n_incident = WARMUP + RUNS
    if boxed != 2 * n_incident or shown != 2 * n_incident:
        h.die(f"incident: expected {2 * n_incident} outbox files and osascript runs, got {boxed} and {shown}")

    # Where the time goes: the full house without one part at a time.
    ablation = {"fullhouse": hb("fullhouse")}
    for part in PARTS:
        ablation[f"-{part}"] = hb(f"-{part}")
    abl = interleave(ablation, RUNS, "full house minus each part")
    for name, ss in abl.items():
        bad = [s.code for s in ss if s.code not in (0, 1)]
        if bad:
            h.die(f"{name}: unexpected exit codes {bad}; see {logs}/{name}.log")

    # The process table: one [[process]] check vs none, before and with ~250 more processes.
    procs = {"empty": hb("empty"), "process1": hb("process1")}
    before_n = proc_count()
    scan_before = interleave(procs, RUNS, f"process-table scan, {before_n} processes")
    sleepers = []
    want_total = 300
    for _ in range(max(0, want_total - before_n)):
        sleepers.append(h.spawn(["sleep", "3600"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.3)
    after_n = proc_count()
    scan_after = interleave(procs, RUNS, f"process-table scan, {after_n} processes")
    for p in sleepers:
        p.kill()
    for p in sleepers:
        p.wait()

    h.log(f"hung: {SLOW_RUNS} runs of ~{max(TIMEOUTS) / 1000:.0f} s")
    samples["hung"] = [hb("hung")() for _ in range(SLOW_RUNS)]

    # A week of history and reports, and 30 days of events (100,000 lines).
    hist = os.path.join(roots["fullhouse"], "g", "state", "heartbeat_history.jsonl")
    with open(hist) as f:
        fh_line = f.readlines()[-1]
    with open(os.path.join(roots["healthy"], "g", "state", "heartbeat_history.jsonl")) as f:
        template_line = f.readlines()[-1]
    reports_dir = os.path.join(roots["healthy"], "g", "reports", "ops_atomic")
    with open(os.path.join(reports_dir, sorted(os.listdir(reports_dir))[-1])) as f:
        report_text = f.read()
    checks = [(c["id"], c["name"]) for c in json.loads(fh_line)["checks"]]
    events_master = os.path.join(tmp, "events-100k.jsonl")
    regenerate_events(events_master, checks)
    week = roots["fullhouse"]
    regenerate_week_plain(week, fh_line)
    shutil.copy(events_master, os.path.join(week, "g", "state", "events.jsonl"))
    h.log(f"week: 2,016 history lines of {len(checks)} checks, 100,000 event lines "
          f"({os.path.getsize(events_master) / 1e6:.1f} MB)")

    daily_state = os.path.join(roots["daily"], "g", "state")
    os.makedirs(daily_state, exist_ok=True)
    shutil.copy(os.path.join(roots["healthy"], "g", "state", "ops_atomic_monitor.json"), daily_state)

    def daily_once():
        regenerate_week(roots["daily"], template_line, report_text)
        shutil.copy(events_master, os.path.join(daily_state, "events.jsonl"))
        return h.measure(runone, [exe, "--root", roots["daily"], "daily", "--no-notify"], env=env["daily"],
                         logfile=os.path.join(logs, "daily.log"))

    h.log(f"daily: {SLOW_RUNS} runs, each on a freshly generated week and 30 days of events")
    samples["daily"] = [daily_once() for _ in range(SLOW_RUNS)]
    readers = {
        "summary": lambda: h.measure(runone, [exe, "--root", week, "summary", "--since", "7d"], env=env["fullhouse"]),
        "events": lambda: h.measure(runone, [exe, "--root", week, "events", "--since", "30d"], env=env["fullhouse"]),
    }
    page_note = None
    if has_command(exe, "page"):
        page_out = os.path.join(tmp, "status.html")
        readers["page"] = lambda: h.measure(runone, [exe, "--root", week, "page", "--since", "7d", "--output",
                                                     page_out], env=env["fullhouse"])
    else:
        page_note = "not built in this binary (`ops-atomic page` does not exist yet)"
        h.log(f"page: {page_note}")
    samples.update(interleave(readers, SLOW_RUNS, "summary, events, page over the week"))
    # Readers over logs of 1 MB, 100 MB and 500 MB (issue 29): the same week
    # behind months of flapping. Peak RSS must follow the window, not the file.
    big = {}
    for mb in (1, 100, 500):
        broot = os.path.join(tmp, f"big{mb}")
        shutil.copytree(week, broot)
        big_log(os.path.join(broot, "g", "state", "events.jsonl"), events_master, mb)
        big[mb] = broot
    h.log("logs of 1, 100 and 500 MB: "
          + ", ".join(f"{os.path.getsize(os.path.join(r, 'g', 'state', 'events.jsonl')) / 1e6:.0f} MB" for r in big.values()))
    big_out = os.path.join(tmp, "status-big.html")
    big_readers = {
        f"page {mb} MB": (lambda r: lambda: h.measure(runone, [exe, "--root", r, "page", "--since", "7d", "--output",
                                                               big_out], env=env["fullhouse"]))(r)
        for mb, r in big.items()
    }
    big_readers["summary 500 MB"] = lambda: h.measure(runone, [exe, "--root", big[500], "summary", "--since", "7d"],
                                                      env=env["fullhouse"])
    samples.update(interleave(big_readers, SLOW_RUNS, "page and summary over logs of 1, 100 and 500 MB"))
    # The menu bar (issue 27): what SwiftBar runs every minute, over the week's state and history.
    if has_command(exe, "menubar"):
        samples.update(interleave({
            "menubar": lambda: h.measure(runone, [exe, "--root", week, "menubar", "--format", "swiftbar"],
                                         env=env["fullhouse"]),
            "status": lambda: h.measure(runone, [exe, "--root", week, "status"], env=env["fullhouse"]),
        }, RUNS, "menubar and status over the week"))

    # The same week must read the same behind each log: the incidents of
    # `summary --json` (ongoing ones without their length, which grows).
    def incidents_of(root):
        r = subprocess.run([exe, "--root", root, "summary", "--since", "7d", "--json"], env=env["fullhouse"],
                           capture_output=True, text=True)
        out = json.loads(r.stdout)["incidents"]
        for i in out:
            if i.get("ongoing"):
                i.pop("lasted_s", None)
        return out
    seen = {mb: incidents_of(r) for mb, r in big.items()}
    if not (seen[1] == seen[100] == seen[500]):
        h.die(f"summary differs behind logs of 1, 100 and 500 MB: {len(seen[1])}, {len(seen[100])}, {len(seen[500])} incidents")
    h.log(f"the same {len(seen[1])} incidents behind logs of 1, 100 and 500 MB")
    for name in ("daily", "summary", "events", "page", "page 1 MB", "page 100 MB", "page 500 MB", "summary 500 MB"):
        bad = [s.code for s in samples.get(name, []) if s.code not in (0, 1, 2)]
        if bad:
            h.die(f"{name}: exit codes {bad}")

    st = {k: stats(v) for k, v in samples.items()}
    if "page" in samples:
        st["page"]["page_kb"] = os.path.getsize(page_out) / 1024
    table = render(st, abl, (before_n, scan_before), (after_n, scan_after), version, node_note, page_note)
    print(table)
    out = os.environ.get("BENCH_OUT") or os.path.join(
        h.REPO, "target", "bench", f"bench-{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H-%M-%SZ}.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(table)
    h.log(f"results written to {out}")
    failed = [line for line in table.splitlines() if "| ❌" in line]
    for line in failed:
        h.log(f"target missed: {line}")
    return 1 if failed else 0


def interleave(scenarios, runs, what):
    samples = {k: [] for k in scenarios}
    h.log(f"{what}: {WARMUP} warm-up + {runs} measured rounds of {', '.join(scenarios)}")
    order = list(scenarios)
    shuffle = random.Random(runs).shuffle
    for i in range(WARMUP + runs):
        shuffle(order)  # no scenario always follows the same one
        for name in order:
            run = scenarios[name]
            s = run()
            if i >= WARMUP:
                samples[name].append(s)
    return samples


def fmt(v, unit="ms"):
    return f"{v:.1f} {unit}" if abs(v) < 100 else f"{v:.0f} {unit}"


def render(st, abl, before, after, version, node_note, page_note):
    def verdict(ok):
        return "✅" if ok else "❌"

    cpus = os.cpu_count()
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    fhw = st["fullhouse"]["wall_med"]
    lines = [
        f"Machine: {cpus} cores ({model or platform.machine()}), {platform.system()} {platform.release()}; "
        f"{version}, release build; {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC. "
        f"{RUNS} runs per fast scenario (after {WARMUP} warm-up, interleaved), {SLOW_RUNS} for hung, daily, "
        f"summary, events and page.",
        "",
        "| scenario | runs | wall median | wall p95 | CPU median (user+sys) | peak RSS median (max) | target | |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    targets = {
        "healthy": ("wall ≤ 12 ms, CPU ≤ 8 ms, RSS ≤ 10 MB",
                    lambda s: s["wall_med"] <= 12 and s["cpu_med"] <= 8 and s["rss_max"] <= 10),
        "fullhouse": ("wall ≤ 25 ms, CPU ≤ 20 ms, RSS ≤ 12 MB",
                      lambda s: s["wall_med"] <= 25 and s["cpu_med"] <= 20 and s["rss_max"] <= 12),
        "incident": (f"≤ full house + 30 ms (+{st['incident']['wall_med'] - fhw:.1f} ms)",
                     lambda s: s["wall_med"] <= fhw + 30),
        "incident recovery": (f"≤ full house + 30 ms (+{st['incident recovery']['wall_med'] - fhw:.1f} ms)",
                              lambda s: s["wall_med"] <= fhw + 30),
        "fullhouse+push": (f"≤ full house + 3 ms (+{st['fullhouse+push']['wall_med'] - fhw:.1f} ms)",
                           lambda s: s["wall_med"] <= fhw + 3),
        "fullhouse+conditions": (f"≤ full house + 3 ms (+{st['fullhouse+conditions']['wall_med'] - fhw:.1f} ms)",
                                 lambda s: s["wall_med"] <= fhw + 3),
        "fullhouse+stack": (f"≤ full house + 5 ms (+{st['fullhouse+stack']['wall_med'] - fhw:.1f} ms)",
                            lambda s: s["wall_med"] <= fhw + 5),
        "page 1 MB": ("RSS ≤ 40 MB", lambda s: s["rss_max"] <= 40),
        "page 100 MB": ("RSS ≤ 40 MB", lambda s: s["rss_max"] <= 40),
        "page 500 MB": ("wall ≤ 1 s, RSS ≤ 40 MB", lambda s: s["wall_med"] <= 1000 and s["rss_max"] <= 40),
        "summary 500 MB": ("wall ≤ 1 s, RSS ≤ 40 MB", lambda s: s["wall_med"] <= 1000 and s["rss_max"] <= 40),
        "menubar": ("wall ≤ 5 ms", lambda s: s["wall_med"] <= 5),
        "scale": ("wall ≤ 80 ms", lambda s: s["wall_med"] <= 80),
        "run /bin/true": (f"≤ /bin/true + 3 ms (+{st['run /bin/true']['wall_med'] - st['floor: /bin/true']['wall_med']:.1f} ms)",
                          lambda s: s["wall_med"] <= st["floor: /bin/true"]["wall_med"] + 3),
        "hung": (f"every run ≤ {HUNG_LIMIT_MS} ms (max {st['hung']['wall_max']:.0f} ms)",
                 lambda s: s["wall_max"] <= HUNG_LIMIT_MS),
        "daily": ("wall ≤ 300 ms", lambda s: s["wall_med"] <= 300),
        "summary": ("wall ≤ 300 ms", lambda s: s["wall_med"] <= 300),
        "events": ("wall ≤ 200 ms", lambda s: s["wall_med"] <= 200),
        "page": (f"wall ≤ 300 ms, page ≤ 400 KB ({st.get('page', {}).get('page_kb', 0):.0f} KB)",
                 lambda s: s["wall_med"] <= 300 and s["page_kb"] <= 400),
    }
    names = {
        "healthy": "1. healthy: Redis, PostgreSQL, 2 APIs, 2 labels",
        "fullhouse": "2. full house: + 3 tcp, 3 process, 3 file, 2 disk, 2 command, self, 6 channels (nothing to "
                     "send), 2 pings, Prometheus",
        "fullhouse+push": "2b. the full house + a push to a real Pushgateway",
        "fullhouse+conditions": "2c. the full house + 5 conditions on its 2 APIs, 2 [[sql]], 2 [[redis_value]]",
        "fullhouse+stack": "2d. the full house + 5 containers (3 single, a compose project of 2) on a stub Engine, "
                           "memory and CPU limits on its 3 processes",
        "incident": "3. incident: the full house + an alert to 7 channels (all answering)",
        "incident recovery": "3b. its recovery, to the same 7 channels",
        "scale": "4. scale: 100 APIs, 50 labels, 50 tcp, 20 process",
        "hung": "5. hung: every service accepts, never answers (3 s / 5 s / 5 s, a 5 s plugin)",
        "daily": "6. `daily`: a week of history and reports, 100,000 event lines",
        "summary": "7. `summary --since 7d` over the same week",
        "events": "8. `events --since 30d` over 100,000 event lines",
        "page": "9. `page --since 7d` over the same week (20 checks)",
        "page 1 MB": "10. `page --since 7d`, the same week behind a 1 MB event log",
        "page 100 MB": "10b. … behind a 100 MB event log (months of flapping)",
        "page 500 MB": "10c. … behind a 500 MB event log",
        "summary 500 MB": "10d. `summary --since 7d` behind the 500 MB event log",
        "menubar": "11. `menubar --format swiftbar` over the same week (the state, the last history line)",
        "status": "reference: `status` over the same week",
        "run /bin/true": "12. `ops-atomic run bench -- /bin/true` (a job's wrapper; the full house's config)",
        "baseline": "baseline: the shell heartbeat (bash + redis-cli, psql, 2× curl, launchctl)",
        "node": "baseline: the seed's Node.js heartbeat (`redis`, `pg`, fetch, in sequence, markdown report)",
        "floor: /bin/true": "reference: spawn `/bin/true`",
        "floor: fake launchctl list": "reference: the fake `launchctl list` (dash)",
    }
    order = ["healthy", "fullhouse", "fullhouse+push", "fullhouse+conditions", "fullhouse+stack", "incident", "incident recovery", "scale", "hung", "daily", "summary", "events",
             "page", "page 1 MB", "page 100 MB", "page 500 MB", "summary 500 MB", "menubar", "status", "run /bin/true",
             "baseline", "node", "floor: /bin/true", "floor: fake launchctl list"]
    for key in order:
        if key not in st:
            note = page_note if key == "page" else node_note
            target = targets.get(key, ("",))[0] if key != "page" else "wall ≤ 300 ms, page ≤ 400 KB"
            lines.append(f"| {names[key]} | – | – | – | – | – | {target} | {note} |")
            continue
        s = st[key]
        target, ok = targets.get(key, ("", None))
        mark = verdict(ok(s)) if ok else ""
        lines.append(
            f"| {names[key]} | {s['n']} | {fmt(s['wall_med'])} | {fmt(s['wall_p95'])} | {fmt(s['cpu_med'])} "
            f"| {s['rss_med']:.1f} MB ({s['rss_max']:.1f}) | {target} | {mark} |"
        )
    hs, sc, fs = st["healthy"], st["scale"], st["fullhouse"]
    lines += ["",
              f"- Healthy CPU split: user {hs['user_med']:.1f} ms, sys {hs['sys_med']:.1f} ms; full house: user "
              f"{fs['user_med']:.1f} ms, sys {fs['sys_med']:.1f} ms (as the kernel reports them: where it "
              f"samples the split at the tick, only the total is exact).",
              f"- Scale vs healthy: wall +{sc['wall_med'] - hs['wall_med']:.1f} ms, CPU +{sc['cpu_med'] - hs['cpu_med']:.1f} "
              f"ms, peak RSS +{sc['rss_med'] - hs['rss_med']:.1f} MB."]
    for key, what in (("baseline", "shell"), ("node", "Node.js")):
        if key in st:
            b = st[key]
            lines.append(f"- The {what} baseline / healthy: wall ×{b['wall_med'] / hs['wall_med']:.1f}, CPU "
                         f"×{b['cpu_med'] / hs['cpu_med']:.1f}, peak RSS ×{b['rss_med'] / hs['rss_med']:.1f}; "
                         f"/ full house: wall ×{b['wall_med'] / fs['wall_med']:.1f}.")
    lines.append("- Exit codes: " + "; ".join(f"{k} {st[k]['codes']}" for k in order if k in st))
    # Where the time goes.
    full = stats(abl["fullhouse"])
    lines += ["", "Where the time goes in the full house (median of the full house minus the median without that "
              f"part, same interleaved rounds; full house here {fmt(full['wall_med'])} wall, {fmt(full['cpu_med'])} CPU):",
              "", "| left out | wall without | saves wall | saves CPU | saves peak RSS |", "|---|---:|---:|---:|---:|"]
    labels = {"redis": "Redis", "database": "PostgreSQL", "api": "2 APIs", "launchagents": "2 labels (launchctl list)",
              "tcp": "3 tcp", "process": "3 process (process-table scan)", "file": "3 file", "disk": "2 disk",
              "command": "2 command (shell scripts)", "self": "self", "channels": "6 channels (nothing to send)",
              "pings": "2 pings", "prometheus": "Prometheus export"}
    for part in PARTS:
        w = stats(abl[f"-{part}"])
        lines.append(f"| {labels[part]} | {fmt(w['wall_med'])} | {fmt(full['wall_med'] - w['wall_med'])} "
                     f"| {fmt(full['cpu_med'] - w['cpu_med'])} | {full['rss_med'] - w['rss_med']:+.1f} MB |")
    (bn, b), (an, a) = before, after
    rows = []
    for n, ss in ((bn, b), (an, a)):
        e, p = stats(ss["empty"]), stats(ss["process1"])
        rows.append(f"| {n} | {fmt(e['wall_med'])} | {fmt(p['wall_med'])} | {fmt(p['wall_med'] - e['wall_med'])} "
                    f"| {fmt(p['cpu_med'] - e['cpu_med'])} |")
    lines += ["", "The process-table scan (a heartbeat with no checks vs one `[[process]]` check):", "",
              "| processes running | no checks: wall | 1 process check: wall | scan costs wall | scan costs CPU |",
              "|---:|---:|---:|---:|---:|"] + rows + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
