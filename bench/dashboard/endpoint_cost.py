#!/usr/bin/env python3
"""What the dashboard costs aigw: the page's weight (every file under /ui)
and the CPU time of each endpoint the page reads, per call, with many
channels and keys configured (docs/benchmarks.md, "The dashboard").

Starts aigw with --channels upstream keys spread over providers (openai
plugin, an upstream nobody listens on: channels exist, none is called),
--keys client keys with daily and monthly quotas, the demo model and the
usage store; sends a little traffic so every family has series and every
worker's ring of recent errors it reaches full (unknown keys, on one
connection: one worker's 256 entries); then, per
endpoint, sends --calls requests one after another on one keep-alive
connection and reads the process's CPU time (all threads: the workers, the
control thread that merges the reports, the store's reader) before and
after, from /proc/PID/task/*/schedstat (nanoseconds; /proc/PID/stat's
utime+stime, in clock ticks, is printed beside it as a cross-check).

With --browser, also opens the page in headless chromium
(tests/integration/cdp.py) refreshing every second for --seconds and
reports the browser's script and layout time per refresh (DevTools
Performance.getMetrics), which is what "usable at 1,000 channels and 10,000
keys" comes down to on the operator's side.

    bench/dashboard/endpoint_cost.py --aigw build/src/aigw [--channels 1000]
        [--keys 1000] [--workers 2] [--calls 200] [--browser [--seconds 15]]"""

import argparse
import gzip
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ADMIN_KEY = "adm-bench-6f0c1e"


def config(channels, keys, workers, state_dir):
    per = 100
    lines = ['[server]', 'listen = "127.0.0.1:0"', 'workers = %d' % workers, '',
             '[admin]', 'listen = "127.0.0.1:0"', 'api_key = "%s"' % ADMIN_KEY, '',
             '[state]', 'path = "%s/aigw-state.db"' % state_dir, 'flush_interval = "200ms"', '',
             '[[provider]]', 'name = "demo"', 'plugin = "local"', 'models = ["aigw-demo"]', '']
    # Channels, in providers of up to 100 upstream keys; the demo is one more.
    left, i = channels - 1, 0
    while left > 0:
        n = min(per, left)
        lines += ['[[provider]]', 'name = "up%03d"' % i, 'plugin = "openai"', 'base_url = "http://127.0.0.1:9/v1"',
                  'models = ["model-%03d"]' % i,
                  'api_keys = [%s]' % ", ".join('"sk-up-%03d-%03d"' % (i, k) for k in range(n)), '']
        left -= n
        i += 1
    for k in range(keys):
        lines += ['[[key]]', 'name = "key-%05d"' % k, 'secret = "sk-client-%05d"' % k,
                  'daily_tokens = 1000000', 'monthly_tokens = 10000000', '']
    return "\n".join(lines)


