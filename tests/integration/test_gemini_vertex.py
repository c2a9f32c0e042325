"""The gemini plugin in Vertex AI mode in the real binary: a service account
whose key file points at a local OAuth2 token endpoint (which checks each
RS256 assertion with the public key and issues short-lived tokens), and a
local Vertex-shaped upstream (which checks the path and that the Bearer
token is one the endpoint issued and has not expired). Proves: the Bearer
token is sent, it is refreshed before it expires and the new one is used, a
failing token endpoint gives a clear error at once (no hang) and the channel
recovers when the endpoint does, the token endpoint's certificate is checked,
and neither the private key nor a token ever reaches aigw's log."""

import base64
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Reader, Server, main, request
from upstreams import make_cert, tls_skip_reason

PROJECT = "test-proj"
LOCATION = "us-central1"
MODEL_PATH = "/v1/projects/%s/locations/%s/publishers/google/models/" % (PROJECT, LOCATION)
EMAIL = "gateway@test-proj.iam.gserviceaccount.com"
LIFETIME = 5  # seconds: the plugin refreshes after 4 s and stops using the token at 4.5 s;
# 3 s (a 300 ms window) was too tight for a refresh under ThreadSanitizer on a busy 2-core machine


def unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True, capture_output=True)


class TokenEndpoint:
    """Google's token endpoint, as far as the service-account flow goes."""

    def __init__(self, key_dir, tls_cert=None):
        self.key_dir = key_dir
        self.lock = threading.Lock()
        self.issued = {}  # token -> expiry (time.monotonic)
        self.requests = 0
        self.failing = False
        self.bad_assertions = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                status, body = outer.answer(form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.tls = tls_cert is not None
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_cert[1], tls_cert[2])
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def uri(self):
        host = "localhost" if self.tls else "127.0.0.1"
        return "%s://%s:%d/token" % ("https" if self.tls else "http", host, self.port)

    def check_assertion(self, jwt):
        """None, or what is wrong with the assertion."""
        parts = jwt.split(".")
        if len(parts) != 3:
            return "not three segments"
        header, claims = json.loads(unb64(parts[0])), json.loads(unb64(parts[1]))
        if header.get("alg") != "RS256" or header.get("kid") != "kid-1":
            return "header %r" % header
        if claims.get("iss") != EMAIL or claims.get("aud") != self.uri or \
                claims.get("scope") != "https://www.googleapis.com/auth/cloud-platform":
            return "claims %r" % claims
        if not 0 < claims["exp"] - claims["iat"] <= 3600 or abs(claims["iat"] - time.time()) > 60:
            return "times %r" % claims
        with tempfile.TemporaryDirectory() as d:
            data, sig = os.path.join(d, "data"), os.path.join(d, "sig")
            with open(data, "w") as f:
                f.write(parts[0] + "." + parts[1])
            with open(sig, "wb") as f:
                f.write(unb64(parts[2]))
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", os.path.join(self.key_dir, "pub.pem"),
                                "-signature", sig, data], capture_output=True)
            if r.returncode != 0:
                return "signature does not verify"
        return None

    def answer(self, form):
        with self.lock:
            self.requests += 1
            if self.failing:
                return 503, {"error": "temporarily_unavailable", "error_description": "token service down"}
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}
        bad = self.check_assertion(form.get("assertion", [""])[0])
        if bad:
            with self.lock:
                self.bad_assertions.append(bad)
            return 400, {"error": "invalid_grant", "error_description": bad}
        with self.lock:
            token = "ya29.vtok-%d-%s" % (len(self.issued) + 1, os.urandom(6).hex())
            self.issued[token] = time.monotonic() + LIFETIME
        return 200, {"access_token": token, "expires_in": LIFETIME, "token_type": "Bearer"}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class VertexUpstream:
    """Vertex AI's REST surface for one project and location: the path, a
    live Bearer token, a Gemini-shaped answer."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.lock = threading.Lock()
        self.seen = []  # (path, token)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"{}")
                status, answer = outer.answer(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, path, headers, body):
        auth = headers.get("Authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
        with self.lock:
            self.seen.append((path, token, headers.get("x-goog-api-key")))
        expiry = self.tokens.issued.get(token)
        if expiry is None or time.monotonic() >= expiry:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                   "message": "Request had invalid authentication credentials."}}
        if path == MODEL_PATH + "gemini-2.5-flash:generateContent":
            text = body["contents"][0]["parts"][0]["text"]
            return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": "vertex: " + text}]},
                                         "finishReason": "STOP"}],
                         "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 3, "totalTokenCount": 5}}
        if path == MODEL_PATH + "text-embedding-005:predict":
            dims = body.get("parameters", {}).get("outputDimensionality", 4)
            return 200, {"predictions": [{"embeddings": {"values": [0.25] * dims,
                                                         "statistics": {"token_count": 2, "truncated": False}}}
                                         for _ in body["instances"]]}
        return 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no such path: " + path}}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def make_key(d, token_uri):
    """A fresh RSA key and a service-account key file naming token_uri."""
    key = os.path.join(d, "key.pem")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
    openssl("pkey", "-in", key, "-pubout", "-out", os.path.join(d, "pub.pem"))
    with open(key) as f:
        pem = f.read()
    path = os.path.join(d, "sa-%d.json" % abs(hash(token_uri)))
    with open(path, "w") as f:
        json.dump({"type": "service_account", "project_id": PROJECT, "private_key_id": "kid-1",
                   "private_key": pem, "client_email": EMAIL, "client_id": "1",
                   "token_uri": token_uri}, f)
    return path, pem


def config(upstream_port, key_file, extra=""):
    return """
