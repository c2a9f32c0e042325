"""Routing through the real binaries: several channels per model, weights,
priority fallback, circuit breakers seen by every worker, key disabling on
401, rate-limit cooldowns, failover before the first content of a stream,
config reload under load, and an invalid reload that changes nothing.

Each upstream is its own aigw-mock process, so a test can break one
(POST /mock/fault) and heal it again while aigw runs."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import Reader, Server, main, request
from test_proxy import Mock, chat, read_stream
from test_proxy import provider as proxy_provider

CANARY = "sk-canary-routing-77aa"


def provider(name, port, models, extra=""):
    return proxy_provider(name, port, models, 'connect_timeout = "1s"\n' + extra)


ADMIN = '\n[admin]\nlisten = "127.0.0.1:0"\n'


def post(server, model, stream=False, headers=None):
    with server.connect(timeout=15) as s:
        s.sendall(request("POST", "/v1/chat/completions", dict(headers or {}), chat(model, stream)))
        if stream:
            return read_stream(s)
        return Reader(s).read_response()


def admin(server, method, path, headers=None, body=b""):
    with server.connect(timeout=10, admin=True) as s:
        s.sendall(request(method, path, dict(headers or {}), body))
        return Reader(s).read_response()


def channel_states(server, name):
    """State of channel `name` on every worker, from /admin/providers."""
    r = admin(server, "GET", "/admin/providers")
    assert r.status == 200, r.body
    out = []
    for w in r.json()["workers"]:
        for c in w["channels"]:
            if c["channel"] == name:
                out.append(c)
    return out


def set_fault(mock, mode):
    with socket.create_connection(("127.0.0.1", mock.port), timeout=5) as s:
        s.sendall(request("POST", "/mock/fault", {}, mode.encode()))
        assert Reader(s).read_response().status == 200


def wait_for(pred, timeout=5.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


class Routing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        cls.mocks = {n: Mock("--stream-interval", "1ms", "--stream-tokens", "4", "--idle-timeout", "5s")
                     for n in ("a", "b", "c", "p0", "p1")}
        cls.keyed = Mock("--key-fault", "key-bad=401", "--key-fault", "key-slow=429",
                         "--stream-interval", "1ms", "--stream-tokens", "4")
        m = cls.mocks
        cfg = '[[plugin]]\nname = "openai"\n' + ADMIN
        cfg += """
[routing]
failure_threshold = 3
cooldown = "400ms"
max_cooldown = "2s"
rate_limit_cooldown = "30s"
"""
        # Weighted: one model on two providers, 3:1.
        cfg += provider("wa", m["a"].port, ["w-model"], "weight = 3")
        cfg += provider("wb", m["b"].port, ["w-model"], "weight = 1")
        # Failover and breaker: "c" breaks on demand, "b" stays healthy.
        cfg += provider("fc", m["c"].port, ["f-model", "s-model"])
        cfg += provider("fb", m["b"].port, ["f-model"], "weight = 0")
        cfg += provider("sb", m["b"].port, ["s-model"], "priority = 1")
        # Priority tiers.
        cfg += provider("p0", m["p0"].port, ["p-model"])
        cfg += provider("p1", m["p1"].port, ["p-model"])
        # Keys: one works, one is rejected (401), one is rate limited (429).
        cfg += """
[[provider]]
name = "keys"
plugin = "openai"
base_url = "http://127.0.0.1:%d/v1"
api_keys = ["key-bad", "key-good", "key-slow"]
models = ["k-model"]
headers = ["x-mock-retry-after: 7"]
""" % cls.keyed.port
        cfg += """
[[route]]
model = "p-model"
strategy = "priority"
providers = [{ provider = "p0", priority = 0 }, { provider = "p1", priority = 1 }]

[[route]]
model = "f-model"
strategy = "priority"
providers = [{ provider = "fc", priority = 0 }, { provider = "fb", priority = 1, weight = 1 }]

