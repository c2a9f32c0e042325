"""Test harness: start the real aigw binary on 127.0.0.1 port 0 and talk to it
over real sockets. Used by every integration test in this folder."""

import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

AIGW = os.environ.get("AIGW_BIN", "build/src/aigw")
SOURCE_ROOT = os.environ.get("AIGW_SOURCE_ROOT", ".")


class Server:
    """One aigw process with a config written to a temp file."""

    def __init__(self, config="", workers=1, extra_server="", start=True, shutdown_delay="0s",
                 rlimit_nofile=None, binary=None, env=None):
        # shutdown_delay: tests stop aigw with SIGTERM; the default 5 s of
        # /ready 503 before the drain is tested on its own (test_lifecycle).
        self.dir = tempfile.TemporaryDirectory(prefix="aigw-test-")
        self.config_path = os.path.join(self.dir.name, "aigw.toml")
        delay = 'shutdown_delay = "%s"\n' % shutdown_delay if shutdown_delay is not None else ""
        text = '[server]\nlisten = "127.0.0.1:0"\nworkers = %d\n%s%s\n%s' % (workers, delay, extra_server, config)
        with open(self.config_path, "w") as f:
            f.write(text)
        self.rlimit_nofile = rlimit_nofile  # the process's open-file limit, soft and hard
        self.binary = binary or AIGW  # another aigw: an installed one (test_install)
        self.env = env  # the whole environment, when not this process's
        self.proc = None
        self.lines = []
        self.port = None
        self.admin_port = None
        self._lock = threading.Lock()
        self._listening = threading.Event()
        if start:
            self.start()

    def start(self, timeout=20):
        limit = self.rlimit_nofile

        def set_limit():
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        self.proc = subprocess.Popen(
            [self.binary, "serve", "-c", self.config_path], env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=set_limit)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self._listening.wait(timeout):
            self.kill()
            raise AssertionError("aigw did not start listening:\n" + "\n".join(self.lines))
        # "listening" is logged after every worker accepts.

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                self.lines.append(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("msg") == "admin listening":
                self.admin_port = int(obj["addr"].rsplit(":", 1)[1])
            if obj.get("msg") == "listening" and self.port is None:
                self.port = int(obj["addr"].rsplit(":", 1)[1])
                self._listening.set()

    def log_records(self):
        with self._lock:
            out = []
            for line in self.lines:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({"unparsed": line})
            return out

    def connect(self, timeout=10, admin=False):
        # The admin address is logged just after the public one: wait for it.
        end = time.time() + 5
        while admin and self.admin_port is None and time.time() < end:
            time.sleep(0.01)
        port = self.admin_port if admin else self.port
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait(self, timeout=30):
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.dir.cleanup()

    def stop(self):
        """Graceful stop; asserts a clean exit so leaks and crashes fail the test."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("aigw did not exit after SIGTERM")
        time.sleep(0.05)
        if rc != 0:
            raise AssertionError("aigw exited with %d:\n%s" % (rc, "\n".join(self.lines[-40:])))
        self.dir.cleanup()


class Response:
    def __init__(self, status, reason, headers, body, version):
        self.status, self.reason, self.headers, self.body, self.version = status, reason, headers, body, version

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)


class Reader:
    """Reads HTTP/1.1 responses (Content-Length framed) from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed by server")
        self.buf += chunk

    def read_response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = [tuple(x.split(": ", 1)) for x in lines[1:]]
        resp = Response(int(status), reason, headers, b"", version)
        if int(status) == 100:
            return resp
        n = 0 if head_only else int(resp.header("Content-Length") or 0)
        while len(self.buf) < n:
            self._fill()
        resp.body, self.buf = self.buf[:n], self.buf[n:]
        return resp

    def at_eof(self, timeout=5):
        """True if the server closes the connection (after any buffered bytes)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def read_chunked_events(rd):
    """The SSE data payloads of a chunked body read from Reader `rd` (its
    head already consumed), and whether the chunked terminator arrived. A
    timeout, a reset or a cut ends the read (clean = False)."""
    body = bytearray()  # appends in place: a long stream is thousands of chunks
    clean = False
    try:
        while True:
            while b"\r\n" not in rd.buf:
                rd._fill()
            line, rd.buf = rd.buf.split(b"\r\n", 1)
            size = int(line, 16)
            while len(rd.buf) < size + 2:
                rd._fill()
            if size == 0:
                clean = True
                break
            body += rd.buf[:size]
            rd.buf = rd.buf[size + 2:]
    except (EOFError, ConnectionResetError, socket.timeout):
        pass
    events = [e[len("data: "):] if e.startswith("data: ") else e
              for e in body.decode("utf-8", "replace").split("\n\n") if e.strip()]
    return events, clean


def request(method, path, headers=None, body=b"", version="HTTP/1.1"):
    """Raw request bytes. A body for /v1/... goes out as JSON, the way every
    SDK sends it, unless the test says otherwise (a Content-Type of its own,
    or None for no Content-Type at all)."""
    headers = dict(headers or {})
    if body and "/v1/" in path and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    hs = [("Host", "localhost")] if version == "HTTP/1.1" else []
    hs += [(k, v) for k, v in headers.items() if v is not None]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hs):
        hs.append(("Content-Length", str(len(body))))
    out = "%s %s %s\r\n" % (method, path, version)
    out += "".join("%s: %s\r\n" % kv for kv in hs) + "\r\n"
    return out.encode("latin-1") + body


def roundtrip(server, raw, head_only=False):
    with server.connect() as s:
        s.sendall(raw)
        return Reader(s).read_response(head_only)


class ServerTest(unittest.TestCase):
    """Starts one server per test class; subclasses set CONFIG / WORKERS."""
    CONFIG = ""
    WORKERS = 1

    @classmethod
    def setUpClass(cls):
        cls.server = Server(cls.CONFIG, workers=cls.WORKERS)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def assertErrorShape(self, resp, status, code=None):
        self.assertEqual(resp.status, status, resp.body)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        err = resp.json()["error"]
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        self.assertIn(err["type"], ("invalid_request_error", "server_error"))
        if code is not None:
            self.assertEqual(err["code"], code)


def main():
    # Tests deliberately leave client sockets to the server's mercy (timeouts,
    # drains); Python's reminders about them are noise here.
    warnings.simplefilter("ignore", ResourceWarning)
    unittest.main(verbosity=2)
