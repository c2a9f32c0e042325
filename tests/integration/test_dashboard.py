"""The operator's dashboard (docs/dashboard.md) over plain HTTP: GET /ui and
its files from the real binary's admin listener with their content types, a
strict Content-Security-Policy, nosniff, an ETag that answers 304, 404 for
any other /ui/ path, no page on the public listener, and the rule that
without an admin key the page is served on loopback only. The page in a
real browser is test_dashboard_browser.py."""

import json
import os
import re
import socket
import tempfile
import time
import unittest

from harness import Reader, Server, main, request

ADMIN_KEY = "adm-dash-7c41e0"

CONFIG = """
[admin]
listen = "127.0.0.1:0"
api_key = "%s"

[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]
""" % ADMIN_KEY

FILES = {
    "/ui": "text/html; charset=utf-8",
    "/ui/app.js": "text/javascript; charset=utf-8",
    "/ui/style.css": "text/css; charset=utf-8",
}


def get(server, path, headers=None, admin=True, method="GET", host="127.0.0.1", port=None):
    if port is None:
        s = server.connect(timeout=10, admin=admin)
    else:
        s = socket.create_connection((host, port), timeout=10)
    with s:
        s.sendall(request(method, path, headers))
        # 304 and HEAD carry the Content-Length a 200 would, and no body.
        rd = Reader(s)
        resp = rd.read_response(head_only=True)
        if method != "HEAD" and resp.status != 304:
            n = int(resp.header("Content-Length") or 0)
            while len(rd.buf) < n:
                rd._fill()
            resp.body = rd.buf[:n]
        return resp


