"""The gemini plugin in the real binary, in front of aigw-mock replaying the
Gemini API's own recordings (tests/fixtures/gemini). The mock answers only a
request whose body is, as parsed JSON, the one the Gemini SDK sent when the
recording was made: so each exchange here proves the OpenAI -> Gemini
translation end to end, and the answer the client gets proves the way back.
The provider key goes in x-goog-api-key, never in the URL, and never shows in
aigw's log or answers."""

import json
import os
import signal
import socket
import subprocess
import threading
import unittest

from harness import Reader, Server, main, read_chunked_events, request

MOCK = os.environ.get("AIGW_MOCK_BIN", "build/tests/mock/aigw-mock")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "gemini")
KEY = "AIza-canary-7e31c0ffee"  # must reach the mock as a header and nowhere else

DIVIDE_TOOL = {"type": "function", "function": {
    "name": "customDivide", "description": "Custom divide function",
    "parameters": {"type": "object", "properties": {"numerator": {"type": "number"},
                                                    "denominator": {"type": "number"}}}}}
DIVIDE_ASK = "Divide 10 by 2 using the customDivide function"


class Mock:
    def __init__(self, *args):
        self.proc = subprocess.Popen([MOCK, "--listen", "127.0.0.1:0", "--stream-interval", "0", *args],
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
        self.proc.wait(10)


def recorded(name, index=0):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)["interactions"][index]


