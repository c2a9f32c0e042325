"""Anthropic's Messages API (POST /v1/messages) in front of a provider that
speaks only OpenAI's dialect: the real binary, the openai plugin and an
OpenAI-shaped upstream of upstreams.py that answers text, tool calls and
reasoning, fails with a status, or dies half-way.

What the upstream receives proves the request translation (system prompt,
tools, tool results, stream usage); what the client gets proves the way
back: Anthropic's event sequence, tool input streamed as input_json_delta,
usage, stop reasons, and every error in Anthropic's shape
({"type":"error","error":{"type","message"}}) with the right status, also
as an `error` event once a stream has begun. The client key travels as
x-api-key, as Anthropic's SDKs send it, and never reaches the provider."""

import json
import os
import time
import unittest

from harness import Reader, Server, main, request
from upstreams import Upstream, answer_text

CLIENT_KEY = "sk-aigw-client-messages-5e1f"
PROVIDER_KEY = "sk-provider-canary-messages-77aa"
STREAM_TIMEOUT = 10


def config(up):
    os.environ["AIGW_TEST_MESSAGES_PROVIDER_KEY"] = PROVIDER_KEY
    os.environ["AIGW_TEST_MESSAGES_CLIENT_KEY"] = CLIENT_KEY
    return """
[[provider]]
name = "up"
plugin = "openai"
base_url = "%s"
api_keys = ["env:AIGW_TEST_MESSAGES_PROVIDER_KEY"]
models = ["claude-via-openai", "other-model"]
model_map = { "claude-via-openai" = "upstream-gpt" }
connect_timeout = "2s"
first_byte_timeout = "2s"
stream_idle_timeout = "2s"

[[key]]
name = "messages-client"
secret = "env:AIGW_TEST_MESSAGES_CLIENT_KEY"
""" % up.base_url


def parse_events(raw):
    """Anthropic's SSE: [(event name, parsed data)] from the decoded body."""
    out = []
    for block in raw.decode("utf-8").split("\n\n"):
        if not block.strip():
            continue
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
        out.append((name, data))
    return out


def read_stream(sock):
    """The head and the decoded chunked body (bytes), and whether the
    terminator came."""
    sock.settimeout(STREAM_TIMEOUT)
    rd = Reader(sock)
    resp = rd.read_response(head_only=True)
    if resp.header("Content-Length") is not None:  # answered whole (an error before the stream began)
        n = int(resp.header("Content-Length"))
        while len(rd.buf) < n:
            rd._fill()
        return resp, rd.buf[:n], True
    body, clean = b"", False
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
    except (EOFError, ConnectionResetError, OSError):
        pass
    return resp, body, clean


def user(text):
    return {"role": "user", "content": text}