class Files(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(CONFIG)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_every_file_with_its_type_and_headers(self):
        for path, ctype in FILES.items():
            with self.subTest(path=path):
                r = get(self.server, path)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.header("Content-Type"), ctype)
                self.assertEqual(int(r.header("Content-Length")), len(r.body))
                self.assertGreater(len(r.body), 100)
                csp = r.header("Content-Security-Policy")
                self.assertIn("default-src 'self'", csp)
                self.assertIn("script-src 'self'", csp)
                self.assertNotIn("unsafe-inline", csp)
                self.assertNotIn("unsafe-eval", csp)
                self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
                self.assertEqual(r.header("Cache-Control"), "no-cache")
                self.assertRegex(r.header("ETag"), r'^"[0-9a-f]{20}"$')

    def test_page_has_no_inline_script_or_style(self):
        html = get(self.server, "/ui").body.decode()
        self.assertIn('<script src="/ui/app.js"', html)
        for m in re.finditer(r"<script[^>]*>(.*?)</script>", html, re.S):
            self.assertEqual(m.group(1).strip(), "", "inline script")
        self.assertNotRegex(html, r"\sstyle=|\son[a-z]+=|<style")

    def test_trailing_slash_is_the_page(self):
        self.assertEqual(get(self.server, "/ui/").body, get(self.server, "/ui").body)

    def test_etag_answers_304(self):
        r = get(self.server, "/ui/app.js")
        etag = r.header("ETag")
        for inm in (etag, 'W/' + etag, '"nope", ' + etag, "*"):
            with self.subTest(inm=inm):
                n = get(self.server, "/ui/app.js", {"If-None-Match": inm})
                self.assertEqual(n.status, 304)
                self.assertEqual(n.body, b"")
                self.assertEqual(n.header("ETag"), etag)
                self.assertEqual(int(n.header("Content-Length")), len(r.body))
        for inm in ('"nope"', "garbage", etag[:-2] + '"'):
            with self.subTest(inm=inm):
                self.assertEqual(get(self.server, "/ui/app.js", {"If-None-Match": inm}).status, 200)
        # Files differ, so do their validators.
        self.assertNotEqual(etag, get(self.server, "/ui/style.css").header("ETag"))

    def test_absolute_form(self):
        r = get(self.server, "http://localhost/ui/style.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, get(self.server, "/ui/style.css").body)
        self.assertEqual(get(self.server, "HTTP://localhost/ui").status, 200)
        self.assertEqual(get(self.server, "http://localhost/ui/nope").status, 404)

    def test_head_has_no_body(self):
        r = get(self.server, "/ui", method="HEAD")
        self.assertEqual(r.status, 200)
        self.assertEqual(int(r.header("Content-Length")), len(get(self.server, "/ui").body))

    def test_unknown_files_are_404(self):
        for path in ("/ui/nope.js", "/ui/../metrics", "/ui/app.js/", "/ui/index.html", "/uix"):
            with self.subTest(path=path):
                r = get(self.server, path)
                self.assertEqual(r.status, 404)
                self.assertEqual(r.json()["error"]["code"], "not_found")

    def test_post_is_405(self):
        r = get(self.server, "/ui", method="POST")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_not_on_the_public_listener(self):
        # No [[key]]: the public listener is open, and has no /ui.
        self.assertEqual(get(self.server, "/ui", admin=False).status, 404)
        self.assertEqual(get(self.server, "/ui/app.js", admin=False).status, 404)

    def test_page_needs_no_key_but_data_does(self):
        # The page holds no secret and asks for the key; the data refuses without it.
        self.assertEqual(get(self.server, "/ui").status, 200)
        self.assertEqual(get(self.server, "/admin/providers").status, 401)
        self.assertEqual(get(self.server, "/metrics", {"Authorization": "Bearer wrong"}).status, 401)
        self.assertEqual(get(self.server, "/metrics", {"Authorization": "Bearer " + ADMIN_KEY}).status, 200)

    def test_no_secret_in_the_files(self):
        for path in FILES:
            self.assertNotIn(ADMIN_KEY.encode(), get(self.server, path).body)


ALICE = "sk-dash-alice-c0ffee"
ERRORS_CONFIG = """
[admin]
listen = "127.0.0.1:0"
api_key = "%s"

[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]

[[provider]]
name = "dead"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
api_keys = ["sk-upstream-never-shown-1"]
models = ["dead-model"]

[[key]]
name = "alice"
secret = "%s"
""" % (ADMIN_KEY, ALICE)


def chat(server, key, model="aigw-demo", rid=None):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "a secret prompt"}]}).encode()
    headers = {"Authorization": "Bearer " + key}
    if rid:
        headers["X-Request-Id"] = rid
    with server.connect(timeout=10) as s:
        s.sendall(request("POST", "/v1/chat/completions", headers, body))
        return Reader(s).read_response().status


