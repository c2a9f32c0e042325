"""The /v1 endpoints served by the local plugin through the plugin ABI, with
the real binary: non-streaming and streaming chat, completions, embeddings,
errors in the OpenAI shape, client disconnects, process mode, and the
plugin-facing parts of the command line."""

import json
import os
import re
import socket
import subprocess
import tempfile
import time

from harness import AIGW, SOURCE_ROOT, Reader, Server, ServerTest, main, request, roundtrip

DEMO = """
[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo", "demo-mapped"]
model_map = { "demo-mapped" = "aigw-demo-v2" }
chunk_interval = "5ms"
"""


def post_json(server, path, obj, headers=None):
    body = json.dumps(obj).encode()
    hs = {"Content-Type": "application/json"}
    hs.update(headers or {})
    return roundtrip(server, request("POST", path, hs, body=body))


def read_chunked_sse(sock, timeout=20):
    """Reads a chunked SSE response; returns (head, list of data payloads)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed before head")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    body = b""
    while True:
        while b"\r\n" not in rest:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("closed mid-stream")
            rest += chunk
        line, rest = rest.split(b"\r\n", 1)
        size = int(line.split(b";")[0], 16)
        while len(rest) < size + 2:
            chunk = sock.recv(65536)
            if not chunk:
                raise EOFError("closed mid-chunk")
            rest += chunk
        if size == 0:
            break
        body += rest[:size]
        assert rest[size:size + 2] == b"\r\n"
        rest = rest[size + 2:]
    events = [e for e in body.decode().split("\n\n") if e]
    datas = [e[len("data: "):] for e in events]
    return head.decode(), datas, rest


class LocalPlugin(ServerTest):
    CONFIG = DEMO
    WORKERS = 2

    def test_models_lists_config_names_only(self):
        r = roundtrip(self.server, request("GET", "/v1/models"))
        self.assertEqual(r.status, 200)
        data = r.json()
        self.assertEqual(data["object"], "list")
        self.assertEqual([m["id"] for m in data["data"]], ["aigw-demo", "demo-mapped"])
        self.assertEqual({m["owned_by"] for m in data["data"]}, {"demo"})

    def test_chat_non_stream(self):
        r = post_json(self.server, "/v1/chat/completions",
                      {"model": "aigw-demo", "messages": [
                          {"role": "system", "content": "be brief"},
                          {"role": "user", "content": "Hello there"}]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        obj = r.json()
        self.assertEqual(obj["object"], "chat.completion")
        self.assertEqual(obj["model"], "aigw-demo")
        self.assertEqual(obj["choices"][0]["message"]["content"], "You said: Hello there")
        self.assertEqual(obj["choices"][0]["finish_reason"], "stop")
        u = obj["usage"]
        self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
        self.assertEqual(u["completion_tokens"], 4)

    def test_chat_stream(self):
        body = json.dumps({"model": "aigw-demo", "stream": True,
                           "stream_options": {"include_usage": True},
                           "messages": [{"role": "user", "content": "one two three four five"}]}).encode()
        with self.server.connect() as s:
            s.sendall(request("POST", "/v1/chat/completions", {"Content-Type": "application/json"}, body))
            head, datas, _ = read_chunked_sse(s)
        self.assertIn("Transfer-Encoding: chunked", head)
        self.assertIn("Content-Type: text/event-stream", head)
        self.assertEqual(datas[-1], "[DONE]")
        chunks = [json.loads(d) for d in datas[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        self.assertEqual(text, "You said: one two three four five")
        usage = [c for c in chunks if c.get("usage")]
        self.assertEqual(len(usage), 1)
        self.assertEqual(usage[0]["usage"]["completion_tokens"], 7)

    def test_completions_and_embeddings(self):
        r = post_json(self.server, "/v1/completions", {"model": "aigw-demo", "prompt": "say this"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["choices"][0]["text"], "You said: say this")
        r = post_json(self.server, "/v1/embeddings", {"model": "aigw-demo", "input": ["a", "b"]})
        self.assertEqual(r.status, 200, r.body)
        data = r.json()["data"]
        self.assertEqual(len(data), 2)
        self.assertEqual(len(data[0]["embedding"]), 8)
        again = post_json(self.server, "/v1/embeddings", {"model": "aigw-demo", "input": ["a", "b"]})
        self.assertEqual(again.json()["data"], data, "embeddings must be deterministic")

    def test_model_map_reaches_plugin_as_upstream_name(self):
        r = post_json(self.server, "/v1/chat/completions",
                      {"model": "demo-mapped", "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["model"], "demo-mapped")

    def test_errors_in_openai_shape(self):
        r = post_json(self.server, "/v1/chat/completions",
                      {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        self.assertErrorShape(r, 404, "model_not_found")
        r = post_json(self.server, "/v1/chat/completions", {"messages": []})
        self.assertErrorShape(r, 400, "missing_model")
        r = roundtrip(self.server, request("POST", "/v1/chat/completions", body=b"{not json"))
        self.assertErrorShape(r, 400)
        r = roundtrip(self.server, request("POST", "/v1/chat/completions", body=b"[1,2]"))
        self.assertErrorShape(r, 400, "invalid_json")
        self.assertIn("must be a JSON object", r.json()["error"]["message"])

    def test_bad_bodies_are_told_what_is_wrong_and_where(self):
        # Not UTF-8: the byte offset of the first bad byte.
        body = b'{"model":"aigw-demo","messages":[{"role":"user","content":"h\xffi"}]}'
        r = roundtrip(self.server, request("POST", "/v1/chat/completions", body=body))
        self.assertErrorShape(r, 400, "invalid_encoding")
        self.assertIn("offset %d" % body.index(b"\xff"), r.json()["error"]["message"])
        # Broken JSON: where the parser stopped.
        body = b'{"model":"aigw-demo" "messages":[]}'
        r = roundtrip(self.server, request("POST", "/v1/chat/completions", body=body))
        self.assertErrorShape(r, 400, "invalid_json")
        self.assertIn("near byte 21", r.json()["error"]["message"])

    def test_the_body_must_be_declared_json(self):
        body = json.dumps({"model": "aigw-demo", "messages": [{"role": "user", "content": "hi"}]}).encode()
        # What browsers may send cross-site without asking, and no type at all.
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                      None):
            r = roundtrip(self.server, request("POST", "/v1/chat/completions", {"Content-Type": ctype}, body))
            self.assertErrorShape(r, 415, "unsupported_media_type")
            self.assertIn("Content-Type: application/json", r.json()["error"]["message"])
        for ctype in ("application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json"):
            r = roundtrip(self.server, request("POST", "/v1/chat/completions", {"Content-Type": ctype}, body))
            self.assertEqual(r.status, 200, (ctype, r.body))
        r = post_json(self.server, "/v1/chat/completions", {"model": "aigw-demo"})
        self.assertErrorShape(r, 400)  # the plugin's own refusal: no messages
        r = roundtrip(self.server, request("GET", "/v1/chat/completions"))
        self.assertErrorShape(r, 405)

    def test_keep_alive_and_pipelining_across_plugin_requests(self):
        body = json.dumps({"model": "aigw-demo", "messages": [{"role": "user", "content": "p"}]}).encode()
        raw = (request("POST", "/v1/chat/completions", {}, body) + request("GET", "/health") +
               request("POST", "/v1/chat/completions", {}, body))
        with self.server.connect() as s:
            s.sendall(raw)
            rd = Reader(s)
            self.assertEqual(rd.read_response().json()["choices"][0]["message"]["content"], "You said: p")
            self.assertEqual(rd.read_response().status, 200)
            self.assertEqual(rd.read_response().status, 200)

    def test_client_disconnect_mid_stream(self):
        body = json.dumps({"model": "aigw-demo", "stream": True,
                           "messages": [{"role": "user", "content": " ".join(["w"] * 400)}]}).encode()
        for _ in range(5):
            s = self.server.connect()
            s.sendall(request("POST", "/v1/chat/completions", {}, body))
            s.recv(100)
            s.close()
        time.sleep(0.3)
        self.assertEqual(roundtrip(self.server, request("GET", "/health")).status, 200)

    def test_http10_stream_is_close_delimited(self):
        body = json.dumps({"model": "aigw-demo", "stream": True,
                           "messages": [{"role": "user", "content": "old client"}]}).encode()
        with self.server.connect() as s:
            s.sendall(request("POST", "/v1/chat/completions", {"Content-Length": str(len(body))}, body,
                              version="HTTP/1.0"))
            data = b""
            s.settimeout(10)
            while True:
                c = s.recv(65536)
                if not c:
                    break
                data += c
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertNotIn(b"Transfer-Encoding", head)
        self.assertTrue(body.endswith(b"data: [DONE]\n\n"))


class ProcessMode(ServerTest):
    SCRIPT = os.path.join(SOURCE_ROOT, "tests", "fixtures", "local", "echo-model.sh")
    CONFIG = """
