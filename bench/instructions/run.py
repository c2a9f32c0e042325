#!/usr/bin/env python3
"""User-space instructions per proxied request, aigw and nginx measured the
same way: each server process runs under callgrind in front of the same
aigw-mock, one keep-alive client sends a fixed number of requests, and
callgrind's counters are dumped just before and just after them
(`callgrind_control -d`). Instruction counts do not move with the machine's
load, so the ratio is repeatable on a shared machine where timings are not.

  bench/instructions/run.py --requests 2000
  bench/instructions/run.py --aigw build-release/src/aigw --json /tmp/instr.json

Why the dump is triggered by traffic: callgrind looks for a dump command
between basic blocks, and a server waiting in io_uring_enter or epoll_wait
runs none; the request sent after the command makes it run, and the dump
happens at that request's start. So each measured window holds the N
requests plus a part of the two trigger requests at its edges; the
per-request figure divides by N + 1 (error < 1/N).

aigw runs with one worker, access log off (--access-log adds a run with it
on, to a file), usage store off; nginx with master_process off,
one worker, access log off (--access-log adds a run with a JSON log of the
same kinds of fields, buffered as aigw's is), upstream keep-alive, proxy_buffering off for
streams (what a streaming proxy needs). Both run the distribution's
configuration as a packager builds it (pass --aigw for a release build).
Scenarios: a non-stream chat completion, and a stream of --stream-tokens
events (the mock sends them without pacing, or --stream-interval apart:
then each event arrives in a read of its own, as on a slow stream). Beside each figure: the
receives per request of each server, and aigw's emits per stream, counted
from callgrind's call counts in the same window; a stream's instructions
move with how many reads its events arrive in."""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "bench"))
from runlib.procs import free_port  # noqa: E402

BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "Say something short."}]}


