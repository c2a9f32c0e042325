"""The plugin ABI's contract through the real binary: the C fixture plugins of
tests/abi (built exactly as an outside author builds a plugin) loaded into
aigw, in front of a small upstream this test controls byte by byte.

- An HTTP-mode plugin that calls respond_start, as the header requires,
  answers (ABI 1.2 made this explicit; an author who followed the old header
  got 502 on every request).
- A 1.2 plugin says when content begins (aigw_host.commit): a stream in a
  dialect the host cannot read reaches the client at once.
- A 1.1 plugin binary, built against the header as 1.1 released it, still
  loads and answers; for it the host holds a stream back until the bytes look
  like OpenAI content, as before.
- report_finish_reason is accounted: the access log's finish_reason and
  aigw_finish_reasons_total.
- A plugin that starts a thread in config_new (and leaves its signal mask
  alone) does not turn SIGTERM into a kill: the host blocks its signals
  before it configures any plugin.
- What a plugin is told of the client's request (echo_client): its method,
  path and headers as sent, less the client's credentials for aigw and the
  hop-by-hop headers, whatever their case."""

import json
import os
import socket
import threading
import time
import unittest

from harness import Reader, Server, main, read_chunked_events, request

FIXTURES = os.environ.get("AIGW_ABI_FIXTURE_DIR", "build/tests/abi")
ADMIN = '\n[admin]\nlisten = "127.0.0.1:0"\n'

# Not OpenAI: nothing here has a "content", "text" or "tool_calls" field.
PING = b'event: ping\ndata: {"type":"ping"}\n\n'
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
DONE = b"data: [DONE]\n\n"


def chunk(b):
    return b"%x\r\n%s\r\n" % (len(b), b)


class Upstream:
    """Answers each connection once, then closes it. A JSON answer at once, or
    a chunked event stream whose events are sent one at a time when the test
    says so (next_event)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.mode = "json"
        self.events = []
        self.go = threading.Semaphore(0)
        self.requests = []
        self.stopped = False
        threading.Thread(target=self._loop, daemon=True).start()

    def stop(self):
        self.stopped = True
        for _ in range(16):
            self.go.release()
        self.sock.close()

    def next_event(self):
        self.go.release()

    def _loop(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self._serve(conn)
                except OSError:
                    pass

    def _serve(self, conn):
        conn.settimeout(30)
        buf = b""
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
        head, body = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(body) < n:
            body += conn.recv(65536)
        self.requests.append((head.split(b"\r\n")[0].decode(), body))
        if self.mode == "json":
            answer = b'{"id":"x","object":"chat.completion","choices":[]}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(answer), answer))
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for ev in self.events:
            self.go.acquire()
            if self.stopped:
                return
            conn.sendall(chunk(ev))
        conn.sendall(b"0\r\n\r\n")


def config(plugin, port):
    return """
[[plugin]]
name = "%s"
path = "%s"

[[provider]]
name = "up"
plugin = "%s"
base_url = "http://127.0.0.1:%d/v1"
models = ["fx-model"]
first_byte_timeout = "20s"
stream_idle_timeout = "20s"
""" % (plugin, os.path.join(FIXTURES, "lib%s.so" % plugin), plugin, port)


def body(stream):
    b = {"model": "fx-model", "messages": [{"role": "user", "content": "hello"}]}
    if stream:
        b["stream"] = True
    return json.dumps(b).encode()


def read_head(sock, rd):
    while b"\r\n\r\n" not in rd.buf:
        rd._fill()
    head, rd.buf = rd.buf.split(b"\r\n\r\n", 1)
    return head


def read_until(rd, needle):
    while needle not in rd.buf:
        rd._fill()


class Plugin12(unittest.TestCase):
    """good_http: built against today's header (1.2)."""

    @classmethod
    def setUpClass(cls):
        cls.up = Upstream()
        cls.server = Server(config("good_http", cls.up.port), workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.up.stop()

    def test_http_mode_plugin_answers_through_respond_start(self):
        self.up.mode = "json"
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, body(False)))
            r = Reader(s).read_response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("content-type"), "application/json")
        self.assertEqual(r.body, b'{"id":"x","object":"chat.completion","choices":[]}')
        self.assertEqual(r.header("x-aigw-provider"), "up")

    def test_commit_sends_a_stream_in_any_dialect_at_once(self):
        self.up.mode = "stream"
        self.up.events = [PING, b'event: message_stop\ndata: {"type":"message_stop"}\n\n']
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, body(True)))
            self.up.next_event()  # the ping only; the upstream holds the rest
            rd = Reader(s)
            head = read_head(s, rd)
            self.assertIn(b" 200 ", head.split(b"\r\n")[0])
            # The plugin committed after its first bytes: they arrive while
            # the upstream still holds the stream open.
            read_until(rd, b'{"type":"ping"}')
            self.up.next_event()
            events, clean = read_chunked_events(rd)
        self.assertTrue(clean)
        self.assertIn('{"type":"message_stop"}', "\n".join(events))


