"""The anthropic plugin in the real binary, in front of aigw-mock replaying
the Anthropic Messages API's own recordings (tests/fixtures/anthropic) and a
few handwritten exchanges for what the recordings lack (written here, into a
temporary file: 529 overloaded, 429 with retry-after, cache tokens, a stream
cut after content, an error event inside a stream, a thinking tool loop).
The mock answers only a request whose body is, as parsed JSON, the one
Anthropic's client sent when the recording was made: so each exchange proves
the OpenAI -> Anthropic translation end to end, and the answer the client
gets proves the way back. The provider key goes in x-api-key and nowhere
else: not the URL, not aigw's log, not the answers."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

from harness import Reader, Server, main, read_chunked_events, request

MOCK = os.environ.get("AIGW_MOCK_BIN", "build/tests/mock/aigw-mock")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "anthropic")
KEY = "sk-ant-canary-7e31c0ffee"
BUSY = "sk-ant-canary-busy-0b5e55ed"
LIMITED = "sk-ant-canary-limited-5ca1ab1e"  # its own channel: a 429 cools it down
ALL_KEYS = (KEY, BUSY, LIMITED)
STREAM_TIMEOUT = 10  # seconds: a stream that does not end by then hangs


def recorded(name, index=0):
    with open(os.path.join(FIXTURES, name)) as f:
        return json.load(f)["interactions"][index]


def user(text):
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def ask_body(model, text, **extra):
    """The Messages body the plugin writes for one user message."""
    body = {"model": model, "max_tokens": 4096, "messages": [user(text)]}
    body.update(extra)
    return body


def events(*segments):
    return list(segments)


MSG_START = {"type": "message_start", "message": {"id": "msg_hand", "type": "message", "role": "assistant",
             "content": [], "model": "claude-hand", "usage": {"input_tokens": 9, "output_tokens": 1}}}
TEXT_START = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}


def text_delta(t):
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}


WEATHER_TOOL = {"type": "function", "function": {
    "name": "weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
WEATHER_SCHEMA = {"name": "weather", "description": "The weather in a city",
                  "input_schema": WEATHER_TOOL["function"]["parameters"]}
THINKING = {"type": "thinking", "thinking": "The user wants the weather: call the tool.",
            "signature": "EqHandwrittenSignature+/="}
TOOL_USE = {"type": "tool_use", "id": "toolu_hand01", "name": "weather", "input": {"city": "Paris"}}


def handmade():
    """Interactions for what the recordings lack; bodies as the plugin
    writes them for the OpenAI requests of the tests below."""
    loop_first = ask_body("claude-sonnet-4-5", "Weather in Paris?", max_tokens=4096 + 1024,
                          tools=[WEATHER_SCHEMA], thinking={"type": "enabled", "budget_tokens": 1024})
    loop_second = dict(loop_first)
    loop_second["messages"] = [
        user("Weather in Paris?"),
        {"role": "assistant", "content": [THINKING, TOOL_USE]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_hand01", "content": "sunny"}]}]
    whole = lambda status, body, headers=None: {  # noqa: E731
        "status": status, "headers": dict({"Content-Type": "application/json"}, **(headers or {})), "body": body}
    sse = lambda segs: {"status": 200, "headers": {"Content-Type": "text/event-stream"}, "body_segments": segs}  # noqa: E731
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return {"interactions": [
        {"request": {"method": "POST", "url": "/v1/messages", "body": ask_body("claude-test-busy", "hello?")},
         "response": whole(529, overloaded)},
        {"request": {"method": "POST", "url": "/v1/messages", "body": ask_body("claude-test-limited", "hello?")},
         "response": whole(429, {"type": "error", "error": {"type": "rate_limit_error",
                                                            "message": "Number of request tokens has exceeded your per-minute rate limit"}},
                           {"retry-after": "30"})},
        # The busy key is overloaded; the other key answers.
        {"request": {"method": "POST", "url": "/v1/messages", "body": ask_body("claude-test-failover", "hello?"),
                     "headers": {"x-api-key": BUSY}},
         "response": whole(529, overloaded)},
        {"request": {"method": "POST", "url": "/v1/messages", "body": ask_body("claude-test-failover", "hello?")},
         "response": whole(200, {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hi from the other key."}],
                                 "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 6}})},
        {"request": {"method": "POST", "url": "/v1/messages", "body": ask_body("claude-test-cache", "cached?")},
         "response": whole(200, {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "From the cache."}],
                                 "stop_reason": "end_turn",
                                 "usage": {"input_tokens": 10, "cache_creation_input_tokens": 100,
                                           "cache_read_input_tokens": 1000, "output_tokens": 7}})},
        {"request": {"method": "POST", "url": "/v1/messages",
                     "body": ask_body("claude-test-cut", "cut?", stream=True)},
         "response": sse([MSG_START, TEXT_START, text_delta("Half an "), text_delta("answer")])},
        {"request": {"method": "POST", "url": "/v1/messages",
                     "body": ask_body("claude-test-midstream", "error?", stream=True)},
         "response": sse([MSG_START, TEXT_START, text_delta("The first half"), overloaded])},
        {"request": {"method": "POST", "url": "/v1/messages", "body": loop_first},
         "response": whole(200, {"type": "message", "role": "assistant", "content": [THINKING, TOOL_USE],
                                 "stop_reason": "tool_use", "usage": {"input_tokens": 50, "output_tokens": 40}})},
        {"request": {"method": "POST", "url": "/v1/messages", "body": loop_second},
         "response": whole(200, {"type": "message", "role": "assistant",
                                 "content": [{"type": "text", "text": "It is sunny in Paris."}],
                                 "stop_reason": "end_turn", "usage": {"input_tokens": 80, "output_tokens": 9}})},
    ]}


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


class Answer:
    def __init__(self, status, headers, body=b"", events=None, clean=False):
        self.status, self.headers, self.body, self.events, self.clean = status, headers, body, events, clean

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def chunks(self):
        return [json.loads(e) for e in self.events if e != "[DONE]"]

    def text(self):
        return self.body.decode("utf-8", "replace") + json.dumps(self.events) + json.dumps(self.headers)


# (provider, keys, public model names -> Anthropic model)
PROVIDERS = [
    ("claude", [KEY], {"claude-haiku-4-5-20251001": None, "claude-sonnet-4-5": None, "claude-sonnet-4-0": None,
                       "claude-sonnet-4-6": None, "cache": "claude-test-cache", "cut": "claude-test-cut",
                       "midstream": "claude-test-midstream"}),
    ("limited", [LIMITED], {"limited": "claude-test-limited"}),
    ("busy", [BUSY], {"busy": "claude-test-busy"}),
    ("failover", [BUSY, KEY], {"failover": "claude-test-failover"}),
]


def provider(name, keys, models):
    env = []
    for i, k in enumerate(keys):
        var = "AIGW_TEST_ANTHROPIC_%s_%d" % (name.upper(), i)
        os.environ[var] = k
        env.append('"env:%s"' % var)
    mapping = ", ".join('"%s" = "%s"' % (m, t) for m, t in models.items() if t)
    return """
