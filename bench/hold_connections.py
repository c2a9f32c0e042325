#!/usr/bin/env python3
"""Open N keep-alive connections to an HTTP server and hold them idle.

Each connection sends one `GET <path>` and reads the whole response, so the
server has accepted it, served one request and gone back to waiting for the
next one: the state of an idle keep-alive connection. Then nothing more is
sent until this program exits.

Prints `ready N` on stdout (flushed) once all N connections are established
and have been answered, then holds them until SIGTERM/SIGINT (or --max-hold
seconds, a bound in case whoever started it is gone) and closes everything. Exits non-zero (with a
message on stderr) if any connection fails or gets anything but a 200.

    bench/hold_connections.py --port 8080 -n 10000

Used by bench/health.sh to measure the resident memory per idle connection.
"""

import argparse
import errno
import resource
import selectors
import signal
import socket
import sys
import time


def raise_nofile(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        try:  # works as root
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
            return
        except (ValueError, OSError):
            sys.exit(f"hold_connections: RLIMIT_NOFILE hard limit {hard} < {need} needed")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


def response_complete(buf: bytes):
    """Returns (complete, status) for one HTTP/1.1 response in buf."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False, 0
    head = buf[:end].decode("latin-1").split("\r\n")
    try:
        status = int(head[0].split(" ", 2)[1])
    except (IndexError, ValueError):
        return True, -1
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return len(buf) >= end + 4 + length, status


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", "--connections", type=int, default=10000)
    ap.add_argument("--path", default="/health")
    ap.add_argument("--batch", type=int, default=256,
                    help="connections opened concurrently (kept below the listen backlog)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds allowed to establish all connections")
    ap.add_argument("--max-hold", type=float, default=600.0,
                    help="seconds to hold the connections at most")
    args = ap.parse_args()

    raise_nofile(args.connections + 64)
    request = (f"GET {args.path} HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
               "User-Agent: aigw-bench\r\n\r\n").encode()
    deadline = time.monotonic() + args.timeout
    sel = selectors.DefaultSelector()
    held = []
    pending = {}  # socket -> bytes received so far
    opened = 0

    def fail(msg: str) -> int:
        print(f"hold_connections: {msg} (after {len(held)} established)", file=sys.stderr)
        return 1

    # Non-blocking, a batch at a time: connect, send the request, read the
    # response; a connection that got its full response is moved to `held`.
    while len(held) < args.connections:
        if time.monotonic() > deadline:
            return fail(f"timed out after {args.timeout}s")
        while opened < args.connections and len(pending) < args.batch:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex((args.host, args.port))
            if err not in (0, errno.EINPROGRESS):
                return fail(f"connect: {errno.errorcode.get(err, err)}")
            pending[s] = None  # None: request not sent yet
            sel.register(s, selectors.EVENT_WRITE)
            opened += 1
        for key, events in sel.select(timeout=1.0):
            s = key.fileobj
            if pending[s] is None:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return fail(f"connect: {errno.errorcode.get(err, err)}")
                s.send(request)  # a few dozen bytes: fits any socket buffer
                pending[s] = b""
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                return fail(f"recv: {e}")
            if not chunk:
                return fail("server closed a connection before answering")
            buf = pending[s] + chunk
            done, status = response_complete(buf)
            if not done:
                pending[s] = buf
                continue
            if status != 200:
                return fail(f"got status {status}")
            sel.unregister(s)
            del pending[s]
            held.append(s)

    def on_signal(_sig, _frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"ready {len(held)}", flush=True)
    try:
        time.sleep(args.max_hold)
    finally:
        for s in held:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
