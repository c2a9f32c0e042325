"""aigw-mock, the OpenAI-compatible mock upstream: canned answers, paced
streams, replay of recorded exchanges, every fault mode's wire signature,
and the /mock/* introspection endpoints."""

import json
import os
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import Reader, main, request

MOCK = os.environ.get("AIGW_MOCK_BIN", "build/tests/mock/aigw-mock")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "openai")


class Mock:
    """One aigw-mock process on 127.0.0.1 port 0."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([MOCK, "--listen", "127.0.0.1:0", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.lines = []
        self.port = None
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._listening.wait(20):
            self.proc.kill()
            raise AssertionError("aigw-mock did not start:\n" + "\n".join(self.lines))

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("msg") == "listening" and self.port is None:
                self.port = int(obj["addr"].rsplit(":", 1)[1])
                self._listening.set()

    def connect(self, timeout=10):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def stop(self):
        """SIGTERM must end it promptly and cleanly (exit 0, no sanitizer report)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("aigw-mock did not exit after SIGTERM")
        self._reader.join(5)
        self.proc.stderr.close()
        if rc != 0:
            raise AssertionError("aigw-mock exited with %d:\n%s" % (rc, "\n".join(self.lines[-40:])))


def post(path, obj, headers=None):
    body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    hs = {"Content-Type": "application/json"}
    hs.update(headers or {})
    return request("POST", path, hs, body)


def read_chunked(rd):
    """Decodes a chunked body. Returns (payload, how): how is "done" after the
    last chunk, "eof" or "reset" when the connection ended first."""
    out = b""
    try:
        while True:
            while b"\r\n" not in rd.buf:
                rd._fill()
            line, rd.buf = rd.buf.split(b"\r\n", 1)
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while b"\r\n" not in rd.buf:
                    rd._fill()
                rd.buf = rd.buf.split(b"\r\n", 1)[1]
                return out, "done"
            while len(rd.buf) < size + 2:
                rd._fill()
            out += rd.buf[:size]
            rd.buf = rd.buf[size + 2:]
    except EOFError:
        return out + rd.buf, "eof"
    except ConnectionResetError:
        return out, "reset"


def events(payload):
    return [e for e in payload.decode().split("\n\n") if e]


def stream(mock, path, obj, headers=None):
    """Sends one streaming request; returns (head, payload, how, seconds)."""
    with mock.connect() as s:
        t0 = time.monotonic()
        s.sendall(post(path, obj, headers))
        rd = Reader(s)
        head = rd.read_response(head_only=True)
        payload, how = read_chunked(rd)
        return head, payload, how, time.monotonic() - t0


def exchange(mock, raw):
    with mock.connect() as s:
        s.sendall(raw)
        return Reader(s).read_response()


CHAT = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}
CHAT_STREAM = dict(CHAT, stream=True)


