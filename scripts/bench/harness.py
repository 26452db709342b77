"""Shared pieces of scripts/bench.sh and scripts/soak.sh (std library only).

Servers on free loopback ports in one temp folder, all stopped (and the
folder removed) when the driver exits, however it exits; the runone
measuring helper; a fake launchctl; config writing.
"""

import atexit
import glob
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVER_USER = "ops-atomic-test"  # the same account the test suite uses

_children = []
_tmp = None


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(f"error: {msg}")
    sys.exit(1)


# --- lifecycle ----------------------------------------------------------


def _cleanup():
    for p in reversed(_children):
        if p.poll() is None:
            try:
                p.send_signal(getattr(p, "stop_signal", signal.SIGTERM))
            except OSError:
                pass
    for p in reversed(_children):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if _tmp and os.path.isdir(_tmp) and not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(_tmp, ignore_errors=True)


def _on_signal(sig, _frame):
    log(f"stopped by signal {sig}; cleaning up")
    sys.exit(128 + sig)


def setup(prefix):
    """The run's temp folder (world-searchable, under /tmp, so the server
    user can reach its PostgreSQL folder); cleanup registered."""
    global _tmp
    _tmp = tempfile.mkdtemp(prefix=f"ops-atomic-{prefix}-", dir="/tmp")
    os.chmod(_tmp, 0o755)
    atexit.register(_cleanup)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    return _tmp


def spawn(argv, stop_signal=signal.SIGTERM, **kw):
    p = subprocess.Popen(argv, **kw)
    p.stop_signal = stop_signal
    _children.append(p)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.02)
    die(f"{what} did not listen on {port} within {timeout} s")


# --- the measuring helper -------------------------------------------------


def build_runone(tmp):
    exe = os.path.join(tmp, "runone")
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        die("no C compiler (cc) found; it is needed for scripts/bench/runone.c (cargo needs one too)")
    subprocess.run([cc, "-O2", "-o", exe, os.path.join(HERE, "runone.c")], check=True)
    return exe


class Sample:
    __slots__ = ("code", "wall_ms", "cpu_ms", "user_ms", "sys_ms", "rss_mb")

    def __init__(self, line):
        code, wall, user, sys_, rss = line.split()
        self.code = int(code)
        self.wall_ms = int(wall) / 1000
        self.user_ms = int(user) / 1000
        self.sys_ms = int(sys_) / 1000
        self.cpu_ms = self.user_ms + self.sys_ms
        self.rss_mb = int(rss) / 1024


def measure(runone, argv, env=None, cwd=None, logfile=None, timeout=120):
    cmd = [runone, "-t", str(timeout)]
    if logfile:
        cmd += ["-o", logfile]
    out = subprocess.run(cmd + list(argv), env=env, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        die(f"runone failed: {out.stderr.strip()}")
    return Sample(out.stdout.strip())


# --- servers ---------------------------------------------------------------


class Redis:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.program = shutil.which("redis-server") or die(
            "redis-server not found: apt-get install -y redis-server (macOS: brew install redis)"
        )
        self.port = None
        self.proc = None

    def start(self):
        for _ in range(5):
            port = self.port or free_port()
            proc = spawn(
                [self.program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no", "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            if wait_port(port, proc, "redis-server", 10):
                self.port, self.proc = port, proc
                return self
            time.sleep(0.1)
        die(f"redis-server did not start; see {self.dir}/redis.log")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"


def pg_bin_dir():
    if os.environ.get("OPS_ATOMIC_PG_BIN"):
        return os.environ["OPS_ATOMIC_PG_BIN"]

    def version(d):
        try:
            return [int(x) for x in d.split("/")[-2].split(".")]
        except ValueError:
            return [0]

    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin") if os.access(os.path.join(d, "initdb"), os.X_OK)]
    if dirs:
        return sorted(dirs, key=version)[-1]
    pg = shutil.which("postgres")
    if pg:
        return os.path.dirname(pg)
    die("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin or PATH "
        "(apt-get install -y postgresql, or set OPS_ATOMIC_PG_BIN)")


def server_user():
    """As root, the unprivileged account PostgreSQL runs as (created if missing)."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", SERVER_USER], check=False)
        pw = pwd.getpwnam(SERVER_USER)
    return pw


class Postgres:
    def __init__(self, tmp):
        self.bin = pg_bin_dir()
        self.dir = os.path.join(tmp, "pg")
        os.makedirs(self.dir)
        self.user = server_user()
        self.as_user = {}
        if self.user:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            self.as_user = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        self.port = None
        self.proc = None

    def start(self):
        self.data = data = os.path.join(self.dir, "data")
        out = subprocess.run(
            [os.path.join(self.bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            cwd=self.dir, capture_output=True, text=True, **self.as_user,
        )
        if out.returncode != 0:
            die(f"initdb failed:\n{out.stdout}{out.stderr}")
        for _ in range(5):
            port = free_port()
            proc = spawn(
                [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(port), "-k", self.dir,
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "shared_buffers=32MB"],
                stop_signal=signal.SIGINT, cwd=self.dir,
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "postgres.log"), "a"),
                **self.as_user,
            )
            if wait_port(port, proc, "postgres", 60):
                self.port, self.proc = port, proc
                # Listening is not accepting queries yet: wait for the first SELECT 1.
                for _ in range(200):
                    if self.ready():
                        return self
                    time.sleep(0.05)
                die("postgres listens but does not answer")
        die(f"postgres did not start; see {self.dir}/postgres.log")

    def stop(self):
        """A fast shutdown (SIGINT), waited for."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait()
        self.proc = None

    def restart(self):
        """The same cluster on the same port again, once it answers queries."""
        for _ in range(100):
            proc = spawn(
                [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port), "-k", self.dir,
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "shared_buffers=32MB"],
                stop_signal=signal.SIGINT, cwd=self.dir,
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "postgres.log"), "a"),
                **self.as_user,
            )
            if wait_port(self.port, proc, "postgres", 60):
                self.proc = proc
                for _ in range(400):
                    if self.ready():
                        return self
                    time.sleep(0.02)
            time.sleep(0.05)
        die(f"postgres did not restart; see {self.dir}/postgres.log")

    def ready(self):
        psql = shutil.which("psql")
        if not psql:
            return True
        r = subprocess.run([psql, "-X", "-q", "-t", self.url, "-c", "select 1"], capture_output=True)
        return r.returncode == 0

    @property
    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