class Plugin11(unittest.TestCase):
    """abi_1_1_http: a 1.1 binary, compiled against tests/abi/abi_1_1."""

    @classmethod
    def setUpClass(cls):
        cls.up = Upstream()
        cls.server = Server(config("abi_1_1_http", cls.up.port) +
                            '\n[admin]\nlisten = "127.0.0.1:0"\n[state]\nflush_interval = "50ms"\n', workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.up.stop()

    def test_a_11_plugin_loads_and_answers(self):
        self.up.mode = "json"
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, body(False)))
            r = Reader(s).read_response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body, b'{"id":"x","object":"chat.completion","choices":[]}')
        loaded = [x for x in self.server.log_records()
                  if x.get("msg") == "plugin loaded" and x.get("plugin") == "abi_1_1_http"]
        self.assertEqual([x.get("abi") for x in loaded], ["1.1"], "the plugin's load and contract are logged")

    def test_usage_of_a_11_plugin_is_read_no_further_than_its_struct(self):
        # The plugin's 32-byte aigw_usage is followed in its memory by 777
        # and 888 where a 1.4 host's cached and reasoning tokens would be.
        self.up.mode = "json"
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, body(False)))
            self.assertEqual(Reader(s).read_response().status, 200)
        deadline = time.time() + 10
        while True:
            with self.server.connect(timeout=20, admin=True) as s:
                s.sendall(request("GET", "/admin/usage?group_by=provider&source=local"))
                rows = Reader(s).read_response().json()["data"]
            if rows or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(rows), 1, rows)
        row = rows[0]
        self.assertGreaterEqual(row["requests"], 1)
        self.assertEqual(row["prompt_tokens"], 3 * row["requests"])
        self.assertEqual(row["total_tokens"], 7 * row["requests"])
        self.assertEqual((row["cached_tokens"], row["reasoning_tokens"]), (0, 0))

    def test_the_host_still_sniffs_for_a_11_plugin(self):
        self.up.mode = "stream"
        self.up.events = [PING, TOKEN, DONE]
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, body(True)))
            self.up.next_event()  # the ping: no content, so it is held back
            s.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                data = s.recv(1)
                self.fail("sent before any content: %r" % data)
            s.settimeout(20)
            self.up.next_event()  # a token: the host commits head, ping and token
            rd = Reader(s)
            head = read_head(s, rd)
            self.assertIn(b" 200 ", head.split(b"\r\n")[0])
            read_until(rd, b'"content":"hi"')
            self.assertIn(b'{"type":"ping"}', rd.buf)
            self.up.next_event()
            events, clean = read_chunked_events(rd)
        self.assertTrue(clean)
        self.assertEqual(events[-1], "[DONE]")


class FinishReason(unittest.TestCase):
    def test_reported_finish_reasons_are_logged_and_counted(self):
        server = Server('[access_log]\nsample = 1.0\n[[provider]]\nname = "demo"\nplugin = "local"\n'
                        'models = ["aigw-demo"]\n' + ADMIN, workers=1)
        try:
            for stream in (False, True):
                b = json.dumps({"model": "aigw-demo", "stream": stream,
                                "messages": [{"role": "user", "content": "hi"}]}).encode()
                with server.connect(timeout=20) as s:
                    s.sendall(request("POST", "/v1/chat/completions", {}, b))
                    if stream:
                        rd = Reader(s)
                        read_head(s, rd)
                        _, clean = read_chunked_events(rd)
                        self.assertTrue(clean)
                    else:
                        self.assertEqual(Reader(s).read_response().status, 200)
            with server.connect(timeout=10, admin=True) as s:
                s.sendall(request("GET", "/metrics", {}))
                metrics = Reader(s).read_response().body.decode()
            self.assertIn('aigw_finish_reasons_total{provider="demo",reason="stop"} 2', metrics)
            self.assertIn('aigw_finish_reasons_total{provider="demo",reason="length"} 0', metrics)
            # Access lines are written by the worker's ring after the answer.
            deadline = time.time() + 5
            logged = []
            while len(logged) < 2 and time.time() < deadline:
                time.sleep(0.02)
                logged = [x for x in server.log_records() if x.get("path") == "/v1/chat/completions"]
            self.assertEqual([x.get("finish_reason") for x in logged], ["stop", "stop"])
            # A request no plugin answered has no reason: null, not "unknown".
            with server.connect(timeout=10) as s:
                s.sendall(request("POST", "/v1/chat/completions", {},
                                  json.dumps({"model": "nope", "messages": []}).encode()))
                self.assertEqual(Reader(s).read_response().status, 404)
            deadline = time.time() + 5
            while time.time() < deadline:
                miss = [x for x in server.log_records() if x.get("status") == 404]
                if miss:
                    break
                time.sleep(0.05)
            self.assertTrue(miss)
            self.assertIsNone(miss[0]["finish_reason"])
        finally:
            server.stop()