class RecentErrors(unittest.TestCase):
    """GET /admin/errors: every worker's last failed requests, newest first."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(ERRORS_CONFIG, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def errors(self, headers=None):
        h = {"Authorization": "Bearer " + ADMIN_KEY} if headers is None else headers
        return get(self.server, "/admin/errors", h)

    def test_needs_the_admin_key(self):
        self.assertEqual(self.errors({}).status, 401)
        self.assertEqual(self.errors({"Authorization": "Bearer nope"}).status, 401)

    def test_failed_requests_newest_first(self):
        self.assertEqual(chat(self.server, ALICE, rid="ok-request-1"), 200)
        self.assertEqual(chat(self.server, "sk-wrong", rid="bad-key-1"), 401)
        time.sleep(0.01)
        self.assertGreaterEqual(chat(self.server, ALICE, "dead-model", rid="dead-1"), 500)
        r = self.errors()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual(doc["capacity_per_worker"], 256)
        by_id = {e["request_id"]: e for e in doc["errors"]}
        self.assertNotIn("ok-request-1", by_id)
        dead, bad = by_id["dead-1"], by_id["bad-key-1"]
        self.assertEqual((dead["key"], dead["model"], dead["provider"]), ("alice", "dead-model", "dead"))
        self.assertGreaterEqual(dead["status"], 500)
        self.assertGreaterEqual(dead["attempts"], 1)
        self.assertTrue(dead["error"])
        self.assertEqual((bad["status"], bad["error"], bad["key"]), (401, "invalid_api_key", ""))
        times = [e["time_ms"] for e in doc["errors"]]
        self.assertEqual(times, sorted(times, reverse=True))
        self.assertLess(abs(times[0] / 1000 - time.time()), 60)
        for secret in (ALICE, "sk-wrong", "sk-upstream-never-shown-1", ADMIN_KEY, "a secret prompt"):
            self.assertNotIn(secret.encode(), r.body)

    def test_bounded(self):
        for i in range(300):
            chat(self.server, "sk-wrong", rid="flood-%d" % i)
        doc = self.errors().json()
        per_worker = {}
        for e in doc["errors"]:
            per_worker[e["worker"]] = per_worker.get(e["worker"], 0) + 1
        self.assertTrue(all(n <= 256 for n in per_worker.values()), per_worker)
        # Newest first (two workers' entries in the same millisecond may come in either order).
        newest = doc["errors"][0]["time_ms"]
        self.assertIn("flood-299", [e["request_id"] for e in doc["errors"] if e["time_ms"] == newest])


# Secrets of every kind GET /admin/config could leak: resolved from env:
# and written literally, for the admin key, client keys, provider keys, the
# Redis password and a Vertex service account's key file.
CONFIG_SECRETS_ENV = {
    "AIGW_T_ADMIN": "adm-from-env-3f9a11",
    "AIGW_T_BOB": "sk-bob-from-env-8c2d",
    "AIGW_T_UPSTREAM": "sk-upstream-from-env-51e0",
    "AIGW_T_REDIS": "redis-pass-from-env-77aa",
}
LITERAL_SECRETS = ["sk-alice-literal-0b6e", "sk-upstream-literal-9d41", "AIzaLiteralGeminiKey-2c7f"]


def secrets_config(key_file, workers_note=""):
    return """
[admin]
listen = "127.0.0.1:0"
api_key = "env:AIGW_T_ADMIN"

[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]

[[provider]]
name = "oa-literal"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
api_key = "sk-upstream-literal-9d41"
models = ["m-literal"]

[[provider]]
name = "oa-env"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
api_keys = ["env:AIGW_T_UPSTREAM", "sk-upstream-literal-9d41"]
models = ["m-env"]

[[provider]]
name = "gem"
plugin = "gemini"
base_url = "http://127.0.0.1:9"
api_key = "AIzaLiteralGeminiKey-2c7f"
models = ["gemini-x"]

[[provider]]
name = "vertex"
plugin = "gemini"
base_url = "http://127.0.0.1:9"
models = ["gemini-v"]
vertex = true
vertex_project = "test-proj"
vertex_location = "us-central1"
credentials_file = "%s"

[[key]]
name = "alice"
secret = "sk-alice-literal-0b6e"
daily_tokens = 5000

[[key]]
name = "bob"
secret = "env:AIGW_T_BOB"
rpm = 60

[state]
enabled = false

