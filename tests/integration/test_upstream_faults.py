"""aigw against upstreams that misbehave the way real providers do (issue
11), through the real binary and the openai plugin, with the upstreams of
upstreams.py:

- the close matrix: a TLS (and a plain) provider that closes after each
  response with close_notify, with a bare FIN, with `Connection: close`, or
  recycles connections like nginx `keepalive_requests 1` / `5`; every
  request must get its own full answer, sequentially and at concurrency 4,
  a healthy provider on the same worker must keep answering, and aigw must
  leave no socket in CLOSE-WAIT;
- streams and bodies that die after the head, after some events or in the
  middle of a chunk: a clear error for the client (an SSE error event once
  the stream reached it), counted against the channel until its breaker
  opens;
- a provider that rejects a key (401): failover to the next key, and 502
  upstream_auth_failed naming the provider (never the key) when none is
  left;
- a passed-through 429 keeps Retry-After and retry-after-ms;
- a slow but live (dripping) stream completes.

Each case runs with workers = 1 so that every request shares one worker's
connection pool. Every wait is bounded: client sockets time out, a phase
stops early once it has seen enough failures, and its summary says what
the failures looked like."""

import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest

from harness import Reader, Server, main, read_chunked_events, request
from upstreams import Upstream, answer_text, make_cert, parse_mode, tls_skip_reason

CANARY = "sk-canary-faults-31c9e0"
ADMIN = '[admin]\nlisten = "127.0.0.1:0"\n'
CLIENT_TIMEOUT = 4.0  # aigw's own upstream timeouts (2s) answer well before this


# ---- talking to aigw ------------------------------------------------------------

