"""The usage store (docs/state.md) through the real binary: usage after known
requests via /admin/usage (JSON and CSV) and `aigw usage`, bad questions,
a spent daily quota that is still spent after a restart, a SIGKILL that
loses nothing older than one flush interval, and a state file aigw cannot
use reported in one sentence at start."""

import json
import os
import shutil
import signal
import subprocess
import threading
import time
import unittest

from harness import AIGW, Reader, Server, main, request

ALICE = "sk-state-alice-5d1c9e"
QUOTA = "sk-state-quota-8a2f40"
FLUSH_S = 0.2

CONFIG = """
[admin]
listen = "127.0.0.1:0"

[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]

[[key]]
name = "alice"
secret = "%s"

[[key]]
name = "quota"
secret = "%s"
daily_tokens = 60

[state]
flush_interval = "200ms"
requests = true
""" % (ALICE, QUOTA)


def chat(server, key, content="hello state"):
    body = json.dumps({"model": "aigw-demo", "messages": [{"role": "user", "content": content}]}).encode()
    with server.connect(timeout=10) as s:
        s.sendall(request("POST", "/v1/chat/completions", {"Authorization": "Bearer " + key}, body))
        return Reader(s).read_response()


def admin_get(server, path, headers=None):
    with server.connect(timeout=10, admin=True) as s:
        s.sendall(request("GET", path, dict(headers or {})))
        return Reader(s).read_response()


def usage_cli(*args):
    out = subprocess.run([AIGW, "usage"] + list(args), capture_output=True, timeout=20)
    return out.returncode, out.stdout.decode(), out.stderr.decode()


def restart(server):
    """SIGTERM (a clean stop, which commits), then the same config again."""
    server.signal(signal.SIGTERM)
    assert server.wait(30) == 0, "\n".join(server.lines[-20:])
    server.port = server.admin_port = None
    server._listening = threading.Event()
    server.start()


def state_path(server):
    return os.path.join(server.dir.name, "aigw-state.db")


class Usage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(CONFIG, workers=2)
        cls.tokens = 0
        for i in range(5):
            r = chat(cls.server, ALICE, "request number %d" % i)
            assert r.status == 200, r.body
            cls.tokens += r.json()["usage"]["total_tokens"]
        time.sleep(3 * FLUSH_S)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_admin_usage_counts_the_requests(self):
        r = admin_get(self.server, "/admin/usage?group_by=key,model,provider&key=alice")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("Content-Type"), "application/json")
        data = r.json()["data"]
        self.assertEqual(len(data), 1, data)
        row = data[0]
        self.assertEqual((row["key"], row["model"], row["provider"]), ("alice", "aigw-demo", "demo"))
        self.assertEqual(row["requests"], 5)
        self.assertEqual(row["total_tokens"], self.tokens)
        self.assertGreater(row["total_tokens"], 0)
        self.assertEqual(row["errors_4xx"] + row["errors_5xx"], 0)

    def test_csv(self):
        r = admin_get(self.server, "/admin/usage?group_by=key&key=alice", {"Accept": "text/csv"})
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.header("Content-Type").startswith("text/csv"))
        lines = r.body.decode().split("\r\n")
        self.assertTrue(lines[0].startswith("key,requests,errors_4xx,"), lines)
        self.assertTrue(lines[1].startswith("alice,5,0,"), lines)

    def test_cli_reads_the_file(self):
        rc, out, err = usage_cli("--config", self.server.config_path, "--group-by", "key", "--key", "alice",
                                 "--format", "json")
        self.assertEqual(rc, 0, err)
        data = json.loads(out)["data"]
        self.assertEqual(data[0]["requests"], 5)
        self.assertEqual(data[0]["total_tokens"], self.tokens)
        rc, out, err = usage_cli("--state", state_path(self.server), "--group-by", "key")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"(?m)^alice +5 ")
        rc, out, err = usage_cli("--state", state_path(self.server), "--format", "csv", "--group-by", "model")
        self.assertEqual(rc, 0, err)
        self.assertIn("aigw-demo,", out)

    def test_bad_questions_are_400(self):
        for q in ("from=2026-13-01", "group_by=key,secret", "from=2026-12-05&to=2026-12-01", "colour=red"):
            r = admin_get(self.server, "/admin/usage?" + q)
            self.assertEqual(r.status, 400, (q, r.body))
            err = r.json()["error"]
            self.assertEqual(err["code"], "invalid_usage_query")
            self.assertTrue(err["message"])
        rc, _, err = usage_cli("--state", state_path(self.server), "--from", "yesterday")
        self.assertEqual(rc, 2)
        self.assertIn("YYYY-MM-DD", err)

    def test_quota_gauges_by_key_name(self):
        r = admin_get(self.server, "/metrics")
        text = r.body.decode()
        self.assertIn('aigw_key_quota_remaining_tokens{key="quota",window="daily"} ', text)
        self.assertIn('aigw_state_records_total{result="written"} ', text)
        self.assertNotIn(QUOTA, text)
        self.assertNotIn(ALICE, text)