def wait_port(port, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("nothing listens on port %d" % port)


class Client:
    """One keep-alive HTTP/1.1 connection; reads each answer whole."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self, stream):
        body = dict(BODY)
        if stream:
            body["stream"] = True
        data = json.dumps(body).encode()
        self.sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                          b"Authorization: Bearer sk-bench\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
        status = int(self._line().split(b" ")[1])
        length, chunked = None, False
        while True:
            line = self._line()
            if not line:
                break
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                length = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
        out = b""
        if chunked:
            while True:
                n = int(self._line().split(b";")[0], 16)
                if n == 0:
                    self._line()
                    break
                out += self._take(n)
                self._take(2)
        elif length is not None:
            out = self._take(length)
        if status != 200:
            raise RuntimeError("status %d: %r" % (status, out[:200]))
        if stream and b"[DONE]" not in out:
            raise RuntimeError("stream without [DONE]")
        return out


class Callgrind:
    """A server process under callgrind, and dumps on demand."""

    def __init__(self, argv, outdir, name, env=None):
        self.out = os.path.join(outdir, "cg.%s.out" % name)
        self.name = name
        self.last_dump = None
        self.proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + self.out] + argv,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(outdir, name + ".log"), "w"), env=env)
        self.dumps = 0

    def dump(self, client, stream):
        """Asks for a dump, sends requests until it is written; returns the
        instructions counted since the previous dump."""
        ctl = subprocess.Popen(["callgrind_control", "-d", str(self.proc.pid)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # the command file is in place before the trigger
        self.dumps += 1
        path = "%s.%d" % (self.out, self.dumps)
        self.last_dump = path
        for _ in range(200):
            client.request(stream)
            if ctl.poll() is not None and os.path.exists(path):
                break
            time.sleep(0.05)
        ctl.wait(30)
        with open(path) as f:
            for line in f:
                if line.startswith("totals:"):
                    return int(line.split()[1])
        raise RuntimeError("no totals in " + path)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# Receives per request, from callgrind's call counts. A stream's cost
# depends on how many reads its events arrive in (the mock writes each event
# on its own, and how those writes coalesce moves with the machine's load),
# so a stream figure is comparable with another only beside its reads.
# aigw: every completed receive, client and upstream (io_uring reports no
# empty ones); nginx: every recv() call, those answered EAGAIN included.
RECEIVES = {
    "aigw": ("aigw::upstream::Client::on_recv(", "aigw::worker::Worker::on_recv("),
    "nginx": ("ngx_unix_recv",),
}
# aigw's emits (the plugin handing bytes to the host): one per read that
# carries whole events.
EMITS = ("aigw::gateway::Runtime::emit(",)


def calls_to(path, prefixes):
    """Calls made, in the window a callgrind dump covers, to the functions
    whose names start with one of `prefixes`."""
    names = {}
    target = None
    total = 0
    with open(path) as f:
        for line in f:
            if line.startswith(("fn=", "cfn=")):
                m = re.match(r"c?fn=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
                if m is None:
                    continue
                if m.group(2) is not None:
                    names[m.group(1)] = m.group(2)
                if line.startswith("cfn="):
                    target = names.get(m.group(1), "")
            elif line.startswith("calls=") and target is not None:
                if target.startswith(prefixes):
                    total += int(line.split()[0][len("calls="):])
                target = None
    return total


def measure(server, port, n, warmup, idle_s):
    """Instructions per request for each scenario, less what the process
    runs when idle (timers, the control thread's poll) over the window's
    length: under callgrind a request takes ~50x longer than natively, so
    background work would otherwise be counted ~50x into each request."""
    wait_port(port)
    client = Client(port)
    for _ in range(warmup):
        client.request(False)
    server.dump(client, False)
    t0 = time.monotonic()
    time.sleep(idle_s)
    idle = server.dump(client, False)  # idle_s of nothing, and ~1 request
    figures = {"idle_per_s": idle / (time.monotonic() - t0)}
    for stream in (False, True):
        for _ in range(warmup):
            client.request(stream)
        server.dump(client, stream)  # the start of the window
        t0 = time.monotonic()
        for _ in range(n):
            client.request(stream)
        total = server.dump(client, stream)
        seconds = time.monotonic() - t0
        name = "stream" if stream else "chat"
        window = server.last_dump
        if server.name in RECEIVES:
            figures[name + "_receives"] = calls_to(window, RECEIVES[server.name]) / (n + 1)
        if server.name == "aigw":
            figures[name + "_emits"] = calls_to(window, EMITS) / (n + 1)
        figures[name + "_raw"] = total / (n + 1)
        figures[name] = max(0.0, total - figures["idle_per_s"] * seconds) / (n + 1)
        figures[name + "_window_s"] = seconds
    return figures


def aigw_config(port, mock_port, log_path=None):
    log = ("[access_log]\npath = \"%s\"\nsample = 1.0\n" % log_path if log_path
           else "[access_log]\nenabled = false\n")
    # The usage store off: its writer thread flushes once a second, and
    # whether a flush falls inside a window moved the chat figure by ~3%
    # (bench/features measures the store on its own).
    return ("[server]\nlisten = \"127.0.0.1:%d\"\nworkers = 1\nshutdown_delay = \"0s\"\n" % port + log +
            "[state]\nenabled = false\n" +
            "[[provider]]\nname = \"mock\"\nplugin = \"openai\"\nbase_url = \"http://127.0.0.1:%d/v1\"\n"
            "api_key = \"sk-upstream\"\nmodels = [\"mock-model\"]\n" % mock_port)


# nginx's access log made as close to aigw's as nginx can write it: one
# JSON object per line (escape=json), the same kinds of fields (time, a
# generated request id, method, path, client address and port, status, the
# times), batched into 64 KiB writes as aigw batches its own.
NGINX_LOG_FORMAT = ("'{\"ts\":\"$time_iso8601\",\"request_id\":\"$request_id\",\"method\":\"$request_method\","
                    "\"path\":\"$uri\",\"client\":\"$remote_addr:$remote_port\",\"status\":$status,"
                    "\"bytes\":$body_bytes_sent,\"upstream\":\"$upstream_addr\",\"upstream_status\":\"$upstream_status\","
                    "\"request_time\":$request_time,\"upstream_time\":\"$upstream_response_time\","
                    "\"connection\":$connection,\"connection_requests\":$connection_requests}'")


def nginx_config(d, port, mock_port, log_path=None):
    log = ("log_format aigwlike escape=json %s;\n    access_log %s aigwlike buffer=64k flush=1s;"
           % (NGINX_LOG_FORMAT, log_path) if log_path else "access_log off;")
    return """daemon off;
master_process off;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log warn;
events { worker_connections 1024; }
http {
    %(log)s
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    keepalive_requests 1000000000;
    upstream mock { server 127.0.0.1:%(mock)d; keepalive 16; keepalive_requests 1000000000; }
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
""" % {"d": d, "port": port, "mock": mock_port, "log": log}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--aigw", default=os.path.join(ROOT, "build", "src", "aigw"))
    p.add_argument("--mock", default=os.path.join(ROOT, "build", "tests", "mock", "aigw-mock"))
    p.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    p.add_argument("--requests", type=int, default=1000, help="requests per scenario and server (default 1000)")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--stream-tokens", type=int, default=16)
    p.add_argument("--stream-interval", default="0",
                   help="the mock's pause between stream events (default 0: as fast as it can); "
                        "e.g. 5ms makes every event a read of its own, as a slow stream's are")
    p.add_argument("--idle", type=float, default=5, help="seconds of the idle window (default 5)")
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--access-log", action="store_true",
                   help="also measure aigw with its access log on (to a file, every request): aigw_log; "
                        "and nginx with a JSON access log of the same kinds of fields: nginx_log")
    p.add_argument("--no-nginx", action="store_true", help="measure aigw only")
    p.add_argument("--keep", action="store_true",
                   help="keep the callgrind files (cg.aigw.out.N: 2 idle, 4 chat, 6 stream; cg.aigw_log.out.N likewise) for callgrind_annotate")
    args = p.parse_args()
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            sys.exit("needs %s (scripts/install-deps --bench installs valgrind)" % tool)
    if not args.no_nginx and not os.access(args.nginx, os.X_OK):
        sys.exit("needs nginx at %s (scripts/install-deps --bench installs nginx-light), or --no-nginx" % args.nginx)
    d = tempfile.mkdtemp(prefix="aigw-instr-")
    mock_port = free_port()
    mock = subprocess.Popen([args.mock, "--listen", "127.0.0.1:%d" % mock_port, "--stream-interval", args.stream_interval,
                             "--stream-tokens", str(args.stream_tokens), "--completion-tokens", "16"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {"requests": args.requests, "stream_tokens": args.stream_tokens,
               "stream_interval": args.stream_interval}
    try:
        wait_port(mock_port)
        runs = [("aigw", None)]
        if args.access_log:
            runs.append(("aigw_log", os.path.join(d, "access.log")))
        for name, log_path in runs:
            port = free_port()
            conf = os.path.join(d, name + ".toml")
            with open(conf, "w") as f:
                f.write(aigw_config(port, mock_port, log_path))
            srv = Callgrind([args.aigw, "serve", "-c", conf], d, name)
            try:
                results[name] = measure(srv, port, args.requests, args.warmup, args.idle)
            finally:
                srv.stop()
        nginx_runs = [] if args.no_nginx else [("nginx", None)]
        if nginx_runs and args.access_log:
            nginx_runs.append(("nginx_log", os.path.join(d, "nginx_access.log")))
        for name, log_path in nginx_runs:
            port = free_port()
            nd = os.path.join(d, name)
            os.makedirs(nd)
            conf = os.path.join(nd, "nginx.conf")
            with open(conf, "w") as f:
                f.write(nginx_config(nd, port, mock_port, log_path))
            srv = Callgrind([args.nginx, "-c", conf, "-e", os.path.join(nd, "error.log")], d, name)
            try:
                results[name] = measure(srv, port, args.requests, args.warmup, args.idle)
            finally:
                srv.stop()
    finally:
        mock.terminate()
        mock.wait(10)
    names = [n for n in ("aigw", "aigw_log", "nginx", "nginx_log") if n in results]
    print("%-10s %18s %18s %14s %16s" % ("", "chat (instr/req)", "stream (instr/req)", "idle (instr/s)",
                                          "receives c/s"))
    for name in names:
        r = results[name]
        receives = ("%.2f/%.2f" % (r["chat_receives"], r["stream_receives"])) if "chat_receives" in r else "-"
        print("%-10s %18.0f %18.0f %14.0f %16s" % (name, r["chat"], r["stream"], r["idle_per_s"], receives))
    if "aigw" in results:
        print("aigw emits per stream: %.2f" % results["aigw"]["stream_emits"])
    for name, base, key in (("aigw_log", "aigw", "log_ratio"), ("nginx_log", "nginx", "nginx_log_ratio"),
                            ("aigw", "nginx", "ratio")):
        if name in results and base in results:
            ratio = {k: results[name][k] / results[base][k] for k in ("chat", "stream")}
            results[key] = ratio
            print("%-14s %14.3f %18.3f" % ("%s/%s" % (name, base), ratio["chat"], ratio["stream"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.keep:
        print("callgrind files in " + d)
    else:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
