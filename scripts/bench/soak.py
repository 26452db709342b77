#!/usr/bin/env python3
"""The endurance run (run it through scripts/soak.sh).

Phase 1: SOAK_RUNS (default 2,000) heartbeats back to back, release build,
against real services and seven channels, on a schedule of 250-run cycles:

  - redis-server is stopped for runs 20-29 of every cycle; `api:web`
    (depends_on redis) fails with it, and in odd cycles 2 runs longer;
  - PostgreSQL is stopped for runs 25-34 of every even cycle, and the TCP
    service `cache` is closed for runs 28-39: three overlapping incidents;
  - `api:flappy` fails every other run from run 60 to 71: it flaps, never
    goes DOWN, and is stable again later;
  - the TCP service `worker` closes at run 100; its repair (after 2
    failures) reopens it, so it never goes DOWN;
  - `legacy` is closed for runs 120-134; its repair never helps (exit 1):
    3 repairs in the hour, then one `repair_exhausted` per incident;
  - Slack answers 500 for runs 20-44 of every odd cycle; Discord answers 429
    (retry_after 50 ms) now and then;
  - cycle 2: `ops-atomic silence tcp:cache` covers cache's incident; cycle
    4: a [[maintenance]] window covers the database's; cycle 6: quiet hours
    cover runs 28-39 (12 runs: an hour of heartbeats). Both windows are real
    local times around now, written into the config between runs.

A model of the SPEC rules (per-check incidents §7.1, what is sent §7.2,
delivery per channel §7.3, repairs §12, silences §13, dependencies, quiet
hours, digests and maintenance §15) runs beside the binary over the same
schedule. Every run's exit code and per-check statuses, the message each
run decided, every message each of the 7 channels received (kind, checks
named, order), every event in events.jsonl and every repair are compared
with it exactly. After every run the state and every JSONL file must parse.

Phase 2: 5 rounds of 50 concurrent heartbeats (Redis and web down in rounds
1-2, cache in rounds 2-3), then one more run: `runs` exact, and every
channel receives the 4 messages of those incidents once, in order.

Prints one PASS/FAIL line per property; exits 1 on any FAIL.
"""

import collections
import datetime
import email.header
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RUNS = int(os.environ.get("SOAK_RUNS", "2000"))
CYCLE = 250
ROUNDS, CONCURRENCY = 5, 50
THRESHOLD = 3
FLAP_WINDOW, FLAP_CHANGES = 20, 6
REPAIR_AFTER, REPAIR_MAX = 2, 3
RSS_MARGIN_MB = 1.0
QUIET_ALLOW = ("alert",)
CHANNELS = ("discord", "team", "phone", "hook", "script", "box", "desktop")
CHECKS = ("redis", "database", "api:web", "api:flappy", "launchagent:com.02luka.redis",
          "launchagent:com.02luka.api", "tcp:cache", "tcp:worker", "tcp:legacy")
DEPENDS = {"api:web": ["redis"]}
REPAIRS = {"tcp:worker": 0, "tcp:legacy": 1}  # check -> the exit code its repair gives
BUDGET = {"tcp:worker": 10, "tcp:legacy": REPAIR_MAX}  # max_per_hour: the worker's is never spent

results = []