[state.redis]
url = "redis://127.0.0.1:9/0"
password = "env:AIGW_T_REDIS"
connect_timeout = "50ms"
command_timeout = "50ms"
%s""" % (key_file, workers_note)


class ConfigReport(unittest.TestCase):
    """GET /admin/config: plugins, generation, the config with no secret."""

    @classmethod
    def setUpClass(cls):
        from test_gemini_vertex import make_key
        cls.tmp = tempfile.TemporaryDirectory(prefix="aigw-sa-")
        cls.key_file, cls.pem = make_key(cls.tmp.name, "http://127.0.0.1:9/token")
        env = dict(os.environ, **CONFIG_SECRETS_ENV)
        cls.server = Server(secrets_config(cls.key_file), workers=2, env=env)
        cls.auth = {"Authorization": "Bearer " + CONFIG_SECRETS_ENV["AIGW_T_ADMIN"]}

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def assert_no_secret(self, body):
        secrets = list(CONFIG_SECRETS_ENV.values()) + LITERAL_SECRETS
        # The service account's private key, line by line, and its id.
        secrets += [line for line in self.pem.splitlines() if len(line) > 20]
        secrets += ["PRIVATE KEY", "kid-1", self.key_file]
        for secret in secrets:
            self.assertNotIn(secret.encode(), body, secret)

    def test_needs_the_admin_key(self):
        self.assertEqual(get(self.server, "/admin/config", {}).status, 401)
        self.assertEqual(get(self.server, "/admin/config", {"Authorization": "Bearer nope"}).status, 401)

    def test_shape_and_no_secret(self):
        r = get(self.server, "/admin/config", self.auth)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assert_no_secret(r.body)
        doc = r.json()
        self.assertGreaterEqual(doc["generation"], 1)
        self.assertRegex(doc["abi"], r"^1\.\d+$")
        plugins = {p["name"]: p for p in doc["plugins"]}
        self.assertEqual(set(plugins), {"local", "openai", "gemini"})
        self.assertEqual(plugins["openai"]["mode"], "http")
        self.assertEqual(plugins["local"]["mode"], "direct")
        self.assertEqual(sorted(plugins["gemini"]["providers"]), ["gem", "vertex"])
        for p in doc["plugins"]:
            self.assertRegex(p["abi"], r"^1\.\d+$")
            self.assertTrue(p["version"])
            self.assertTrue(p["builtin"] or p["file"].endswith(".so"), p)
        self.assertEqual(doc["restart_required"], [])
        cfg = doc["config"]
        self.assertEqual(cfg["server"]["workers"], 2)
        self.assertEqual(cfg["admin"]["api_key"], "<redacted>")
        self.assertEqual(cfg["state"]["redis"]["password"], "<redacted>")
        keys = {k["name"]: k for k in cfg["keys"]}
        self.assertEqual(keys["alice"]["daily_tokens"], 5000)
        self.assertEqual(keys["bob"]["rpm"], 60)
        self.assertEqual({k["secret"] for k in cfg["keys"]}, {"<redacted>"})
        prov = {p["name"]: p for p in cfg["providers"]}
        self.assertEqual(prov["oa-literal"]["plugin_settings"], {"api_key": "<redacted>"})
        # A reference is shown as written: the name, never the value.
        self.assertEqual(prov["oa-env"]["plugin_settings"]["api_keys"], ["env:AIGW_T_UPSTREAM", "<redacted>"])
        self.assertEqual(prov["vertex"]["plugin_settings"]["credentials_file"], "<redacted>")
        self.assertIs(prov["vertex"]["plugin_settings"]["vertex"], True)
        self.assertEqual(prov["gem"]["base_url"], "http://127.0.0.1:9")

    def test_restart_required_after_a_reload(self):
        before = get(self.server, "/admin/config", self.auth).json()
        with open(self.server.config_path) as f:
            text = f.read()
        try:
            with open(self.server.config_path, "w") as f:
                f.write(text.replace("workers = 2", "workers = 3").replace("rpm = 60", "rpm = 61") +
                        '\n[server.io]\nsend_buffer = "64KiB"\n')
            r = get(self.server, "/admin/reload", self.auth, method="POST")
            self.assertEqual(r.status, 200, r.body)
            doc = get(self.server, "/admin/config", self.auth).json()
            self.assertGreater(doc["generation"], before["generation"])
            self.assertEqual(doc["restart_required"], ["server.workers", "server.io"])
            # The running value, not the one waiting for a restart; the
            # reloadable change is in effect.
            self.assertEqual(doc["config"]["server"]["workers"], 2)
            self.assertIsNone(doc["config"]["server"]["io"]["send_buffer"], "the kernel's default")
            self.assertEqual({k["name"]: k["rpm"] for k in doc["config"]["keys"]}["bob"], 61)
        finally:
            with open(self.server.config_path, "w") as f:
                f.write(text)
            get(self.server, "/admin/reload", self.auth, method="POST")
        self.assertEqual(get(self.server, "/admin/config", self.auth).json()["restart_required"], [])


def many_keys_config(n):
    keys = "".join('\n[[key]]\nname = "key-%03d"\nsecret = "sk-many-secret-%03d-x"\n' % (i, i) for i in range(n))
    return CONFIG + keys + """
