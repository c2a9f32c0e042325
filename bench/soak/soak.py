#!/usr/bin/env python3
"""The soak: the real aigw in front of upstreams whose faults change at
random, under steady client traffic, while its config is reloaded and its
plugins are swapped, for a fixed time. Then the checks of docs/reliability.md:

- every request id the client sent is in the access log exactly once, and
  the logged status is the one the client saw (a client that hung up or gave
  up sees none, so any logged outcome matches);
- no upstream saw a request more often than aigw's `attempts` for it says
  (failover may try a request again before content; nothing more);
- RSS and open descriptors flat after warm-up (least-squares slopes);
- every worker still answers (/admin/providers lists them all), the healed
  upstreams serve a final batch, SIGTERM stops aigw with status 0;
- no sanitizer report in aigw's stderr.

Upstreams: two Python providers of tests/integration/upstreams.py (one TLS,
one plain) with close_notify-less closes, recycled connections, deaths after
the head or mid-stream, drips, 429 with Retry-After and 500s, and one
aigw-mock (embeddings too) with resets, hangs, garbage SSE and bad lengths.

  bench/soak/soak.py --duration 120 --aigw build-asan/src/aigw \
      --mock build-asan/tests/mock/aigw-mock            # what make test runs
  bench/soak/soak.py --duration 1800 --aigw build-release/src/aigw \
      --mock build-release/tests/mock/aigw-mock --json /tmp/soak.json

Exit status 0 when every check holds; the summary (JSON) says what was sent,
injected and found."""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from upstreams import Upstream, make_cert, tls_skip_reason  # noqa: E402

ADMIN_KEY = "soak-admin-key-5d1f"
# Client keys: one unlimited, one with a small rpm (refusals are part of the
# traffic), one with a concurrency cap.
KEYS = [("soak-free", "sk-soak-free-0001", ""),
        ("soak-rpm", "sk-soak-rpm-0002", "rpm = 120\n"),
        ("soak-conc", "sk-soak-conc-0003", "max_concurrent = 2\n")]

# Faults of the Python providers (tests/integration/upstreams.py modes).
PY_FAULTS = ["", "", "", "", "close=fin", "close=notify", "close=header", "keepalive=3", "keepalive=1 together",
             "linger=300 keepalive=2", "die-after-head", "die-after-events=3", "die-mid-chunk",
             "drip=40", "status=429 retry-after=1", "status=500", "status=503"]
# Faults of aigw-mock (POST /mock/fault).
MOCK_FAULTS = ["none", "none", "none", "none", "500", "429", "reset-after-2", "close-after-3", "garbage-sse",
               "bad-content-length", "hang", "hang-after-head", "no-done", "slow-first-byte", "drip"]

CLIENT_TIMEOUT = 12.0  # aigw's own upstream timeouts (2 s, 3 attempts) end well before this


def log(msg):
    print("soak: " + msg, file=sys.stderr, flush=True)


# ---- processes --------------------------------------------------------------