def check(ok, what, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'}: {what}{' — ' + detail if detail else ''}", flush=True)


# --- the schedule ----------------------------------------------------------------


def cycles():
    return max(1, (RUNS + CYCLE - 1) // CYCLE)


def special(n):
    """The cycle in which a one-off happens (2: silence, 4: maintenance, 6: quiet)."""
    return n % cycles()


def plan(i):
    """What the driver does before run i (1-based): desired service states
    and channel behaviour."""
    c, r = divmod(i - 1, CYCLE)
    odd = c % 2 == 1
    return {
        "redis_down": 20 <= r < 30,
        "web_down": 20 <= r < (32 if odd else 30),
        "db_down": c % 2 == 0 and 25 <= r < 35,
        "cache_down": 28 <= r < 40,
        "flappy_down": 60 <= r < 72 and r % 2 == 0,
        "worker_break": r == 100,
        "legacy_down": 120 <= r < 135,
        "slack_fail": (odd or cycles() == 1) and 20 <= r < 45,
        "discord_429": r in (22, 27, 30, 35, 65, 90, 121, 122, 135),
        "silence_on": c == special(2) and r == 27,
        "silence_off": c == special(2) and r == 41,
        "maint_on": c == special(4) and r == 24,
        "maint_off": c == special(4) and r == 37,
        "quiet_on": c == special(6) and r == 28,
        "quiet_off": c == special(6) and r == 40,
    }


# --- the model of the SPEC rules ------------------------------------------------


class CheckModel:
    def __init__(self):
        self.status = None
        self.cf = self.cs = 0
        self.down = self.announced = False
        self.caused_by = None
        self.recent = []
        self.flapping = self.flap_announced = False
        self.streak = 0
        self.attempts = []  # repair times (s)
        self.gave_up = False


def flips(recent):
    return sum(1 for a, b in zip(recent, recent[1:]) if a != b)


class Model:
    def __init__(self):
        self.checks = {cid: CheckModel() for cid in CHECKS}
        self.events = collections.defaultdict(list)  # check id ("" for none) -> [type]
        self.queues = {ch: [] for ch in CHANNELS}
        self.delivered = {ch: [] for ch in CHANNELS}
        self.notified = collections.Counter()
        self.repairs = []  # (run, check, exit)
        self.silenced = set()
        self.maintenance = set()
        self.maint_active = False
        self.runs = 0

    def ev(self, cid, kind):
        self.events[cid].append(kind)

    def silence(self, cid, on):
        (self.silenced.add if on else self.silenced.discard)(cid)
        self.ev(cid, "silenced" if on else "unsilenced")

    def run(self, failing, now, quiet=False, failing_channels=()):
        """One heartbeat: `failing` = set of failing check ids. Returns the
        kind of the message it decided, or None."""
        self.runs += 1
        # maintenance events (window in force per self.maintenance)
        if self.maintenance and not self.maint_active:
            for cid in sorted(self.maintenance):
                self.ev(cid, "silenced")
            self.maint_active = True
        elif not self.maintenance and self.maint_active:
            self.ev("", "unsilenced")
            self.maint_active = False
        came_up, went_flapping, became_stable = [], [], []
        for cid in CHECKS:
            cs, fail = self.checks[cid], cid in failing
            st = "fail" if fail else "ok"
            if cs.status != st:
                self.ev(cid, "status")
                cs.status = st
            if fail:
                cs.cf, cs.cs = cs.cf + 1, 0
            else:
                cs.cs, cs.cf = cs.cs + 1, 0
            cs.recent = (cs.recent + [fail])[-FLAP_WINDOW:]
            if not cs.down and cs.cf >= THRESHOLD:
                cs.down = True
                self.ev(cid, "down")
            elif cs.down and cs.cs >= 1:
                cs.down = False
                self.ev(cid, "up")
                came_up.append(cid)
            n = flips(cs.recent)
            if not cs.flapping and not cs.down and n >= FLAP_CHANGES:
                cs.flapping = True
                self.ev(cid, "flapping")
                went_flapping.append(cid)
            elif cs.flapping and n <= 2:
                cs.flapping = False
                self.ev(cid, "stable")
                if cs.flap_announced:
                    became_stable.append(cid)
        orders = []
        for cid in REPAIRS:
            cs = self.checks[cid]
            if cid not in failing:
                cs.streak = 0
                if not cs.down:
                    cs.gave_up = False
                continue
            cs.streak += 1
            if cs.streak < REPAIR_AFTER or cid in self.silenced:
                continue
            used = sum(1 for t in cs.attempts if now - t < 3600)
            if used >= BUDGET[cid]:
                if not cs.gave_up:
                    cs.gave_up = True
                    self.ev(cid, "repair_exhausted")
                continue
            cs.streak = 0
            cs.attempts.append(now)
            orders.append(cid)
        # dependencies
        before = {cid: self.checks[cid].caused_by for cid in CHECKS}

        def is_failing(cid):
            return cid in failing or self.checks[cid].down

        for cid in CHECKS:
            deps = DEPENDS.get(cid, [])
            self.checks[cid].caused_by = next((d for d in deps if is_failing(d)), None) if is_failing(cid) else None

        def notifies(cid):
            return cid not in self.silenced and cid not in self.maintenance

        to_alert = [cid for cid in CHECKS if self.checks[cid].down and not self.checks[cid].announced
                    and self.checks[cid].caused_by is None and notifies(cid)]
        recovered = [cid for cid in came_up if notifies(cid) and (self.checks[cid].announced or before[cid])]
        for cid in came_up:
            self.checks[cid].announced = False
        kind, named = None, []
        if to_alert:
            for cid in to_alert:
                self.checks[cid].announced = True
            because = [cid for cid in CHECKS if self.checks[cid].caused_by and cid not in to_alert
                       and self.root(cid) in to_alert and notifies(cid)]
            kind, named = "alert", to_alert + recovered + because
        elif recovered:
            kind, named = "recovery", recovered
        elif [c for c in went_flapping if notifies(c)]:
            named = [c for c in went_flapping if notifies(c)]
            for cid in named:
                self.checks[cid].flap_announced = True
            kind = "flapping"
        elif became_stable:
            kind, named = "stable", became_stable
        for cid in became_stable:
            self.checks[cid].flap_announced = False
        if kind:
            for ch in CHANNELS:
                self.queues[ch].append({"kind": kind, "ids": list(named), "held": False, "at": now})
        # quiet hours and digests, then delivery
        for ch in CHANNELS:
            q = self.queues[ch]
            was_held = any(e["held"] for e in q)
            for e in q:
                e["held"] = quiet and e["kind"] not in QUIET_ALLOW
            if not quiet and q and (was_held or (len(q) >= 2 and now - q[0]["at"] > 1800)):
                ids = []
                for e in q:
                    ids += [x for x in e["ids"] if x not in ids]
                self.queues[ch] = q = [{"kind": "digest", "ids": ids, "held": False, "at": now}]
            if ch in failing_channels:
                continue
            for e in [e for e in q if not e["held"]]:
                self.delivered[ch].append((e["kind"], frozenset(e["ids"])))
                self.notified[(ch, e["kind"])] += 1
            self.queues[ch] = [e for e in q if e["held"]]
        for cid in orders:
            self.ev(cid, "repair")
            self.repairs.append((self.runs, cid, REPAIRS[cid]))
        return kind

    def root(self, cid):
        for _ in CHECKS:
            nxt = self.checks[cid].caused_by
            if not nxt:
                break
            cid = nxt
        return cid


# --- what the sinks received ------------------------------------------------------

TITLE_KINDS = (("📋", "digest"), ("🔁", "reminder"), ("⚠️", "flapping"), ("❌", "alert"))


def kind_of_title(title):
    for emoji, kind in TITLE_KINDS:
        if title.startswith(emoji):
            return kind
    if title.startswith("✅"):
        return "stable" if "stable again" in title else "recovery"
    return f"unknown({title[:30]!r})"


class Tail:
    """Reads the lines appended to a JSONL file since the last call; counts
    lines that do not parse."""

    def __init__(self, path):
        self.path, self.offset, self.rows, self.bad, self.shrunk = path, 0, [], 0, False

    def poll(self):
        try:
            size = os.path.getsize(self.path)
        except OSError:
            return
        if size < self.offset:
            self.shrunk = True
            self.offset = 0
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].split(b"\n"):
            if line.strip():
                try:
                    self.rows.append(json.loads(line))
                except ValueError:
                    self.bad += 1


def received(control, box, script_dir, osascript_log):
    """Per channel, the messages it received and confirmed, in order: (kind,
    frozenset of check ids or None, title)."""
    got = {ch: [] for ch in CHANNELS}
    with open(os.path.join(control, "sink.jsonl")) as f:
        posts = [json.loads(line) for line in f if line.strip()]
    for p in posts:
        if p["code"] != 200:
            continue
        body = p.get("body") or {}
        if p["channel"] == "discord":
            got["discord"].append(body.get("content", ""))
        elif p["channel"] == "slack":
            got["team"].append(body.get("text", ""))
        elif p["channel"] == "ntfy":
            got["phone"].append(str(email.header.make_header(email.header.decode_header(p.get("title", "")))))
        elif p["channel"] == "webhook":
            got["hook"].append(body)
    docs = {"script": [], "box": []}
    for ch, folder in (("script", script_dir), ("box", box)):
        for path in glob.glob(os.path.join(folder, "*.json")):
            with open(path) as f:
                docs[ch].append((os.stat(path).st_mtime_ns, path, json.load(f)))
        got[ch] = [d for _, _, d in sorted(docs[ch], key=lambda x: (x[2]["ts"], x[0], x[1]))]
    if os.path.exists(osascript_log):
        with open(osascript_log) as f:
            got["desktop"] = [line.rstrip("\n") for line in f if line.strip()]
    out = {}
    for ch, items in got.items():
        rows = []
        for it in items:
            if isinstance(it, dict):
                rows.append((it.get("kind"), frozenset(c["id"] for c in it.get("checks", [])), it.get("title")))
            elif ch == "desktop":
                # osascript -e 'display notification "<text>" with title "<title>"'
                title = it.split('with title "', 1)[1].rsplit('"', 1)[0] if 'with title "' in it else it
                rows.append((kind_of_title(title), None, title))
            else:
                rows.append((kind_of_title(it), None, it))
        out[ch] = rows
    return out, posts


# --- the run ------------------------------------------------------------------------


def hhmm(t):
    return time.strftime("%H:%M", time.localtime(t))


def config_text(s, *, quiet, maint):
    q = h.toml_str
    now = time.time()
    window_on = (hhmm(now - 300), hhmm(now + 3600))
    window_off = (hhmm(now + 7200), hhmm(now + 9000))
    c = s["control"]
    worker_fix = (f'rm -f {c}/down_worker; i=0; while [ "$(cat {c}/state_worker)" != up ] && [ $i -lt 500 ]; '
                  f'do sleep 0.01; i=$((i+1)); done; echo worker restarted')
    lines = [
        "[monitor]", f"alert_threshold = {THRESHOLD}", "deadline_ms = 10000", 'host_name = "soak-mac"',
        f"flap_window = {FLAP_WINDOW}", f"flap_changes = {FLAP_CHANGES}",
        f'quiet_hours = "{window_on[0]}-{window_on[1]}"' if quiet else 'quiet_hours = ""', "",
        "[redis]", f"url = {q(s['redis'])}", "timeout_ms = 1000", "",
        "[database]", f"url = {q(s['pg'])}", "timeout_ms = 2000", "",
        "[[api]]", 'name = "web"', f"url = {q(s['api'] + '/svc/web/health')}", "timeout_ms = 2000",
        'severity = "critical"', 'depends_on = ["redis"]', "",
        "[[api]]", 'name = "flappy"', f"url = {q(s['api'] + '/svc/flappy/health')}", "timeout_ms = 2000",
        'severity = "critical"', "",
        "[launchagents]", 'labels = ["com.02luka.redis", "com.02luka.api"]', "",
    ]
    for name, port in s["tcp"].items():
        lines += ["[[tcp]]", f'name = "{name}"', f'address = "127.0.0.1:{port}"', "timeout_ms = 1000"]
        if name == "worker":
            lines.append(f'repair = {{ command = ["sh", "-c", {q(worker_fix)}], after = {REPAIR_AFTER}, '
                         f"max_per_hour = {BUDGET['tcp:worker']} }}")
        if name == "legacy":
            lines.append('repair = { command = ["sh", "-c", "echo restarting legacy; exit 1"], '
                         f"after = {REPAIR_AFTER}, max_per_hour = {REPAIR_MAX} }}")
        lines.append("")
    lines += ["[self]", "enabled = false", "",
              "[discord]", f"webhook_url = {q(s['sink'] + '/api/webhooks/123456/soak-token')}", "timeout_ms = 3000", "",
              "[[notify]]", 'name = "team"', 'type = "slack"', f"url = {q(s['sink'] + '/slack')}", "timeout_ms = 3000", "",
              "[[notify]]", 'name = "phone"', 'type = "ntfy"', f"url = {q(s['sink'] + '/ntfy/soak')}", "",
              "[[notify]]", 'name = "hook"', 'type = "webhook"', f"url = {q(s['sink'] + '/hook')}", "",
              "[[notify]]", 'name = "script"', 'type = "command"', f"command = [{q(s['channel_sh'])}, {q(s['script_dir'])}]", "",
              "[[notify]]", 'name = "box"', 'type = "outbox"', f"dir = {q(s['box'])}", "",
              "[[notify]]", 'name = "desktop"', 'type = "macos"', "",
              "[[maintenance]]", 'name = "db upgrade"', 'checks = ["database"]',
              f'from = "{(window_on if maint else window_off)[0]}"', f'to = "{(window_on if maint else window_off)[1]}"', ""]
    return "\n".join(lines) + "\n"


def main():
    exe = h.binary()
    tmp = h.setup("soak")
    runone = h.build_runone(tmp)
    started = time.time()
    if RUNS < CYCLE:
        h.die(f"SOAK_RUNS must be at least {CYCLE} (one cycle of the schedule)")

    h.log("starting redis-server, PostgreSQL (initdb), the HTTP stub, the TCP services and the channel sink")
    redis, pg, http, control = h.start_services(tmp)
    sink = h.Stub("sink", control)
    tcp = h.Stub("tcp", control, "cache", "worker", "legacy")
    lc = h.fake_launchctl(os.path.join(tmp, "launchctl"), ["com.02luka.redis", "com.02luka.api"])
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "g", "config"))
    box, script_dir = os.path.join(tmp, "outbox"), os.path.join(tmp, "script")
    os.makedirs(box)
    os.makedirs(script_dir)
    bin_dir = os.path.join(tmp, "bin")
    os.makedirs(bin_dir)
    osascript_log = os.path.join(tmp, "osascript.log")
    with open(os.path.join(bin_dir, "osascript"), "w") as f:
        f.write(f'#!/bin/sh\n# fake osascript: records the script it was given\nprintf "%s\\n" "$2" >> {osascript_log}\n')
    os.chmod(os.path.join(bin_dir, "osascript"), 0o755)
    channel_sh = os.path.join(tmp, "channel.sh")
    with open(channel_sh, "w") as f:
        f.write('#!/bin/sh\n# command channel: one file per document, renamed into place\n'
                'f="$1/$(date +%s%N)-$$"; cat > "$f.tmp" && mv "$f.tmp" "$f.json"\n')
    os.chmod(channel_sh, 0o755)
    settings = {"redis": redis.url, "pg": pg.url, "api": f"http://127.0.0.1:{http.port}",
                "sink": f"http://127.0.0.1:{sink.port}", "control": control, "box": box, "script_dir": script_dir,
                "channel_sh": channel_sh, "tcp": dict(zip(("cache", "worker", "legacy"), tcp.ports))}
    cfg_path = os.path.join(root, "g", "config", "ops_atomic.toml")
    mode = {"quiet": False, "maint": False}

    def write_cfg():
        with open(cfg_path, "w") as f:
            f.write(config_text(settings, **mode))

    write_cfg()
    env = h.clean_env(lc)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    r = subprocess.run([exe, "--root", root, "config", "check"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        h.die(f"config check failed:\n{r.stdout}{r.stderr}")
    logfile = os.path.join(tmp, "runs.log")
    argv = [exe, "--root", root, "heartbeat"]
    state_path = os.path.join(root, "g", "state", "ops_atomic_monitor.json")
    tails = {name: Tail(os.path.join(root, "g", "state", f"{name}.jsonl")) for name in ("heartbeat_history", "events")}
    tails["sink"] = Tail(os.path.join(control, "sink.jsonl"))

    def flag(name, on):
        path = os.path.join(control, name)
        if on and not os.path.exists(path):
            open(path, "w").close()
        elif not on and os.path.exists(path):
            os.remove(path)

    def set_tcp(name, down):
        flag(f"down_{name}", down)
        want = "down" if down else "up"
        for _ in range(2000):
            with open(os.path.join(control, f"state_{name}")) as f:
                if f.read() == want:
                    return
            time.sleep(0.002)
        h.die(f"tcp stub {name} did not go {want}")

    def tcp_is_down(name):
        with open(os.path.join(control, f"state_{name}")) as f:
            return f.read() == "down"

    def set_redis(down):
        if down and redis.proc:
            redis.stop()
        elif not down and not redis.proc:
            redis.start()

    def set_pg(down):
        if down and pg.proc:
            pg.stop()
        elif not down and not pg.proc:
            pg.restart()

    def silence(args):
        out = subprocess.run([exe, "--root", root, "silence", *args], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            h.die(f"silence {args} failed: {out.stdout}{out.stderr}")

    model = Model()
    worker_wrong = []
    samples, wrong_codes, wrong_checks, wrong_plans, parse_errors = [], [], [], [], []
    multi = []
    by_name = {}

    def heartbeat(i, failing, quiet, failing_channels, now):
        with open(os.path.join(control, "run"), "w") as f:
            f.write(str(i))
        s = h.measure(runone, argv, env=env, logfile=logfile, timeout=60)
        kind = model.run(failing, now, quiet=quiet, failing_channels=failing_channels)
        try:
            with open(state_path) as f:
                json.load(f)
        except (OSError, ValueError) as e:
            parse_errors.append((i, "state", str(e)))
        for name, t in tails.items():
            t.poll()
            if t.bad or t.shrunk:
                parse_errors.append((i, name, f"{t.bad} bad lines, shrunk={t.shrunk}"))
                t.bad, t.shrunk = 0, False
        line = tails["heartbeat_history"].rows[-1] if tails["heartbeat_history"].rows else {}
        if s.code != (2 if failing else 0):
            wrong_codes.append((i, s.code, 2 if failing else 0))
        seen = {c["id"]: c["status"] for c in line.get("checks", [])}
        for c in line.get("checks", []):
            by_name[c["id"]] = c["name"]
        want = {cid: ("fail" if cid in failing else "ok") for cid in CHECKS}
        if seen != want:
            wrong_checks.append((i, {k: (seen.get(k), v) for k, v in want.items() if seen.get(k) != v}))
        ev = line.get("events", [])
        if len(ev) > 1:
            multi.append((i, ev))
        if ev != ([kind] if kind else []):
            wrong_plans.append((i, ev, kind))
        return s

    # ---- phase 1 -----------------------------------------------------------------
    h.log(f"phase 1: {RUNS} heartbeats ({cycles()} cycles of {CYCLE}; silence in cycle {special(2)}, "
          f"maintenance in {special(4)}, quiet hours in {special(6)})")
    for i in range(1, RUNS + 1):
        p = plan(i)
        if p["silence_on"]:
            silence(["tcp:cache", "--for", "30m", "--reason", "soak: cache migration"])
            model.silence("tcp:cache", True)
        if p["silence_off"]:
            silence(["--clear", "tcp:cache"])
            model.silence("tcp:cache", False)
        if p["maint_on"] or p["maint_off"]:
            mode["maint"] = p["maint_on"]
            model.maintenance = {"database"} if p["maint_on"] else set()
            write_cfg()
        if p["quiet_on"] or p["quiet_off"]:
            mode["quiet"] = p["quiet_on"]
            write_cfg()
        set_redis(p["redis_down"])
        set_pg(p["db_down"])
        flag("down_web", p["web_down"])
        flag("down_flappy", p["flappy_down"])
        set_tcp("cache", p["cache_down"])
        if p["worker_break"]:
            set_tcp("worker", True)
        set_tcp("legacy", p["legacy_down"])
        flag("fail_slack", p["slack_fail"])
        if p["discord_429"]:
            flag("ratelimit_discord", True)
        r = (i - 1) % CYCLE
        if tcp_is_down("worker") != (r in range(100, 100 + REPAIR_AFTER)):
            worker_wrong.append(i)
        failing = {cid for cid, down in (("redis", p["redis_down"]), ("database", p["db_down"]),
                                          ("api:web", p["web_down"]), ("api:flappy", p["flappy_down"]),
                                          ("tcp:cache", p["cache_down"]), ("tcp:worker", tcp_is_down("worker")),
                                          ("tcp:legacy", p["legacy_down"])) if down}
        samples.append(heartbeat(i, failing, mode["quiet"], {"team"} if p["slack_fail"] else set(), time.time()))
        if i % 250 == 0:
            h.log(f"  {i}/{RUNS} runs, {time.time() - started:.0f} s")
    set_redis(False)
    set_pg(False)
    phase1_s = time.time() - started

    def show(items):
        return f"{len(items)}, first: {items[:3]}"

    check(not wrong_codes, f"{RUNS} runs exited as the schedule says (0 HEALTHY / 2 CRITICAL)",
          show(wrong_codes) + f"; see {logfile}" if wrong_codes else "")
    check(not wrong_checks, "every check's status on every run is the scheduled one (history lines)",
          show(wrong_checks) if wrong_checks else "")
    check(not wrong_plans, "every run decided the message the model decided (history `events`)",
          show(wrong_plans) if wrong_plans else
          f"{sum(len(r.get('events', [])) for r in tails['heartbeat_history'].rows)} messages decided")
    check(not multi, "at most one message per run")
    check(not worker_wrong, f"the worker's repair brought it back every time (down for {REPAIR_AFTER} runs only)",
          show(worker_wrong) if worker_wrong else "")
    check(not parse_errors, "after every run the state and every JSONL file (history, events, sink log) parsed",
          show(parse_errors) if parse_errors else "")
    hung = [s.wall_ms for s in samples if s.wall_ms > 10_000]
    check(not hung, "no run took more than 10 s", f"{len(hung)} did" if hung else "")

    def compare_channels(what):
        got, posts = received(control, box, script_dir, osascript_log)
        for ch in CHANNELS:
            want = model.delivered[ch]
            have = got[ch]
            kinds_ok = [k for k, _, _ in have] == [k for k, _ in want]
            ids_ok = all(ids is None or ids == w for (_, ids, _), (_, w) in zip(have, want))
            detail = f"{len(have)} received, {len(want)} expected"
            if not (kinds_ok and ids_ok):
                for n, (a, b) in enumerate(zip(have, want)):
                    if a[0] != b[0] or (a[1] is not None and a[1] != b[1]):
                        detail += f"; first difference at #{n + 1}: got {a[0]} {sorted(a[1] or [])}, expected {b[0]} {sorted(b[1])}"
                        break
            check(kinds_ok and ids_ok, f"{what}: channel {ch} received every message once, in order (kind, checks named)",
                  detail + (" — " + ", ".join(f"{k}×{n}" for k, n in sorted(collections.Counter(
                      k for k, _ in want).items())) if kinds_ok and ids_ok else ""))
        titles = {ch: [t for _, _, t in got[ch]] for ch in CHANNELS}
        ref = titles["hook"]
        same = [ch for ch in CHANNELS if titles[ch] == ref]
        check(len(same) == len(CHANNELS), f"{what}: every channel got the same titles in the same order",
              f"differ: {[ch for ch in CHANNELS if ch not in same]}" if len(same) != len(CHANNELS) else "")
        return got, posts

    got, posts = compare_channels("phase 1")
    tries = collections.Counter((p["run"], p["channel"], json.dumps(p.get("body"), sort_keys=True), p.get("title"))
                                for p in posts if p["channel"] != "ping")
    over = [k[:2] for k, n in tries.items() if n > 3]
    refused = collections.Counter((p["channel"], p["code"]) for p in posts if p["code"] != 200)
    check(not over, "no message was tried more than 3 times in one run",
          f"{len(over)} were: {over[:3]}" if over else
          "refused and retried: " + ", ".join(f"{ch} {code}×{n}" for (ch, code), n in sorted(refused.items())))
    check(refused.get(("slack", 500), 0) > 0 and refused.get(("discord", 429), 0) > 0,
          "Slack's 500s and Discord's 429s were exercised")

    events = tails["events"].rows
    per_check = collections.defaultdict(list)
    for e in events:
        if e["type"] != "notified":
            per_check[e.get("check", "")].append(e["type"])
    bad = [cid for cid in set(per_check) | set(model.events) if per_check[cid] != model.events[cid]]
    detail = ""
    for cid in bad[:2]:
        a, b = per_check[cid], model.events[cid]
        n = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        detail += f"{cid or '(none)'}: {len(a)} vs {len(b)} expected, first difference at #{n + 1}: " \
                  f"got {a[n:n + 4]}, expected {b[n:n + 4]}; "
    check(not bad, "events.jsonl holds exactly the model's events per check, in order",
          detail or f"{len(events)} events; " + ", ".join(
              f"{t}×{n}" for t, n in sorted(collections.Counter(e['type'] for e in events).items())))
    notified = collections.Counter((e.get("channel"), e.get("notification")) for e in events if e["type"] == "notified")
    check(notified == model.notified, "one `notified` event per message delivered, per channel and kind",
          f"{sum(notified.values())} vs {sum(model.notified.values())} expected" if notified != model.notified else "")
    repairs = [(e["check"], e.get("exit")) for e in events if e["type"] == "repair"]
    want_repairs = [(cid, code) for _, cid, code in model.repairs]
    check(repairs == want_repairs, "every repair ran when due, with its exit code (worker 0, legacy 1)",
          f"{collections.Counter(repairs)} vs {collections.Counter(want_repairs)} expected")
    times = collections.defaultdict(list)
    for e in events:
        if e["type"] == "repair":
            times[e["check"]].append(datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp())
    over = [cid for cid, ts in times.items() for k, t in enumerate(ts)
            if sum(1 for u in ts[:k + 1] if t - u < 3600) > BUDGET[cid]]
    check(not over, "no check was repaired more often in an hour than its max_per_hour",
          f"over: {over}" if over else ", ".join(f"{c}: {len(t)}" for c, t in sorted(times.items())))

    try:
        with open(state_path) as f:
            st = json.load(f)
    except (OSError, ValueError) as e:
        st = {}
        check(False, "state file parses", str(e))
    check(st.get("runs") == RUNS, f"state runs == {RUNS}", f"runs = {st.get('runs')}")
    check(st.get("pending_notifications") == [], "nothing left pending",
          f"{len(st.get('pending_notifications') or [])} pending")
    down = sorted(cid for cid, c in (st.get("checks") or {}).items() if c.get("down"))
    want_down = sorted(cid for cid, c in model.checks.items() if c.down)
    check(down == want_down, "the checks DOWN at the end are the model's", f"{down} vs {want_down}")
    corrupt = glob.glob(os.path.join(root, "g", "state", "*.corrupt-*"))
    check(not corrupt, "no state file was ever found corrupt", ", ".join(corrupt))
    hist = tails["heartbeat_history"].rows
    check(len(hist) == RUNS, f"history has {RUNS} lines", f"{len(hist)}")
    reports = glob.glob(os.path.join(root, "g", "reports", "ops_atomic", "heartbeat_*.md"))
    check(len(reports) == RUNS, f"{RUNS} reports written", f"{len(reports)}")

    rss = [s.rss_mb for s in samples]
    first, last = h.median(rss[:100]), h.median(rss[-100:])
    check(abs(last - first) <= RSS_MARGIN_MB, f"memory flat: median peak RSS of the first 100 runs vs the last 100 "
          f"within {RSS_MARGIN_MB} MB", f"{first:.1f} MB vs {last:.1f} MB; max {max(rss):.1f} MB")
    h.log("per 250 runs — median wall ms / median peak RSS MB: " + ", ".join(
        f"{h.median([s.wall_ms for s in samples[k:k + 250]]):.0f}/{h.median([s.rss_mb for s in samples[k:k + 250]]):.1f}"
        for k in range(0, RUNS, 250)))
    h.log(f"phase 1 took {phase1_s:.0f} s ({phase1_s / RUNS * 1000:.0f} ms per run with the driver's checks)")

    # ---- phase 2: concurrent rounds --------------------------------------------------
    h.log(f"phase 2: {ROUNDS} rounds of {CONCURRENCY} concurrent heartbeats "
          "(Redis and web down in rounds 1-2, cache in rounds 2-3)")
    before = {ch: len(model.delivered[ch]) for ch in CHANNELS}
    codes = []
    for rnd in range(1, ROUNDS + 1):
        set_redis(rnd <= 2)
        flag("down_web", rnd <= 2)
        set_tcp("cache", rnd in (2, 3))
        with open(os.path.join(control, "run"), "w") as f:
            f.write(str(RUNS + rnd))
        procs = [subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(CONCURRENCY)]
        rc = []
        for p in procs:
            try:
                rc.append(p.wait(timeout=120))
            except subprocess.TimeoutExpired:
                p.kill()
                rc.append(p.wait())
        codes.append(rc)
        failing = {"redis", "api:web"} if rnd <= 2 else set()
        if rnd in (2, 3):
            failing.add("tcp:cache")
        for _ in range(CONCURRENCY):
            model.run(failing, time.time())
    # one more run delivers what a run skipped while another was delivering
    samples.append(heartbeat(RUNS + ROUNDS + 1, set(), False, set(), time.time()))
    want = [2, 2, 2, 0, 0]
    wrong = [(r + 1, c) for r, rc in enumerate(codes) for c in rc if c != want[r]]
    check(not wrong, f"{ROUNDS * CONCURRENCY} concurrent runs exited as expected", show(wrong) if wrong else "")
    with open(state_path) as f:
        st = json.load(f)
    total = RUNS + ROUNDS * CONCURRENCY + 1
    check(st.get("runs") == total, f"runs exact after the concurrent rounds: {total}", f"runs = {st.get('runs')}")
    check(st.get("pending_notifications") == [] and not st.get("alert_active"), "nothing pending, no alert active")
    new = {ch: model.delivered[ch][before[ch]:] for ch in CHANNELS}
    check(all([k for k, _ in v] == ["alert", "alert", "recovery", "recovery"] for v in new.values()),
          "the model expects alert, alert, recovery, recovery on every channel",
          str({ch: [k for k, _ in v] for ch, v in new.items()}))
    compare_channels("after phase 2")
    tails["heartbeat_history"].poll()
    tails["events"].poll()
    check(len(tails["heartbeat_history"].rows) == total and not tails["heartbeat_history"].bad,
          f"history has {total} lines that all parse")
    corrupt = glob.glob(os.path.join(root, "g", "state", "*.corrupt-*"))
    check(not corrupt, "still no corrupt state file")

    failed = results.count(False)
    h.log(f"done in {time.time() - started:.0f} s")
    print(f"{'PASS' if not failed else 'FAIL'}: soak — {len(results) - failed}/{len(results)} checks passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