class Outcome:
    """One request's fate: ok, or a symptom worth reporting."""

    def __init__(self, ok, symptom="", ms=0.0, status=None, headers=None, body=b"", events=None, clean=False):
        self.ok, self.symptom, self.ms = ok, symptom, ms
        self.status, self.headers, self.body, self.events, self.clean = status, headers or [], body, events, clean

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def error(self):
        try:
            return json.loads(self.body if self.events is None else self.events[0])["error"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None


def chat_body(model, prompt, stream):
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


class DeadlineReader(Reader):
    """A Reader whose whole read ends by a deadline: a trickle of bytes
    cannot keep a test waiting."""

    def __init__(self, sock, deadline):
        super().__init__(sock)
        self.deadline = deadline

    def _fill(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline")
        self.sock.settimeout(min(left, self.sock.gettimeout() or left))
        super()._fill()


def ask(server, model, prompt, stream=False, timeout=CLIENT_TIMEOUT):
    """Sends one request on a fresh connection; the outcome is ok only for
    a complete answer to this very prompt. `timeout` bounds each wait for
    bytes, three times it the whole exchange."""
    t0 = time.monotonic()
    ms = lambda: (time.monotonic() - t0) * 1000
    try:
        s = server.connect(timeout=timeout)
    except OSError as e:
        return Outcome(False, "cannot connect to aigw: %s" % e, ms())
    with s:
        try:
            s.sendall(request("POST", "/v1/chat/completions", {}, chat_body(model, prompt, stream)))
            rd = DeadlineReader(s, t0 + 3 * timeout)
            resp = rd.read_response(head_only=True)
            chunked = (resp.header("Transfer-Encoding") or "").lower() == "chunked"
            if not chunked:
                n = int(resp.header("Content-Length") or 0)
                while len(rd.buf) < n:
                    rd._fill()
                resp.body = rd.buf[:n]
                return judge(resp, None, True, prompt, stream, ms())
            events, clean = read_chunked_events(rd)
            return judge(resp, events, clean, prompt, stream, ms())
        except socket.timeout:
            return Outcome(False, "no answer within %.0f s" % timeout, ms())
        except EOFError:
            return Outcome(False, "aigw closed the connection without a complete answer", ms())
        except ConnectionResetError:
            return Outcome(False, "aigw reset the connection", ms())


def stream_text(events):
    text = ""
    for e in events:
        try:
            obj = json.loads(e)
        except ValueError:
            continue
        for c in obj.get("choices") or []:
            text += (c.get("delta") or {}).get("content") or ""
    return text


def judge(resp, events, clean, prompt, stream, ms):
    out = Outcome(False, "", ms, resp.status, resp.headers, resp.body, events, clean)
    if resp.status != 200:
        err = out.error()
        code = err.get("code") if isinstance(err, dict) else None
        out.symptom = "%d %s" % (resp.status, code or "(no error code)")
        return out
    want = answer_text(prompt)
    if events is None:
        try:
            got = json.loads(resp.body)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            out.symptom = "200 with a body that is not a completion: %r" % resp.body[:80]
            return out
        if got != want:
            out.symptom = ("200 with another request's answer" if got.startswith("echo:")
                           else "200 with a wrong answer")
            return out
        out.ok = True
        return out
    if not stream:
        out.symptom = "a chunked answer to a non-stream request"
        return out
    if not clean:
        out.symptom = "stream cut or stalled (no chunked terminator)"
        return out
    if not events or events[-1] != "[DONE]":
        last = events[-1] if events else ""
        out.symptom = "stream ended with an error event" if '"error"' in last else "stream ended without [DONE]"
        return out
    got = stream_text(events)
    if got != want:
        out.symptom = ("stream with another request's answer" if got.startswith("echo:")
                       else "stream with a wrong answer")
        return out
    out.ok = True
    return out


def admin_get(server, path):
    with server.connect(timeout=10, admin=True) as s:
        s.sendall(request("GET", path))
        return Reader(s).read_response()


def upstream_errors(server, provider):
    """aigw_upstream_errors_total of one provider, every kind summed."""
    r = admin_get(server, "/metrics")
    assert r.status == 200, r.body
    total = 0
    for line in r.body.decode().splitlines():
        if line.startswith("aigw_upstream_errors_total{") and 'provider="%s"' % provider in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def channels(server, name):
    r = admin_get(server, "/admin/providers")
    assert r.status == 200, r.body
    return [c for w in r.json()["workers"] for c in w["channels"] if c["channel"] == name]


def close_wait_sockets(pid):
    """aigw's own TCP sockets in CLOSE-WAIT (the peer closed, aigw did not),
    from /proc: the socket inodes of its descriptors matched against the
    namespace's tcp tables."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    found = []
    for table in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, table)) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "08" and cols[9] in inodes:
                found.append("%s -> %s" % (addr(cols[1]), addr(cols[2])))
    return found


def addr(hexaddr):
    ip, port = hexaddr.split(":")
    if len(ip) == 8:
        ip = ".".join(str(int(ip[i:i + 2], 16)) for i in (6, 4, 2, 0))
    return "%s:%d" % (ip, int(port, 16))


# ---- bounded load -----------------------------------------------------------------

class Phase:
    """Runs jobs on `concurrency` threads; stops early after `max_failures`
    failures or when `budget_s` is spent, so a broken gateway costs seconds,
    not minutes. summary() groups the failures by symptom."""

    def __init__(self, name, jobs, concurrency=1, max_failures=8, budget_s=25.0):
        self.name, self.jobs = name, jobs
        self.results = []
        lock = threading.Lock()
        nxt = [0]
        end = time.monotonic() + budget_s

        def worker():
            while True:
                with lock:
                    failures = sum(1 for r in self.results if not r.ok)
                    if nxt[0] >= len(jobs) or failures >= max_failures or time.monotonic() > end:
                        return
                    job = jobs[nxt[0]]
                    nxt[0] += 1
                out = job()
                with lock:
                    self.results.append(out)
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(budget_s + CLIENT_TIMEOUT + 5)

    def failed(self):
        return [r for r in self.results if not r.ok]

    def summary(self):
        ok = sum(1 for r in self.results if r.ok)
        text = "%s: %d/%d ok" % (self.name, ok, len(self.jobs))
        if len(self.results) < len(self.jobs):
            text += " (%d not sent: stopped after %d failures)" % (len(self.jobs) - len(self.results),
                                                                   len(self.failed()))
        groups = {}
        for r in self.failed():
            groups.setdefault(r.symptom, []).append(r.ms)
        for symptom, times in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            text += "\n    %dx %s (%.1f-%.1f ms)" % (len(times), symptom, min(times), max(times))
        return text


def jobs_for(server, model, tag, n, streams):
    """n requests, each with its own prompt; `streams`: 'no', 'yes' or 'mixed'."""
    out = []
    for i in range(n):
        stream = streams == "yes" or (streams == "mixed" and i % 2 == 1)
        prompt = "%s-%d" % (tag, i)
        out.append(lambda p=prompt, st=stream: ask(server, model, p, st))
    return out


# ---- configuration --------------------------------------------------------------------

def provider(name, up, models, keys=None, extra=""):
    keys = keys or ["env:AIGW_TEST_PROVIDER_KEY"]
    text = """
[[provider]]
name = "%s"
plugin = "openai"
base_url = "%s"
api_keys = %s
models = %s
connect_timeout = "2s"
first_byte_timeout = "2s"
stream_idle_timeout = "2s"
request_timeout = "20s"
""" % (name, up.base_url, json.dumps(keys), json.dumps(models))
    if up.ca_file:
        text += 'ca_file = "%s"\n' % up.ca_file
    return text + extra


class CertDir:
    """A test CA and a localhost certificate, made once per class."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="aigw-upf-")
        self.cert = make_cert(self.dir)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def gateway(providers, routing="max_attempts = 1\n"):
    os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
    cfg = '[[plugin]]\nname = "openai"\n' + ADMIN + "[routing]\n" + routing + providers
    return Server(cfg, workers=1)


def stop_gateway(server):
    server.stop()
    assert CANARY not in "\n".join(server.lines), "provider key in aigw's log"


# ---- the close matrix ---------------------------------------------------------------------

def _close_modes():
    modes = {"keep_alive": "", "idle_close": "close=notify linger=20"}
    for name, spec in (("close_notify", "close=notify"), ("bare_fin", "close=fin"),
                       ("connection_close", "close=header"), ("keepalive_1", "keepalive=1"),
                       ("keepalive_5", "keepalive=5")):
        modes[name] = spec
        modes[name + "_together"] = spec + " together"
    return modes


# keep_alive: the baseline, a provider that keeps its connections open.
# idle_close: a pooled connection the provider drops a moment after its answer.
# *_together: the answer's last bytes, close_notify and FIN in one segment.
CLOSE_MODES = _close_modes()


class CloseMatrix(unittest.TestCase):
    """One aigw (workers = 1, max_attempts = 1) per case, with the closing
    provider and a healthy plain-HTTP one."""

    TLS = True

    @classmethod
    def setUpClass(cls):
        cls.certs = None
        if cls.TLS:
            reason = tls_skip_reason()
            if reason:
                raise unittest.SkipTest(reason)
            cls.certs = CertDir()
        cls.healthy = Upstream("")

    @classmethod
    def tearDownClass(cls):
        cls.healthy.stop()
        if cls.certs:
            cls.certs.remove()

    def run_case(self, mode_name):
        spec = CLOSE_MODES[mode_name]
        flaky = Upstream(spec, tls=self.TLS, cert=self.certs.cert if self.certs else None)
        server = gateway(provider("flaky", flaky, ["flaky-model"]) + provider("healthy", self.healthy, ["ok-model"]))
        report = []
        problems = []
        try:
            before = flaky.stats()
            seq = [Phase("sequential non-stream to the closing provider",
                         jobs_for(server, "flaky-model", "seq", 20, "no")),
                   Phase("sequential stream to the closing provider",
                         jobs_for(server, "flaky-model", "seqs", 20, "yes"))]
            mid = flaky.stats()
            phases = seq + [
                Phase("concurrency 4, mixed, to the closing provider",
                      jobs_for(server, "flaky-model", "conc", 40, "mixed"), concurrency=4),
                Phase("concurrency 4, mixed, to the healthy provider on the same worker",
                      jobs_for(server, "ok-model", "healthy", 100, "mixed"), concurrency=4),
                Phase("sequential, mixed, to the closing provider again",
                      jobs_for(server, "flaky-model", "again", 20, "mixed")),
            ]
            after = flaky.stats()
            report += [p.summary() for p in phases]
            problems += [p.name for p in phases if p.failed() or len(p.results) < len(p.jobs)]

            sent = sum(len(p.results) for i, p in enumerate(phases) if i != 3)
            served = after["requests"] - before["requests"]
            twice = sorted((p, on) for p, on in after["prompts"].items() if len(on) > 1)
            if served > sent or twice:
                problems.append("the provider served %d requests for %d sent; %d went upstream more than once: %s"
                                % (served, sent, len(twice),
                                   "; ".join("%s on %s" % (p, ", ".join(on)) for p, on in twice[:3])))
            # Reuse: a connection serves until the provider ends it.
            per_conn = parse_mode(spec).get("keepalive", 40 if not spec else 1)
            if per_conn > 1 and all(not p.failed() for p in seq):
                used = mid["connections"] - before["connections"]
                if used > 40 // per_conn + 1:
                    problems.append("%d connections for 40 sequential requests (the provider allows %d each)"
                                    % (used, per_conn))

            stuck = []
            end = time.monotonic() + 3
            if server.proc.poll() is not None:
                problems.append("aigw died during the run: exit status %d" % server.proc.returncode)
                end = 0
            while time.monotonic() < end:
                stuck = close_wait_sockets(server.proc.pid)
                if not stuck:
                    break
                time.sleep(0.1)
            if stuck:
                problems.append("aigw sockets in CLOSE-WAIT after 3 s: %s" % ", ".join(stuck))
            report.append("upstream: %d connections, %d requests, %d failed TLS handshakes"
                          % (after["connections"], after["requests"], after["tls_handshake_failures"]))
        finally:
            try:
                server.stop()
            except AssertionError as e:  # a crash or an unclean exit
                problems.append(str(e).splitlines()[0])
                server.kill()
            flaky.stop()
        if problems:
            self.fail("%s\n  %s\n  --\n  %s" % (CLOSE_MODES[mode_name] or "keep-alive", "\n  ".join(problems),
                                                "\n  ".join(report)))


def _close_case(name):
    return lambda self: self.run_case(name)


class CloseMatrixPlain(CloseMatrix):
    """The same over plain HTTP: tells a TLS-only defect from one of the
    connection handling itself (close_notify is TLS only)."""
    TLS = False


for _name in CLOSE_MODES:
    setattr(CloseMatrix, "test_" + _name, _close_case(_name))
    if not _name.startswith("close_notify"):
        setattr(CloseMatrixPlain, "test_" + _name, _close_case(_name))


# ---- responses that die half-way ------------------------------------------------------------

DEATHS = {
    # provider: (mode, stream reaches the client before the death)
    "diehead": ("die-after-head", False),
    "dieevents": ("die-after-events=3", True),  # role, "echo:", " <prompt>": content reached the client
    "diechunk": ("die-mid-chunk", True),
}
THRESHOLD = 3


class Deaths(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ups = {name: Upstream(mode) for name, (mode, _) in DEATHS.items()}
        providers = "".join(provider(name, up, [name + "-model"]) for name, up in cls.ups.items())
        cls.server = gateway(providers, 'max_attempts = 1\nfailure_threshold = %d\ncooldown = "60s"\n'
                                        'max_cooldown = "60s"\n' % THRESHOLD)

    @classmethod
    def tearDownClass(cls):
        stop_gateway(cls.server)
        for up in cls.ups.values():
            up.stop()

    def check_death(self, name):
        _, committed = DEATHS[name]
        model = name + "-model"
        base = upstream_errors(self.server, name)

        out = ask(self.server, model, "die-1", stream=True)
        self.assertFalse(out.ok, out.symptom)
        if committed:
            # The stream reached the client: it must end with an error event
            # and the chunked terminator, never a bare cut or a [DONE].
            self.assertEqual(out.status, 200, out.symptom)
            self.assertTrue(out.clean, "the stream was cut without its terminator: %r" % (out.events or [])[-2:])
            self.assertTrue(out.events, "no events")
            self.assertNotEqual(out.events[-1], "[DONE]")
            last = json.loads(out.events[-1])
            self.assertIn("error", last, out.events[-2:])
            self.assertTrue(last["error"].get("message"))
        else:
            self.assertEqual(out.status, 502, out.symptom)
            self.assertIsNotNone(out.error(), out.body)

        out = ask(self.server, model, "die-2", stream=False)
        self.assertEqual(out.status, 502, out.symptom)
        self.assertIsNotNone(out.error(), out.body)

        counted = upstream_errors(self.server, name) - base
        states = channels(self.server, name + "#0")
        failures = sum(c["failures"] for c in states)
        self.assertGreaterEqual(counted, 2, "aigw_upstream_errors_total{provider=%s} rose by %d after 2 failed "
                                "attempts; /admin/providers: %s" % (name, counted, states))
        self.assertGreaterEqual(failures, 2, states)

        for i in range(THRESHOLD - 2):
            ask(self.server, model, "die-more-%d" % i, stream=True)
        states = channels(self.server, name + "#0")
        self.assertTrue(states and all(c["state"] == "open" for c in states),
                        "breaker not open after %d failures: %s" % (THRESHOLD, states))
        out = ask(self.server, model, "after-open")
        self.assertEqual(out.status, 503, out.symptom)

    def test_die_after_head(self):
        self.check_death("diehead")

    def test_die_after_events(self):
        self.check_death("dieevents")

    def test_die_mid_chunk(self):
        self.check_death("diechunk")


# ---- keys the provider rejects -----------------------------------------------------------------

BAD = ["sk-bad-key-0001", "sk-bad-key-0002", "sk-bad-key-0003", "sk-bad-key-0004", "sk-bad-key-0005"]


class RejectedKeys(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = Upstream("", key_modes={k: "status=401" for k in BAD})
        providers = provider("keyed", cls.up, ["keyed-model"], [BAD[0], "env:AIGW_TEST_PROVIDER_KEY"])
        providers += provider("allbad", cls.up, ["allbad-model"], BAD[1:3])
        providers += provider("allbads", cls.up, ["allbads-model"], BAD[3:5])
        cls.server = gateway(providers, "max_attempts = 3\n")

    @classmethod
    def tearDownClass(cls):
        stop_gateway(cls.server)
        cls.up.stop()
        logs = "\n".join(cls.server.lines)
        for k in BAD:
            assert k not in logs, "a provider key in aigw's log"

    def test_401_fails_over_to_the_next_key(self):
        for i in range(4):
            out = ask(self.server, "keyed-model", "keyed-%d" % i, stream=i % 2 == 1)
            self.assertTrue(out.ok, "request %d: %s %r" % (i, out.symptom, out.body or out.events))
        self.assertIn(BAD[0], self.up.stats()["keys_seen"], "the rejected key was never tried")
        self.assertTrue(all(c["state"] == "key_disabled" for c in channels(self.server, "keyed#0")))

    def check_all_rejected(self, model, prov, keys, stream):
        out = ask(self.server, model, "nobody", stream=stream)
        self.assertEqual(out.status, 502, "%s %r" % (out.symptom, out.body or out.events))
        err = out.error()
        self.assertIsNotNone(err, out.body)
        self.assertEqual(err.get("code"), "upstream_auth_failed", err)
        self.assertIn(prov, err["message"])
        text = out.body.decode() + json.dumps(out.events) + json.dumps(out.headers)
        for k in BAD + [CANARY]:
            self.assertNotIn(k, text)
        seen = self.up.stats()["keys_seen"]
        self.assertTrue(all(k in seen for k in keys), "not every key was tried: %s" % seen)

    def test_all_keys_rejected_is_502_upstream_auth_failed(self):
        self.check_all_rejected("allbad-model", "allbad", BAD[1:3], stream=False)

    def test_all_keys_rejected_stream(self):
        self.check_all_rejected("allbads-model", "allbads", BAD[3:5], stream=True)


# ---- 429 passed through ----------------------------------------------------------------------------

class RateLimited(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = Upstream("status=429 retry-after=7")
        providers = provider("limited", cls.up, ["limited-model"]) + provider("limiteds", cls.up, ["limiteds-model"])
        cls.server = gateway(providers)

    @classmethod
    def tearDownClass(cls):
        stop_gateway(cls.server)
        cls.up.stop()

    def check(self, model, stream):
        out = ask(self.server, model, "slow down", stream=stream)
        self.assertEqual(out.status, 429, out.symptom)
        self.assertIsNotNone(out.error(), out.body)
        self.assertEqual(out.header("Retry-After"), "7", out.headers)
        self.assertEqual(out.header("retry-after-ms"), "7000", out.headers)

    def test_429_keeps_retry_after(self):
        self.check("limited-model", False)

    def test_429_keeps_retry_after_stream(self):
        self.check("limiteds-model", True)


# ---- slow but live ----------------------------------------------------------------------------------

class Drip(unittest.TestCase):
    """Events 300 ms apart, about 3.5 s in all, against 2 s timeouts for the
    first byte and the gap between bytes: slow is not dead."""

    @classmethod
    def setUpClass(cls):
        cls.certs = None
        cls.ups = {"plain": Upstream("drip=300")}
        if tls_skip_reason() is None:
            cls.certs = CertDir()
            cls.ups["tls"] = Upstream("drip=300", tls=True, cert=cls.certs.cert)
        cls.server = gateway("".join(provider("drip" + n, up, ["drip-" + n]) for n, up in cls.ups.items()))

    @classmethod
    def tearDownClass(cls):
        stop_gateway(cls.server)
        for up in cls.ups.values():
            up.stop()
        if cls.certs:
            cls.certs.remove()

    def check(self, kind):
        if kind not in self.ups:
            self.skipTest(tls_skip_reason())
        for stream in (True, False):
            t0 = time.monotonic()
            out = ask(self.server, "drip-" + kind, "slowly-%s" % stream, stream=stream, timeout=10)
            self.assertTrue(out.ok, "%s stream=%s: %s %r" % (kind, stream, out.symptom, out.body or out.events))
            self.assertGreater(time.monotonic() - t0, 2.0)  # it did drip: longer than any one timeout

    def test_drip_plain(self):
        self.check("plain")

    def test_drip_tls(self):
        self.check("tls")


class DescriptorLimit(unittest.TestCase):
    """Near the open-file limit (aigw run with a small RLIMIT_NOFILE): what
    cannot be served is refused at accept with a readable 503, and no
    admitted stream is reset or cut for lack of a descriptor (issue 11,
    defect 3)."""

    def test_connections_beyond_the_share_get_503_and_admitted_streams_finish(self):
        up = Upstream("drip=200")  # each stream about 1.2 s
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        # 260 descriptors: 120 are the process's reserve, so the worker's
        # share is 140 and at most 70 client connections are admitted, each
        # with room for its upstream connection.
        server = Server('[[plugin]]\nname = "openai"\n' + ADMIN + provider("slow", up, ["slow"]),
                        workers=1, rlimit_nofile=260)
        try:
            n = 90
            outcomes = [None] * n
            start = threading.Barrier(n)

            def one(i):
                start.wait()
                outcomes[i] = ask(server, "slow", "fd-%d" % i, stream=True, timeout=10)

            threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            ok = [o for o in outcomes if o is not None and o.ok]
            refused = [o for o in outcomes if o is not None and not o.ok and o.status == 503
                       and (o.error() or {}).get("code") == "server_busy"]
            other = [o.symptom if o else "no outcome" for o in outcomes
                     if o is None or (not o.ok and o not in refused)]
            self.assertEqual(other, [], "streams reset, cut or failed otherwise")
            self.assertGreaterEqual(len(ok), 50)
            self.assertGreaterEqual(len(refused), 10)
            for o in refused:
                self.assertEqual(o.header("Connection"), "close")
                self.assertEqual(o.header("Retry-After"), "1")
            # Once in the log, and counted.
            warned = [x for x in server.log_records() if str(x.get("msg", "")).startswith("refusing connections")]
            self.assertEqual(len(warned), 1, warned)
            metrics = admin_get(server, "/metrics").body.decode()
            m = re.search(r'aigw_connections_refused_total\{reason="fd_limit"\} (\d+)', metrics)
            self.assertIsNotNone(m, metrics[-2000:])
            self.assertEqual(int(m.group(1)), len(refused))
            # And the worker serves normally once the streams are done.
            again = ask(server, "slow", "after", stream=False, timeout=10)
            self.assertTrue(again.ok, again.symptom)
        finally:
            stop_gateway(server)
            up.stop()


if __name__ == "__main__":
    main()
