"""aigw as a proxy: the openai plugin in front of the mock upstream (and a
TLS upstream), through the real binaries. Streaming and not, model mapping,
every fault mode of the mock and what the client sees, client disconnects,
and that the provider key goes upstream but nowhere else."""

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Reader, Server, main, read_chunked_events, request
from upstreams import make_cert

MOCK = os.environ.get("AIGW_MOCK_BIN", "build/tests/mock/aigw-mock")
CANARY = "sk-canary-5f1d2c3b4a"  # the provider key: must never show up anywhere but upstream

FAULTS = ["429", "500", "503", "401", "reset-after-3", "close-after-3", "garbage-sse",
          "bad-content-length", "hang", "hang-after-head", "no-done", "drip", "slow-first-byte"]
EXTRA = {"drip": ", \"x-mock-drip-interval: 1\""}


class Mock:
    def __init__(self, *args):
        self.proc = subprocess.Popen([MOCK, "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = self.proc.stderr.readline().decode()
        self.port = int(json.loads(line)["addr"].rsplit(":", 1)[1])
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def get(self, path):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(request("GET", path))
            return Reader(s).read_response().json()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assert_rc = self.proc.wait(10)


def provider(name, port, models, extra=""):
    return """
[[provider]]
name = "%s"
plugin = "openai"
base_url = "http://127.0.0.1:%d/v1"
api_keys = ["env:AIGW_TEST_PROVIDER_KEY"]
models = %s
first_byte_timeout = "1500ms"
stream_idle_timeout = "1500ms"
%s
""" % (name, port, json.dumps(models), extra)


def chat(model, stream=False, content="hello upstream"):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


def read_stream(sock, timeout=10):
    """A chunked SSE response: (status, [data payloads], ended_cleanly)."""
    sock.settimeout(timeout)
    rd = Reader(sock)
    while b"\r\n\r\n" not in rd.buf:
        rd._fill()
    head, rest = rd.buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ")[1])
    if b"chunked" not in head.lower():
        n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
        rd.buf = rest
        while len(rd.buf) < n:
            rd._fill()
        return status, [rd.buf[:n].decode()], True
    rd.buf = rest
    events, clean = read_chunked_events(rd)
    return status, events, clean


class Proxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        cls.mock = Mock("--stream-interval", "2ms", "--stream-tokens", "8", "--idle-timeout", "5s")
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        cls.closed_port = closed.getsockname()[1]
        closed.close()  # nothing listens there: connection refused
        cfg = '[[plugin]]\nname = "openai"\n'
        cfg += provider("mock", cls.mock.port, ["gpt-test", "gpt-mapped"],
                       'model_map = { "gpt-mapped" = "upstream-name" }')
        for f in FAULTS:
            cfg += provider("fault-" + f.replace("-", "").lower(), cls.mock.port, ["fault-" + f],
                            'headers = ["x-mock-fault: %s"%s]' % (f, EXTRA.get(f, "")))
        cfg += provider("down", cls.closed_port, ["down-model"])
        cls.server = Server(cfg, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()
        logs = "\n".join(cls.server.lines)
        assert CANARY not in logs, "provider key in aigw's log"

    def post(self, model, stream=False, headers=None):
        with self.server.connect(timeout=15) as s:
            s.sendall(request("POST", "/v1/chat/completions", dict(headers or {}), chat(model, stream)))
            if stream:
                return read_stream(s)
            return Reader(s).read_response()

    def test_non_stream_passes_through(self):
        r = self.post("gpt-test", headers={"Authorization": "Bearer client-key-xyz"})
        self.assertEqual(r.status, 200, r.body)
        obj = r.json()
        self.assertEqual(obj["object"], "chat.completion")
        self.assertIn("tok0", obj["choices"][0]["message"]["content"])
        last = self.mock.get("/mock/last")
        self.assertEqual(last["headers"]["authorization"], "Bearer " + CANARY)
        self.assertNotIn("client-key-xyz", json.dumps(last))
        self.assertNotIn(CANARY, r.body.decode())

    def test_stream_passes_events_through(self):
        status, events, clean = self.post("gpt-test", stream=True)
        self.assertEqual(status, 200)
        self.assertTrue(clean)
        self.assertEqual(events[-1], "[DONE]")
        text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]
                       if json.loads(e)["choices"])
        self.assertEqual(text, " ".join("tok%d" % i for i in range(8)))

    def test_chunked_request_body_in_pieces_reaches_the_provider_whole(self):
        # A client that streams its body (Transfer-Encoding: chunked) across
        # several writes: the decoded body goes upstream byte for byte, and
        # the connection serves a Content-Length request after it.
        body = chat("gpt-test", content="chunked " * 200)
        chunks = [body[i:i + 300] for i in range(0, len(body), 300)]
        wire = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
        head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n")
        with self.server.connect(timeout=15) as s:
            s.sendall(head)
            for i in range(0, len(wire), 257):
                s.sendall(wire[i:i + 257])
                time.sleep(0.002)
            rd = Reader(s)
            r = rd.read_response()
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(json.loads(self.mock.get("/mock/last")["body"]), json.loads(body))
            s.sendall(request("POST", "/v1/chat/completions", {}, chat("gpt-test")))
            self.assertEqual(rd.read_response().status, 200)

    def test_model_map_splices_upstream_name(self):
        r = self.post("gpt-mapped")
        self.assertEqual(r.status, 200, r.body)
        last = self.mock.get("/mock/last")
        self.assertEqual(json.loads(last["body"])["model"], "upstream-name")

    def test_completions_and_embeddings(self):
        for path, body in (("/v1/completions", {"model": "gpt-test", "prompt": "hi"}),
                           ("/v1/embeddings", {"model": "gpt-test", "input": ["a", "b"]})):
            with self.server.connect() as s:
                s.sendall(request("POST", path, {}, json.dumps(body).encode()))
                r = Reader(s).read_response()
                self.assertEqual(r.status, 200, r.body)

    def test_keep_alive_pool_reuses_connections(self):
        before = self.mock.get("/mock/stats")["connections_accepted"]
        with self.server.connect() as s:
            rd = Reader(s)
            for _ in range(20):
                s.sendall(request("POST", "/v1/chat/completions", {}, chat("gpt-test")))
                self.assertEqual(rd.read_response().status, 200)
        after = self.mock.get("/mock/stats")["connections_accepted"]
        self.assertLessEqual(after - before, 2, "upstream connections are not reused")

    def test_upstream_error_statuses_pass_through(self):
        r = self.post("fault-429")
        self.assertEqual(r.status, 429)
        self.assertEqual(r.json()["error"]["code"], "rate_limit_exceeded")
        for code in ("500", "503"):
            r = self.post("fault-" + code)
            self.assertEqual(r.status, int(code), r.body)
            self.assertIn("error", r.json())

    def test_upstream_rejecting_the_gateways_key_is_not_the_clients_fault(self):
        # A 401 from the provider is about aigw's key: the client must not
        # read it as "your API key is invalid" (its SDK would), and must
        # not learn the key.
        r = self.post("fault-401")
        self.assertEqual(r.status, 502, r.body)
        err = r.json()["error"]
        self.assertEqual(err["code"], "upstream_auth_failed")
        self.assertIn("fault-401", err["message"])
        self.assertNotIn(CANARY, r.body.decode())

    def test_connection_refused_is_502(self):
        r = self.post("down-model")
        self.assertEqual(r.status, 502)
        self.assertEqual(r.json()["error"]["code"], "upstream_unreachable")

    def test_hang_is_504(self):
        t = time.time()
        r = self.post("fault-hang")
        self.assertEqual(r.status, 504)
        self.assertEqual(r.json()["error"]["code"], "upstream_timeout")
        self.assertLess(time.time() - t, 5)

    def test_stream_cut_before_content_is_a_plain_error(self):
        # The head and the role preamble are held back until content arrives
        # (so that routing could still fail over): with no content yet, the
        # client gets a proper HTTP error, not a 200 that turns into one.
        status, events, _ = self.post("fault-hang-after-head", stream=True)
        self.assertEqual(status, 504)
        self.assertEqual(json.loads(events[0])["error"]["code"], "upstream_timeout")

    def test_stream_cut_ends_with_error_event(self):
        for model in ("fault-reset-after-3", "fault-close-after-3", "fault-no-done"):
            status, events, clean = self.post(model, stream=True)
            self.assertEqual(status, 200, model)
            self.assertTrue(events, model)
            last = json.loads(events[-1])
            self.assertIn("error", last, "%s: %r" % (model, events[-2:]))
            self.assertNotEqual(events[-1], "[DONE]")

    def test_garbage_stream_does_not_crash(self):
        # Garbage carries no content event, so nothing was committed when
        # the stream ended without [DONE]: a plain 502.
        status, events, _ = self.post("fault-garbage-sse", stream=True)
        self.assertEqual(status, 502)
        self.assertIn("error", json.loads(events[0]))
        self.assertEqual(self.post("gpt-test").status, 200)

    def test_bad_content_length_is_an_error(self):
        r = self.post("fault-bad-content-length")
        self.assertEqual(r.status, 502, r.body)

    def test_drip_and_slow_first_byte_complete(self):
        self.assertEqual(self.post("fault-slow-first-byte").status, 200)
        r = self.post("fault-drip")  # one byte per millisecond: slow, but never idle too long
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["object"], "chat.completion")

    def test_client_disconnect_mid_stream(self):
        for _ in range(3):
            s = self.server.connect()
            s.sendall(request("POST", "/v1/chat/completions", {}, chat("fault-hang-after-head", True)))
            s.settimeout(0.3)
            try:
                s.recv(64)  # nothing comes: the upstream hangs after its head
            except socket.timeout:
                pass
            s.close()
        time.sleep(0.2)
        self.assertEqual(self.post("gpt-test").status, 200)


