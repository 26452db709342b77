#!/usr/bin/env python3
"""Loopback servers for the benchmark and the soak (Python 3 std library only).

    stubs.py http CONTROL_DIR     HTTP API stub: every GET answers 200 {"status":"ok"};
                                  503 while CONTROL_DIR/api_down exists, or
                                  CONTROL_DIR/down_<segment> for a segment of its path
    stubs.py hung N               N listeners that accept connections and never answer
    stubs.py sink CONTROL_DIR     channel sink (Discord, Slack, ntfy, webhook, pings):
                                  records every request to CONTROL_DIR/sink.jsonl with
                                  its channel (from the path) and the run number in
                                  CONTROL_DIR/run; answers 503 while CONTROL_DIR/sink_down
                                  exists, 500 while CONTROL_DIR/fail_<channel> exists,
                                  429 (retry_after 0.05 s) once per CONTROL_DIR/ratelimit_<channel>
                                  (removed when used), else 200 {"id": "..."}
    stubs.py docker SOCKET        a Docker Engine API on a Unix socket: running, healthy
                                  containers c0, c1, c2 and a compose project "shop" of
                                  two (`GET /containers/json`, `GET /containers/{id}/json`)
    stubs.py tcp CONTROL_DIR NAME...  one TCP listener per NAME (accepts, closes); closed
                                  while CONTROL_DIR/down_<NAME> exists, reopened on the
                                  same port when it goes; CONTROL_DIR/state_<NAME> says
                                  "up" or "down" once applied

Each binds 127.0.0.1 port 0 and prints its port(s) on one line once it
listens ("ready PORT [PORT...]"), then serves until killed. The HTTP servers
are asyncio (one thread, no per-connection thread), with a listen backlog of
1024 so 100 concurrent connects are never dropped.
"""

import asyncio
import json
import os
import signal
import socket
import sys
import threading


def listen():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    return s