[[provider]]
name = "%s"
plugin = "anthropic"
base_url = "http://127.0.0.1:%%(port)d"
api_keys = [%s]
models = [%s]
%s
""" % (name, ", ".join(env), ", ".join('"%s"' % m for m in models), "model_map = { %s }" % mapping if mapping else "")


def start_stand_in(workers=1):
    """aigw-mock replaying the recordings and handmade(), and aigw with the
    providers above in front of it: (temporary folder, mock, server)."""
    tmp = tempfile.TemporaryDirectory(prefix="aigw-anthropic-")
    args = []
    for f in sorted(os.listdir(FIXTURES)):
        if not f.endswith(".json"):
            continue
        with open(os.path.join(FIXTURES, f)) as fh:
            fixture = json.load(fh)
        # pydantic-ai recorded through the Python SDK's beta client, which
        # adds ?beta=true to the path; the plugin posts to /v1/messages.
        for it in fixture["interactions"]:
            it["request"]["url"] = it["request"]["url"].replace("?beta=true", "")
        path = os.path.join(tmp.name, f)
        with open(path, "w") as fh:
            json.dump(fixture, fh)
        args += ["--replay", path]
    hand = os.path.join(tmp.name, "handmade.json")
    with open(hand, "w") as fh:
        json.dump(handmade(), fh)
    args += ["--replay", hand]
    mock = Mock(*args)
    config = '[[plugin]]\nname = "anthropic"\n' + "".join(provider(*p) for p in PROVIDERS)
    server = Server(config % {"port": mock.port}, workers=workers)
    return tmp, mock, server


class AnthropicThroughAigw(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp, cls.mock, cls.server = start_stand_in()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()
        cls.tmp.cleanup()
        log = "\n".join(cls.server.lines)
        for k in ALL_KEYS:
            assert k not in log, "a provider key in aigw's log"

    def ask(self, body):
        with self.server.connect(timeout=STREAM_TIMEOUT) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, json.dumps(body).encode()))
            rd = Reader(s)
            head = rd.read_response(head_only=True)
            chunked = (head.header("Transfer-Encoding") or "").lower() == "chunked"
            if chunked and "text/event-stream" in (head.header("Content-Type") or ""):
                evs, clean = read_chunked_events(rd)
                a = Answer(head.status, head.headers, events=evs, clean=clean)
            elif chunked:
                parts, clean = read_chunked_events(rd)
                self.assertTrue(clean)
                a = Answer(head.status, head.headers, body="\n\n".join(parts).encode())
            else:
                n = int(head.header("Content-Length") or 0)
                while len(rd.buf) < n:
                    rd._fill()
                a = Answer(head.status, head.headers, body=rd.buf[:n])
        for k in ALL_KEYS:
            self.assertNotIn(k, a.text())
        return a

    def last_upstream(self):
        return self.mock.get("/mock/last")

    def assertKeyOnlyInItsHeader(self, last, key=KEY):
        self.assertEqual(last["path"], "/v1/messages")
        self.assertEqual(last["headers"].get("x-api-key"), key)
        self.assertEqual(last["headers"].get("anthropic-version"), "2023-06-01")
        self.assertNotIn("authorization", last["headers"])

    def assertOpenAIError(self, a, status, type_, code):
        self.assertEqual(a.status, status, a.text())
        err = a.json()["error"]
        self.assertTrue(err["message"])
        self.assertEqual(err["type"], type_, err)
        self.assertEqual(err["code"], code, err)
        return err

    # ---- recorded exchanges ----

    def test_a_recorded_thinking_answer(self):
        rec = recorded("pydantic-ai_test_anthropic_model_thinking_part.json")["response"]["body"]
        a = self.ask({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "How do I cross the street?"}],
                      "max_tokens": 4096, "reasoning_effort": "minimal", "stream": False})
        self.assertEqual(a.status, 200, a.text())
        self.assertKeyOnlyInItsHeader(self.last_upstream())
        msg = a.json()["choices"][0]["message"]
        self.assertEqual(msg["content"], rec["content"][1]["text"])
        self.assertEqual(msg["reasoning_content"], rec["content"][0]["thinking"])
        self.assertEqual(a.json()["choices"][0]["finish_reason"], "stop")
        self.assertEqual(a.json()["usage"]["prompt_tokens"], 43)
        self.assertEqual(a.json()["usage"]["completion_tokens"], 321)

    def stream(self, body):
        body = dict(body, stream=True, stream_options={"include_usage": True})
        a = self.ask(body)
        self.assertEqual(a.status, 200, a.text())
        self.assertTrue(a.clean)
        self.assertEqual(a.events[-1], "[DONE]")
        return a

    def test_a_recorded_thinking_stream(self):
        a = self.ask({"model": "claude-haiku-4-5-20251001", "stream": True, "max_tokens": 8192, "temperature": 1.0,
                      "reasoning_effort": "minimal",
                      "messages": [{"role": "user", "content": "Two names for a pet pelican, be brief"}]})
        self.assertEqual(a.status, 200, a.text())
        self.assertKeyOnlyInItsHeader(self.last_upstream())
        segs = recorded("llm-anthropic_test_stream_events_thinking.json")["response"]["body_segments"]
        chunks = a.chunks()
        text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
        thought = "".join(ch["delta"].get("reasoning_content") or "" for c in chunks for ch in c["choices"])
        self.assertEqual(text, "".join(s["delta"].get("text", "") for s in segs if s["type"] == "content_block_delta"))
        self.assertEqual(thought, "".join(s["delta"].get("thinking", "") for s in segs if s["type"] == "content_block_delta"))
        self.assertEqual(a.events[-1], "[DONE]")
        self.assertEqual([ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")], ["stop"])

    def test_a_recorded_streamed_tool_call(self):
        a = self.ask({"model": "claude-haiku-4-5-20251001", "stream": True, "max_tokens": 8192, "temperature": 1.0,
                      "stream_options": {"include_usage": True},
                      "messages": [{"role": "user", "content": "Generate one name for a pet pelican"}],
                      "tools": [{"type": "function", "function": {"name": "pelican_name_generator", "description": "",
                                                                  "parameters": {"properties": {}, "type": "object"}}}]})
        self.assertEqual(a.status, 200, a.text())
        chunks = a.chunks()
        calls = [tc for c in chunks for ch in c["choices"] for tc in ch["delta"].get("tool_calls", [])]
        self.assertEqual(calls[0]["id"], "toolu_01CzN6riCPqw4pVSuTd9Dwn7")
        self.assertEqual(calls[0]["function"]["name"], "pelican_name_generator")
        self.assertEqual("".join(c["function"].get("arguments", "") for c in calls), "{}")
        self.assertEqual([ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")],
                         ["tool_calls"])
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["prompt_tokens"], 543)
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 40)

    def test_unrecorded_and_refused_requests_get_openai_errors(self):
        # No recording for this: the mock's 404; and a parameter Anthropic
        # cannot honour, refused before anything goes upstream.
        a = self.ask({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "unrecorded"}]})
        self.assertGreaterEqual(a.status, 400)
        self.assertIn("message", a.json()["error"])
        a = self.ask({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "x"}],
                      "response_format": {"type": "json_object"}})
        err = self.assertOpenAIError(a, 400, "invalid_request_error", "invalid_request")
        self.assertIn("json_schema", err["message"])

    # ---- handwritten exchanges ----

    def test_a_tool_loop_with_thinking_gets_its_thinking_back_to_anthropic(self):
        first = {"model": "claude-sonnet-4-5", "reasoning_effort": "minimal", "tools": [WEATHER_TOOL],
                 "messages": [{"role": "user", "content": "Weather in Paris?"}]}
        a = self.ask(first)
        self.assertEqual(a.status, 200, a.text())
        msg = a.json()["choices"][0]["message"]
        self.assertEqual(a.json()["choices"][0]["finish_reason"], "tool_calls")
        self.assertEqual(msg["reasoning_content"], THINKING["thinking"])
        call = msg["tool_calls"][0]
        self.assertTrue(call["id"].startswith("toolu_hand01~"), call["id"])
        self.assertEqual(json.loads(call["function"]["arguments"]), {"city": "Paris"})
        # The client sends the turn back as OpenAI clients do: the mock
        # answers only if the thinking block came back with its signature.
        second = dict(first)
        second["messages"] = first["messages"] + [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]
        b = self.ask(second)
        self.assertEqual(b.status, 200, b.text())
        self.assertEqual(b.json()["choices"][0]["message"]["content"], "It is sunny in Paris.")

    def test_cache_tokens_are_prompt_tokens_and_reads_are_cached_tokens(self):
        a = self.ask({"model": "cache", "messages": [{"role": "user", "content": "cached?"}]})
        self.assertEqual(a.status, 200, a.text())
        u = a.json()["usage"]
        self.assertEqual(u["prompt_tokens"], 1110)
        self.assertEqual(u["prompt_tokens_details"]["cached_tokens"], 1000)
        self.assertEqual(u["completion_tokens"], 7)
        self.assertEqual(u["total_tokens"], 1117)

    def test_529_overloaded_is_retryable_and_reaches_the_client_when_no_key_is_left(self):
        a = self.ask({"model": "busy", "messages": [{"role": "user", "content": "hello?"}]})
        err = self.assertOpenAIError(a, 529, "server_error", "overloaded_error")
        self.assertEqual(err["message"], "Overloaded")

    def test_529_on_one_key_fails_over_to_the_other(self):
        for _ in range(2):  # whichever key the host tries first
            a = self.ask({"model": "failover", "messages": [{"role": "user", "content": "hello?"}]})
            self.assertEqual(a.status, 200, a.text())
            self.assertEqual(a.json()["choices"][0]["message"]["content"], "Hi from the other key.")
            self.assertKeyOnlyInItsHeader(self.last_upstream(), KEY)

    def test_429_is_rate_limited_with_retry_after(self):
        a = self.ask({"model": "limited", "messages": [{"role": "user", "content": "hello?"}]})
        err = self.assertOpenAIError(a, 429, "rate_limit_error", "rate_limit_error")
        self.assertIn("rate limit", err["message"])
        self.assertEqual(a.header("Retry-After"), "30", a.headers)

    def test_a_stream_cut_after_content_ends_with_an_error_event(self):
        a = self.ask({"model": "cut", "stream": True, "messages": [{"role": "user", "content": "cut?"}]})
        self.assertEqual(a.status, 200)
        self.assertTrue(a.clean, a.events)
        self.assertNotIn("[DONE]", a.events)
        chunks = a.chunks()
        self.assertIn("error", chunks[-1], chunks[-1])
        text = "".join(ch["delta"].get("content") or "" for c in chunks[:-1] for ch in c["choices"])
        self.assertEqual(text, "Half an answer")
        self.assertEqual([ch.get("finish_reason") for c in chunks[:-1] for ch in c["choices"] if ch.get("finish_reason")], [])

    def test_an_error_event_inside_a_stream_follows_the_content(self):
        a = self.ask({"model": "midstream", "stream": True, "messages": [{"role": "user", "content": "error?"}]})
        self.assertEqual(a.status, 200)
        self.assertTrue(a.clean)
        self.assertNotIn("[DONE]", a.events)
        chunks = a.chunks()
        text = "".join(ch["delta"].get("content") or "" for c in chunks[:-1] for ch in c["choices"])
        self.assertEqual(text, "The first half")
        self.assertIn("Overloaded", chunks[-1]["error"]["message"])


if __name__ == "__main__":
    main()