class Canned(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "tls-model",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "over tls"},
                                        "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class SlowReaders(unittest.TestCase):
    """Long paced streams, each event read on its own as a slow stream's
    are, so the worker sends each at once (Worker::flush) and completes the
    send in the same turn: a client that reads late still gets every event
    in order, and clients that leave mid-stream leave the worker serving."""

    # One event a millisecond, each read on its own as a slow stream's are
    # (so the worker tries each send at once): about 150 KB in a second,
    # past what a small receive buffer and the send buffer hold unread.
    TOKENS = 1000

    @classmethod
    def setUpClass(cls):
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        cls.mock = Mock("--stream-interval", "1ms", "--stream-tokens", str(cls.TOKENS))
        cfg = '[[plugin]]\nname = "openai"\n' + provider("long", cls.mock.port, ["long-model"])
        cls.server = Server(cfg, workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()

    def test_a_late_reader_gets_every_event_in_order(self):
        # A small receive window from the start (set before connecting).
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(15)
            s.connect(("127.0.0.1", self.server.port))
            s.sendall(request("POST", "/v1/chat/completions", {}, chat("long-model", True)))
            time.sleep(0.8)  # the worker's sends back up meanwhile
            status, events, clean = read_stream(s, timeout=15)
        self.assertEqual(status, 200)
        self.assertTrue(clean)
        self.assertEqual(events[-1], "[DONE]")
        text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events[:-1]
                       if json.loads(e)["choices"])
        self.assertEqual(text, " ".join("tok%d" % i for i in range(self.TOKENS)))

    def test_a_reader_that_leaves_mid_stream(self):
        for _ in range(3):
            s = self.server.connect(timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(request("POST", "/v1/chat/completions", {}, chat("long-model", True)))
            s.recv(2048)
            s.close()  # unread bytes: the kernel resets the connection
        with self.server.connect(timeout=15) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, chat("long-model", True)))
            status, events, clean = read_stream(s, timeout=15)
        self.assertEqual(status, 200)
        self.assertTrue(clean)
        self.assertEqual(events[-1], "[DONE]")