[[provider]]
name = "proc"
plugin = "local"
models = ["echo"]
mode = "process"
command = ["sh", "%s"]
timeout = "10s"
max_processes = 2
""" % SCRIPT

    def test_process_stream_and_non_stream(self):
        r = post_json(self.server, "/v1/completions", {"model": "echo", "prompt": "alpha beta gamma"})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("alpha beta gamma", r.json()["choices"][0]["text"])
        body = json.dumps({"model": "echo", "stream": True, "prompt": "delta epsilon"}).encode()
        with self.server.connect() as s:
            s.sendall(request("POST", "/v1/completions", {}, body))
            head, datas, _ = read_chunked_sse(s)
        self.assertEqual(datas[-1], "[DONE]")
        text = "".join(json.loads(d)["choices"][0].get("text", "") for d in datas[:-1]
                       if json.loads(d)["choices"])
        self.assertIn("delta epsilon", text)


class CommandLine(ServerTest):
    def run_cli(self, *args):
        return subprocess.run([AIGW, *args], capture_output=True, text=True, timeout=30)

    def test_check_config_reports_plugin_key_errors(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write('[[provider]]\nname = "demo"\nplugin = "local"\nmodels = ["m"]\n'
                    'chunk_words = 0\n[[provider]]\nname = "two"\nplugin = "local"\n'
                    'models = ["n"]\nbogus = 1\n')
        try:
            r = self.run_cli("check-config", "-c", f.name)
            self.assertEqual(r.returncode, 1)
            # The plugin's own message, and the key nobody read.
            self.assertIn("provider[0].plugin: plugin \"local\" rejected the provider: chunk_words",
                          r.stderr)
            self.assertIn(f.name + ":10:1: provider[1].bogus: unknown key", r.stderr)
        finally:
            os.unlink(f.name)

    def test_plugins_lists_local(self):
        r = self.run_cli("plugins")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("local", r.stdout)
        # The bundled plugins are built against today's header.
        host = re.search(r"host plugin ABI 1\.(\d+) ", r.stdout)
        self.assertIsNotNone(host, r.stdout)
        self.assertRegex(r.stdout, r"local +ok +ABI 1\.%s " % host.group(1))

    def test_bundled_plugins_load_by_name(self):
        # No [[plugin]] table: openai and gemini are found where aigw was
        # built, loaded and asked about their providers' keys.
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "a.toml")
            with open(cfg, "w") as f:
                f.write('[[provider]]\nname = "o"\nplugin = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
                        'api_key = "sk-bundled-test"\nmodels = ["m"]\n'
                        '[[provider]]\nname = "g"\nplugin = "gemini"\nbase_url = "http://127.0.0.1:9"\n'
                        'api_key = "AIza-bundled-test"\nmodels = ["gm"]\nnot_a_gemini_key = 1\n')
            r = self.run_cli("plugins", "-c", cfg)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertRegex(r.stdout, r"openai\s+ok")
            self.assertRegex(r.stdout, r"gemini\s+ok")
            # The plugin itself read the table: its unknown key is reported.
            r = self.run_cli("check-config", "-c", cfg)
            self.assertEqual(r.returncode, 1)
            self.assertIn(cfg + ':13:1: provider[1].not_a_gemini_key: unknown key for plugin "gemini"', r.stderr)
            self.assertNotIn("no [[plugin]]", r.stderr)

    def test_a_missing_plugin_file_is_one_sentence_saying_where_aigw_looked(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "a.toml")
            with open(cfg, "w") as f:
                f.write('[[plugin]]\nname = "ghost"\n\n[[provider]]\nname = "g"\nplugin = "ghost"\n'
                        'models = ["m"]\n')
            env = dict(os.environ, AIGW_PLUGIN_PATH=d)
            r = subprocess.run([AIGW, "check-config", "-c", cfg], capture_output=True, text=True, timeout=30,
                               env=env)
            self.assertEqual(r.returncode, 1)
            lines = [l for l in r.stderr.splitlines() if "ghost" in l]
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn('plugin "ghost": no plugin file found (looked for %s/ghost/libaigw_ghost.so, '
                          '%s/libaigw_ghost.so, ' % (d, d), lines[0])
            self.assertTrue(lines[0].endswith('give its path in [[plugin]] path = "..." or its directory '
                                              'in AIGW_PLUGIN_PATH'), lines[0])

    def test_plugins_reports_a_broken_file(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "libaigw_bad.so")
            with open(bad, "w") as f:
                f.write("not an ELF file")
            cfg = os.path.join(d, "a.toml")
            with open(cfg, "w") as f:
                f.write('[[plugin]]\nname = "bad"\npath = "%s"\n' % bad)
            r = self.run_cli("plugins", "-c", cfg)
            self.assertEqual(r.returncode, 1)
            self.assertIn("not a shared object", r.stdout)


if __name__ == "__main__":
    main()