class Durability(unittest.TestCase):
    def test_restart_keeps_a_spent_quota_and_sigkill_loses_at_most_a_flush(self):
        server = Server(CONFIG, workers=1)
        try:
            codes = []
            for _ in range(40):
                codes.append(chat(server, QUOTA).status)
                if codes[-1] != 200:
                    break
            self.assertEqual(codes[-1], 429, codes)
            restart(server)
            r = chat(server, QUOTA)
            self.assertEqual(r.status, 429, r.body)
            self.assertEqual(r.json()["error"]["code"], "insufficient_quota")
            self.assertEqual(chat(server, ALICE).status, 200)

            # A crash: whatever was older than one flush interval is on disk.
            for _ in range(7):
                self.assertEqual(chat(server, ALICE).status, 200)
            time.sleep(2 * FLUSH_S + 0.1)
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(10)
            rc, out, err = usage_cli("--state", state_path(server), "--group-by", "key", "--key", "alice",
                                     "--format", "json")
            self.assertEqual(rc, 0, err)
            self.assertEqual(json.loads(out)["data"][0]["requests"], 8)
        finally:
            server.kill()


class Disabled(unittest.TestCase):
    def test_enabled_false_writes_nothing_and_usage_is_404(self):
        server = Server(CONFIG.replace("[state]\n", "[state]\nenabled = false\n"))
        try:
            self.assertEqual(chat(server, ALICE).status, 200)
            r = admin_get(server, "/admin/usage")
            self.assertEqual(r.status, 404, r.body)
            self.assertEqual(r.json()["error"]["code"], "state_disabled")
            self.assertFalse(os.path.exists(state_path(server)))
            server.stop()
        finally:
            server.kill()


class StartFailures(unittest.TestCase):
    def start_fails(self, prepare, as_nobody=False):
        server = Server(CONFIG, start=False)
        try:
            path = state_path(server)
            prepare(path)
            cmd = [AIGW, "serve", "-c", server.config_path]
            if as_nobody:
                # Root may write any file: aigw runs as nobody instead, as
                # under the systemd unit's DynamicUser.
                os.chmod(server.dir.name, 0o755)
                cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
            out = subprocess.run(cmd, capture_output=True, timeout=20)
            self.assertNotEqual(out.returncode, 0)
            return path, out.stderr.decode()
        finally:
            server.kill()

    def test_corrupt_file(self):
        def corrupt(path):
            with open(path, "wb") as f:
                f.write(b"this is not a database" * 500)
        path, err = self.start_fails(corrupt)
        self.assertIn("aigw: state file %s: the file is not a sound SQLite database" % path, err)

    @unittest.skipIf(os.geteuid() == 0 and shutil.which("setpriv") is None,
                     "root writes read-only files, and setpriv (util-linux) is missing to run aigw as nobody")
    def test_read_only_file(self):
        def read_only(path):
            with open(path, "wb"):
                pass
            os.chmod(path, 0o444)
        path, err = self.start_fails(read_only, as_nobody=os.geteuid() == 0)
        self.assertIn("aigw: state file %s: the file is read-only" % path, err)


if __name__ == "__main__":
    main()