class Mock:
    """One aigw-mock process on a loopback port."""

    def __init__(self, binary):
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--stream-interval", "2ms",
                                      "--stream-tokens", "6", "--idle-timeout", "3s",
                                      "--models", "soak-chat,soak-embed"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.port = None
        for raw in self.proc.stderr:
            obj = _json_line(raw)
            if obj and obj.get("msg") == "listening":
                self.port = int(obj["addr"].rsplit(":", 1)[1])
                break
        if self.port is None:
            raise RuntimeError("aigw-mock did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def fault(self, mode):
        status, _ = http("127.0.0.1", self.port, "POST", "/mock/fault", body=mode.encode(), timeout=3)
        return status == 200

    def stats(self):
        status, body = http("127.0.0.1", self.port, "GET", "/mock/stats", timeout=3)
        return json.loads(body) if status == 200 else {}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Gateway:
    """The aigw under test: its config file, its stderr, its /proc."""

    def __init__(self, binary, workdir, config_text):
        self.binary, self.dir = binary, workdir
        self.config_path = os.path.join(workdir, "aigw.toml")
        self.write_config(config_text)
        self.lines = []
        self.port = self.admin_port = None
        self._ready = threading.Event()
        self.proc = subprocess.Popen([binary, "serve", "-c", self.config_path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(30):
            self.proc.kill()
            raise RuntimeError("aigw did not start:\n" + "\n".join(self.lines[-20:]))

    def write_config(self, text):
        tmp = self.config_path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.config_path)

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            # Keep what matters for the report; a long run must not grow this
            # list per request.
            if len(self.lines) < 5000:
                self.lines.append(line)
            obj = _json_line(raw)
            if not obj:
                continue
            if obj.get("msg") == "admin listening":
                self.admin_port = int(obj["addr"].rsplit(":", 1)[1])
            if obj.get("msg") == "listening" and self.port is None:
                self.port = int(obj["addr"].rsplit(":", 1)[1])
                self._ready.set()

    def rss_kb_and_fds(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            fds = len(os.listdir("/proc/%d/fd" % self.proc.pid))
            return rss, fds
        except (OSError, StopIteration):
            return None

    def admin(self, method, path):
        return http("127.0.0.1", self.admin_port, method, path, timeout=10,
                    headers={"Authorization": "Bearer " + ADMIN_KEY})

    def sanitizer_reports(self):
        marks = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:",
                 "ThreadSanitizer")
        return [l for l in self.lines if any(m in l for m in marks)]


def _json_line(raw):
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


# ---- HTTP, as the clients speak it ------------------------------------------

def http(host, port, method, path, body=b"", headers=None, timeout=5.0):
    """One request on its own connection; (status, body) or (None, reason)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.settimeout(timeout)
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n" % (
            method, path, host, len(body))
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        s.sendall(head.encode() + b"\r\n" + body)
        data = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        return None, str(e)
    finally:
        s.close()
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, "no status line"
    if b"transfer-encoding: chunked" in head.lower():
        rest = _dechunk(rest)
    return status, rest


def _dechunk(b):
    out, i = bytearray(), 0
    while True:
        j = b.find(b"\r\n", i)
        if j < 0:
            return bytes(out)
        try:
            n = int(b[i:j].split(b";")[0], 16)
        except ValueError:
            return bytes(out)
        if n == 0:
            return bytes(out)
        out += b[j + 2:j + 2 + n]
        i = j + 2 + n + 2


class Client(threading.Thread):
    """Sends requests one after another until told to stop; records what it
    saw for each request id."""

    def __init__(self, gw, n, stop, seen, lock, rng_seed):
        super().__init__(daemon=True)
        self.gw, self.n, self.stop, self.seen, self.lock = gw, n, stop, seen, lock
        self.rng = random.Random(rng_seed)
        self.count = 0

    def run(self):
        while not self.stop.is_set():
            self.count += 1
            rid = "soak-%d-%d" % (self.n, self.count)
            kind = self.rng.choices(["chat", "stream", "embed", "hangup"], [40, 40, 10, 10])[0]
            name, secret, _ = self.rng.choices(KEYS, [70, 15, 15])[0]
            outcome = self.one(rid, kind, secret)
            with self.lock:
                self.seen[rid] = {"kind": kind, "key": name, "outcome": outcome}
            if outcome["status"] in (429, 503):
                # Back off as a client would: refusals are fast, and without
                # this they would be most of the traffic.
                time.sleep(0.05)

    def one(self, rid, kind, secret):
        if kind == "embed":
            path, body = "/v1/embeddings", {"model": "soak-embed", "input": ["soak " + rid]}
        else:
            path = "/v1/chat/completions"
            body = {"model": "soak-chat", "messages": [{"role": "user", "content": "soak " + rid}]}
            if kind in ("stream", "hangup"):
                body["stream"] = True
        payload = json.dumps(body).encode()
        head = ("POST %s HTTP/1.1\r\nHost: aigw\r\nAuthorization: Bearer %s\r\nx-request-id: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (path, secret, rid, len(payload)))
        try:
            s = socket.create_connection(("127.0.0.1", self.gw.port), timeout=CLIENT_TIMEOUT)
        except OSError as e:
            return {"status": None, "end": "connect-failed: %s" % e}
        deadline = time.monotonic() + CLIENT_TIMEOUT
        try:
            s.sendall(head.encode() + payload)
            data = bytearray()
            status = None
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return {"status": status, "end": "client-timeout"}
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if status is None and b"\r\n" in data:
                    try:
                        status = int(bytes(data).split(b" ", 2)[1])
                    except (IndexError, ValueError):
                        return {"status": None, "end": "bad-status-line"}
                if kind == "hangup" and status == 200 and b"data: " in data:
                    # A client that goes away after the first event.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return {"status": 200, "end": "client-hangup"}
                if data.endswith(b"0\r\n\r\n") or _complete_fixed(data):
                    break
            end = "complete"
            if status == 200 and kind in ("stream", "hangup"):
                end = "done" if b"data: [DONE]" in data else ("error-event" if b'"error"' in data else "cut")
            return {"status": status, "end": end, "code": _error_code(data)}
        except OSError as e:
            return {"status": None, "end": "io-error: %s" % e.__class__.__name__}
        finally:
            s.close()


def _error_code(data):
    """The `code` of the error body or of a stream's error event, or None."""
    i = bytes(data).rfind(b'{"error"')
    if i < 0:
        return None
    j = bytes(data).find(b"}}", i)
    try:
        return json.loads(bytes(data)[i:j + 2])["error"].get("code")
    except (ValueError, KeyError, AttributeError, TypeError):
        return None


def _complete_fixed(data):
    head, sep, body = bytes(data).partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v.strip())
    return False


# ---- the run ----------------------------------------------------------------

def config_text(tls_up, plain_up, mock_port, access_log, generation):
    keys = "".join('[[key]]\nname = "%s"\nsecret = "%s"\n%s\n' % k for k in KEYS)
    timeouts = 'connect_timeout = "2s"\nfirst_byte_timeout = "2s"\nstream_idle_timeout = "2s"\n'
    return ("[server]\nlisten = \"127.0.0.1:0\"\nworkers = 2\nshutdown_delay = \"0s\"\n\n"
            "[admin]\nlisten = \"127.0.0.1:0\"\napi_key = \"%s\"\n\n"
            "[access_log]\npath = \"%s\"\n\n"
            "[routing]\nmax_attempts = 3\nattempt_deadline = \"8s\"\nfailure_threshold = 4\n"
            "cooldown = \"1s\"\nmax_cooldown = \"4s\"\n\n"
            "[[provider]]\nname = \"py-tls\"\nplugin = \"openai\"\nbase_url = \"%s\"\nca_file = \"%s\"\n"
            "api_keys = [\"sk-up-tls-a\", \"sk-up-tls-b\"]\nmodels = [\"soak-chat\"]\n%s\n"
            "[[provider]]\nname = \"py-plain\"\nplugin = \"openai\"\nbase_url = \"%s\"\n"
            "api_keys = [\"sk-up-plain\"]\nmodels = [\"soak-chat\"]\n%s\n"
            "[[provider]]\nname = \"mock\"\nplugin = \"openai\"\nbase_url = \"http://127.0.0.1:%d/v1\"\n"
            "api_keys = [\"sk-up-mock\"]\nmodels = [\"soak-chat\", \"soak-embed\"]\n"
            "headers = [\"x-mock-drip-interval: 1\"]\n%s\n"
            "# generation %d: the reloader rewrites this file\n%s"
            % (ADMIN_KEY, access_log, tls_up.base_url, tls_up.ca_file, timeouts, plain_up.base_url, timeouts,
               mock_port, timeouts, generation, keys))


def slope_per_min(samples):
    """Least-squares slope of (t seconds, value) in value per minute."""
    n = len(samples)
    if n < 3:
        return 0.0
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    den = sum((t - mt) ** 2 for t, _ in samples)
    return 0.0 if den == 0 else 60.0 * sum((t - mt) * (v - mv) for t, v in samples) / den


def run(args):
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="aigw-soak-")
    summary = {"duration_s": args.duration, "clients": args.clients, "seed": args.seed,
               "faults": {}, "reloads": 0, "reload_failures": 0, "swaps": 0, "swap_failures": 0}
    failures = []
    cert = make_cert(work)
    tls_up = Upstream(tls=True, cert=cert)
    plain_up = Upstream()
    mock = Mock(args.mock)
    access_log = os.path.join(work, "access.log")
    gw = Gateway(args.aigw, work, config_text(tls_up, plain_up, mock.port, access_log, 0))
    stop = threading.Event()
    seen, lock = {}, threading.Lock()
    samples = []
    time.sleep(1)
    summary["start_fds"] = (gw.rss_kb_and_fds() or (0, 0))[1]
    try:
        clients = [Client(gw, i, stop, seen, lock, rng.random()) for i in range(args.clients)]
        for c in clients:
            c.start()
        start = time.monotonic()
        next_fault = next_reload = next_swap = start
        generation = 0
        while time.monotonic() - start < args.duration:
            now = time.monotonic()
            if now >= next_fault:
                target = rng.choice(["tls", "plain", "mock"])
                if target == "mock":
                    mode = rng.choice(MOCK_FAULTS)
                    mock.fault(mode)
                else:
                    mode = rng.choice(PY_FAULTS)
                    (tls_up if target == "tls" else plain_up).set_mode(mode)
                label = "%s:%s" % (target, mode or "none")
                summary["faults"][label] = summary["faults"].get(label, 0) + 1
                next_fault = now + rng.uniform(1.0, 3.0)
            if now >= next_reload:
                generation += 1
                gw.write_config(config_text(tls_up, plain_up, mock.port, access_log, generation))
                status, body = gw.admin("POST", "/admin/reload")
                summary["reloads"] += 1
                if status != 200:
                    summary["reload_failures"] += 1
                    failures.append("reload %d: %s %r" % (generation, status, body[:200]))
                next_reload = now + args.reload_every
            if now >= next_swap and now > start:
                status, body = gw.admin("POST", "/admin/plugins/reload")
                summary["swaps"] += 1
                if status != 200:
                    summary["swap_failures"] += 1
                    failures.append("plugin swap: %s %r" % (status, body[:200]))
                next_swap = now + args.swap_every
            elif now >= next_swap:
                next_swap = now + args.swap_every
            m = gw.rss_kb_and_fds()
            if m is None:
                failures.append("aigw exited during the run (status %s)" % gw.proc.poll())
                break
            samples.append((now - start, m[0], m[1]))
            time.sleep(0.5)
        stop.set()
        for c in clients:
            c.join(CLIENT_TIMEOUT + 5)
        # Heal everything; then the gateway must serve again.
        tls_up.set_mode("")
        plain_up.set_mode("")
        mock.fault("none")
        time.sleep(args.heal)
        final_ok = 0
        for i in range(20):
            status, _ = http("127.0.0.1", gw.port, "POST", "/v1/chat/completions", timeout=CLIENT_TIMEOUT,
                             headers={"Authorization": "Bearer " + KEYS[0][1], "x-request-id": "soak-final-%d" % i,
                                      "Content-Type": "application/json"},
                             body=json.dumps({"model": "soak-chat",
                                              "messages": [{"role": "user", "content": "final %d" % i}]}).encode())
            final_ok += status == 200
        summary["final_ok"] = final_ok
        if final_ok < 20:
            failures.append("after healing, %d of 20 requests answered 200" % final_ok)
        status, body = gw.admin("GET", "/admin/providers")
        workers = len(json.loads(body)["workers"]) if status == 200 else 0
        summary["workers_answering"] = workers
        if workers != 2:
            failures.append("/admin/providers: %s, %d workers of 2" % (status, workers))
        # Idle: the upstreams close their idle connections (aigw-mock after
        # 3 s, the Python ones after 10 s) and aigw must let go of them; then
        # it holds what it held before any traffic: nothing leaked.
        time.sleep(args.idle)
        idle = gw.rss_kb_and_fds()
        summary["end_rss_kb"], summary["end_fds"] = (idle or (None, None))
        if idle and idle[1] > summary["start_fds"]:
            failures.append("%d descriptors open when idle after the run, %d before it"
                            % (idle[1], summary["start_fds"]))
    finally:
        stop.set()
        if gw.proc.poll() is None:
            gw.proc.send_signal(signal.SIGTERM)
        try:
            code = gw.proc.wait(30)
        except subprocess.TimeoutExpired:
            gw.proc.kill()
            code = "hung on SIGTERM"
        tls_up.stop()
        plain_up.stop()
        mock_stats = mock.stats() if mock.proc.poll() is None else {}
        mock.stop()
    summary["exit_status"] = code
    if code != 0:
        failures.append("aigw exit status after SIGTERM: %s" % code)
    reports = gw.sanitizer_reports()
    if reports:
        failures.append("sanitizer report: " + " | ".join(reports[:5]))

    # The client's view against the access log.
    logged = {}
    with open(access_log) as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                failures.append("access log line is not JSON: %r" % line[:200])
                continue
            logged.setdefault(rec.get("request_id"), []).append(rec)
    outcomes = {}
    for rid, s in seen.items():
        o = s["outcome"]
        label = "%s %s" % (o["status"], o["end"])
        if o.get("code"):
            label += " " + o["code"]
        outcomes[label] = outcomes.get(label, 0) + 1
        recs = logged.get(rid, [])
        if len(recs) != 1:
            failures.append("%s (%s): %d access log lines" % (rid, label, len(recs)))
            continue
        rec = recs[0]
        if o["end"] == "cut":
            failures.append("%s: a stream that ended with neither [DONE] nor an error event" % rid)
        elif o["end"] == "error-event":
            # The 200 went out before the failure: the log counts the stream
            # as the error its event carries (docs/config.md, [access_log]).
            if rec.get("status", 0) < 400 or rec.get("error") != o.get("code"):
                failures.append("%s: client saw an error event %s, log says %s %s"
                                % (rid, o.get("code"), rec.get("status"), rec.get("error")))
        elif o["status"] is not None and o["end"] in ("complete", "done"):
            # A provider's own error answer passed through is logged with
            # error null (its body carries the provider's code).
            if rec.get("status") != o["status"] or rec.get("error") not in (None, o.get("code")):
                failures.append("%s: client saw %s %s, log says %s %s"
                                % (rid, o["status"], o.get("code"), rec.get("status"), rec.get("error")))
    summary["requests"] = len(seen)
    summary["outcomes"] = dict(sorted(outcomes.items(), key=lambda kv: -kv[1]))
    # Nothing went upstream more often than aigw says it tried.
    served = {}
    for up in (tls_up, plain_up):
        for prompt, where in up.stats()["prompts"].items():
            if prompt.startswith("soak "):
                served[prompt[5:]] = served.get(prompt[5:], 0) + len(where)
    duplicated = 0
    for rid, n in served.items():
        recs = logged.get(rid)
        attempts = recs[0].get("attempts", 1) if recs else 0
        if n > max(attempts, 1):
            duplicated += 1
            if duplicated <= 10:
                failures.append("%s reached the Python upstreams %d times, attempts %s" % (rid, n, attempts))
    summary["duplicated"] = duplicated
    summary["lost"] = sum(1 for rid in seen if len(logged.get(rid, [])) != 1)
    summary["mock_requests"] = mock_stats.get("requests")
    # Flat after warm-up.
    warm = [s for s in samples if s[0] >= args.warmup]
    summary["rss_kb_first_last"] = [warm[0][1], warm[-1][1]] if warm else None
    summary["fds_first_last"] = [warm[0][2], warm[-1][2]] if warm else None
    summary["rss_slope_kb_per_min"] = round(slope_per_min([(t, r) for t, r, _ in warm]), 1)
    summary["fd_slope_per_min"] = round(slope_per_min([(t, f) for t, _, f in warm]), 2)
    if args.rss_check and summary["rss_slope_kb_per_min"] > args.max_rss_slope:
        failures.append("RSS grows %.1f KiB/min after warm-up (limit %s)"
                        % (summary["rss_slope_kb_per_min"], args.max_rss_slope))
    # Judged over long runs only: in-flight connections come and go, and
    # over two minutes that noise is the slope (the idle check above is the
    # short run's leak check).
    if args.duration >= 600 and summary["fd_slope_per_min"] > args.max_fd_slope:
        failures.append("descriptors grow %.2f per minute after warm-up (limit %s)"
                        % (summary["fd_slope_per_min"], args.max_fd_slope))
    summary["failures"] = failures[:50]
    if not failures:
        shutil.rmtree(work, ignore_errors=True)
    else:
        summary["workdir"] = work
    return summary


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--aigw", default=os.environ.get("AIGW_BIN", "build/src/aigw"))
    p.add_argument("--mock", default=os.environ.get("AIGW_MOCK_BIN", "build/tests/mock/aigw-mock"))
    p.add_argument("--duration", type=float, default=120, help="seconds of traffic (default 120)")
    p.add_argument("--clients", type=int, default=6, help="concurrent clients (default 6)")
    p.add_argument("--reload-every", type=float, default=10, help="seconds between config reloads")
    p.add_argument("--swap-every", type=float, default=30, help="seconds between plugin swaps")
    p.add_argument("--warmup", type=float, default=30, help="seconds left out of the slopes")
    p.add_argument("--heal", type=float, default=5, help="seconds after healing before the final batch")
    p.add_argument("--max-rss-slope", type=float, default=2048, help="KiB per minute")
    p.add_argument("--no-rss-check", dest="rss_check", action="store_false",
                   help="report RSS but do not judge it (ASan's quarantine grows RSS by design)")
    p.add_argument("--max-fd-slope", type=float, default=2, help="descriptors per minute")
    p.add_argument("--idle", type=float, default=12, help="seconds of quiet before the idle descriptor count")
    p.add_argument("--seed", type=int, default=int(time.time()))
    p.add_argument("--json", help="also write the summary here")
    args = p.parse_args()
    reason = tls_skip_reason()
    if reason:
        print("soak: skipped: " + reason)
        sys.exit(77)
    summary = run(args)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    sys.exit(1 if summary["failures"] else 0)


if __name__ == "__main__":
    main()