[[key]]
name = "limited"
secret = "sk-limited-secret-55"
rpm = 1
tpm = 100000
daily_tokens = 5000
monthly_tokens = 90000
max_concurrent = 4
"""


class Keys(unittest.TestCase):
    """GET /admin/keys: a page of keys, their counts and their limits' levels."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(many_keys_config(250), workers=2)
        # limited: one answer, one refusal by rpm; key-007: two answers.
        cls.statuses = [chat(cls.server, "sk-limited-secret-55"), chat(cls.server, "sk-limited-secret-55"),
                        chat(cls.server, "sk-many-secret-007-x"), chat(cls.server, "sk-many-secret-007-x"),
                        chat(cls.server, "sk-nobody-at-all")]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def keys(self, query="", headers=None):
        h = {"Authorization": "Bearer " + ADMIN_KEY} if headers is None else headers
        return get(self.server, "/admin/keys" + query, h)

    def test_statuses(self):
        self.assertEqual(self.statuses, [200, 429, 200, 200, 401])

    def test_needs_the_admin_key(self):
        self.assertEqual(self.keys(headers={}).status, 401)

    def test_pages_by_name(self):
        r = self.keys()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual((doc["total"], doc["offset"], doc["limit"]), (251, 0, 100))
        names = [k["name"] for k in doc["keys"]]
        self.assertEqual(names, ["key-%03d" % i for i in range(100)])
        last = self.keys("?offset=200&limit=100").json()
        self.assertEqual([k["name"] for k in last["keys"]], ["key-%03d" % i for i in range(200, 250)] + ["limited"])
        self.assertEqual(self.keys("?offset=999").json()["keys"], [])
        self.assertEqual(self.keys("?offset=18446744073709551615").json()["keys"], [])
        for secret in [b"sk-many-secret", b"sk-limited-secret-55", ADMIN_KEY.encode()]:
            self.assertNotIn(secret, r.body + last.__repr__().encode())

    def test_counts_and_levels(self):
        doc = self.keys("?q=limited").json()
        self.assertEqual(doc["total"], 1)
        k = doc["keys"][0]
        self.assertEqual((k["requests"], k["errors"], k["refused"]), (2, 1, 1))
        self.assertEqual(k["refused_by"]["rpm"], 1)
        self.assertEqual(k["rpm"]["limit"], 1)
        self.assertEqual(k["rpm"]["remaining"], 0)       # the minute's one request is spent
        self.assertEqual(k["tpm"]["limit"], 100000)
        self.assertEqual(k["concurrent"], {"limit": 4, "remaining": 4, "reset_s": 0})
        # The budget counts what workers hold in leases too, so at least the tokens spent.
        self.assertGreaterEqual(k["daily_tokens"]["used"], k["tokens"])
        self.assertEqual(k["daily_tokens"]["used"] + k["daily_tokens"]["remaining"], 5000)
        self.assertEqual(k["monthly_tokens"]["limit"], 90000)
        self.assertGreater(k["tokens"], 0)
        plain = self.keys("?q=key-001").json()["keys"][0]
        self.assertEqual((plain["requests"], plain["tokens"]), (0, 0))
        self.assertIsNone(plain["rpm"])
        self.assertIsNone(plain["daily_tokens"])
        self.assertEqual(doc["no_key"]["requests"], 1)   # the unknown key

    def test_sorted_largest_first(self):
        doc = self.keys("?sort=requests&limit=2").json()
        self.assertEqual([k["name"] for k in doc["keys"]], ["key-007", "limited"])
        self.assertEqual(self.keys("?sort=refused&limit=1").json()["keys"][0]["name"], "limited")
        self.assertEqual(self.keys("?sort=tokens&limit=1&q=key-%30%30").json()["keys"][0]["name"], "key-007")

    def test_bad_queries_are_400(self):
        for q in ("?limit=0", "?limit=1001", "?limit=x", "?offset=-1", "?sort=secret", "?q=%zz", "?what=1",
                  "?offset=99999999999999999999999"):
            with self.subTest(q=q):
                r = self.keys(q)
                self.assertEqual(r.status, 400, r.body)
                self.assertEqual(r.json()["error"]["code"], "invalid_keys_query")


