"""The full monitor's configuration for scripts/bench.sh (std library only).

`FullHouse` lays out everything a heartbeat with every check kind, channel,
ping and the Prometheus export needs on loopback (files, plugin scripts, a
fake osascript) and writes its TOML, with any part left out (`without`) so
the benchmark can say what each kind costs.
"""

import os
import stat

import harness as h

PARTS = ("redis", "database", "api", "launchagents", "tcp", "process", "file", "disk", "command", "self",
         "channels", "pings", "prometheus")

PLUGIN_OK = """#!/bin/sh
# A Nagios plugin: OK, with performance data.
echo "OK - queue depth 3 | depth=3;10;20;0; latency=0.004s;;;;"
exit 0
"""

PLUGIN_FLAG = """#!/bin/sh
# A Nagios plugin that is CRITICAL while its flag file exists.
if [ -e "$1" ]; then echo "CRITICAL - incident flag set | depth=99;10;20;0;"; exit 2; fi
echo "OK - no incident | depth=1;10;20;0;"
exit 0
"""

CHANNEL_SCRIPT = """#!/bin/sh
# A `command` channel: keeps the event document.
cat >> "$1"
"""

FAKE_OSASCRIPT = """#!/bin/sh
# A fake osascript for the `macos` channel: records its arguments.
printf '%s\\n' "$*" >> "$OSASCRIPT_LOG"
"""