class BigEvents(BaseHTTPRequestHandler):
    """A stream of EVENTS events of about 12 KB each, PACE apart: each fits
    one of the worker's 16 KiB receive buffers, so each comes in a read of
    its own and is sent at once; past about 1.3 MB (a loopback socket's
    send buffer to start with, and the client's small window) a client
    that reads late makes those sends meet a full socket: a part taken,
    or EAGAIN."""
    protocol_version = "HTTP/1.1"
    EVENTS = 300
    PACE = 0.003

    @staticmethod
    def content(i):
        return "<%d>" % i + "x" * 12_000

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def event(obj):
            data = ("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        chunk = {"id": "big", "object": "chat.completion.chunk", "created": 0, "model": "big-model"}
        for i in range(self.EVENTS):
            event(dict(chunk, choices=[{"index": 0, "delta": {"content": self.content(i)},
                                        "finish_reason": None}]))
            time.sleep(self.PACE)
        event(dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, *a):
        pass


def big_events_gateway(handler, server_config=""):
    """A provider serving `handler` (BigEvents) and one aigw worker before it."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
    cfg = server_config + '[[plugin]]\nname = "openai"\n' + provider("big", httpd.server_address[1], ["big-model"])
    return httpd, Server(cfg, workers=1)


def expect_every_event(test, status, events, clean, handler):
    """A whole stream of `handler`'s events (BigEvents), each byte for byte."""
    test.assertEqual(status, 200)
    test.assertTrue(clean)
    test.assertEqual(events[-1], "[DONE]")
    got = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-2]]
    test.assertEqual(len(got), handler.EVENTS)
    for i, text in enumerate(got):
        test.assertEqual(text, handler.content(i), "event %d" % i)


