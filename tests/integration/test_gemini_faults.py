"""The gemini plugin in the real binary when Gemini fails: aigw-mock answers
with Gemini's own error shapes from a handwritten (not recorded) replay file,
tests/fixtures/gemini-handmade/faults.json, and cuts recorded streams with
its key faults (`--key-fault KEY=close-after-N`, matched on x-goog-api-key).

- 429 RESOURCE_EXHAUSTED with google.rpc.RetryInfo: with one key the client
  gets an OpenAI-shaped 429 whose Retry-After is the RetryInfo delay; with
  two keys the request fails over to the other key;
- 503 UNAVAILABLE, 500 INTERNAL: failover to the other key, or a clear 5xx
  error when there is none;
- 400 INVALID_ARGUMENT: the client's error, not failed over; 403
  PERMISSION_DENIED: the key is disabled and the other key answers, or a 502
  upstream_auth_failed when no key is left;
- a stream cut after content (FIN, RST): the content, then an error event,
  and the stream ends (no hang, no [DONE]);
- an error object inside a stream: the content, then an error event;
- a blocked prompt (promptFeedback.blockReason): an error, never an empty
  success; finishReason SAFETY: finish_reason content_filter.

Every scenario has its own provider (a model_map name onto the Gemini model)
and keys, so a key one test cools down or trips never serves another test.
No key ever shows in aigw's log or answers."""

import json
import os
import socket
import unittest

from harness import Reader, Server, main, read_chunked_events, request
from test_gemini import DIVIDE_ASK, DIVIDE_TOOL, FIXTURES, Mock, recorded

HANDMADE = os.path.join(os.path.dirname(FIXTURES), "gemini-handmade")
FAULTS = os.path.join(HANDMADE, "faults.json")

# The keys the fixture's "headers" name: the first key of each pair fails.
PAIR429 = ("AIza-fault-pair429-first", "AIza-fault-pair429-second")
PAIR503 = ("AIza-fault-pair503-first", "AIza-fault-pair503-second")
# The stream variants need keys of their own: a failed key rests.
PAIR429S = ("AIza-fault-pair429-first", "AIza-fault-pair429s-second")
PAIR503S = ("AIza-fault-pair503-first", "AIza-fault-pair503s-second")
CUT_FIN = "AIza-fault-cut-fin"
CUT_RST = "AIza-fault-cut-rst"
STREAM_TIMEOUT = 10  # seconds: a stream that does not end by then hangs


def provider(name, keys, public, gemini_model="gemini-2.5-flash"):
    env = []
    for i, k in enumerate(keys):
        var = "AIGW_TEST_GEMINI_%s_%d" % (name.upper().replace("-", "_"), i)
        os.environ[var] = k
        env.append('"env:%s"' % var)
    return """
[[provider]]
name = "%s"
plugin = "gemini"
base_url = "http://127.0.0.1:%%(port)d"
api_keys = [%s]
models = ["%s"]
model_map = { "%s" = "%s" }
""" % (name, ", ".join(env), public, public, gemini_model)


# (provider, keys, public model name, Gemini model)
PROVIDERS = [
    ("limited", ["AIza-fault-limited"], "limited", "gemini-2.5-flash"),
    ("limited-s", ["AIza-fault-limited-s"], "limited-s", "gemini-2.5-flash"),
    ("pair429", list(PAIR429), "pair429", "gemini-2.5-flash"),
    ("pair429-s", list(PAIR429S), "pair429-s", "gemini-2.5-flash"),
    ("pair503", list(PAIR503), "pair503", "gemini-2.5-flash"),
    ("pair503-s", list(PAIR503S), "pair503-s", "gemini-2.5-flash"),
    ("failing", ["AIza-fault-failing"], "failing", "gemini-2.5-flash"),
    ("pair400", ["AIza-fault-pair400-first", "AIza-fault-pair400-second"], "pair400", "gemini-2.5-flash"),
    ("pair403", ["AIza-fault-pair403-first", "AIza-fault-pair403-second"], "pair403", "gemini-2.5-flash"),
    ("refused", ["AIza-fault-refused"], "refused", "gemini-2.5-flash"),
    ("midstream", ["AIza-fault-midstream"], "midstream", "gemini-2.5-flash"),
    ("safety", ["AIza-fault-safety"], "safety", "gemini-2.5-flash"),
    ("cut-fin", [CUT_FIN], "cut-fin", "gemini-2.0-flash"),
    ("cut-rst", [CUT_RST], "cut-rst", "gemini-2.0-flash"),
]
ALL_KEYS = sorted({k for _, keys, _, _ in PROVIDERS for k in keys})


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

    def text(self):
        return self.body.decode("utf-8", "replace") + json.dumps(self.events) + json.dumps(self.headers)


class GeminiFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        args = []
        for f in sorted(os.listdir(FIXTURES)):
            if f.endswith(".json"):
                args += ["--replay", os.path.join(FIXTURES, f)]
        args += ["--replay", FAULTS,
                 "--key-fault", CUT_FIN + "=close-after-2", "--key-fault", CUT_RST + "=reset-after-2"]
        cls.mock = Mock(*args)
        config = '[[plugin]]\nname = "gemini"\n'
        for p in PROVIDERS:
            config += provider(*p)
        cls.server = Server(config % {"port": cls.mock.port}, workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.mock.stop()
        log = "\n".join(cls.server.lines)
        for k in ALL_KEYS:
            assert k not in log, "a provider key in aigw's log"

    def ask(self, model, prompt=None, stream=False, body=None):
        if body is None:
            body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
            if stream:
                body["stream"] = True
        with self.server.connect(timeout=STREAM_TIMEOUT) as s:
            s.sendall(request("POST", "/v1/chat/completions", {}, json.dumps(body).encode()))
            rd = Reader(s)
            head = rd.read_response(head_only=True)
            chunked = (head.header("Transfer-Encoding") or "").lower() == "chunked"
            if chunked and "text/event-stream" in (head.header("Content-Type") or ""):
                events, clean = read_chunked_events(rd)
                a = Answer(head.status, head.headers, events=events, clean=clean)
            elif chunked:
                # An error for a client that asked for a stream: JSON, chunked.
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

    def last_key(self):
        return self.mock.get("/mock/last")["headers"].get("x-goog-api-key")

    def assertOpenAIError(self, a, status, type_, code):
        self.assertEqual(a.status, status, a.text())
        self.assertIn("application/json", a.header("Content-Type"))
        err = a.json()["error"]
        self.assertTrue(err["message"])
        self.assertEqual(err["type"], type_, err)
        self.assertEqual(err["code"], code, err)
        return err

    # ---- 429 RESOURCE_EXHAUSTED ----

    def check_rate_limited_alone(self, model, stream):
        a = self.ask(model, "aigw fault: rate limited", stream)
        err = self.assertOpenAIError(a, 429, "rate_limit_error", "resource_exhausted")
        self.assertIn("Quota exceeded", err["message"])  # Gemini's own message
        # RetryInfo says 37.512345678s: whole seconds, rounded up.
        self.assertEqual(a.header("Retry-After"), "38", a.headers)
        self.assertEqual(a.header("x-aigw-attempts"), "1")

    def test_429_with_one_key_is_a_429_with_retry_after_from_retry_info(self):
        self.check_rate_limited_alone("limited", False)

    def test_429_with_one_key_stream(self):
        self.check_rate_limited_alone("limited-s", True)

    def check_failover(self, model, keys, prompt, stream, rests):
        # Keys are tried in their order on a fresh worker: the first fails.
        a = self.ask(model, prompt, stream)
        self.assertEqual(a.status, 200, a.text())
        self.assertEqual(a.header("x-aigw-attempts"), "2", a.headers)
        self.assertEqual(self.last_key(), keys[1])
        if stream:
            self.assertTrue(a.clean)
            self.assertEqual(a.events[-1], "[DONE]")
            text = "".join(ch["delta"].get("content") or "" for e in a.events[:-1]
                           for ch in json.loads(e)["choices"])
        else:
            text = a.json()["choices"][0]["message"]["content"]
        self.assertEqual(text, "Answered with the second key.")
        # A rate-limited key rests, so the next request goes straight to
        # the other; one 5xx does not open a breaker, so the first key is
        # tried again and the request fails over again.
        again = self.ask(model, prompt, stream)
        self.assertEqual(again.status, 200, again.text())
        self.assertEqual(again.header("x-aigw-attempts"), "1" if rests else "2")
        self.assertEqual(self.last_key(), keys[1])

    def test_429_on_the_first_key_fails_over_to_the_second(self):
        self.check_failover("pair429", PAIR429, "aigw fault: the first key is rate limited", False, rests=True)

    def test_429_on_the_first_key_fails_over_stream(self):
        self.check_failover("pair429-s", PAIR429S, "aigw fault: the first key is rate limited", True, rests=True)

    # ---- 5xx ----

    def test_503_on_the_first_key_fails_over_to_the_second(self):
        self.check_failover("pair503", PAIR503, "aigw fault: the first key is overloaded", False, rests=False)

    def test_503_on_the_first_key_fails_over_stream(self):
        self.check_failover("pair503-s", PAIR503S, "aigw fault: the first key is overloaded", True, rests=False)

    def test_5xx_with_no_other_key_is_a_clear_5xx_error(self):
        for stream in (False, True):
            a = self.ask("failing", "aigw fault: unavailable", stream)
            err = self.assertOpenAIError(a, 503, "server_error", "unavailable")
            self.assertIn("overloaded", err["message"])
            a = self.ask("failing", "aigw fault: internal", stream)
            self.assertOpenAIError(a, 500, "server_error", "internal")

    # ---- 400, 403 ----

    def test_400_invalid_argument_is_the_clients_error_never_failed_over(self):
        a = self.ask("pair400", "aigw fault: invalid argument")
        err = self.assertOpenAIError(a, 400, "invalid_request_error", "invalid_argument")
        self.assertIn("contents[0]", err["message"])
        self.assertEqual(a.header("x-aigw-attempts"), "1")  # a second key would not do better

    def test_403_on_the_first_key_fails_over_and_disables_it(self):
        a = self.ask("pair403", "aigw fault: the first key is refused")
        self.assertEqual(a.status, 200, a.text())
        self.assertEqual(a.header("x-aigw-attempts"), "2")
        self.assertEqual(self.last_key(), "AIza-fault-pair403-second")
        again = self.ask("pair403", "aigw fault: the first key is refused")
        self.assertEqual(again.header("x-aigw-attempts"), "1")  # the refused key is out of rotation
        self.assertEqual(self.last_key(), "AIza-fault-pair403-second")

    def test_403_on_the_only_key_is_a_502_that_names_no_key(self):
        # The provider refused aigw's credentials, not the client's: no 401
        # or 403 that an SDK would read as "your key is invalid".
        a = self.ask("refused", "aigw fault: the key is refused")
        self.assertEqual(a.status, 502, a.text())
        err = a.json()["error"]
        self.assertEqual(err["code"], "upstream_auth_failed")
        self.assertIn("refused", err["message"])  # the provider's name

    # ---- streams cut or failing after content ----

    def cut_conversation(self, model):
        return {"model": model, "stream": True, "tools": [DIVIDE_TOOL], "tool_choice": "auto", "messages": [
            {"role": "user", "content": DIVIDE_ASK},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_0000000000000001", "type": "function",
                 "function": {"name": "customDivide", "arguments": "{\"numerator\":10,\"denominator\":2}"}}]},
            {"role": "tool", "tool_call_id": "call_0000000000000001", "content": "{\"output\": 42}"}]}

    def check_cut(self, model):
        # The recorded answer to this turn is three events; the mock sends
        # two, then closes (FIN) or resets (RST) the connection.
        segs = recorded("AFC_Streaming_Tests_chat_stream_AFC_enabled_Google_AI_chat_stream.json", 1)[
            "response"]["body_segments"]
        self.assertEqual(len(segs), 3)
        want = "".join(p["text"] for s in segs[:2] for p in s["candidates"][0]["content"]["parts"])
        a = self.ask(model, body=self.cut_conversation(model))
        self.assertEqual(a.status, 200)
        self.assertTrue(a.clean, "the stream did not end with the chunked terminator: %s" % a.events)
        self.assertNotIn("[DONE]", a.events)
        chunks = [json.loads(e) for e in a.events]
        self.assertIn("error", chunks[-1], chunks[-1])
        self.assertTrue(chunks[-1]["error"]["message"])
        text = "".join(ch["delta"].get("content") or "" for c in chunks[:-1] for ch in c["choices"])
        self.assertEqual(text, want)
        self.assertEqual([ch.get("finish_reason") for c in chunks[:-1] for ch in c["choices"]
                          if ch.get("finish_reason")], [])

    def test_a_stream_closed_after_content_ends_with_an_error_event(self):
        self.check_cut("cut-fin")

    def test_a_stream_reset_after_content_ends_with_an_error_event(self):
        self.check_cut("cut-rst")

    def test_an_error_inside_a_stream_follows_the_content(self):
        a = self.ask("midstream", "aigw fault: an error inside the stream", True)
        self.assertEqual(a.status, 200)
        self.assertTrue(a.clean)
        self.assertNotIn("[DONE]", a.events)
        chunks = [json.loads(e) for e in a.events]
        text = "".join(ch["delta"].get("content") or "" for c in chunks[:-1] for ch in c["choices"])
        self.assertEqual(text, "The first half")
        self.assertIn("UNAVAILABLE", chunks[-1]["error"]["message"])

    # ---- safety ----

    def test_a_blocked_prompt_is_an_error_never_an_empty_success(self):
        a = self.ask("safety", "aigw fault: a blocked prompt", False)
        err = self.assertOpenAIError(a, 400, "invalid_request_error", "content_filter")
        self.assertIn("SAFETY", err["message"])
        # Streamed: nothing was sent yet, so it is the same answer.
        a = self.ask("safety", "aigw fault: a blocked prompt", True)
        self.assertIsNone(a.events, "a blocked prompt started a stream")
        err = self.assertOpenAIError(a, 400, "invalid_request_error", "content_filter")
        self.assertIn("SAFETY", err["message"])

    def test_finish_reason_safety_is_content_filter(self):
        a = self.ask("safety", "aigw fault: an answer the safety filter stops", False)
        self.assertEqual(a.status, 200, a.text())
        choice = a.json()["choices"][0]
        self.assertEqual(choice["finish_reason"], "content_filter")
        self.assertFalse(choice["message"].get("content"))
        a = self.ask("safety", "aigw fault: an answer the safety filter stops", True)
        self.assertEqual(a.status, 200)
        self.assertTrue(a.clean)
        self.assertEqual(a.events[-1], "[DONE]")
        chunks = [json.loads(e) for e in a.events[:-1]]
        text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
        self.assertEqual(text, "Here is how")
        finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")]
        self.assertEqual(finishes, ["content_filter"])


if __name__ == "__main__":
    main()