class Stub:
    """One of scripts/bench/stubs.py, run as its own process."""

    def __init__(self, kind, *args):
        self.proc = spawn([sys.executable, os.path.join(HERE, "stubs.py"), kind, *[str(a) for a in args]],
                          stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            die(f"stub {kind} did not start")
        self.ports = [int(p) for p in line[1:]]
        self.port = self.ports[0]


def start_services(tmp):
    """redis-server, PostgreSQL and the HTTP API stub, with the stubs' control
    folder: (redis, pg, http, control)."""
    redis = Redis(tmp).start()
    pg = Postgres(tmp).start()
    control = os.path.join(tmp, "control")
    os.makedirs(control)
    return redis, pg, Stub("http", control), control


# --- the tool under test ------------------------------------------------------


def binary():
    exe = os.environ.get("OPS_ATOMIC_BIN") or os.path.join(REPO, "target", "release", "ops-atomic")
    if not os.access(exe, os.X_OK):
        die(f"{exe} not found: run cargo build --release")
    return exe


def fake_launchctl(path, labels, statuses=None):
    """A /bin/sh script printing a fixed `launchctl list` table (builtin
    printf only: one dash process, no other spawn)."""
    rows = ["PID\tStatus\tLabel", "-\t0\tcom.apple.Finder"]
    for i, label in enumerate(labels):
        pid = str(4000 + i) if i % 2 else "-"
        rows.append(f"{pid}\t{(statuses or {}).get(label, 0)}\t{label}")
    body = " \\\n  ".join("'" + r.replace("\t", "\\t") + "'" for r in rows)
    with open(path, "w") as f:
        f.write('#!/bin/sh\n# bench fake launchctl: `list` prints a fixed table.\n'
                f'[ "$1" = list ] || {{ echo "fake launchctl: only list" >&2; exit 64; }}\n'
                f"printf '%b\\n' \\\n  {body}\n")
    os.chmod(path, 0o755)
    return path


def toml_str(s):
    return json.dumps(s)


def write_config(path, *, redis=None, database=None, apis=(), labels=(), webhook=None, threshold=3,
                 deadline_ms=10000, timeouts=(3000, 5000, 5000), severity_api="warning", extra=""):
    lines = ["[monitor]", f"alert_threshold = {threshold}", f"deadline_ms = {deadline_ms}", ""]
    lines += ["[redis]", f"enabled = {'true' if redis else 'false'}"]
    if redis:
        lines += [f"url = {toml_str(redis)}", f"timeout_ms = {timeouts[0]}"]
    lines += ["", "[database]", f"enabled = {'true' if database else 'false'}"]
    if database:
        lines += [f"url = {toml_str(database)}", f"timeout_ms = {timeouts[1]}"]
    for name, url in apis:
        lines += ["", "[[api]]", f"name = {toml_str(name)}", f"url = {toml_str(url)}",
                  f"timeout_ms = {timeouts[2]}", f"severity = {toml_str(severity_api)}"]
    lines += ["", "[launchagents]", "labels = [" + ", ".join(toml_str(label) for label in labels) + "]"]
    if webhook:
        lines += ["", "[discord]", f"webhook_url = {toml_str(webhook)}", "timeout_ms = 3000"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + extra)
    return path


def clean_env(launchctl):
    """No REDIS_URL / DATABASE_URL / DISCORD_OPS_WEBHOOK from the caller."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "OPS_ATOMIC_LAUNCHCTL": launchctl,
    }


def percentile(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def median(values):
    return percentile(values, 50)