class FullClientSockets(unittest.TestCase):
    """Sends made at once that meet a full client socket go on through the
    ring from where the socket stopped taking bytes: nothing lost, nothing
    sent twice, nothing reordered."""

    def test_a_late_reader_of_large_events(self):
        httpd, server = big_events_gateway(BigEvents)
        try:
            for _ in range(2):
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    s.settimeout(30)
                    s.connect(("127.0.0.1", server.port))
                    s.sendall(request("POST", "/v1/chat/completions", {}, chat("big-model", True)))
                    time.sleep(BigEvents.EVENTS * BigEvents.PACE + 1)  # all of it sent meanwhile
                    status, events, clean = read_stream(s, timeout=30)
                expect_every_event(self, status, events, clean, BigEvents)
        finally:
            server.stop()
            httpd.shutdown()


def unacked_bytes(local_port, remote_port):
    """The bytes a loopback TCP socket has sent or queued and not had
    acknowledged (tx_queue in /proc/net/tcp), for the socket from
    local_port to remote_port; None if there is none."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, remote, queues = fields[1], fields[2], fields[4]
            if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
                return int(queues.split(":")[0], 16)
    return None


class SendBuffer(unittest.TestCase):
    """[server.io] send_buffer sets the client sockets' SO_SNDBUF: what a
    client that does not read holds in aigw's kernel stays near it (the
    default grows to megabytes), and the sends that meet the small buffer
    full (EAGAIN on a send made at once, parts taken) lose nothing."""

    def test_a_small_send_buffer_caps_what_a_late_reader_holds(self):
        httpd, server = big_events_gateway(BigEvents, '[server.io]\nsend_buffer = "8KiB"\n')
        try:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(30)
                s.connect(("127.0.0.1", server.port))
                s.sendall(request("POST", "/v1/chat/completions", {}, chat("big-model", True)))
                time.sleep(1.0)  # a third of the events sent meanwhile: 1.2 MB
                held = unacked_bytes(server.port, s.getsockname()[1])
                self.assertIsNotNone(held)
                # The kernel doubles SO_SNDBUF for its bookkeeping: 16 KiB.
                self.assertLess(held, 64 * 1024)
                status, events, clean = read_stream(s, timeout=30)
            expect_every_event(self, status, events, clean, BigEvents)
        finally:
            server.stop()
            httpd.shutdown()

    def test_a_reader_in_bursts_gets_every_byte(self):
        # A reader that takes 8 KB every 5 ms, a little faster than events
        # of 12 KB come (every 10 ms): the ring's send of a backlog ends
        # with the small buffer full, and the next event's send made at
        # once then meets it full (EAGAIN; a temporary count saw one such
        # send and three parts taken per run, in 2 runs of 4).
        httpd, server = big_events_gateway(PacedBigEvents, '[server.io]\nsend_buffer = "8KiB"\n')
        try:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", server.port))
                s.sendall(request("POST", "/v1/chat/completions", {}, chat("big-model", True)))
                status, events, clean = read_stream(InBursts(s, 8192, 0.005), timeout=30)
            expect_every_event(self, status, events, clean, PacedBigEvents)
        finally:
            server.stop()
            httpd.shutdown()


class PacedBigEvents(BigEvents):
    EVENTS = 200
    PACE = 0.01


class InBursts:
    """A socket read at most `size` bytes at a time, `pause` s apart."""

    def __init__(self, sock, size, pause):
        self.sock, self.size, self.pause = sock, size, pause

    def recv(self, n):
        time.sleep(self.pause)
        return self.sock.recv(min(n, self.size))

    def settimeout(self, t):
        self.sock.settimeout(t)


class TlsUpstream(unittest.TestCase):
    def test_https_upstream_with_test_ca(self):
        if shutil.which("openssl") is None:
            self.skipTest("openssl not installed")
        d = tempfile.mkdtemp(prefix="aigw-tls-")
        ca, crt, key = make_cert(d)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port = httpd.server_address[1]
        os.environ["AIGW_TEST_PROVIDER_KEY"] = CANARY
        srv = Server("""
