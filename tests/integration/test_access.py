"""Client keys, rate limits, token quotas, metrics and the access log through
the real binaries: the auth matrix with every spelling of a path, limits
held across two workers and many connections, token budgets settled after
streams, metric values after a known sequence, promtool, log lines as JSON,
and a canary provider key that must show up nowhere but upstream."""

import datetime
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import unittest

from harness import Reader, Server, main, request
from test_proxy import Mock, chat, read_stream
from test_proxy import provider as proxy_provider

CANARY = "sk-canary-access-9c3e"      # the provider's key: upstream only
SECRET_A = "sk-client-team-a-5b1f0e"   # client keys: never echoed either
SECRET_B = "sk-client-team-b-77d2a1"
SECRET_LIMITED = "sk-client-limited-4e8c"
SECRET_QUOTA = "sk-client-quota-2f6b"

ADMIN = '\n[admin]\nlisten = "127.0.0.1:0"\n'


def keys_config():
    return """
[[key]]
name = "team-a"
secret = "env:AIGW_TEST_SECRET_A"
models = ["acc-*"]

[[key]]
name = "team-b"
sha256 = "%s"
models = ["acc-model"]

[[key]]
name = "limited"
secret = "%s"
rpm = 20

[[key]]
name = "quota"
secret = "%s"
daily_tokens = 1200
""" % (__import__("hashlib").sha256(SECRET_B.encode()).hexdigest(), SECRET_LIMITED, SECRET_QUOTA)


def post(server, model, key=None, stream=False, headers=None, path="/v1/chat/completions",
         body=None):
    h = dict(headers or {})
    if key:
        h["Authorization"] = "Bearer " + key
    with server.connect(timeout=15) as s:
        s.sendall(request("POST", path, h, body if body is not None else chat(model, stream)))
        if stream:
            return read_stream(s)
        return Reader(s).read_response()


def get(server, path, headers=None, admin=False):
    with server.connect(timeout=10, admin=admin) as s:
        s.sendall(request("GET", path, dict(headers or {})))
        return Reader(s).read_response()