class Canned(unittest.TestCase):
    TOKENS, STREAM_TOKENS, INTERVAL_MS = 5, 8, 20

    @classmethod
    def setUpClass(cls):
        cls.mock = Mock("--completion-tokens", str(cls.TOKENS), "--stream-tokens",
                        str(cls.STREAM_TOKENS), "--stream-interval", "%dms" % cls.INTERVAL_MS,
                        "--models", "mock-a,mock-b")

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def test_health_and_models(self):
        r = exchange(self.mock, request("GET", "/health"))
        self.assertEqual((r.status, r.json()), (200, {"status": "ok"}))
        r = exchange(self.mock, request("GET", "/v1/models"))
        self.assertEqual([m["id"] for m in r.json()["data"]], ["mock-a", "mock-b"])
        self.assertEqual(r.json()["object"], "list")

    def test_chat_completion(self):
        r = exchange(self.mock, post("/v1/chat/completions", CHAT))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual(doc["object"], "chat.completion")
        self.assertEqual(doc["model"], "gpt-test")
        msg = doc["choices"][0]["message"]
        self.assertEqual(msg["role"], "assistant")
        self.assertEqual(msg["content"], "tok0 tok1 tok2 tok3 tok4")
        self.assertEqual(doc["usage"]["completion_tokens"], self.TOKENS)
        self.assertEqual(doc["usage"]["total_tokens"],
                         doc["usage"]["prompt_tokens"] + self.TOKENS)

    def test_completion_and_embeddings(self):
        r = exchange(self.mock, post("/v1/completions", {"model": "m", "prompt": "x"}))
        self.assertEqual(r.json()["object"], "text_completion")
        self.assertEqual(r.json()["choices"][0]["text"], "tok0 tok1 tok2 tok3 tok4")
        r = exchange(self.mock, post("/v1/embeddings", {"model": "e", "input": ["a", "b", "c"]}))
        doc = r.json()
        self.assertEqual([d["index"] for d in doc["data"]], [0, 1, 2])
        self.assertTrue(all(len(d["embedding"]) == 8 for d in doc["data"]))

    def test_bad_json_and_unknown_route(self):
        r = exchange(self.mock, post("/v1/chat/completions", b"{not json"))
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "invalid_json")
        r = exchange(self.mock, request("GET", "/v2/nothing"))
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["type"], "invalid_request_error")

    def test_stream_events_count_and_pacing(self):
        head, payload, how, took = stream(self.mock, "/v1/chat/completions", CHAT_STREAM)
        self.assertEqual(head.status, 200)
        self.assertEqual(head.header("Content-Type"), "text/event-stream")
        self.assertEqual(head.header("Transfer-Encoding"), "chunked")
        self.assertEqual(how, "done")
        evs = events(payload)
        self.assertEqual(evs[-1], "data: [DONE]")
        chunks = [json.loads(e[len("data: "):]) for e in evs[:-1]]
        self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        tokens = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
        self.assertEqual(len(tokens), self.STREAM_TOKENS)
        self.assertEqual("".join(tokens), " ".join("tok%d" % i for i in range(self.STREAM_TOKENS)))
        self.assertEqual(chunks[-1]["choices"][0]["finish_reason"], "stop")
        self.assertGreaterEqual(took, (self.STREAM_TOKENS - 1) * self.INTERVAL_MS / 1000 * 0.8)

    def test_stream_usage_chunk(self):
        obj = dict(CHAT_STREAM, stream_options={"include_usage": True})
        _, payload, how, _ = stream(self.mock, "/v1/completions", obj)
        evs = events(payload)
        self.assertEqual((how, evs[-1]), ("done", "data: [DONE]"))
        usage = json.loads(evs[-2][len("data: "):])
        self.assertEqual(usage["choices"], [])
        self.assertEqual(usage["usage"]["completion_tokens"], self.STREAM_TOKENS)
        self.assertEqual(json.loads(evs[0][6:])["object"], "text_completion")

    def test_keep_alive_and_pipelining(self):
        # A stream, then two plain requests, all in one write: answered in order.
        raw = (post("/v1/chat/completions", CHAT_STREAM) + request("GET", "/health")
               + post("/v1/chat/completions", CHAT))
        with self.mock.connect() as s:
            s.sendall(raw)
            rd = Reader(s)
            self.assertEqual(rd.read_response(head_only=True).status, 200)
            payload, how = read_chunked(rd)
            self.assertEqual((how, events(payload)[-1]), ("done", "data: [DONE]"))
            self.assertEqual(rd.read_response().json(), {"status": "ok"})
            self.assertEqual(rd.read_response().json()["object"], "chat.completion")
            s.sendall(request("GET", "/health"))
            self.assertEqual(rd.read_response().status, 200)

    def test_connection_close_honoured(self):
        with self.mock.connect() as s:
            s.sendall(request("GET", "/health", {"Connection": "close"}))
            rd = Reader(s)
            r = rd.read_response()
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(rd.at_eof(5))

    # ---- faults ----

    def test_fault_status_codes(self):
        r = exchange(self.mock, post("/v1/chat/completions", CHAT, {"x-mock-fault": "429"}))
        self.assertEqual((r.status, r.header("Retry-After")), (429, "2"))
        self.assertEqual(r.json()["error"]["code"], "rate_limit_exceeded")
        r = exchange(self.mock, post("/v1/chat/completions", CHAT,
                                     {"x-mock-fault": "429", "x-mock-retry-after": "7"}))
        self.assertEqual(r.header("Retry-After"), "7")
        for code, etype in ((500, "server_error"), (503, "server_error"),
                            (401, "invalid_request_error")):
            r = exchange(self.mock, post("/v1/chat/completions", CHAT, {"x-mock-fault": str(code)}))
            self.assertEqual(r.status, code)
            self.assertEqual(r.json()["error"]["type"], etype)
            self.assertIsNone(r.header("Retry-After"))
        r = exchange(self.mock, post("/v1/chat/completions", CHAT, {"x-mock-fault": "bogus"}))
        self.assertEqual((r.status, r.json()["error"]["code"]), (400, "mock_bad_fault"))

    def test_fault_reset_after(self):
        head, payload, how, _ = stream(self.mock, "/v1/chat/completions", CHAT_STREAM,
                                       {"x-mock-fault": "reset-after-3"})
        self.assertEqual(head.status, 200)
        self.assertIn(how, ("reset", "eof"))
        evs = events(payload)
        self.assertLessEqual(len(evs), 3)
        self.assertNotIn("data: [DONE]", evs)

    def test_fault_close_after(self):
        _, payload, how, _ = stream(self.mock, "/v1/chat/completions", CHAT_STREAM,
                                    {"x-mock-fault": "close-after-2"})
        self.assertEqual(how, "eof")  # no chunked terminator
        self.assertEqual(len(events(payload)), 2)

    def test_fault_close_after_plain_body(self):
        with self.mock.connect() as s:
            s.sendall(post("/v1/chat/completions", CHAT, {"x-mock-fault": "close-after-10"}))
            rd = Reader(s)
            head = rd.read_response(head_only=True)
            self.assertTrue(rd.at_eof(5))
            self.assertEqual(len(rd.buf), 10)
            self.assertGreater(int(head.header("Content-Length")), 10)

    def test_fault_drip(self):
        with self.mock.connect() as s:
            s.sendall(request("GET", "/health", {"x-mock-fault": "drip",
                                                 "x-mock-drip-interval": "5"}))
            rd = Reader(s)
            reads = 0
            t0 = time.monotonic()
            while b"\r\n\r\n" not in rd.buf or not rd.buf.endswith(b'{"status":"ok"}'):
                rd._fill()
                reads += 1
            took = time.monotonic() - t0
            # About a byte per read; a loaded machine may read a few at once.
            self.assertGreater(reads, len(rd.buf) // 8)
            self.assertGreaterEqual(took, len(rd.buf) * 0.005 * 0.5)
            self.assertEqual(rd.read_response().json(), {"status": "ok"})
            s.sendall(request("GET", "/health"))  # the connection goes on
            self.assertEqual(rd.read_response().status, 200)

    def test_fault_garbage_sse(self):
        head, payload, how, _ = stream(self.mock, "/v1/chat/completions", CHAT,
                                       {"x-mock-fault": "garbage-sse"})
        self.assertEqual((head.status, how), (200, "done"))
        self.assertEqual(head.header("Content-Type"), "text/event-stream")
        self.assertNotIn(b"\n\n", payload)
        for line in payload.decode().splitlines():
            with self.assertRaises(ValueError):
                json.loads(line[len("data: "):] if line.startswith("data: ") else line)

    def test_fault_bad_content_length(self):
        with self.mock.connect() as s:
            s.sendall(post("/v1/chat/completions", CHAT_STREAM,
                           {"x-mock-fault": "bad-content-length"}))
            rd = Reader(s)
            head = rd.read_response(head_only=True)
            declared = int(head.header("Content-Length"))
            self.assertTrue(rd.at_eof(5))
            self.assertLess(len(rd.buf), declared)
            self.assertGreater(len(rd.buf), 0)

    def test_fault_hang(self):
        with self.mock.connect() as s:
            s.sendall(post("/v1/chat/completions", CHAT, {"x-mock-fault": "hang"}))
            s.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                s.recv(1)

    def test_fault_hang_after_head(self):
        with self.mock.connect() as s:
            s.sendall(post("/v1/chat/completions", CHAT, {"x-mock-fault": "hang-after-head"}))
            rd = Reader(s)
            head = rd.read_response(head_only=True)
            self.assertEqual((head.status, head.header("Content-Type")), (200, "text/event-stream"))
            self.assertEqual(rd.buf, b"")
            s.settimeout(1.0)
            with self.assertRaises(socket.timeout):
                s.recv(1)

    def test_fault_no_done(self):
        _, payload, how, _ = stream(self.mock, "/v1/chat/completions", CHAT_STREAM,
                                    {"x-mock-fault": "no-done"})
        evs = events(payload)
        self.assertEqual(how, "done")  # the chunked terminator is there
        self.assertNotIn("data: [DONE]", evs)
        self.assertEqual(json.loads(evs[-1][6:])["choices"][0]["finish_reason"], "stop")

    def test_fault_slow_first_byte(self):
        with self.mock.connect() as s:
            t0 = time.monotonic()
            s.sendall(request("GET", "/health", {"x-mock-fault": "slow-first-byte",
                                                 "x-mock-delay": "300"}))
            r = Reader(s).read_response()
            self.assertGreaterEqual(time.monotonic() - t0, 0.28)
            self.assertEqual(r.status, 200)

    # ---- introspection ----

    def test_stats_and_last(self):
        # Runs alone in this class (unittest is sequential): reset, then count.
        exchange(self.mock, request("POST", "/mock/reset"))
        body = json.dumps(CHAT).encode()
        exchange(self.mock, post("/v1/chat/completions", body,
                                 {"Authorization": "Bearer sk-provider-1", "X-Extra": "a"}))
        exchange(self.mock, post("/v1/chat/completions", CHAT, {"x-mock-fault": "503"}))
        stats = exchange(self.mock, request("GET", "/mock/stats")).json()
        self.assertEqual(stats["requests"], 2)
        self.assertEqual(stats["by_path"], {"/v1/chat/completions": 2})
        self.assertEqual(stats["faults_served"], 1)
        self.assertEqual(stats["by_fault"], {"503": 1})
        self.assertGreaterEqual(stats["connections_accepted"], 2)
        self.assertEqual(stats["auth_headers_seen"], ["Bearer sk-provider-1"])
        last = exchange(self.mock, request("GET", "/mock/last")).json()
        self.assertEqual((last["method"], last["path"]), ("POST", "/v1/chat/completions"))
        self.assertEqual(last["headers"]["x-mock-fault"], "503")
        self.assertEqual(json.loads(last["body"]), CHAT)


class Replay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        files = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))
        args = ["--threads", "2", "--stream-interval", "0"]
        for f in files:
            args += ["--replay", os.path.join(FIXTURES, f)]
        cls.mock = Mock(*args)

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def fixture(self, name):
        with open(os.path.join(FIXTURES, name)) as f:
            return json.load(f)["interactions"][0]

    def test_plain_byte_for_byte(self):
        for name in ("chat-basic.json", "embeddings-basic.json", "chat-bad-request.json"):
            it = self.fixture(name)
            # Same JSON, other key order and spacing: still a match.
            body = json.dumps(dict(reversed(list(json.loads(it["request"]["body"]).items()))),
                              indent=None, separators=(",", ":")).encode()
            path = "/" + it["request"]["url"].split("/", 3)[3]
            r = exchange(self.mock, post(path, body))
            self.assertEqual(r.status, it["response"]["status"], name)
            self.assertEqual(r.body, it["response"]["body"].encode(), name)
            self.assertEqual(r.header("X-Request-Id"), it["response"]["headers"]["X-Request-Id"][0])

    def test_stream_byte_for_byte(self):
        for name in ("chat-streaming.json", "completion-streaming-usage.json"):
            it = self.fixture(name)
            path = "/" + it["request"]["url"].split("/", 3)[3]
            head, payload, how, _ = stream(self.mock, path, json.loads(it["request"]["body"]))
            self.assertEqual((head.status, how), (200, "done"))
            self.assertEqual(head.header("Content-Type"),
                             it["response"]["headers"]["Content-Type"][0])
            self.assertEqual(payload, it["response"]["body"].encode(), name)

    def test_unmatched_is_404(self):
        r = exchange(self.mock, post("/v1/chat/completions", {"model": "nope", "messages": []}))
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "mock_no_match")
        stats = exchange(self.mock, request("GET", "/mock/stats")).json()
        self.assertGreaterEqual(stats["replay_misses"], 1)