class MessagesThroughOpenAIProvider(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.up = Upstream()
        cls.server = Server(config(cls.up), workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.up.stop()

    def post(self, body, path="/v1/messages", headers=None, raw=None):
        hs = {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}
        hs.update(headers or {})
        hs = {k: v for k, v in hs.items() if v is not None}
        data = raw if raw is not None else json.dumps(body).encode()
        with self.server.connect() as s:
            s.settimeout(STREAM_TIMEOUT)
            s.sendall(request("POST", path, hs, data))
            if isinstance(body, dict) and body.get("stream"):
                return read_stream(s)
            return Reader(s).read_response(), None, None

    def assertAnthropicError(self, resp, status, etype):
        self.assertEqual(resp.status, status, resp.body)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        body = resp.json()
        self.assertEqual(body["type"], "error", body)
        self.assertEqual(body["error"]["type"], etype, body)
        self.assertTrue(body["error"]["message"])
        self.assertNotIn(PROVIDER_KEY, resp.body.decode())
        return body

    # ---- text ----------------------------------------------------------------

    def test_whole_answer(self):
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 50, "system": "Be brief.",
                                "messages": [user("hello")], "stop_sequences": ["END"], "temperature": 0.5})
        self.assertEqual(resp.status, 200, resp.body)
        msg = resp.json()
        self.assertEqual(msg["type"], "message")
        self.assertEqual(msg["role"], "assistant")
        self.assertEqual(msg["model"], "claude-via-openai")
        self.assertTrue(msg["id"].startswith("msg_"))
        self.assertEqual(msg["content"], [{"type": "text", "text": answer_text("hello")}])
        self.assertEqual(msg["stop_reason"], "end_turn")
        self.assertEqual(msg["usage"]["input_tokens"], 3)
        self.assertEqual(msg["usage"]["output_tokens"], len(answer_text("hello").split()))
        path, headers, sent = self.up.last_request()
        self.assertEqual(path, "/v1/chat/completions")
        self.assertEqual(sent["model"], "upstream-gpt")  # the provider's name, spliced in
        self.assertEqual(sent["messages"][0], {"role": "system", "content": "Be brief."})
        self.assertEqual(sent["max_tokens"], 50)
        self.assertEqual(sent["stop"], ["END"])
        self.assertEqual(sent["temperature"], 0.5)
        self.assertEqual(headers.get("authorization"), "Bearer " + PROVIDER_KEY)
        self.assertNotIn(CLIENT_KEY, json.dumps(headers))

    def test_stream(self):
        resp, raw, clean = self.post({"model": "claude-via-openai", "max_tokens": 50, "stream": True,
                                      "messages": [user("stream me")]})
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.header("Content-Type").startswith("text/event-stream"))
        self.assertTrue(clean)
        events = parse_events(raw)
        names = [n for n, _ in events if n != "ping"]
        self.assertEqual(names[0], "message_start")
        self.assertEqual(names[1], "content_block_start")
        self.assertEqual(names[-3:], ["content_block_stop", "message_delta", "message_stop"])
        for name, data in events:
            self.assertEqual(data["type"], name)  # every event names its own type
        start = events[0][1]["message"]
        self.assertEqual(start["model"], "claude-via-openai")
        self.assertGreater(start["usage"]["input_tokens"], 0)  # an estimate until the provider says
        text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
        self.assertEqual(text, answer_text("stream me"))
        delta = [d for n, d in events if n == "message_delta"][0]
        self.assertEqual(delta["delta"]["stop_reason"], "end_turn")
        self.assertEqual(delta["usage"]["output_tokens"], len(answer_text("stream me").split()))
        self.assertEqual(delta["usage"]["input_tokens"], 3)
        _, _, sent = self.up.last_request()
        self.assertTrue(sent["stream"])
        self.assertEqual(sent["stream_options"], {"include_usage": True})

    # ---- tools -----------------------------------------------------------------

    TOOLS = [{"name": "weather", "description": "The weather in a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]

    def test_streamed_tool_call(self):
        prompt = "Paris [upstream-mode: tool=weather]"
        resp, raw, clean = self.post({"model": "claude-via-openai", "max_tokens": 50, "stream": True,
                                      "tools": self.TOOLS, "tool_choice": {"type": "any"},
                                      "messages": [user(prompt)]})
        self.assertEqual(resp.status, 200)
        self.assertTrue(clean)
        events = parse_events(raw)
        starts = [d for n, d in events if n == "content_block_start"]
        self.assertEqual(len(starts), 1)
        block = starts[0]["content_block"]
        self.assertEqual((block["type"], block["id"], block["name"]), ("tool_use", "call_up1", "weather"))
        pieces = [d["delta"]["partial_json"] for n, d in events
                  if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"]
        self.assertGreaterEqual(len(pieces), 2)  # streamed, not one lump at the end
        self.assertEqual(json.loads("".join(pieces)), {"city": prompt})
        delta = [d for n, d in events if n == "message_delta"][0]
        self.assertEqual(delta["delta"]["stop_reason"], "tool_use")
        self.assertEqual(delta["usage"]["cache_read_input_tokens"], 4)
        self.assertEqual(delta["usage"]["input_tokens"], 11 - 4)
        _, _, sent = self.up.last_request()
        self.assertEqual(sent["tools"], [{"type": "function", "function": {
            "name": "weather", "description": "The weather in a city",
            "parameters": self.TOOLS[0]["input_schema"]}}])
        self.assertEqual(sent["tool_choice"], "required")

    def test_whole_tool_call_and_result_turn(self):
        prompt = "Lyon [upstream-mode: tool=weather]"
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 50, "tools": self.TOOLS,
                                "messages": [user(prompt)]})
        self.assertEqual(resp.status, 200, resp.body)
        msg = resp.json()
        self.assertEqual(msg["stop_reason"], "tool_use")
        self.assertEqual(msg["content"], [{"type": "tool_use", "id": "call_up1", "name": "weather",
                                           "input": {"city": prompt}}])
        # The next turn: the tool's result goes back as a tool message right
        # after the assistant's call.
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 50, "tools": self.TOOLS,
                                "messages": [user(prompt),
                                             {"role": "assistant", "content": msg["content"]},
                                             {"role": "user", "content": [
                                                 {"type": "tool_result", "tool_use_id": "call_up1",
                                                  "content": "sunny"},
                                                 {"type": "text", "text": "and tomorrow?"}]}]})
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.json()["content"][0]["text"], answer_text("and tomorrow?"))
        _, _, sent = self.up.last_request()
        roles = [m["role"] for m in sent["messages"]]
        self.assertEqual(roles, ["user", "assistant", "tool", "user"])
        call = sent["messages"][1]["tool_calls"][0]
        self.assertEqual(call["id"], "call_up1")
        self.assertEqual(json.loads(call["function"]["arguments"]), {"city": prompt})
        self.assertEqual(sent["messages"][2]["tool_call_id"], "call_up1")
        self.assertEqual(sent["messages"][2]["content"], "sunny")

    def test_reasoning_becomes_thinking(self):
        prompt = "why [upstream-mode: reasoning]"
        resp, raw, clean = self.post({"model": "claude-via-openai", "max_tokens": 50, "stream": True,
                                      "messages": [user(prompt)]})
        self.assertTrue(clean)
        events = parse_events(raw)
        kinds = [d["content_block"]["type"] for n, d in events if n == "content_block_start"]
        self.assertEqual(kinds, ["thinking", "text"])
        thinking = "".join(d["delta"]["thinking"] for n, d in events
                           if n == "content_block_delta" and d["delta"]["type"] == "thinking_delta")
        self.assertEqual(thinking, "thinking about: " + prompt)
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 50, "messages": [user(prompt)]})
        content = resp.json()["content"]
        self.assertEqual(content[0]["type"], "thinking")
        self.assertEqual(content[0]["thinking"], "thinking about: " + prompt)
        self.assertEqual(content[1], {"type": "text", "text": answer_text(prompt)})

    # ---- errors ------------------------------------------------------------------

    def test_no_key(self):
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 5, "messages": [user("x")]},
                               headers={"x-api-key": None})
        body = self.assertAnthropicError(resp, 401, "authentication_error")
        self.assertIn("x-api-key", body["error"]["message"])

    def test_wrong_key(self):
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 5, "messages": [user("x")]},
                               headers={"x-api-key": "sk-wrong-key-000000"})
        self.assertAnthropicError(resp, 401, "authentication_error")

    def test_unknown_model(self):
        resp, _, _ = self.post({"model": "no-such-model", "max_tokens": 5, "messages": [user("x")]})
        self.assertAnthropicError(resp, 404, "not_found_error")

    def test_untranslatable_request(self):
        resp, _, _ = self.post({"model": "claude-via-openai", "messages": [user("x")]})  # no max_tokens
        body = self.assertAnthropicError(resp, 400, "invalid_request_error")
        self.assertIn("max_tokens", body["error"]["message"])
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 5, "messages": [
            {"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x",
                                                                         "media_type": "text/plain"}}]}]})
        body = self.assertAnthropicError(resp, 400, "invalid_request_error")
        self.assertIn("document", body["error"]["message"])

    def test_not_json(self):
        resp, _, _ = self.post(None, raw=b"{nope", headers={"Content-Type": "application/json"})
        self.assertAnthropicError(resp, 400, "invalid_request_error")
        resp, _, _ = self.post(None, raw=b"hello", headers={"Content-Type": "text/plain"})
        self.assertAnthropicError(resp, 415, "invalid_request_error")

    def test_provider_rejects_request(self):
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 5,
                                "messages": [user("bad [upstream-mode: status=400]")]})
        body = self.assertAnthropicError(resp, 400, "invalid_request_error")
        self.assertIn("upstream error 400", body["error"]["message"])

    def test_provider_stream_fails_before_content(self):
        resp, raw, _ = self.post({"model": "claude-via-openai", "max_tokens": 5, "stream": True,
                                  "messages": [user("die [upstream-mode: die-after-head]")]})
        self.assertEqual(resp.status, 502, raw)
        self.assertEqual(resp.header("Content-Type"), "application/json")
        body = json.loads(raw)
        self.assertEqual(body["type"], "error", raw)
        self.assertEqual(body["error"]["type"], "api_error")

    def test_provider_stream_dies_after_content(self):
        resp, raw, _ = self.post({"model": "claude-via-openai", "max_tokens": 5, "stream": True,
                                  "messages": [user("die [upstream-mode: die-after-events=3]")]})
        self.assertEqual(resp.status, 200)
        events = parse_events(raw)
        names = [n for n, _ in events]
        self.assertIn("content_block_delta", names)
        self.assertEqual(names[-1], "error", names)  # never a silent cut
        self.assertNotIn("message_stop", names)
        self.assertEqual(events[-1][1]["type"], "error")
        self.assertTrue(events[-1][1]["error"]["message"])

    def test_openai_route_keeps_openai_errors(self):
        with self.server.connect() as s:
            s.sendall(request("POST", "/v1/chat/completions", {"Authorization": "Bearer " + CLIENT_KEY},
                              json.dumps({"model": "no-such-model", "messages": []}).encode()))
            resp = Reader(s).read_response()
        self.assertEqual(resp.status, 404)
        self.assertEqual(resp.json()["error"]["code"], "model_not_found")

    # ---- count_tokens and models -----------------------------------------------------

    def test_count_tokens_estimate(self):
        resp, _, _ = self.post({"model": "claude-via-openai", "messages": [user("count " * 40)]},
                               path="/v1/messages/count_tokens")
        self.assertEqual(resp.status, 200, resp.body)
        self.assertEqual(resp.header("x-aigw-token-count"), "estimate")
        n = resp.json()["input_tokens"]
        self.assertGreaterEqual(n, 40)
        self.assertLess(n, 200)

    def test_models_in_both_shapes(self):
        with self.server.connect() as s:
            s.sendall(request("GET", "/v1/models", {"x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01"}))
            anthropic = Reader(s).read_response().json()
            s.sendall(request("GET", "/v1/models", {"Authorization": "Bearer " + CLIENT_KEY}))
            openai = Reader(s).read_response().json()
        self.assertEqual([m["id"] for m in anthropic["data"]], ["claude-via-openai", "other-model"])
        self.assertEqual(anthropic["data"][0]["type"], "model")
        self.assertFalse(anthropic["has_more"])
        self.assertEqual((anthropic["first_id"], anthropic["last_id"]), ("claude-via-openai", "other-model"))
        self.assertEqual(openai["object"], "list")
        self.assertEqual(openai["data"][0]["object"], "model")

    def test_access_log_and_no_key_in_it(self):
        resp, _, _ = self.post({"model": "claude-via-openai", "max_tokens": 5, "messages": [user("log")]},
                               headers={"x-request-id": "messages-log-1"})
        self.assertEqual(resp.status, 200)
        deadline = time.time() + 5  # the access log is written off the request path
        mine = []
        while not mine and time.time() < deadline:
            mine = [r for r in self.server.log_records() if r.get("request_id") == "messages-log-1"]
            time.sleep(0.05)
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["path"], "/v1/messages")
        self.assertEqual(mine[0]["status"], 200)
        self.assertEqual(mine[0]["model"], "claude-via-openai")
        log = "\n".join(self.server.lines)
        self.assertNotIn(PROVIDER_KEY, log)
        self.assertNotIn(CLIENT_KEY, log)


if __name__ == "__main__":
    main()