class PluginThread(unittest.TestCase):
    def test_sigterm_drains_with_a_plugin_thread_started_in_config_new(self):
        # A process-directed signal goes to any thread that does not block
        # it. The plugin's thread inherits the mask of the thread that ran
        # config_new; had the host not blocked SIGTERM by then, the default
        # action would kill aigw (exit -15) instead of the drain (exit 0).
        server = Server("""
[[plugin]]
name = "thread_in_config"
path = "%s"

[[provider]]
name = "threaded"
plugin = "thread_in_config"
models = ["fx-model"]
""" % os.path.join(FIXTURES, "libthread_in_config.so"), workers=2)
        try:
            with server.connect() as s:
                s.sendall(request("POST", "/v1/chat/completions", body=body(False)))
                self.assertEqual(Reader(s).read_response().status, 200)
            server.signal()
            self.assertEqual(server.wait(30), 0, "\n".join(server.lines[-20:]))
        finally:
            server.kill()


class ClientRequest(unittest.TestCase):
    """echo_client answers with the method, path and headers the host gave it."""

    SECRET = "sk-client-echo-7c1d"

    @classmethod
    def setUpClass(cls):
        cls.server = Server("""
[[plugin]]
name = "echo_client"
path = "%s"

[[provider]]
name = "echo"
plugin = "echo_client"
models = ["echo-model"]

[[key]]
name = "team"
secret = "%s"
""" % (os.path.join(FIXTURES, "libecho_client.so"), cls.SECRET), workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def echo(self, headers):
        b = json.dumps({"model": "echo-model", "messages": [{"role": "user", "content": "hi"}]}).encode()
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", headers, b))
            r = Reader(s).read_response()
        self.assertEqual(r.status, 200, r.body)
        lines = r.body.decode().split("\n")
        self.assertEqual(lines[-1], "")
        return lines[0], [tuple(line.split(": ", 1)) for line in lines[1:-1]]

    def test_credentials_and_hop_by_hop_headers_never_reach_a_plugin(self):
        first, headers = self.echo({
            "Authorization": "Bearer " + self.SECRET,
            "X-Api-Key": self.SECRET,
            "api-key": self.SECRET,
            "Proxy-Authorization": "Basic c2VjcmV0",
            "Cookie": "session=" + self.SECRET,
            "Connection": "keep-alive",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Trailer": "X-Checksum",
            "Upgrade": "h2c",
            "Proxy-Connection": "keep-alive",
            "User-Agent": "OpenAI/Python 1.54.0",
            "Accept": "application/json",
            "OpenAI-Beta": "assistants=v2",
            "X-Request-Trace": "abc-123",
            "X-Stainless-Lang": "python",
        })
        self.assertEqual(first, "POST /v1/chat/completions")
        names = [n.lower() for n, _ in headers]
        for dropped in ("authorization", "x-api-key", "api-key", "proxy-authorization", "cookie",
                        "connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection",
                        "host", "content-length", "transfer-encoding", "expect"):
            self.assertNotIn(dropped, names)
        self.assertNotIn(self.SECRET, json.dumps(headers))
        # The rest arrive as sent, in order, names in the client's case.
        self.assertEqual(headers, [
            ("User-Agent", "OpenAI/Python 1.54.0"),
            ("Accept", "application/json"),
            ("OpenAI-Beta", "assistants=v2"),
            ("X-Request-Trace", "abc-123"),
            ("X-Stainless-Lang", "python"),
            ("Content-Type", "application/json"),
        ])

    def test_the_plugin_is_told_what_the_host_read_of_the_body(self):
        # ABI 1.5: AIGW_BODY_READ (1) for one object read to its end,
        # AIGW_BODY_HAS_STREAM_OPTIONS (2) with that key at the top level;
        # nothing for an object with more after it.
        cases = [
            (b'{"model":"echo-model","messages":[]}', "1"),
            (b' \n{"model":"echo-model","stream_options":{"include_usage":true}}', "3"),
            (b'{"model":"echo-model","metadata":{"stream_options":1}}', "1"),
            (b'{"model":"echo-model"} {}', "0"),
        ]
        for body, want in cases:
            with self.server.connect(timeout=20) as s:
                s.sendall(request("POST", "/v1/chat/completions", {"Authorization": "Bearer " + self.SECRET}, body))
                r = Reader(s).read_response()
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.header("x-echo-body-facts"), want, body)

    def test_a_long_head_reaches_the_plugin_whole(self):
        # Many headers, long values: the views a plugin gets point into one
        # copy of the head, which must not move while they are in use.
        sent = {"X-Trace-%02d" % i: ("v%02d-" % i) + "x" * (40 + i) for i in range(40)}
        sent["Authorization"] = "Bearer " + self.SECRET
        _, headers = self.echo(sent)
        got = dict(headers)
        for name, value in sent.items():
            if name == "Authorization":
                self.assertNotIn(name, got)
            else:
                self.assertEqual(got.get(name), value, name)


if __name__ == "__main__":
    main()