def start(aigw, text, tmp):
    path = os.path.join(tmp, "aigw.toml")
    with open(path, "w") as f:
        f.write(text)
    proc = subprocess.Popen([aigw, "serve", "-c", path], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ports = {}
    ready = threading.Event()

    def read():
        for raw in proc.stderr:
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if obj.get("msg") in ("listening", "admin listening"):
                ports[obj["msg"]] = int(obj["addr"].rsplit(":", 1)[1])
            if len(ports) == 2:
                ready.set()
    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(60):
        proc.kill()
        sys.exit("aigw did not start")
    return proc, ports["listening"], ports["admin listening"]


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def call(self, method, path, headers=None, body=b""):
        hs = {"Host": "localhost"}
        hs.update(headers or {})
        if body:
            hs["Content-Length"] = str(len(body))
        raw = "%s %s HTTP/1.1\r\n%s\r\n" % (method, path, "".join("%s: %s\r\n" % kv for kv in hs.items()))
        self.s.sendall(raw.encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(1 << 20)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        self.headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            self.headers[k.strip().lower().decode()] = v.strip().decode()
        # A 304 carries the Content-Length of the 200 it stands for, and no body.
        n = 0 if status == 304 else int(self.headers.get("content-length", 0))
        while len(self.buf) < n:
            self.buf += self.s.recv(1 << 20)
        out, self.buf = self.buf[:n], self.buf[n:]
        return status, out


def cpu_ns(pid):
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended
    return total


def ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def browser_cost(admin_port, seconds):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
    from cdp import Browser, find_chromium
    binary = find_chromium()
    if binary is None:
        print("browser: chromium is not installed")
        return
    b = Browser(binary)
    try:
        page = b.new_page()
        page.send("Performance.enable")
        page.send("Page.addScriptToEvaluateOnNewDocument",
                  {"source": "sessionStorage.setItem('aigw-admin-key', %s)" % json.dumps(ADMIN_KEY)})
        page.navigate("http://127.0.0.1:%d/ui?every=1" % admin_port)
        page.wait_for("document.getElementById('status').textContent.startsWith('Updated')", timeout=60)

        def metrics():
            return {m["name"]: m["value"] for m in page.send("Performance.getMetrics")["metrics"]}

        def scrapes():
            with b._lock:
                return sum(1 for sid, m, p in b.events if sid == page.session and m == "Network.responseReceived"
                           and p["response"]["url"].endswith("/metrics"))
        m0, n0 = metrics(), scrapes()
        time.sleep(seconds)
        m1, n1 = metrics(), scrapes()
        n = max(1, n1 - n0)
        per = lambda k: (m1.get(k, 0) - m0.get(k, 0)) / n * 1000
        print("browser: %d refreshes in %d s; per refresh: script %.1f ms, layout %.1f ms, style %.1f ms, "
              "all main-thread tasks %.1f ms; JS heap %.1f MB; rows drawn: %s" % (
                  n, seconds, per("ScriptDuration"), per("LayoutDuration"), per("RecalcStyleDuration"),
                  per("TaskDuration"), m1.get("JSHeapUsedSize", 0) / 1e6,
                  page.eval("document.querySelectorAll('tbody tr').length")))
        problems = page.problems(0)
        if problems:
            print("browser problems:", problems[:5])
    finally:
        b.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--aigw", default="build/src/aigw")
    ap.add_argument("--channels", type=int, default=1000)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--seconds", type=int, default=15)
    args = ap.parse_args()
    hz = os.sysconf("SC_CLK_TCK")
    with tempfile.TemporaryDirectory(prefix="aigw-dash-bench-") as tmp:
        proc, port, admin_port = start(args.aigw, config(args.channels, args.keys, args.workers, tmp), tmp)
        try:
            pub = Conn(port)
            body = json.dumps({"model": "aigw-demo", "messages": [{"role": "user", "content": "hi"}]}).encode()
            for k in range(min(args.keys, 50)):  # usage rows and per-key series for 50 keys
                pub.call("POST", "/v1/chat/completions", {"Authorization": "Bearer sk-client-%05d" % k,
                                                          "Content-Type": "application/json"}, body)
            # Fill every worker's ring of recent errors (256 each): unknown keys.
            for k in range(300 * args.workers):
                pub.call("POST", "/v1/chat/completions", {"Authorization": "Bearer sk-nobody-%d" % k,
                                                          "Content-Type": "application/json"}, body)
            time.sleep(0.5)  # one flush of the usage store
            adm = Conn(admin_port)
            auth = {"Authorization": "Bearer " + ADMIN_KEY}
            weight = 0
            weight_gz = 0
            for path in ("/ui", "/ui/app.js", "/ui/style.css"):
                status, out = adm.call("GET", path)
                assert status == 200, (path, status)
                weight += len(out)
                weight_gz += len(gzip.compress(out, 9))
            print("page weight: %d bytes (3 files), %d gzipped (aigw sends them uncompressed)" % (weight, weight_gz))
            print("config: %d channels, %d client keys, %d workers, %d calls per endpoint"
                  % (args.channels, args.keys, args.workers, args.calls))
            print("| endpoint | answer bytes | CPU µs per call | wall µs per call | stat ticks (%d Hz) |" % hz)
            print("|---|---:|---:|---:|---:|")
            endpoints = [
                ("GET /ui/app.js", "/ui/app.js", {}),
                ("GET /ui/app.js (If-None-Match: 304)", "/ui/app.js", None),
                ("GET /metrics", "/metrics", auth),
                ("GET /admin/providers", "/admin/providers", auth),
                ("GET /admin/errors", "/admin/errors", auth),
                ("GET /admin/keys (a page of 100, by name)", "/admin/keys?offset=0&limit=100&sort=name", auth),
                ("GET /admin/keys (by tokens)", "/admin/keys?limit=100&sort=tokens", auth),
                ("GET /admin/keys (q=key-09)", "/admin/keys?limit=100&q=key-09", auth),
                ("GET /admin/config", "/admin/config", auth),
                ("GET /admin/history", "/admin/history", auth),
                ("GET /admin/usage (key,model)", "/admin/usage", auth),
                ("GET /admin/usage (CSV, day,key,model,provider)",
                 "/admin/usage?group_by=day,key,model,provider", dict(auth, Accept="text/csv")),
            ]
            for name, path, headers in endpoints:
                if headers is None:
                    adm.call("GET", path)
                    headers = {"If-None-Match": adm.headers["etag"]}
                status, out = adm.call("GET", path, headers)
                if status not in (200, 304):
                    sys.exit("%s answered %d: %s" % (name, status, out[:200]))
                size = len(out)
                c0, t0, w0 = cpu_ns(proc.pid), ticks(proc.pid), time.perf_counter()
                for _ in range(args.calls):
                    status, _ = adm.call("GET", path, headers)
                w1, c1, t1 = time.perf_counter(), cpu_ns(proc.pid), ticks(proc.pid)
                print("| %s | %d | %.0f | %.0f | %d |" % (name, size, (c1 - c0) / args.calls / 1000,
                                                       (w1 - w0) / args.calls * 1e6, t1 - t0))
            if args.browser:
                browser_cost(admin_port, args.seconds)
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