class ReplaySegments(unittest.TestCase):
    """Gemini and Anthropic recordings (body as a one-element array or an
    object, answers as body_segments): every recorded request gets the
    recorded answer, one SSE event per segment for a stream."""

    ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

    @classmethod
    def setUpClass(cls):
        cls.files = []
        for sub in ("gemini", "anthropic"):
            d = os.path.join(cls.ROOT, sub)
            cls.files += [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".json")]
        args = ["--stream-interval", "0"]
        for f in cls.files:
            args += ["--replay", f]
        cls.mock = Mock(*args)

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    @staticmethod
    def body_of(req):
        b = req.get("body")
        return b[0] if isinstance(b, list) else b

    def test_every_recorded_request_gets_its_recorded_answer(self):
        seen = {}  # the first recording of a request wins, as in the mock
        checked = 0
        for path in self.files:
            with open(path) as f:
                interactions = json.load(f)["interactions"]
            for i, it in enumerate(interactions):
                req, resp = it["request"], it["response"]
                key = (req["method"], req["url"], json.dumps(self.body_of(req), sort_keys=True))
                if key in seen:
                    continue
                seen[key] = True
                name = "%s#%d" % (os.path.basename(path), i)
                headers = {k.lower(): v for k, v in resp.get("headers", {}).items()}
                is_stream = "text/event-stream" in str(headers.get("content-type", ""))
                body = self.body_of(req)
                if is_stream:
                    head, payload, how, _ = stream(self.mock, req["url"], body)
                    self.assertEqual((head.status, how), (resp["status"], "done"), name)
                    text = payload.decode()
                    segs = resp.get("body_segments", [])
                    if req["url"].startswith("/v1/messages"):
                        evs = [e for e in text.split("\n\n") if e]
                        self.assertEqual(len(evs), len(segs), name)
                        for ev, seg in zip(evs, segs):
                            event_line, data_line = ev.split("\n")
                            self.assertEqual(event_line, "event: " + seg["type"], name)
                            self.assertEqual(json.loads(data_line[len("data: "):]), seg, name)
                    else:
                        evs = [e for e in text.split("\r\n\r\n") if e]
                        self.assertEqual([json.loads(e[len("data: "):]) for e in evs], segs, name)
                else:
                    r = exchange(self.mock, post(req["url"], body))
                    self.assertEqual(r.status, resp["status"], name)
                    want = resp["body_segments"][0] if "body_segments" in resp else resp["body"]
                    self.assertEqual(r.json(), want if not isinstance(want, str) else json.loads(want), name)
                checked += 1
        self.assertGreaterEqual(checked, 25)


