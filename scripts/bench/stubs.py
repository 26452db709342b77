#!/usr/bin/env python3
"""Loopback servers for the benchmark and the soak (Python 3 std library only).

    stubs.py http CONTROL_DIR     HTTP API stub: every GET answers 200 {"status":"ok"};
                                  503 while CONTROL_DIR/api_down exists
    stubs.py hung N               N listeners that accept connections and never answer
    stubs.py sink CONTROL_DIR     Discord webhook sink: records every POST to
                                  CONTROL_DIR/sink.jsonl; answers 503 while
                                  CONTROL_DIR/sink_down exists, else 200 {"id": "..."}

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
    """(method, path, body) of one HTTP/1.x request, or None at EOF."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    body = await reader.readexactly(length) if length else b""
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
    ok = response(200, b'{"status":"ok"}', "OK")
    bad = response(503, b'{"status":"down"}', "Service Unavailable")

    async def handle(reader, writer):
        try:
            await read_request(reader)
            writer.write(bad if os.path.exists(down) else ok)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    serve(handle)


def sink(control):
    down = os.path.join(control, "sink_down")
    log_path = os.path.join(control, "sink.jsonl")
    log = open(log_path, "a", buffering=1)
    seq = 0

    async def handle(reader, writer):
        nonlocal seq
        try:
            while True:
                try:
                    method, path, body = await read_request(reader)
                except asyncio.IncompleteReadError:
                    break
                seq += 1
                code = 503 if os.path.exists(down) else 200
                try:
                    payload = json.loads(body) if body else None
                except ValueError:
                    payload = {"unparsed": body.decode("utf-8", "replace")}
                log.write(json.dumps({"seq": seq, "method": method, "path": path, "code": code, "body": payload}) + "\n")
                if code == 200:
                    out = response(200, json.dumps({"id": str(seq)}).encode(), "OK")
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


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    kind = sys.argv[1]
    if kind == "http":
        http_stub(sys.argv[2])
    elif kind == "sink":
        sink(sys.argv[2])
    elif kind == "hung":
        hung(int(sys.argv[2]))
    else:
        sys.exit(f"unknown stub {kind}")
