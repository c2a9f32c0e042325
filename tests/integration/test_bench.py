"""aigw-bench end to end: against the real aigw (demo model, streaming every
1 ms), a closed-loop stream run and an open-loop chat run of about 2 s each,
checked for every field that bench/README.md documents (the "aigw-bench JSON"
example) and for sane figures; plus its refusals and its bounds."""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from harness import SOURCE_ROOT, Server, main

BENCH = os.environ.get("AIGW_BENCH_BIN", "build/bench/aigw-bench")

DEMO = """
[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]
chunk_interval = "1ms"
"""


def documented_schema():
    """The JSON example under "## aigw-bench JSON" in bench/README.md."""
    with open(os.path.join(SOURCE_ROOT, "bench", "README.md")) as f:
        text = f.read()
    section = text.split("## aigw-bench JSON", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    return json.loads(block)


def key_paths(obj, prefix=""):
    out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(prefix + k)
            out |= key_paths(v, prefix + k + ".")
    return out


def run_bench(*args, timeout=60):
    with tempfile.TemporaryDirectory(prefix="aigw-bench-test-") as d:
        path = os.path.join(d, "out.json")
        r = subprocess.run([BENCH, *args, "--json", path], capture_output=True, text=True,
                           timeout=timeout)
        data = None
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
        return r, data


class BenchAgainstAigw(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(DEMO, workers=1)
        cls.url = "http://127.0.0.1:%d" % cls.server.port
        cls.schema = key_paths(documented_schema())

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def check_fields(self, data):
        got = key_paths(data)
        self.assertEqual(sorted(self.schema - got), [], "documented but missing")
        self.assertEqual(sorted(got - self.schema), [], "present but not documented")

    def test_closed_loop_stream(self):
        r, data = run_bench("--url", self.url, "--scenario", "stream", "--connections", "4",
                            "--duration", "2s", "--warmup", "300ms")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("streams", r.stdout)
        self.check_fields(data)
        self.assertEqual(data["schema"], "aigw-bench/1")
        self.assertEqual(data["config"]["mode"], "closed")
        self.assertEqual(data["config"]["scenario"], "stream")
        self.assertGreater(data["requests"]["sent"], 0)
        self.assertGreater(data["requests"]["ok"], 0)
        self.assertEqual(data["requests"]["errors"], 0, data["errors"])
        self.assertTrue(all(v == 0 for v in data["errors"].values()), data["errors"])
        s = data["stream"]
        self.assertGreater(s["streams"], 0)
        self.assertEqual(s["without_done"], 0)
        self.assertTrue(s["all_done"])
        self.assertGreater(s["content_events"], 0)
        self.assertGreater(s["tokens"], 0)
        self.assertEqual(s["usage_streams"], s["streams"])  # include_usage was asked for
        self.assertEqual(s["ttfb_ns"]["count"], s["streams"])
        self.assertEqual(s["first_content_ns"]["count"], s["streams"])
        self.assertGreater(s["gap_ns"]["count"], 0)
        lat = data["latency_ns"]
        self.assertTrue(0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], lat)
        self.assertLessEqual(s["ttfb_ns"]["p50"], s["first_content_ns"]["p50"])
        self.assertLessEqual(s["first_content_ns"]["p50"], lat["max"])

    def test_open_loop_chat(self):
        r, data = run_bench("--url", self.url, "--scenario", "chat", "--rate", "200",
                            "--connections", "8", "--threads", "2", "--duration", "2s",
                            "--model", "aigw-demo", "--key", "k1,k2", "-H", "X-Test: 1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_fields(data)
        self.assertEqual(data["config"]["mode"], "open")
        self.assertEqual(data["config"]["rate"], 200)
        self.assertEqual(data["config"]["keys"], 2)
        self.assertEqual(data["config"]["headers"], ["X-Test"])  # names only, never values
        # 400 requests come due in 2 s; all of them are sent (the demo answers at once).
        self.assertEqual(data["requests"]["sent"], 400)
        self.assertEqual(data["requests"]["ok"], 400)
        self.assertEqual(data["requests"]["errors"], 0, data["errors"])
        self.assertEqual(data["requests"]["not_sent"], 0)
        self.assertEqual(data["status"]["2xx"], 400)
        self.assertEqual(data["stream"]["streams"], 0)
        self.assertGreater(data["latency_ns"]["count"], 0)
        # Latency counts from the intended time, so never below the service time.
        self.assertGreaterEqual(data["latency_ns"]["p50"], data["service_time_ns"]["p50"])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class BenchRefusalsAndBounds(unittest.TestCase):
    def test_bad_arguments_exit_2(self):
        for args in (["--url", "http://127.0.0.1:1", "--bogus"],
                     ["--url", "http://127.0.0.1:1", "--connections", "0"],
                     ["--url", "http://127.0.0.1:1", "--scenario", "nope"],
                     ["--url", "http://127.0.0.1:1", "--duration", "ten"],
                     ["--url", "https://127.0.0.1:1"],
                     []):
            r = subprocess.run([BENCH, *args], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("aigw-bench:", r.stderr)

    def test_remote_hosts_are_refused(self):
        for url in ("http://10.0.0.1:80", "http://example.com", "http://[2001:db8::1]:80",
                    "http://0.0.0.0:80"):
            r = subprocess.run([BENCH, "--url", url], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, url)
            self.assertIn("only targets this machine", r.stderr)

    def test_refused_connections_are_counted(self):
        r, data = run_bench("--url", "http://127.0.0.1:%d" % free_port(), "--duration", "500ms",
                            "--connections", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(data["errors"]["connect_refused"], 0)
        self.assertEqual(data["requests"]["ok"], 0)

    def test_hung_target_ends_with_timeouts(self):
        # Listening but never accepting: the kernel completes the handshakes and
        # takes the requests, nobody answers.
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        try:
            start = time.monotonic()
            r, data = run_bench("--url", "http://127.0.0.1:%d" % s.getsockname()[1],
                                "--duration", "500ms", "--grace", "500ms", "--connections", "2")
            elapsed = time.monotonic() - start
        finally:
            s.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(data["errors"]["timeout"], 2)
        self.assertLess(elapsed, 5)


if __name__ == "__main__":
    if not os.path.exists(BENCH):
        print("no aigw-bench at %s (built with -Dbenchmarks=true): skipped" % BENCH)
        sys.exit(77)
    main()