class GeminiThroughAigw(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        files = sorted(f for f in os.listdir(FIXTURES) if f.endswith(".json"))
        args = []
        for f in files:
            args += ["--replay", os.path.join(FIXTURES, f)]
        cls.mock = Mock(*args)
        os.environ["AIGW_TEST_GEMINI_KEY"] = KEY
        cls.server = Server("""
[[plugin]]
name = "gemini"

[[provider]]
name = "gemini"
plugin = "gemini"
base_url = "http://127.0.0.1:%d"
api_keys = ["env:AIGW_TEST_GEMINI_KEY"]
models = ["gemini-2.0-flash", "gemini-2.5-flash"]
""" % cls.mock.port, workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()

    def chat(self, body):
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, json.dumps(body).encode()))
            return Reader(s).read_response()

    def last_upstream(self):
        return self.mock.get("/mock/last")

    def assertKeyOnlyInItsHeader(self, last):
        self.assertEqual(last["headers"].get("x-goog-api-key"), KEY)
        self.assertNotIn(KEY, last["path"])
        self.assertNotIn(KEY, "\n".join(self.server.lines))

    def test_a_forced_tool_call_comes_back_as_openai_tool_calls(self):
        r = self.chat({
            "model": "gemini-2.5-flash",
            "messages": [{"role": "user", "content": "put word: hello and word: world into a string"}],
            "tools": [{"type": "function", "function": {
                "name": "concatStringFunction", "description": "this is a concat string function",
                "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                               "properties": {"firstString": {"type": "string"},
                                              "secondString": {"type": "string"}},
                               "required": ["firstString", "secondString"],
                               "additionalProperties": False}}}],
            "tool_choice": {"type": "function", "function": {"name": "concatStringFunction"}}})
        self.assertEqual(r.status, 200, r.body)
        last = self.last_upstream()
        self.assertEqual(last["path"], "/v1beta/models/gemini-2.5-flash:generateContent")
        self.assertKeyOnlyInItsHeader(last)

        answer = r.json()
        rec = recorded("Client_Tests_generateContent_ML_Dev_can_use_JSON_schema_in_parameters_to_build_"
                       "FunctionDeclaration.json")["response"]["body_segments"][0]
        call = rec["candidates"][0]["content"]["parts"][0]["functionCall"]
        choice = answer["choices"][0]
        self.assertEqual(choice["finish_reason"], "tool_calls")
        tc = choice["message"]["tool_calls"]
        self.assertEqual(len(tc), 1)
        self.assertEqual(tc[0]["type"], "function")
        self.assertEqual(tc[0]["function"]["name"], call["name"])
        # OpenAI clients expect a JSON string, not an object.
        self.assertIsInstance(tc[0]["function"]["arguments"], str)
        self.assertEqual(json.loads(tc[0]["function"]["arguments"]), call["args"])
        usage = rec["usageMetadata"]
        self.assertEqual(answer["usage"]["prompt_tokens"], usage["promptTokenCount"])
        self.assertEqual(answer["usage"]["completion_tokens"],
                         usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0))

    def test_a_tool_result_turn_gets_the_models_text(self):
        rec = recorded("non-streaming_Tests_chat_AFC_enabled_chat_AFC_enabled_with_default_max_calls_"
                       "Google_AI_chat_stream.json", 2)
        r = self.chat({
            "model": "gemini-2.0-flash",
            "messages": [
                {"role": "user", "content": DIVIDE_ASK},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_0000000000000001", "type": "function",
                     "function": {"name": "customDivide",
                                  "arguments": "{\"numerator\":10,\"denominator\":2}"}}]},
                {"role": "tool", "tool_call_id": "call_0000000000000001", "content": "{\"output\": 42}"},
                {"role": "assistant", "content": "I cannot provide the correct answer using the available "
                 "tools. The customDivide function is flawed and does not perform the division operation "
                 "as expected.\n"},
                {"role": "user", "content": "Thanks!"}],
            "tools": [DIVIDE_TOOL], "tool_choice": "auto"})
        self.assertEqual(r.status, 200, r.body)
        want = "".join(p.get("text", "") for p in
                       rec["response"]["body_segments"][0]["candidates"][0]["content"]["parts"])
        choice = r.json()["choices"][0]
        self.assertEqual(choice["message"]["content"], want)
        self.assertEqual(choice["finish_reason"], "stop")

    def test_a_stream_is_translated_event_by_event(self):
        with self.server.connect(timeout=20) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, json.dumps({
                "model": "gemini-2.0-flash", "stream": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": DIVIDE_ASK}],
                "tools": [DIVIDE_TOOL], "tool_choice": "auto"}).encode()))
            rd = Reader(s)
            head = rd.read_response(head_only=True)
            self.assertEqual(head.status, 200)
            self.assertIn("text/event-stream", head.header("Content-Type"))
            events, clean = read_chunked_events(rd)
        self.assertTrue(clean)
        last = self.last_upstream()
        self.assertEqual(last["path"], "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse")
        self.assertKeyOnlyInItsHeader(last)

        self.assertEqual(events[-1], "[DONE]")
        chunks = [json.loads(e) for e in events[:-1]]
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"], "assistant")
        calls = [tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls", [])]
        segs = recorded("AFC_Streaming_Tests_generateContentStream_afc_disabled_Google_AI_AFC_disabled.json")[
            "response"]["body_segments"]
        want = [p["functionCall"] for seg in segs for c in seg.get("candidates", [])
                for p in c.get("content", {}).get("parts", []) if "functionCall" in p]
        self.assertEqual([(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls],
                         [(w["name"], w.get("args", {})) for w in want])
        finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")]
        self.assertEqual(finishes, ["tool_calls"])
        usage = [c["usage"] for c in chunks if c.get("usage")]
        self.assertEqual(len(usage), 1)
        self.assertEqual(chunks[-1]["choices"], [])  # the usage chunk comes last, before [DONE]

    def test_what_gemini_cannot_take_is_a_clear_400(self):
        r = self.chat({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]})
        self.assertEqual(r.status, 400, r.body)
        err = r.json()["error"]
        self.assertTrue(err["message"])
        self.assertEqual(err["type"], "invalid_request_error")

    def test_an_upstream_error_reaches_the_client_in_openai_shape(self):
        # No recording matches: the mock answers 404 mock_no_match; the
        # client sees an OpenAI-shaped error, not the mock's bytes.
        r = self.chat({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "unrecorded"}]})
        self.assertGreaterEqual(r.status, 400, r.body)
        self.assertIn("error", r.json())
        self.assertIn("message", r.json()["error"])


if __name__ == "__main__":
    main()