[routing]
failure_threshold = 1000
cooldown = "100ms"

[[plugin]]
name = "gemini"

[[provider]]
name = "vertex"
plugin = "gemini"
base_url = "http://127.0.0.1:%d"
models = ["gemini-2.5-flash", "text-embedding-005"]
vertex = true
vertex_project = "%s"
vertex_location = "%s"
credentials_file = "%s"
%s""" % (upstream_port, PROJECT, LOCATION, key_file, extra)


def post(server, path, body, timeout=10):
    with server.connect(timeout=timeout) as s:
        s.sendall(request("POST", path, {}, json.dumps(body).encode()))
        return Reader(s).read_response()


def chat(server, text="hello"):
    return post(server, "/v1/chat/completions",
                {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": text}]})


def until(pred, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


@unittest.skipIf(shutil.which("openssl") is None, "openssl not installed (scripts/install-deps --test installs it)")
class VertexServiceAccount(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="aigw-vertex-")
        cls.tokens = TokenEndpoint(cls.dir.name)
        cls.key_file, cls.pem = make_key(cls.dir.name, cls.tokens.uri)
        cls.upstream = VertexUpstream(cls.tokens)
        cls.server = Server(config(cls.upstream.port, cls.key_file), workers=2)
        # The first token is fetched when the configuration is made.
        if not until(lambda: cls.tokens.issued, 10):
            raise AssertionError("no token was fetched: %r" % cls.tokens.bad_assertions)
        # Issued is not yet received: until aigw has read the token
        # endpoint's answer, a request fails at once (by design: workers
        # never wait for a token), which a loaded machine under ASan made
        # the first test see. Wait until a request goes through.
        if not until(lambda: chat(cls.server, "warm-up").status == 200, 10):
            raise AssertionError("no request went through with the first token: %r" % chat(cls.server).body)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.upstream.stop()
        cls.tokens.stop()
        cls.dir.cleanup()

    def test_1_the_bearer_token_goes_to_the_vertex_path(self):
        r = chat(self.server, "ping")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["choices"][0]["message"]["content"], "vertex: ping")
        self.assertEqual(r.json()["usage"]["total_tokens"], 5)
        path, token, api_key = self.upstream.seen[-1]
        self.assertEqual(path, MODEL_PATH + "gemini-2.5-flash:generateContent")
        self.assertIn(token, self.tokens.issued)
        self.assertIsNone(api_key)
        self.assertEqual(self.tokens.bad_assertions, [])

    def test_2_embeddings_go_to_predict(self):
        r = post(self.server, "/v1/embeddings", {"model": "text-embedding-005", "input": "x", "dimensions": 3})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["data"][0]["embedding"], [0.25, 0.25, 0.25])
        self.assertEqual(r.json()["usage"]["prompt_tokens"], 2)
        self.assertEqual(self.upstream.seen[-1][0], MODEL_PATH + "text-embedding-005:predict")

    def test_3_the_token_is_refreshed_before_it_expires_and_the_new_one_is_used(self):
        first = len(self.tokens.issued)
        used = set()
        end = time.monotonic() + 2.5 * LIFETIME
        while time.monotonic() < end:
            r = chat(self.server)
            # The upstream refuses an expired token: every answer being 200
            # means none was ever sent.
            self.assertEqual(r.status, 200, r.body)
            used.add(self.upstream.seen[-1][1])
            time.sleep(0.1)
        self.assertGreaterEqual(len(self.tokens.issued) - first, 2)
        self.assertGreaterEqual(len(used), 2, "requests kept using one token")

    def test_4_a_failing_token_endpoint_fails_requests_at_once_and_the_channel_recovers(self):
        self.tokens.failing = True
        try:
            # Once the last good token is past its usable time, requests fail
            # with the reason, fast, without reaching the upstream.
            def failed():
                r = chat(self.server)
                return r if r.status != 200 else None
            r = until(failed, LIFETIME + 3)
            self.assertIsNotNone(r, "requests kept succeeding without a token endpoint")
            start = time.monotonic()
            r = chat(self.server)
            self.assertLess(time.monotonic() - start, 1.0)
            self.assertEqual(r.status, 502, r.body)
            message = r.json()["error"]["message"]
            self.assertIn("Vertex AI access token unavailable", message)
            self.assertIn("503", message)
            self.assertIn("token service down", message)
        finally:
            self.tokens.failing = False
        # Retries back off at most 30 s, but the first ones come within a
        # few seconds.
        r = until(lambda: (lambda x: x if x.status == 200 else None)(chat(self.server)), 15)
        self.assertIsNotNone(r, "the channel did not recover")

    def test_6_reloads_end_the_old_refresher_threads(self):
        # Each reload makes a new configuration (and refresher thread); the
        # old one is destroyed, and its thread joined, once its requests are
        # done. The thread count must come back to where it was.
        task = "/proc/%d/task" % self.server.proc.pid
        before = len(os.listdir(task))
        reloads = lambda: len([x for x in self.server.log_records() if x.get("msg") == "plugins reloaded"])
        done = reloads()
        fetched = self.tokens.requests
        for i in range(3):
            self.server.signal(signal.SIGHUP)
            self.assertTrue(until(lambda: reloads() >= done + i + 1, 10), "no reload")
        # Each new configuration fetched its own first token: new threads
        # did start, so an unchanged count means the old ones ended.
        self.assertTrue(until(lambda: self.tokens.requests >= fetched + 3, 10))
        self.assertTrue(until(lambda: len(os.listdir(task)) == before, 10),
                        "threads: %d before, %d after" % (before, len(os.listdir(task))))
        r = until(lambda: (lambda x: x if x.status == 200 else None)(chat(self.server)), 10)
        self.assertIsNotNone(r, "no answer after the reloads")

    def test_5_no_secret_in_the_log(self):
        log = "\n".join(self.server.lines)
        for token in list(self.tokens.issued):
            self.assertNotIn(token, log)
        body = [l for l in self.pem.splitlines() if l and not l.startswith("-----")]
        for line in body:
            self.assertNotIn(line, log)
        # The failures of test 4 were logged, with the reason.
        self.assertIn("token service down", log)


@unittest.skipIf(tls_skip_reason() is not None, tls_skip_reason() or "")
class VertexTokenEndpointOverTls(unittest.TestCase):
    """The token endpoint over https: trusted through token_ca_file, and
    refused with a clear reason when its certificate is not."""

    def test_a_trusted_and_an_untrusted_token_endpoint(self):
        with tempfile.TemporaryDirectory(prefix="aigw-vertex-tls-") as d:
            cert = make_cert(d)
            tokens = TokenEndpoint(d, tls_cert=cert)
            key_file, _ = make_key(d, tokens.uri)
            upstream = VertexUpstream(tokens)
            try:
                good = Server(config(upstream.port, key_file, 'token_ca_file = "%s"\n' % cert[0]))
                try:
                    self.assertTrue(until(lambda: tokens.issued, 10), tokens.bad_assertions)
                    r = until(lambda: (lambda x: x if x.status == 200 else None)(chat(good)), 5)
                    self.assertIsNotNone(r)
                finally:
                    good.stop()
                # The system bundle does not know the test CA.
                bad = Server(config(upstream.port, key_file))
                try:
                    r = until(lambda: (lambda x: x if "not trusted" in x.body.decode() else None)(chat(bad)), 10)
                    self.assertIsNotNone(r, "no certificate error")
                    self.assertEqual(r.status, 502)
                finally:
                    bad.stop()
            finally:
                upstream.stop()
                tokens.stop()


if __name__ == "__main__":
    main()