class GeminiKeys(unittest.TestCase):
    """Gemini's side: faults reach /v1beta/ paths, --key-fault matches the
    x-goog-api-key header, and a hand-written interaction that lists request
    headers answers only a request that carries them."""

    FAULTS = os.path.join(os.path.dirname(FIXTURES), "gemini-handmade", "faults.json")
    PATH = "/v1beta/models/gemini-2.5-flash:generateContent"

    @staticmethod
    def body(prompt):
        return {"contents": [{"role": "user", "parts": [{"text": prompt}]}], "generationConfig": {}}

    def test_key_fault_by_x_goog_api_key_and_request_headers_in_replay(self):
        mock = Mock("--replay", self.FAULTS, "--key-fault", "AIza-broken=503")
        try:
            ask = self.body("aigw fault: the first key is rate limited")
            r = exchange(mock, post(self.PATH, ask, {"x-goog-api-key": "AIza-broken"}))
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["error"]["type"], "server_error")  # the mock's own fault body
            # The interaction that names this key wins; any other key gets the next one.
            r = exchange(mock, post(self.PATH, ask, {"x-goog-api-key": "AIza-fault-pair429-first"}))
            self.assertEqual(r.status, 429)
            self.assertEqual(r.json()["error"]["status"], "RESOURCE_EXHAUSTED")
            for headers in ({"x-goog-api-key": "AIza-other"}, {}):
                r = exchange(mock, post(self.PATH, ask, headers))
                self.assertEqual(r.status, 200, headers)
                self.assertIn("candidates", r.json())
        finally:
            mock.stop()

    def test_server_wide_fault_reaches_v1beta(self):
        mock = Mock("--replay", self.FAULTS, "--fault", "500")
        try:
            r = exchange(mock, post(self.PATH, self.body("aigw fault: a blocked prompt")))
            self.assertEqual(r.status, 500)
        finally:
            mock.stop()


class ServerWideFault(unittest.TestCase):
    def test_fault_flag_and_header_override(self):
        mock = Mock("--fault", "503")
        try:
            self.assertEqual(exchange(mock, request("GET", "/v1/models")).status, 503)
            self.assertEqual(exchange(mock, request("GET", "/health")).status, 200)
            r = exchange(mock, request("GET", "/v1/models", {"x-mock-fault": "none"}))
            self.assertEqual(r.status, 200)
        finally:
            mock.stop()

    def test_refuses_non_loopback_and_bad_flags(self):
        r = subprocess.run([MOCK, "--listen", "0.0.0.0:0"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn(b"non-loopback", r.stderr)
        r = subprocess.run([MOCK, "--fault", "explode"], capture_output=True, timeout=10)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    main()