async def read_request(reader):
    """(method, path, body) of one HTTP/1.x request, or None at EOF; its
    headers (lower-case names) in read_request.headers."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    length = 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    body = await reader.readexactly(length) if length else b""
    read_request.headers = headers
    return parts[0], parts[1] if len(parts) > 1 else "/", body


def response(code, body, reason):
    return (
        f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def serve(handler):
    sock = listen()

    async def main():
        server = await asyncio.start_server(handler, sock=sock, backlog=1024)
        print("ready", sock.getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def http_stub(control):
    down = os.path.join(control, "api_down")

    def is_down(path):
        if os.path.exists(down):
            return True
        return any(seg and os.path.exists(os.path.join(control, f"down_{seg}")) for seg in path.split("?")[0].split("/"))

    ok = response(200, b'{"status":"ok"}', "OK")
    bad = response(503, b'{"status":"down"}', "Service Unavailable")

    async def handle(reader, writer):
        try:
            _, path, _ = await read_request(reader)
            writer.write(bad if is_down(path) else ok)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    serve(handle)


CHANNELS = (("/api/webhooks/", "discord"), ("/slack", "slack"), ("/ntfy", "ntfy"), ("/hook", "webhook"),
            ("/ping", "ping"), ("/api/push", "ping"))


def channel_of(path):
    return next((name for prefix, name in CHANNELS if path.startswith(prefix)), "other")


def sink(control):
    down = os.path.join(control, "sink_down")
    log_path = os.path.join(control, "sink.jsonl")
    log = open(log_path, "a", buffering=1)
    run_file = os.path.join(control, "run")
    seq = 0

    def current_run():
        try:
            with open(run_file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    async def handle(reader, writer):
        nonlocal seq
        try:
            while True:
                try:
                    method, path, body = await read_request(reader)
                except asyncio.IncompleteReadError:
                    break
                seq += 1
                chan = channel_of(path)
                limit = os.path.join(control, f"ratelimit_{chan}")
                code = 200
                if os.path.exists(down):
                    code = 503
                elif os.path.exists(os.path.join(control, f"fail_{chan}")):
                    code = 500
                elif os.path.exists(limit):
                    code = 429
                    try:
                        os.remove(limit)
                    except OSError:
                        pass
                try:
                    payload = json.loads(body) if body else None
                except ValueError:
                    payload = {"unparsed": body.decode("utf-8", "replace")}
                entry = {"seq": seq, "run": current_run(), "channel": chan, "method": method, "path": path,
                         "code": code, "body": payload}
                if "title" in read_request.headers:
                    entry["title"] = read_request.headers["title"]
                log.write(json.dumps(entry) + "\n")
                if code == 200:
                    out = response(200, json.dumps({"id": str(seq)}).encode(), "OK")
                elif code == 429:
                    out = response(429, b'{"message":"You are being rate limited.","retry_after":0.05}',
                                   "Too Many Requests")
                elif code == 500:
                    out = response(500, b'{"message":"sink failing"}', "Internal Server Error")
                else:
                    out = response(503, b'{"message":"sink down"}', "Service Unavailable")
                writer.write(out)
                await writer.drain()
                break
        except ConnectionError:
            pass
        finally:
            writer.close()

    serve(handle)


def docker(path):
    """Replies shaped as a real Engine's, with the Config block (and its Env) included."""
    def inspect(name, project):
        labels = {"com.docker.compose.project": project} if project else {}
        return {"Id": (name.encode().hex() + "0" * 64)[:64], "Name": "/" + name, "RestartCount": 0,
                "State": {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                          "OOMKilled": False, "Dead": False, "Pid": 4242, "ExitCode": 0,
                          "Health": {"Status": "healthy", "FailingStreak": 0, "Log": []}},
                "Config": {"Env": ["PATH=/usr/bin", "SECRET=x"], "Labels": labels, "Image": "postgres:16"}}
    containers = [inspect("c0", ""), inspect("c1", ""), inspect("c2", ""),
                  inspect("shop-web-1", "shop"), inspect("shop-db-1", "shop")]

    async def handle(reader, writer):
        try:
            while True:
                try:
                    method, target, _ = await read_request(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                from urllib.parse import unquote
                pth, _, query = target.partition("?")
                query = unquote(query)
                if pth.startswith("/v1."):
                    pth = pth[pth.index("/", 1):]
                if pth == "/containers/json":
                    want = query.split("com.docker.compose.project=")[1].split('"')[0] if "project=" in query else None
                    rows = [{"Id": c["Id"], "Names": [c["Name"]], "Labels": c["Config"]["Labels"],
                             "State": "running"} for c in containers
                            if want is None or c["Config"]["Labels"].get("com.docker.compose.project") == want]
                    body, code = json.dumps(rows).encode(), 200
                elif pth.startswith("/containers/") and pth.endswith("/json"):
                    key = unquote(pth[len("/containers/"):-len("/json")])
                    found = [c for c in containers if c["Name"] == "/" + key or c["Id"].startswith(key)]
                    body, code = (json.dumps(found[0]).encode(), 200) if found else (b'{"message":"No such container"}', 404)
                else:
                    body, code = b'{"message":"page not found"}', 404
                writer.write((f"HTTP/1.1 {code} X\r\nContent-Type: application/json\r\n"
                              f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
                await writer.drain()
        finally:
            writer.close()

    async def main():
        if os.path.exists(path):
            os.unlink(path)
        server = await asyncio.start_unix_server(handle, path=path, backlog=1024)
        print("ready 0", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def hung(n):
    socks = [listen() for _ in range(n)]
    held = []

    def accept_forever(s):
        while True:
            conn, _ = s.accept()
            held.append(conn)  # never read, never answered, never closed

    for s in socks:
        threading.Thread(target=accept_forever, args=(s,), daemon=True).start()
    print("ready", *[s.getsockname()[1] for s in socks], flush=True)
    signal.pause() if hasattr(signal, "pause") else threading.Event().wait()


def tcp(control, names):
    """Listeners that close while CONTROL/down_<name> exists (polled every 20 ms)."""
    import select
    import time

    socks = {name: listen() for name in names}
    ports = {name: s.getsockname()[1] for name, s in socks.items()}

    def mark(name, what):
        tmp = os.path.join(control, f".state_{name}")
        with open(tmp, "w") as f:
            f.write(what)
        os.replace(tmp, os.path.join(control, f"state_{name}"))

    for name in names:
        mark(name, "up")
    print("ready", *[ports[n] for n in names], flush=True)
    while True:
        for name in names:
            want_down = os.path.exists(os.path.join(control, f"down_{name}"))
            if want_down and socks[name] is not None:
                socks[name].close()
                socks[name] = None
                mark(name, "down")
            elif not want_down and socks[name] is None:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                for _ in range(500):
                    try:
                        s.bind(("127.0.0.1", ports[name]))
                        break
                    except OSError:
                        time.sleep(0.01)
                s.listen(1024)
                socks[name] = s
                mark(name, "up")
        live = [s for s in socks.values() if s is not None]
        # Flags are looked at 50 times a second (and after every accept):
        # cheap enough to leave the benchmark's CPU alone.
        ready = select.select(live, [], [], 0.02)[0] if live else (time.sleep(0.02) or [])
        for s in ready:
            try:
                conn, _ = s.accept()
                conn.close()
            except OSError:
                pass


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    kind = sys.argv[1]
    if kind == "http":
        http_stub(sys.argv[2])
    elif kind == "sink":
        sink(sys.argv[2])
    elif kind == "tcp":
        tcp(sys.argv[2], sys.argv[3:])
    elif kind == "docker":
        docker(sys.argv[2])
    elif kind == "hung":
        hung(int(sys.argv[2]))
    else:
        sys.exit(f"unknown stub {kind}")