class History(unittest.TestCase):
    """GET /admin/history: every worker's last 15 minutes, merged by 10-second bucket."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(ERRORS_CONFIG, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def history(self, headers=None):
        h = {"Authorization": "Bearer " + ADMIN_KEY} if headers is None else headers
        return get(self.server, "/admin/history", h)

    def test_needs_the_admin_key(self):
        self.assertEqual(self.history({}).status, 401)

    def test_fifteen_minutes_of_buckets(self):
        before = time.time()
        statuses = [chat(self.server, ALICE) for _ in range(6)] + [chat(self.server, "sk-wrong") for _ in range(3)]
        self.assertEqual(statuses, [200] * 6 + [401] * 3)
        r = self.history()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual(doc["bucket_seconds"], 10)
        buckets = doc["buckets"]
        self.assertEqual(len(buckets), 90)
        starts = [b["start_s"] for b in buckets]
        self.assertEqual(starts, list(range(starts[0], starts[0] + 900, 10)))
        self.assertLessEqual(starts[-1], doc["now_s"])
        self.assertLess(abs(doc["now_s"] - time.time()), 60)
        # The requests above, on whichever worker took them, in the buckets
        # since they started (a bucket boundary may fall among them).
        recent = [b for b in buckets if b["start_s"] + 10 > before - 1]
        self.assertEqual(sum(b["requests"] for b in recent), 9)
        self.assertEqual(sum(b["errors"] for b in recent), 3)
        self.assertGreater(sum(b["tokens"] for b in recent), 0)
        for b in buckets:
            self.assertEqual(len(b["latency"]), len(doc["le"]) + 1)
            self.assertEqual(sum(b["latency"]), b["requests"])


def non_loopback_ipv4():
    """An address of this machine that is not loopback, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 9))  # no packet is sent
            addr = s.getsockname()[0]
        except OSError:
            return None
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


class WithoutAdminKey(unittest.TestCase):
    """No api_key: the listener on every address, the page on loopback only."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(CONFIG.replace('listen = "127.0.0.1:0"\napi_key = "%s"' % ADMIN_KEY,
                                           'listen = "0.0.0.0:0"'))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_loopback_gets_the_page(self):
        self.assertEqual(get(self.server, "/ui").status, 200)
        self.assertEqual(get(self.server, "/ui/app.js").status, 200)

    def test_other_address_gets_403(self):
        addr = non_loopback_ipv4()
        if addr is None:
            self.skipTest("this machine has no non-loopback IPv4 address")
        get(self.server, "/health")  # waits for the admin port
        r = get(self.server, "/ui", host=addr, port=self.server.admin_port)
        self.assertEqual(r.status, 403)
        err = r.json()["error"]
        self.assertEqual(err["code"], "dashboard_needs_admin_key")
        self.assertIn("api_key", err["message"])
        self.assertEqual(get(self.server, "/ui/app.js", host=addr, port=self.server.admin_port).status, 403)


if __name__ == "__main__":
    main()