def _script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class FullHouse:
    """Shared files of the full-house scenarios, in `base` (a folder of the run)."""

    def __init__(self, base, *, redis, pg, api_port, sink_port, labels, process_needles, tcp_ports):
        self.base = base
        os.makedirs(base, exist_ok=True)
        self.redis, self.pg = redis, pg
        self.api = f"http://127.0.0.1:{api_port}"
        self.sink = f"http://127.0.0.1:{sink_port}"
        self.labels = labels
        self.needles = process_needles
        self.tcp_ports = tcp_ports
        self.plugin_ok = _script(os.path.join(base, "check_queue.sh"), PLUGIN_OK)
        self.plugin_flag = _script(os.path.join(base, "check_incident.sh"), PLUGIN_FLAG)
        self.flag = os.path.join(base, "incident.flag")
        self.channel_script = _script(os.path.join(base, "channel.sh"), CHANNEL_SCRIPT)
        self.channel_log = os.path.join(base, "channel.jsonl")
        self.outbox = os.path.join(base, "outbox")
        os.makedirs(self.outbox, exist_ok=True)
        self.bin = os.path.join(base, "bin")
        os.makedirs(self.bin, exist_ok=True)
        _script(os.path.join(self.bin, "osascript"), FAKE_OSASCRIPT)
        self.osascript_log = os.path.join(base, "osascript.log")
        self.files = []
        for i in range(3):
            p = os.path.join(base, f"app{i}.log")
            with open(p, "w") as f:
                f.write("started\n" * 100)
            self.files.append(p)

    def env(self, launchctl):
        e = h.clean_env(launchctl)
        e["PATH"] = f"{self.bin}:{e['PATH']}"
        e["OSASCRIPT_LOG"] = self.osascript_log
        return e

    def toml(self, root, *, without=(), macos=False, deadline_ms=10000, push=None, conditions=False, docker=None):
        """The config text; `without` names PARTS left out."""
        q = h.toml_str
        has = lambda part: part not in without  # noqa: E731
        out = ["[monitor]", "alert_threshold = 1", "flap_changes = 0", f"deadline_ms = {deadline_ms}",
               'host_name = "bench-mac"', ""]
        out += ["[redis]", f"enabled = {'true' if has('redis') else 'false'}", f"url = {q(self.redis)}", ""]
        out += ["[database]", f"enabled = {'true' if has('database') else 'false'}", f"url = {q(self.pg)}", ""]
        if has("api"):
            conds = {"API Health": ['[STATUS] == 200', '[RESPONSE_TIME] < 1000', 'len([BODY]) > 0'],
                     "API Status": ['[STATUS] < 300', '[BODY] == pat(*)']}
            for name, path in (("API Health", "/api/health"), ("API Status", "/api/status")):
                out += ["[[api]]", f"name = {q(name)}", f"url = {q(self.api + path)}"]
                if conditions:  # the full house + conditions (README "Conditions")
                    out += ["conditions = [" + ", ".join(q(c) for c in conds[name]) + "]"]
                out += [""]
        out += ["[launchagents]", "labels = [" + (", ".join(q(x) for x in self.labels) if has("launchagents") else "")
                + "]", ""]
        if has("tcp"):
            for i, port in enumerate(self.tcp_ports[:3]):
                out += ["[[tcp]]", f'name = "svc{i}"', f'address = "127.0.0.1:{port}"', "timeout_ms = 3000", ""]
        if has("process"):
            for i, needle in enumerate(self.needles[:3]):
                out += ["[[process]]", f'name = "proc{i}"', f"cmdline_contains = {q(needle)}"]
                if docker:  # the full house + the developer's stack: resource limits on its processes
                    out += ["max_rss_mb = 4096", "max_cpu_percent = 400"]
                out += [""]
        if has("file"):
            for i, p in enumerate(self.files):
                out += ["[[file]]", f'name = "log{i}"', f"path = {q(p)}", "max_age_minutes = 60",
                        "min_growth_bytes = 1", "window_hours = 24", ""]
        if has("disk"):
            for name, p in (("system disk", "/"), ("bench folder", self.base)):
                out += ["[[disk]]", f"name = {q(name)}", f"path = {q(p)}", "warn_free_percent = 1",
                        "min_free_percent = 0", ""]
        if has("command"):
            out += ["[[command]]", 'name = "queue"', f"command = [{q(self.plugin_ok)}]", "timeout_s = 10", ""]
            out += ["[[command]]", 'name = "incident"', f"command = [{q(self.plugin_flag)}, {q(self.flag)}]",
                    "timeout_s = 10", 'severity = "critical"', "notify = true", ""]
        if conditions:
            out += ["[[sql]]", 'name = "one"', 'query = "select 1"', 'conditions = ["[VALUE] == 1"]', ""]
            out += ["[[sql]]", 'name = "primary"', 'query = "select pg_is_in_recovery()"',
                    'conditions = ["[VALUE] == false"]', ""]
            out += ["[[redis_value]]", 'name = "keys"', 'command = ["DBSIZE"]', 'conditions = ["[VALUE] >= 0"]', ""]
            out += ["[[redis_value]]", 'name = "memory"', 'command = ["INFO", "memory"]', 'field = "used_memory"',
                    'conditions = ["[VALUE] > 0"]', ""]
        if docker:  # 5 containers: 3 single ones and a compose project of 2 (README "The developer's stack")
            for i in range(3):
                out += ["[[container]]", f'name = "c{i}"', f'container = "c{i}"', f"socket = {q(docker)}", ""]
            out += ["[[container]]", 'name = "shop"', 'compose_project = "shop"', f"socket = {q(docker)}", ""]
        out += ["[self]", f"enabled = {'true' if has('self') else 'false'}", ""]
        if has("channels"):
            out += ["[discord]", f"webhook_url = {q(self.sink + '/api/webhooks/123456/bench-token')}", ""]
            out += ["[[notify]]", 'name = "team"', 'type = "slack"', f"url = {q(self.sink + '/slack')}", ""]
            out += ["[[notify]]", 'name = "phone"', 'type = "ntfy"', f"url = {q(self.sink + '/ntfy/bench')}", ""]
            out += ["[[notify]]", 'name = "hook"', 'type = "webhook"', f"url = {q(self.sink + '/hook')}", ""]
            out += ["[[notify]]", 'name = "script"', 'type = "command"',
                    f"command = [{q(self.channel_script)}, {q(self.channel_log)}]", ""]
            out += ["[[notify]]", 'name = "box"', 'type = "outbox"', f"dir = {q(self.outbox)}", ""]
            if macos:
                out += ["[[notify]]", 'name = "desktop"', 'type = "macos"', ""]
        if has("pings"):
            out += ["[[ping]]", 'name = "hc"', f"url = {q(self.sink + '/ping/hc')}", 'style = "healthchecks"', ""]
            out += ["[[ping]]", 'name = "kuma"', f"url = {q(self.sink + '/api/push/kuma')}", 'style = "uptime-kuma"', ""]
        if has("prometheus"):
            out += ["[export]", f"prometheus_textfile = {q(os.path.join(root, 'ops_atomic.prom'))}", ""]
        if push:  # the full house + a push to a real Pushgateway (README "A team of Macs")
            out.insert(len(out) - 1, f"pushgateway_url = {q(push)}")
        return "\n".join(out) + "\n"

    def make_root(self, tmp, name, **kw):
        root = os.path.join(tmp, name)
        os.makedirs(os.path.join(root, "g", "config"))
        with open(os.path.join(root, "g", "config", "ops_atomic.toml"), "w") as f:
            f.write(self.toml(root, **kw))
        return root
