"""The local plugin's process mode against model scripts that misbehave the
way real ones do: a child of the script that keeps stdout open after the
timeout, one that escaped the process group, a client that leaves while the
script still runs. The deadline holds by the clock, and nothing the script
started outlives its request."""

import json
import os
import signal
import socket
import tempfile
import time
import unittest

from harness import Reader, Server, main, request


def script(d, name, body):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)
    return path


def provider(name, command, timeout):
    return """
[[provider]]
name = "%s"
plugin = "local"
models = ["%s"]
mode = "process"
command = %s
timeout = "%s"
""" % (name, name, json.dumps(command), timeout)


def chat(model, stream=False):
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}]}
    if stream:
        body["stream"] = True
    return request("POST", "/v1/chat/completions", {"Content-Type": "application/json"},
                   json.dumps(body).encode())


def processes_with(marker):
    """PIDs whose command line holds `marker`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def wait_present(marker, seconds):
    """The script's `sleep ... &` runs in a forked shell that execs sleep a
    moment later: the marker shows in /proc only after that exec, which can
    come after the script's first output."""
    end = time.time() + seconds
    while time.time() < end:
        if processes_with(marker):
            return True
        time.sleep(0.02)
    return False


def wait_gone(marker, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if not processes_with(marker):
            return True
        time.sleep(0.05)
    return False


class ProcessMode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="aigw-proc-")
        d = cls.tmp.name
        # Markers are odd sleep lengths, so the test can find its own processes.
        held = script(d, "held.sh", "sleep 31.71 &\necho partial\nsleep 31.72")
        escaped = script(d, "escaped.sh", "setsid sleep 4.73 &\necho partial\nexit 0")
        runner = script(d, "runner.sh", "sleep 31.74 &\nwhile true; do echo tick; sleep 0.1; done")
        config = (provider("held", [held], "1s") + provider("escaped", [escaped], "1s") +
                  provider("runner", [runner], "60s"))
        cls.server = Server(config)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        for marker in ("31.71", "31.72", "4.73", "31.74"):
            for pid in processes_with(marker):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        cls.tmp.cleanup()

    def test_timeout_kills_the_whole_group_and_holds_by_the_clock(self):
        start = time.time()
        with self.server.connect(timeout=20) as s:
            s.sendall(chat("held"))
            r = Reader(s).read_response()
        took = time.time() - start
        self.assertEqual(r.status, 502, r.body)
        self.assertIn("timeout", r.json()["error"]["message"])
        # 1 s timeout: not the 31 s the script's children would hold stdout.
        self.assertLess(took, 4)
        self.assertTrue(wait_gone("31.71", 2), "the script's background child survived")
        self.assertTrue(wait_gone("31.72", 2), "the script's foreground child survived")

    def test_a_child_outside_the_group_cannot_hold_the_request(self):
        # The script exits at once, but a child in its own session keeps
        # stdout open for 4.7 s: the request ends shortly after the exit
        # with what arrived.
        start = time.time()
        with self.server.connect(timeout=20) as s:
            s.sendall(chat("escaped"))
            r = Reader(s).read_response()
        took = time.time() - start
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("partial", r.json()["choices"][0]["message"]["content"])
        self.assertLess(took, 4)

    def test_a_client_that_leaves_takes_the_script_and_its_children(self):
        s = self.server.connect(timeout=10)
        s.sendall(chat("runner", stream=True))
        got = b""
        while b"tick" not in got:
            got += s.recv(65536)
        self.assertTrue(wait_present("31.74", 3), "the script's child never started")
        s.close()
        self.assertTrue(wait_gone("31.74", 3), "the script's child outlived the client")


if __name__ == "__main__":
    main()
