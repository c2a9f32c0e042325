"""TLS on the public listener ([server.tls]): a real TLS client (Python's
ssl) with a test CA made in the test, keep-alive over TLS, a streamed plugin
answer over TLS, a plain-text client refused, and a bad key refused at
start-up with one clear error."""

import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import unittest

from harness import AIGW, Reader, Server, main, request
from upstreams import make_cert


@unittest.skipIf(shutil.which("openssl") is None, "openssl not installed")
class TlsListener(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="aigw-tlsl-")
        cls.ca, cls.crt, cls.key = make_cert(cls.dir)
        cls.server = Server("""
[server.tls]
cert_file = "%s"
key_file = "%s"
[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]
chunk_interval = "1ms"
""" % (cls.crt, cls.key), workers=2)
        cls.ctx = ssl.create_default_context(cafile=cls.ca)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def tls_connect(self):
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        return self.ctx.wrap_socket(raw, server_hostname="localhost")

    def test_health_and_keep_alive_over_tls(self):
        with self.tls_connect() as s:
            self.assertEqual(s.version(), "TLSv1.2")
            rd = Reader(s)
            for _ in range(5):
                s.sendall(request("GET", "/health"))
                self.assertEqual(rd.read_response().json(), {"status": "ok"})

    def test_stream_over_tls(self):
        body = json.dumps({"model": "aigw-demo", "stream": True,
                           "messages": [{"role": "user", "content": "secure words"}]}).encode()
        with self.tls_connect() as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, body))
            data = b""
            while not data.endswith(b"0\r\n\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertIn(b"data: [DONE]", data)
        self.assertIn(b"secure", data)

    def test_plain_http_client_gets_no_answer(self):
        with self.server.connect() as s:
            s.sendall(request("GET", "/health"))
            s.settimeout(5)
            try:
                got = s.recv(100)
            except (ConnectionResetError, socket.timeout):
                got = b""
            self.assertFalse(got.startswith(b"HTTP/1.1 200"))
        # and the server is fine afterwards
        with self.tls_connect() as s:
            s.sendall(request("GET", "/health"))
            self.assertEqual(Reader(s).read_response().status, 200)

    def test_bad_key_is_one_clear_error(self):
        cfg = os.path.join(self.dir, "bad.toml")
        with open(cfg, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:0"\n[server.tls]\ncert_file = "%s"\nkey_file = "%s"\n'
                    % (self.crt, self.ca))
        r = subprocess.run([AIGW, "serve", "-c", cfg], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("server.tls", r.stderr)


if __name__ == "__main__":
    main()