[[route]]
model = "s-model"
strategy = "priority"
providers = [{ provider = "fc", priority = 0 }, { provider = "sb", priority = 1 }]

[[route]]
model = "alias-*"
providers = [{ provider = "wa", model = "w-model" }]
"""
        cls.server = Server(cfg, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        for m in list(cls.mocks.values()) + [cls.keyed]:
            m.stop()
        assert CANARY not in "\n".join(cls.server.lines), "provider key in aigw's log"

    def setUp(self):
        for m in self.mocks.values():
            set_fault(m, "none")

    def test_weights_are_honoured(self):
        counts = {"wa": 0, "wb": 0}
        n = 400
        for _ in range(n):
            r = post(self.server, "w-model")
            self.assertEqual(r.status, 200, r.body)
            counts[r.header("x-aigw-provider")] += 1
        share = counts["wa"] / n
        # 3:1 is 0.75; with 400 draws the standard deviation is 0.022, so
        # +-0.08 is beyond 3.5 sigma: a real skew fails, noise does not.
        self.assertAlmostEqual(share, 0.75, delta=0.08, msg=str(counts))

    def test_models_lists_each_public_name_once(self):
        with self.server.connect() as s:
            s.sendall(request("GET", "/v1/models"))
            ids = [m["id"] for m in Reader(s).read_response().json()["data"]]
        self.assertEqual(len(ids), len(set(ids)), ids)
        for name in ("w-model", "f-model", "p-model", "k-model", "s-model"):
            self.assertIn(name, ids)
        self.assertNotIn("alias-*", ids)  # a pattern is not a model name

    def test_wildcard_route_aliases_a_model(self):
        r = post(self.server, "alias-anything")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("x-aigw-provider"), "wa")
        last = self.mocks["a"].get("/mock/last")
        self.assertEqual(json.loads(last["body"])["model"], "w-model")

    def test_priority_falls_back_to_next_tier(self):
        r = post(self.server, "p-model")
        self.assertEqual(r.header("x-aigw-provider"), "p0")
        set_fault(self.mocks["p0"], "503")
        try:
            for _ in range(6):
                r = post(self.server, "p-model")
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.header("x-aigw-provider"), "p1")
        finally:
            set_fault(self.mocks["p0"], "none")

    def test_breaker_opens_on_every_worker_and_recovers(self):
        set_fault(self.mocks["c"], "500")
        # One keep-alive connection: every request lands on the same worker,
        # so the other worker learns of the open breaker only by message.
        with self.server.connect(timeout=15) as s:
            rd = Reader(s)
            for i in range(3):
                s.sendall(request("POST", "/v1/chat/completions", {}, chat("f-model")))
                r = rd.read_response()
                self.assertEqual(r.status, 200, r.body)  # failed over to fb
                self.assertEqual(r.header("x-aigw-provider"), "fb")
                self.assertEqual(r.header("x-aigw-attempts"), "2")
        wait_for(lambda: all(c["state"] == "open" for c in channel_states(self.server, "fc#0")),
                 what="fc#0 open on every worker")
        states = channel_states(self.server, "fc#0")
        self.assertEqual(len(states), 2)
        # While open, requests skip it: one attempt.
        r = post(self.server, "f-model")
        self.assertEqual(r.header("x-aigw-attempts"), "1")
        # Healed upstream: after the cooldown a half-open trial closes it.
        set_fault(self.mocks["c"], "none")
        time.sleep(0.5)

        def closed_everywhere():
            post(self.server, "f-model")
            return all(c["state"] == "closed" for c in channel_states(self.server, "fc#0"))
        wait_for(closed_everywhere, timeout=8, what="fc#0 closed again")
        r = post(self.server, "f-model")
        self.assertEqual(r.header("x-aigw-provider"), "fc")

    def test_half_open_failure_reopens_with_longer_cooldown(self):
        set_fault(self.mocks["c"], "500")
        try:
            # One keep-alive connection: one worker sees every attempt.
            with self.server.connect(timeout=15) as s:
                rd = Reader(s)

                def one():
                    s.sendall(request("POST", "/v1/chat/completions", {}, chat("s-model")))
                    r = rd.read_response()
                    self.assertEqual(r.status, 200, r.body)  # sb answers
                    return r
                for _ in range(3):
                    one()
                wait_for(lambda: channel_states(self.server, "fc#0")[0]["state"] == "open", what="open")
                first = max(c["open_ms"] for c in channel_states(self.server, "fc#0"))
                time.sleep(first / 1000 + 0.1)
                # The half-open trial fails: open again, for twice as long.
                self.assertEqual(one().header("x-aigw-attempts"), "2")
                states = channel_states(self.server, "fc#0")
                # A doubled cooldown (max_cooldown is 2s): longer than the first.
                self.assertTrue(any(c["state"] == "open" and c["open_ms"] > min(first + 200, 1900)
                                    for c in states), (first, states))
        finally:
            set_fault(self.mocks["c"], "none")
            time.sleep(2.1)
            for _ in range(20):
                post(self.server, "s-model")

    def test_client_errors_are_never_retried(self):
        set_fault(self.mocks["c"], "400")
        try:
            r = post(self.server, "f-model")
            self.assertEqual(r.status, 400, r.body)
            self.assertEqual(r.header("x-aigw-attempts"), "1")
            self.assertEqual(r.header("x-aigw-provider"), "fc")
        finally:
            set_fault(self.mocks["c"], "none")

    def test_401_disables_the_key_and_429_cools_it(self):
        for _ in range(12):
            r = post(self.server, "k-model")
            self.assertEqual(r.status, 200, r.body)
        bad = channel_states(self.server, "keys#0")
        self.assertTrue(all(c["state"] == "key_disabled" for c in bad), bad)
        slow = channel_states(self.server, "keys#2")
        # Retry-After: 7 from the provider, not the 30 s default.
        self.assertTrue(all(4000 < c["cooling_ms"] <= 7000 for c in slow), slow)
        # From now on only the good key goes upstream.
        self.keyed.get("/mock/stats")
        with socket.create_connection(("127.0.0.1", self.keyed.port)) as s:
            s.sendall(request("POST", "/mock/reset"))
            Reader(s).read_response()
        for _ in range(6):
            self.assertEqual(post(self.server, "k-model").status, 200)
        seen = self.keyed.get("/mock/stats")["auth_headers_seen"]
        self.assertEqual(set(seen), {"Bearer key-good"}, seen)
        out = json.dumps(channel_states(self.server, "keys#1"))
        self.assertNotIn("key-good", out)

    def test_stream_fails_over_before_first_content(self):
        set_fault(self.mocks["c"], "reset-after-1")  # head and role chunk, then RST
        try:
            status, events, clean = post(self.server, "s-model", stream=True)
            self.assertEqual(status, 200)
            self.assertTrue(clean)
            self.assertEqual(events[-1], "[DONE]")
            roles = [e for e in events[:-1] if '"role"' in e]
            self.assertEqual(len(roles), 1, "the failed attempt's preamble leaked")
            text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "")
                           for e in events[:-1] if json.loads(e)["choices"])
            self.assertEqual(text, "tok0 tok1 tok2 tok3")
        finally:
            set_fault(self.mocks["c"], "none")

    def test_stream_error_after_content_is_an_error_event(self):
        set_fault(self.mocks["c"], "reset-after-3")
        set_fault(self.mocks["b"], "reset-after-3")
        try:
            status, events, clean = post(self.server, "s-model", stream=True)
            self.assertEqual(status, 200)
            self.assertTrue(clean)  # ended with the chunked terminator, not a cut
            self.assertIn("tok0", "".join(events))
            self.assertIn('"error"', events[-1])
        finally:
            set_fault(self.mocks["c"], "none")
            set_fault(self.mocks["b"], "none")
            time.sleep(0.5)

    def test_admin_providers_shape(self):
        r = admin(self.server, "GET", "/admin/providers")
        self.assertEqual(r.status, 200)
        body = r.json()
        self.assertEqual(len(body["workers"]), 2)
        names = {c["channel"] for c in body["workers"][0]["channels"]}
        self.assertIn("keys#2", names)
        self.assertNotIn(CANARY, r.body.decode())

    def test_admin_answers_close_when_asked(self):
        # The answers the workers gather for the control thread come back by
        # message; they used to keep the connection open whatever the client
        # asked, so a client reading to the close (Connection: close,
        # HTTP/1.0) waited for the idle timeout. Found by bench/soak.
        for path in ("/admin/providers", "/metrics"):
            for version, extra in (("HTTP/1.1", "Connection: close\r\n"), ("HTTP/1.0", "")):
                with self.server.connect(admin=True) as s:
                    s.settimeout(3)
                    s.sendall(("GET %s %s\r\nHost: x\r\n%s\r\n" % (path, version, extra)).encode())
                    data = b""
                    while True:
                        chunk = s.recv(65536)  # a timeout here is the bug
                        if not chunk:
                            break
                        data += chunk
                self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:80])
                self.assertIn(b"connection: close", data.split(b"\r\n\r\n")[0].lower())


class Probes(unittest.TestCase):
    def test_probe_closes_a_breaker_without_client_traffic(self):
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        m = Mock("--stream-interval", "1ms", "--stream-tokens", "4")
        backup = Mock("--stream-interval", "1ms", "--stream-tokens", "4")
        cfg = '[[plugin]]\nname = "openai"\n' + ADMIN
        # A long cooldown: only a probe can close the breaker within the test.
        cfg += '[routing]\nfailure_threshold = 2\ncooldown = "60s"\nmax_cooldown = "60s"\n'
        cfg += provider("probed", m.port, ["pr-model"], 'probe_interval = "1s"\nprobe_timeout = "500ms"')
        cfg += provider("backup", backup.port, ["pr-model"], "weight = 1")
        server = Server(cfg, workers=2)
        try:
            set_fault(m, "500")
            with server.connect(timeout=15) as s:
                rd = Reader(s)
                for _ in range(12):  # weighted random: probed is hit about half the time
                    s.sendall(request("POST", "/v1/chat/completions", {}, chat("pr-model")))
                    self.assertEqual(rd.read_response().status, 200)
            wait_for(lambda: all(c["state"] == "open" for c in channel_states(server, "probed#0")),
                     what="probed#0 open")
            set_fault(m, "none")
            # No client request from here on: the probe (GET /v1/models with
            # the provider's key, every second) closes it on every worker.
            wait_for(lambda: all(c["state"] == "closed" for c in channel_states(server, "probed#0")),
                     timeout=6, what="probed#0 closed by a probe")
            stats = m.get("/mock/stats")
            self.assertGreater(stats["by_path"].get("/v1/models", 0), 0, stats)
            self.assertIn("Bearer " + CANARY, stats["auth_headers_seen"])
        finally:
            server.stop()
            m.stop()
            backup.stop()

    def test_probe_needs_a_plugin_that_can_probe(self):
        server = Server('[[provider]]\nname = "demo"\nplugin = "local"\nmodels = ["m"]\n'
                        'probe_interval = "5s"\n', workers=1, start=False)
        p = subprocess.run([os.environ.get("AIGW_BIN", "build/src/aigw"), "check-config", "-c",
                            server.config_path], capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"has no health probe", p.stderr + p.stdout)


class Reload(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        cls.a = Mock("--stream-interval", "1ms", "--stream-tokens", "4")
        cls.b = Mock("--stream-interval", "1ms", "--stream-tokens", "4")

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()

    def config(self, weight_b, extra_model=""):
        cfg = '[[plugin]]\nname = "openai"\n' + ADMIN + '\napi_key = "admin-secret-1"\n'
        cfg += provider("ra", self.a.port, ["r-model"] + ([extra_model] if extra_model else []))
        cfg += provider("rb", self.b.port, ["r-model"], "weight = %d" % weight_b)
        return cfg

    def rewrite(self, server, text):
        tmp = server.config_path + ".new"
        with open(tmp, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 2\n' + text)
        os.rename(tmp, server.config_path)

    def models(self, server):
        with server.connect() as s:
            s.sendall(request("GET", "/v1/models"))
            return [m["id"] for m in Reader(s).read_response().json()["data"]]

    def wait_serving(self, server, model, timeout=20.0):
        # Several connections in a row, so that each worker (a connection
        # lands on one by its port's hash) is likely asked.
        wait_for(lambda: all(model in self.models(server) for _ in range(6)), timeout=timeout,
                 what="%s served after the reload" % model)

    def test_reload_under_load_drops_nothing_and_bad_config_keeps_serving(self):
        server = Server(self.config(1), workers=2)
        try:
            stop = threading.Event()
            failures = []
            done = [0]

            def load(stream):
                while not stop.is_set():
                    try:
                        if stream:
                            status, events, clean = post(server, "r-model", stream=True)
                            ok = status == 200 and clean and events[-1] == "[DONE]"
                        else:
                            r = post(server, "r-model")
                            ok = r.status == 200
                            status = r.status
                        if not ok:
                            failures.append(status)
                        done[0] += 1
                    except Exception as e:  # noqa: BLE001 - every failure counts
                        failures.append(repr(e))
            threads = [threading.Thread(target=load, args=(i % 2 == 0,)) for i in range(4)]
            for t in threads:
                t.start()
            auth = {"Authorization": "Bearer admin-secret-1"}
            for i in range(9):
                self.rewrite(server, self.config(i % 3 + 1, "extra-%d" % i))
                how = i % 3
                if how == 0:
                    r = admin(server, "POST", "/admin/reload", auth)
                    self.assertEqual(r.status, 200, r.body)
                    self.assertEqual(r.json()["restart_required"], [])
                elif how == 1:
                    server.signal(signal.SIGHUP)
                # how == 2: the file change alone (inotify)
                # Each reload is seen before the next file: a fixed pause let
                # the invalid file below overtake the last inotify reload on a
                # loaded machine (ThreadSanitizer), and the check at the end
                # then found extra-7 serving, rightly.
                self.wait_serving(server, "extra-%d" % i)
            # An invalid file: refused with every error, old config serving.
            self.rewrite(server, self.config(1) + '\n[routing]\nmax_attempts = "many"\n')
            r = admin(server, "POST", "/admin/reload", auth)
            self.assertEqual(r.status, 400, r.body)
            err = r.json()["error"]
            self.assertEqual(err["code"], "invalid_config")
            self.assertTrue(any("routing.max_attempts" in e for e in err["errors"]), err)
            time.sleep(0.3)
            stop.set()
            for t in threads:
                t.join(30)
            self.assertEqual(failures, [], "requests failed during reloads")
            self.assertGreater(done[0], 20)
            # The last good config (extra-8) still serves.
            r = post(server, "extra-8")
            self.assertEqual(r.status, 200, r.body)
            with server.connect() as s:
                s.sendall(request("GET", "/v1/models"))
                ids = [m["id"] for m in Reader(s).read_response().json()["data"]]
            self.assertIn("extra-8", ids)
            self.assertNotIn("extra-7", ids)
        finally:
            server.stop()

    def test_configmap_volume_update_reloads(self):
        # The kubelet's atomic writer: the file is a symlink through "..data",
        # itself a symlink to a timestamped folder; an update writes a new
        # folder and renames a new "..data" over the old one. The file's own
        # name never sees an event.
        server = Server(self.config(1), workers=1, start=False)
        try:
            d = server.dir.name
            os.mkdir(os.path.join(d, "..2026_12_05_a"))
            os.rename(server.config_path, os.path.join(d, "..2026_12_05_a", "aigw.toml"))
            os.symlink("..2026_12_05_a", os.path.join(d, "..data"))
            os.symlink("..data/aigw.toml", server.config_path)
            server.start()
            self.assertEqual(post(server, "cm-model").status, 404)
            os.mkdir(os.path.join(d, "..2026_12_05_b"))
            with open(os.path.join(d, "..2026_12_05_b", "aigw.toml"), "w") as f:
                f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 1\nshutdown_delay = "0s"\n' +
                        self.config(1, "cm-model"))
            os.symlink("..2026_12_05_b", os.path.join(d, "..data_tmp"))
            os.rename(os.path.join(d, "..data_tmp"), os.path.join(d, "..data"))
            deadline = time.time() + 5
            status = 404
            while status != 200 and time.time() < deadline:
                time.sleep(0.1)
                status = post(server, "cm-model").status
            self.assertEqual(status, 200, "\n".join(server.lines[-10:]))
        finally:
            server.stop()

    def test_listener_change_is_reported_not_applied(self):
        server = Server(self.config(1), workers=1)
        try:
            text = self.config(2)
            tmp = server.config_path + ".new"
            with open(tmp, "w") as f:
                f.write('[server]\nlisten = ["127.0.0.1:0", "[::1]:0"]\nworkers = 1\n' + text)
            os.rename(tmp, server.config_path)
            r = admin(server, "POST", "/admin/reload", {"Authorization": "Bearer admin-secret-1"})
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["restart_required"], ["server.listen"])
            self.assertEqual(post(server, "r-model").status, 200)
        finally:
            server.stop()

    def test_plugin_config_errors_are_a_400_too(self):
        server = Server(self.config(1), workers=1)
        try:
            # The openai plugin reads its own keys: a typo there is a config
            # error like any other, and the running config keeps serving.
            self.rewrite_one(server, self.config(1).replace('weight = 1', 'weight = 1\napi_stlye = "azure"'))
            r = admin(server, "POST", "/admin/reload", {"Authorization": "Bearer admin-secret-1"})
            self.assertEqual(r.status, 400, r.body)
            err = r.json()["error"]
            self.assertEqual(err["code"], "invalid_config")
            self.assertTrue(any("api_stlye" in e for e in err["errors"]), err)
            self.assertEqual(post(server, "r-model").status, 200)
            # With a host-level error as well: both reported by one reload.
            self.rewrite_one(server, self.config(1).replace('weight = 1', 'weight = 1\napi_stlye = "azure"')
                             + '\n[routing]\nmax_attempts = "many"\n')
            r = admin(server, "POST", "/admin/reload", {"Authorization": "Bearer admin-secret-1"})
            self.assertEqual(r.status, 400, r.body)
            errors = r.json()["error"]["errors"]
            self.assertTrue(any("api_stlye" in e for e in errors), errors)
            self.assertTrue(any("routing.max_attempts" in e for e in errors), errors)
            self.assertEqual(post(server, "r-model").status, 200)
        finally:
            server.stop()

    def rewrite_one(self, server, text):
        tmp = server.config_path + ".new"
        with open(tmp, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\nworkers = 1\n' + text)
        os.rename(tmp, server.config_path)

    def test_admin_key_is_required(self):
        server = Server(self.config(1), workers=1)
        try:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "admin-secret-1"}):
                r = admin(server, "POST", "/admin/reload", headers)
                self.assertEqual(r.status, 401, r.body)
                self.assertEqual(r.json()["error"]["code"], "invalid_admin_key")
                r = admin(server, "GET", "/admin/providers", headers)
                self.assertEqual(r.status, 401)
            r = admin(server, "GET", "/admin/providers", {"Authorization": "Bearer admin-secret-1"})
            self.assertEqual(r.status, 200)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