[[plugin]]
name = "openai"
[[provider]]
name = "tls"
plugin = "openai"
base_url = "https://localhost:%d/v1"
api_keys = ["env:AIGW_TEST_PROVIDER_KEY"]
models = ["tls-model"]
ca_file = "%s"
[[provider]]
name = "untrusted"
plugin = "openai"
base_url = "https://localhost:%d/v1"
api_keys = ["env:AIGW_TEST_PROVIDER_KEY"]
models = ["untrusted-model"]
[[provider]]
name = "by-address"
plugin = "openai"
base_url = "https://127.0.0.1:%d/v1"
api_keys = ["env:AIGW_TEST_PROVIDER_KEY"]
models = ["ip-model"]
ca_file = "%s"
""" % (port, ca, port, port, ca), workers=1)
        try:
            for _ in range(3):  # the second and third ride the pooled connection
                r = roundtrip_post(srv, "tls-model")
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json()["choices"][0]["message"]["content"], "over tls")
            # By address: the certificate's IP:127.0.0.1 subjectAltName vouches for it.
            r = roundtrip_post(srv, "ip-model")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["choices"][0]["message"]["content"], "over tls")
            r = roundtrip_post(srv, "untrusted-model")
            self.assertEqual(r.status, 502, r.body)
            self.assertEqual(r.json()["error"]["code"], "upstream_tls_error")
        finally:
            srv.stop()
            httpd.shutdown()
            shutil.rmtree(d, ignore_errors=True)


def roundtrip_post(srv, model):
    with srv.connect(timeout=15) as s:
        s.sendall(request("POST", "/v1/chat/completions", {}, chat(model)))
        return Reader(s).read_response()


if __name__ == "__main__":
    main()