def wait_until(pred, timeout=3.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in %.1f s" % timeout)


def parse_metrics(text):
    """{(name, frozenset(labels)): value} from a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(values, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in values.items() if n == name and want <= set(ls))


class Access(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        os.environ["AIGW_TEST_SECRET_A"] = SECRET_A
        cls.mock = Mock("--stream-interval", "1ms", "--stream-tokens", "4", "--completion-tokens", "4")
        cfg = '[[plugin]]\nname = "openai"\n' + ADMIN
        cfg += proxy_provider("up", cls.mock.port, ["acc-model", "acc-other", "open-model"])
        cfg += keys_config()
        cls.server = Server(cfg, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()
        logs = "\n".join(cls.server.lines)
        for secret in (CANARY, SECRET_A, SECRET_B, SECRET_LIMITED, SECRET_QUOTA):
            assert secret not in logs, "a secret in aigw's log"

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r.body)
        err = r.json()["error"]
        self.assertEqual(err["code"], code)
        self.assertIn("message", err)
        self.assertIn("type", err)
        for secret in (CANARY, SECRET_A, SECRET_B):
            self.assertNotIn(secret, r.body.decode())

    def test_auth_matrix(self):
        self.assertError(post(self.server, "acc-model"), 401, "missing_api_key")
        self.assertError(post(self.server, "acc-model", key="sk-wrong-key-123"), 401, "invalid_api_key")
        self.assertError(post(self.server, "acc-model", key=SECRET_A[:-1]), 401, "invalid_api_key")
        self.assertEqual(post(self.server, "acc-model", key=SECRET_A).status, 200)
        self.assertEqual(post(self.server, "acc-model", key=SECRET_B).status, 200)  # by digest
        for header in ("x-api-key", "api-key"):
            r = post(self.server, "acc-model", headers={header: SECRET_A})
            self.assertEqual(r.status, 200, header)
        # Another scheme is not a bearer token.
        self.assertError(post(self.server, "acc-model", headers={"Authorization": "Basic " + SECRET_A}),
                         401, "missing_api_key")
        # Allowed models: team-a has acc-*, team-b only acc-model.
        self.assertEqual(post(self.server, "acc-other", key=SECRET_A).status, 200)
        self.assertError(post(self.server, "acc-other", key=SECRET_B), 403, "model_not_allowed")
        self.assertError(post(self.server, "open-model", key=SECRET_A), 403, "model_not_allowed")

    def test_every_spelling_of_a_path_gets_the_same_decision(self):
        variants = ["/v1//chat/completions", "/v1/chat/completions/", "/V1/chat/completions",
                    "/v1/chat%2Fcompletions", "/v1/./chat/completions", "/v1/chat/../chat/completions",
                    "http://other.example/v1/chat/completions", "/v1/chat/completions?x=1"]
        for path in variants:
            # Without a key: refused, whatever the spelling.
            self.assertError(post(self.server, "acc-model", path=path), 401, "missing_api_key")
            # With one: the same answer as the canonical form, or no route at all.
            r = post(self.server, "acc-model", key=SECRET_A, path=path)
            self.assertIn(r.status, (200, 404), path)
        # A crafted Host changes nothing either.
        body = chat("acc-model")
        raw = ("POST /v1/chat/completions HTTP/1.1\r\nHost: admin.internal:9\r\n"
               "Content-Length: %d\r\n\r\n" % len(body)).encode() + body
        with self.server.connect() as s:
            s.sendall(raw)
            self.assertError(Reader(s).read_response(), 401, "missing_api_key")
        for path in ("/v1/models", "/v1/models/", "/v1/embeddings", "/nope", "/admin/providers", "/metrics"):
            self.assertError(get(self.server, path), 401, "missing_api_key")
        # Health probes stay open for load balancers, exactly so spelled.
        self.assertEqual(get(self.server, "/health").status, 200)
        self.assertEqual(get(self.server, "/ready").status, 200)
        self.assertEqual(get(self.server, "/health/").status, 401)

    def test_models_lists_what_the_key_may_use(self):
        ids = [m["id"] for m in get(self.server, "/v1/models", {"Authorization": "Bearer " + SECRET_B})
               .json()["data"]]
        self.assertEqual(ids, ["acc-model"])
        ids = [m["id"] for m in get(self.server, "/v1/models", {"Authorization": "Bearer " + SECRET_A})
               .json()["data"]]
        self.assertEqual(sorted(ids), ["acc-model", "acc-other"])

    def test_rate_limit_holds_across_workers(self):
        # rpm 20 over 2 workers: batch = max(1, 20 / (8 * 2)) = 1, so at most
        # 20 + 2 (held leases) + the refill while the burst runs (20/min).
        results = []
        lock = threading.Lock()

        def one():
            r = post(self.server, "acc-model", key=SECRET_LIMITED)
            with lock:
                results.append(r)
        start = time.time()
        threads = [threading.Thread(target=one) for _ in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        elapsed = time.time() - start
        ok = [r for r in results if r.status == 200]
        limited = [r for r in results if r.status == 429]
        self.assertEqual(len(ok) + len(limited), 60, [r.status for r in results])
        self.assertGreaterEqual(len(ok), 20)
        self.assertLessEqual(len(ok), 20 + 2 + int(elapsed * 20 / 60) + 1, elapsed)
        r = limited[0]
        self.assertEqual(r.json()["error"]["code"], "rate_limit_exceeded")
        self.assertGreaterEqual(int(r.header("retry-after")), 1)
        self.assertEqual(r.header("x-ratelimit-limit-requests"), "20")
        self.assertEqual(r.header("x-ratelimit-remaining-requests"), "0")
        self.assertTrue(r.header("x-ratelimit-reset-requests"))
        self.assertEqual(ok[0].header("x-ratelimit-limit-requests"), "20")

    def test_token_quota_settles_after_streams(self):
        # 1200 tokens a day; each request is estimated at about 500 (its
        # max_tokens) but uses about 10. Without settling with the real usage
        # the third request would be refused.
        for i in range(6):
            body = json.dumps({"model": "acc-model", "stream": True, "max_tokens": 500,
                               "messages": [{"role": "user", "content": "hi"}]}).encode()
            with self.server.connect(timeout=15) as s:
                s.sendall(request("POST", "/v1/chat/completions",
                                  {"Authorization": "Bearer " + SECRET_QUOTA}, body))
                status, events, clean = read_stream(s)
            self.assertEqual(status, 200, (i, events))
            self.assertTrue(clean)
        # The quota is spent by real usage (about 30 tokens a request here):
        # soon a request is refused with insufficient_quota.
        codes = []
        for _ in range(100):
            r = post(self.server, "acc-model", key=SECRET_QUOTA)
            codes.append(r.status)
            if r.status != 200:
                break
        self.assertEqual(codes[-1], 429, codes)
        self.assertGreater(len(codes), 10, "each request charged its whole estimate")
        self.assertError(r, 429, "insufficient_quota")

    def test_request_ids_and_log_lines(self):
        before = time.time()
        r = post(self.server, "acc-model", key=SECRET_A, headers={"x-request-id": "trace-abc.123"})
        after = time.time()
        self.assertEqual(r.header("x-request-id"), "trace-abc.123")
        r2 = post(self.server, "acc-model", key=SECRET_A, headers={"x-request-id": "bad id\"<script>"})
        made = r2.header("x-request-id")
        self.assertRegex(made, r"^[0-9a-f]{16}$")
        self.assertEqual(post(self.server, "acc-model").header("x-request-id") is not None, True)
        # Lines are written in batches, at the latest on the worker's tick.
        wait_until(lambda: any("trace-abc.123" in l for l in self.server.lines) and
                   any(made in l for l in self.server.lines))
        lines = list(self.server.lines)
        records = [json.loads(l) for l in lines]  # every line of aigw's stderr is JSON
        access = [rec for rec in records if "request_id" in rec and "status" in rec]
        mine = [rec for rec in access if rec["request_id"] == "trace-abc.123"]
        self.assertEqual(len(mine), 1, access[-5:])
        rec = mine[0]
        self.assertEqual(rec["key"], "team-a")
        self.assertEqual(rec["model"], "acc-model")
        self.assertEqual(rec["provider"], "up")
        self.assertEqual(rec["status"], 200)
        self.assertEqual(rec["method"], "POST")
        self.assertEqual(rec["path"], "/v1/chat/completions")
        self.assertTrue(rec["client"].startswith("127.0.0.1:"))
        self.assertEqual(rec["attempts"], 1)
        self.assertGreater(rec["total_tokens"], 0)
        self.assertEqual(rec["total_tokens"], rec["prompt_tokens"] + rec["completion_tokens"])
        self.assertGreaterEqual(rec["duration_ms"], rec["ttfb_ms"])
        # The line's time is the wall clock when the request ended (taken as
        # the monotonic end plus an offset read at the worker's tick).
        ts = datetime.datetime.strptime(rec["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        self.assertGreaterEqual(ts, before - 0.002, rec["ts"])
        self.assertLessEqual(ts, after + 0.002, rec["ts"])
        self.assertTrue(any(a["request_id"] == made for a in access))

    def test_canary_appears_nowhere(self):
        post(self.server, "acc-model", key=SECRET_A)
        post(self.server, "acc-model", key="wrong-" + CANARY)
        outputs = [get(self.server, "/metrics", admin=True).body.decode(),
                   get(self.server, "/admin/providers", admin=True).body.decode(),
                   get(self.server, "/v1/models", {"Authorization": "Bearer " + SECRET_A}).body.decode(),
                   "\n".join(self.server.lines)]
        for text in outputs:
            for secret in (CANARY, SECRET_A, SECRET_B, SECRET_LIMITED, SECRET_QUOTA):
                self.assertNotIn(secret, text)
        last = self.mock.get("/mock/last")
        self.assertEqual(last["headers"]["authorization"], "Bearer " + CANARY)  # it does go upstream


class Metrics(unittest.TestCase):
    """A fresh server, a known sequence of requests, then exact counters."""

    def test_values_after_a_known_sequence(self):
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        os.environ["AIGW_TEST_SECRET_A"] = SECRET_A
        mock = Mock("--stream-interval", "1ms", "--stream-tokens", "4", "--completion-tokens", "4")
        cfg = '[[plugin]]\nname = "openai"\n' + ADMIN
        cfg += proxy_provider("up", mock.port, ["acc-model", "acc-other", "open-model"])
        cfg += keys_config()
        server = Server(cfg, workers=2)
        try:
            for _ in range(3):
                self.assertEqual(post(server, "acc-model", key=SECRET_A).status, 200)
            status, events, clean = post(server, "acc-model", key=SECRET_A, stream=True)
            self.assertEqual(status, 200)
            self.assertEqual(post(server, "acc-model").status, 401)
            self.assertEqual(post(server, "acc-model", key="nope-nope-nope").status, 401)
            self.assertEqual(post(server, "open-model", key=SECRET_B).status, 403)
            r = get(server, "/metrics", admin=True)
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("content-type").startswith("text/plain; version=0.0.4"))
            text = r.body.decode()
            v = parse_metrics(text)
            self.assertEqual(metric(v, "aigw_requests_total", model="acc-model", provider="up",
                                    key="team-a", status="200"), 4)
            self.assertEqual(metric(v, "aigw_requests_total", status="401"), 2)
            self.assertEqual(metric(v, "aigw_requests_total", model="open-model", key="team-b",
                                    status="403"), 1)
            self.assertEqual(metric(v, "aigw_auth_failures_total", reason="missing"), 1)
            self.assertEqual(metric(v, "aigw_auth_failures_total", reason="unknown"), 1)
            self.assertEqual(metric(v, "aigw_auth_failures_total", reason="model_not_allowed"), 1)
            # The mock answers 4 completion tokens per request (stream included).
            self.assertEqual(metric(v, "aigw_tokens_total", key="team-a", type="completion"), 16)
            self.assertGreater(metric(v, "aigw_tokens_total", key="team-a", type="prompt"), 0)
            self.assertEqual(metric(v, "aigw_request_duration_seconds_count", model="acc-model",
                                    provider="up"), 4)
            self.assertEqual(metric(v, "aigw_time_to_first_token_seconds_count", model="acc-model",
                                    provider="up"), 4)
            self.assertEqual(metric(v, "aigw_channel_state", channel="up#0"), 0)
            self.assertEqual(metric(v, "aigw_attempts_total", provider="up", result="ok"), 4)
            self.assertEqual(metric(v, "aigw_build_info"), 1)
            self.assertEqual(metric(v, "aigw_active_streams"), 0)
            self.assertGreaterEqual(metric(v, "aigw_plugin_generation"), 1)
            # Bounded labels: nothing the client sent became a label value.
            self.assertNotIn("nope-nope-nope", text)
            if shutil.which("promtool"):
                p = subprocess.run(["promtool", "check", "metrics"], input=r.body,
                                   capture_output=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        finally:
            server.stop()
            mock.stop()


class AccessLogFile(unittest.TestCase):
    def test_file_sampling_and_off_switch(self):
        os.environ["AIGW_TEST_SECRET_A"] = SECRET_A
        server = Server("", workers=1, start=False)
        path = os.path.join(server.dir.name, "access.log")
        with open(server.config_path, "a") as f:
            f.write('[access_log]\npath = "%s"\nsample = 0.0\n' % path)
            f.write('[[provider]]\nname = "demo"\nplugin = "local"\nmodels = ["aigw-demo"]\n')
        server.start()
        try:
            for _ in range(5):
                body = json.dumps({"model": "aigw-demo", "messages": [{"role": "user", "content": "x"}]})
                self.assertEqual(post(server, None, body=body.encode()).status, 200)
            self.assertEqual(post(server, "no-such-model").status, 404)

            def logged():
                with open(path) as f:
                    return [json.loads(l) for l in f]
            wait_until(lambda: len(logged()) > 0)
            time.sleep(0.3)  # and nothing else follows
            lines = logged()
            # sample = 0: successes are not logged, errors always are.
            self.assertEqual([l["status"] for l in lines], [404])
            self.assertEqual(lines[0]["error"], "model_not_found")
        finally:
            server.stop()
        off = Server('[access_log]\nenabled = false\n[[provider]]\nname = "demo"\nplugin = "local"\n'
                     'models = ["aigw-demo"]\n', workers=1)
        try:
            self.assertEqual(post(off, "no-such-model").status, 404)
            time.sleep(0.2)
            self.assertFalse(any('"request_id"' in l for l in off.lines))
        finally:
            off.stop()


if __name__ == "__main__":
    main()
