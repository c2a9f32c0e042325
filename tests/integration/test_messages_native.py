"""Anthropic's Messages API passed through natively: the real binary, the
anthropic plugin (which declares AIGW_DIALECT_ANTHROPIC_MESSAGES) and
aigw-mock replaying the Messages API's own recordings
(tests/fixtures/anthropic).

The mock answers only a request whose body is, as parsed JSON, the recorded
one, so an answer proves the client's body reached Anthropic unchanged (or
with only the model name spliced, for a mapped name). The answer the client
gets must be the bytes the stand-in sends, event for event: nothing is
translated on this path. The client's anthropic-version and anthropic-beta
headers go upstream; its key does not (the provider's x-api-key does)."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

from harness import Reader, Server, main, request
from test_messages import read_stream

MOCK = os.environ.get("AIGW_MOCK_BIN", "build/tests/mock/aigw-mock")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "anthropic")
CLIENT_KEY = "sk-aigw-client-native-19d2"
PROVIDER_KEY = "sk-ant-canary-native-4b0c"


def recorded(name, index=0):
    with open(os.path.join(FIXTURES, name)) as f:
        it = json.load(f)["interactions"][index]
    body = it["request"]["body"]
    return (body[0] if isinstance(body, list) else body), it["response"]


class StandIn:
    """aigw-mock replaying every recording of tests/fixtures/anthropic, with
    the Python SDK's ?beta=true taken off the recorded paths (the plugin posts
    to /v1/messages)."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="aigw-native-")
        args = []
        for f in sorted(os.listdir(FIXTURES)):
            if not f.endswith(".json"):
                continue
            with open(os.path.join(FIXTURES, f)) as fh:
                fixture = json.load(fh)
            for it in fixture["interactions"]:
                it["request"]["url"] = it["request"]["url"].replace("?beta=true", "")
            path = os.path.join(self.tmp.name, f)
            with open(path, "w") as fh:
                json.dump(fixture, fh)
            args += ["--replay", path]
        self.proc = subprocess.Popen([MOCK, "--listen", "127.0.0.1:0", "--stream-interval", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = self.proc.stderr.readline().decode()
        self.port = int(json.loads(line)["addr"].rsplit(":", 1)[1])
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def direct(self, path, body, headers=None):
        """The stand-in's own answer to `body`: (status, head, decoded body)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(request("POST", path, headers or {}, body))
            if json.loads(body).get("stream"):
                return read_stream(s)
            resp = Reader(s).read_response()
            return resp, resp.body, True

    def last(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(request("GET", "/mock/last"))
            return Reader(s).read_response().json()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.tmp.cleanup()


def native_provider(port):
    os.environ["AIGW_TEST_NATIVE_PROVIDER_KEY"] = PROVIDER_KEY
    return """
[[provider]]
name = "claude"
plugin = "anthropic"
base_url = "http://127.0.0.1:%d"
api_keys = ["env:AIGW_TEST_NATIVE_PROVIDER_KEY"]
models = ["claude-haiku-4-5-20251001", "claude-sonnet-4-5", "claude-sonnet-4-0", "claude-sonnet-4-6", "haiku",
          "claude-opus-4-6", "claude-does-not-exist"]   # the last two: recorded errors of Anthropic's own
model_map = { "haiku" = "claude-haiku-4-5-20251001" }
""" % port


class NativePassThrough(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mock = StandIn()
        os.environ["AIGW_TEST_NATIVE_CLIENT_KEY"] = CLIENT_KEY
        cls.server = Server(native_provider(cls.mock.port) + """
[[key]]
name = "native-client"
secret = "env:AIGW_TEST_NATIVE_CLIENT_KEY"
""", workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()

    def post(self, path, raw, headers=None):
        hs = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
        hs.update(headers or {})
        with self.server.connect() as s:
            s.settimeout(10)
            s.sendall(request("POST", path, hs, raw))
            if json.loads(raw).get("stream"):
                return read_stream(s)
            resp = Reader(s).read_response()
            return resp, resp.body, True

    def same_as_direct(self, fixture, index=0, path="/v1/messages"):
        body, rec = recorded(fixture, index)
        raw = json.dumps(body).encode()
        want_head, want, _ = self.mock.direct(path, raw)
        self.assertEqual(want_head.status, rec["status"])  # the stand-in matched the recording
        head, got, clean = self.post(path, raw)
        self.assertTrue(clean)
        self.assertEqual(head.status, rec["status"], got)
        self.assertEqual(got, want)  # byte for byte: nothing translated
        return head, got

    def test_recorded_streams_byte_for_byte(self):
        for name in ("llm-anthropic_test_stream_events_tool_calls.json",
                     "llm-anthropic_test_stream_events_thinking.json",
                     "pydantic-ai_test_anthropic_model_thinking_part_stream.json"):
            with self.subTest(name):
                head, got = self.same_as_direct(name)
                self.assertTrue(head.header("Content-Type").startswith("text/event-stream"))
                self.assertIn(b"event: message_stop", got)

    def test_recorded_whole_answer_byte_for_byte(self):
        _, got = self.same_as_direct("pydantic-ai_test_anthropic_model_thinking_part.json")
        self.assertEqual(json.loads(got)["type"], "message")

    def test_recorded_error_passes_through(self):
        _, got = self.same_as_direct("pydantic-ai_test_anthropic_explicit_effort_xhigh_unsupported_model_errors.json")
        self.assertEqual(json.loads(got)["type"], "error")

    def test_count_tokens_passes_through(self):
        head, got = self.same_as_direct("pydantic-ai_test_anthropic_count_tokens_error.json",
                                        path="/v1/messages/count_tokens")
        self.assertEqual(head.status, 404)
        self.assertEqual(json.loads(got)["error"]["type"], "not_found_error")
        self.assertIsNone(head.header("x-aigw-token-count"))  # Anthropic's own count, not an estimate

    def test_mapped_model_is_spliced(self):
        body, rec = recorded("llm-anthropic_test_stream_events_tool_calls.json")
        body = dict(body, model="haiku")
        head, got, clean = self.post("/v1/messages", json.dumps(body).encode())
        self.assertEqual(head.status, 200, got)  # the stand-in matched: the recorded name went upstream
        self.assertTrue(clean)
        self.assertEqual(self.mock.last()["body"], json.dumps(body).replace('"haiku"', '"claude-haiku-4-5-20251001"'))

    def test_headers_upstream(self):
        body, _ = recorded("pydantic-ai_test_anthropic_model_thinking_part.json")
        self.post("/v1/messages", json.dumps(body).encode(),
                  {"anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14"})
        headers = self.mock.last()["headers"]
        self.assertEqual(headers.get("anthropic-version"), "2023-06-01")
        self.assertEqual(headers.get("anthropic-beta"), "interleaved-thinking-2025-05-14")
        self.assertEqual(headers.get("x-api-key"), PROVIDER_KEY)
        self.assertNotIn(CLIENT_KEY, json.dumps(headers))

    def test_gateway_errors_in_anthropic_shape(self):
        head, got, _ = self.post("/v1/messages", json.dumps({"model": "nope", "max_tokens": 1,
                                                             "messages": []}).encode())
        self.assertEqual(head.status, 404)
        self.assertEqual(json.loads(got)["error"]["type"], "not_found_error")

    def test_no_key_in_log(self):
        log = "\n".join(self.server.lines)
        self.assertNotIn(PROVIDER_KEY, log)
        self.assertNotIn(CLIENT_KEY, log)


if __name__ == "__main__":
    main()
