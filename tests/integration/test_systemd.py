"""aigw under systemd: the unit file passes `systemd-analyze verify`, and the
readiness protocol (Type=notify) is spoken on a unix datagram socket this
test listens on, as systemd would: READY=1 with MAINPID once it serves,
RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM; by
path and by abstract name. Plugin processes do not inherit NOTIFY_SOCKET.
And what aigw does fits the unit's sandbox: under strace, its system calls
pass the SystemCallFilter, nothing becomes executable after mapping
(MemoryDenyWriteExecute) and its sockets are of RestrictAddressFamilies."""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import AIGW, SOURCE_ROOT, Server, main, request, roundtrip

UNIT = os.path.join(SOURCE_ROOT, "deploy", "systemd", "aigw.service")


class NotifySocket:
    """A SOCK_DGRAM unix socket, at a path or an abstract "@name"."""

    def __init__(self, abstract):
        self.dir = tempfile.TemporaryDirectory(prefix="aigw-notify-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "aigw-test-notify-%d-%s" % (os.getpid(), os.path.basename(self.dir.name))
            self.sock.bind("\0" + name)
            self.env_value = "@" + name
        else:
            self.env_value = os.path.join(self.dir.name, "notify")
            self.sock.bind(self.env_value)
        self.sock.settimeout(20)

    def receive(self):
        """The next message as a dict of its assignments."""
        data = self.sock.recv(4096).decode()
        self.assert_lines(data)
        return dict(line.split("=", 1) for line in data.splitlines())

    def receive_until(self, done):
        """Messages up to the first for which done() holds; those before it
        may only be the RELOADING=1 / READY=1 of another reload."""
        while True:
            m = self.receive()
            if done(m):
                return m
            assert m.get("RELOADING") == "1" or m.get("READY") == "1", m

    @staticmethod
    def assert_lines(data):
        assert data.endswith("\n") and all("=" in l for l in data.splitlines()), repr(data)

    def close(self):
        self.sock.close()
        self.dir.cleanup()


# The child's environment, as the answer of a process-mode provider.
PRINT_ENV = """
[[provider]]
name = "env"
plugin = "local"
models = ["print-env"]
mode = "process"
command = ["sh", "-c", "cat >/dev/null; echo notify=${NOTIFY_SOCKET:-unset}"]
timeout = "10s"
"""


# Plugins loaded from their files (local's file is found before the
# built-in copy), one of them in HTTP mode.
TRACED = """
[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]
mode = "demo"

[[provider]]
name = "up"
plugin = "openai"
models = ["up-model"]
base_url = "http://127.0.0.1:9/v1"
api_keys = ["sk-test-not-a-secret"]
probe_interval = "0s"
"""


def expand_filter(analyze, group, seen=None):
    """The system calls of a systemd syscall group, nested groups included."""
    seen = set() if seen is None else seen
    seen.add(group)
    out = subprocess.run([analyze, "syscall-filter", group], capture_output=True, text=True,
                         timeout=30).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        name = line.strip()
        if not name or name.startswith("#"):
            continue
        if name.startswith("@"):
            if name not in seen:
                calls |= expand_filter(analyze, name, seen)
        else:
            calls.add(name)
    return calls


def chat(model):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    return request("POST", "/v1/chat/completions", {"Content-Type": "application/json"}, body)


class Notify(unittest.TestCase):
    def run_protocol(self, abstract):
        ns = NotifySocket(abstract)
        env = dict(os.environ, NOTIFY_SOCKET=ns.env_value)
        server = None
        try:
            server = Server(PRINT_ENV, env=env)
            ready = ns.receive()
            self.assertEqual(ready.get("READY"), "1", ready)
            self.assertEqual(ready.get("MAINPID"), str(server.proc.pid))
            self.assertIn("serving on 127.0.0.1:%d" % server.port, ready.get("STATUS", ""))
            # READY=1 means serving: the port answers.
            self.assertEqual(roundtrip(server, request("GET", "/ready")).status, 200)

            # A plugin's process does not get the socket.
            resp = roundtrip(server, chat("print-env"))
            self.assertEqual(resp.status, 200, resp.body)
            self.assertIn("notify=unset", resp.json()["choices"][0]["message"]["content"])

            server.signal(signal.SIGHUP)
            reloading = ns.receive()
            self.assertEqual(reloading.get("RELOADING"), "1", reloading)
            self.assertGreater(int(reloading["MONOTONIC_USEC"]), 0)
            again = ns.receive()
            self.assertEqual(again.get("READY"), "1", again)
            self.assertNotIn("failed", again.get("STATUS", ""))

            # A reload that fails still ends in READY=1 (the old config
            # serves), and says so. The file watch reloads on the write (once
            # or more, by the events it sees): read up to that READY=1.
            with open(server.config_path, "a") as f:
                f.write("\nnot valid toml [[[\n")
            self.assertEqual(ns.receive().get("RELOADING"), "1")
            failed = ns.receive_until(lambda m: m.get("READY") == "1" and "reload failed" in m.get("STATUS", ""))
            self.assertIn("MAINPID", failed)

            server.signal(signal.SIGTERM)
            ns.receive_until(lambda m: m.get("STOPPING") == "1")
            self.assertEqual(server.wait(30), 0)
        finally:
            if server is not None:
                server.kill()
            ns.close()

    def test_path_socket(self):
        self.run_protocol(abstract=False)

    def test_abstract_socket(self):
        self.run_protocol(abstract=True)

    def test_without_notify_socket_nothing_changes(self):
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        server = Server("", env=env)
        try:
            self.assertEqual(roundtrip(server, request("GET", "/ready")).status, 200)
        finally:
            server.stop()
        self.assertFalse([l for l in server.lines if "notify" in l.lower()], server.lines)


class Unit(unittest.TestCase):
    def test_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed (package systemd)")
        # verify checks that ExecStart's program exists: point it at this
        # build's binary instead of /usr/local/bin/aigw.
        with open(UNIT) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/local/bin/aigw serve", text)
        with tempfile.TemporaryDirectory() as d:
            unit = os.path.join(d, "aigw.service")
            with open(unit, "w") as f:
                f.write(text.replace("/usr/local/bin/aigw", os.path.abspath(AIGW)))
            r = subprocess.run([analyze, "verify", "--man=no", unit], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stderr.strip(), "", r.stderr)

    def test_unit_keeps_its_promises(self):
        with open(UNIT) as f:
            lines = [l.strip() for l in f if l.strip() and not l.startswith("#")]
        for want in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "DynamicUser=yes",
                     "StateDirectory=aigw", "ConfigurationDirectory=aigw", "CapabilityBoundingSet=",
                     "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes",
                     "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"):
            self.assertIn(want, lines)

    def test_what_aigw_does_fits_the_unit(self):
        # aigw under strace through start (plugins loaded from files, a
        # process-mode provider's child), requests, a SIGHUP reload and the
        # drain: every system call must pass the unit's SystemCallFilter
        # (@system-service less @privileged), no mapping may be made
        # executable after the fact (MemoryDenyWriteExecute) and every
        # socket must be of RestrictAddressFamilies.
        strace = shutil.which("strace")
        analyze = shutil.which("systemd-analyze")
        if not strace or not analyze:
            self.skipTest("strace or systemd-analyze is not installed")
        build = subprocess.run([AIGW, "version"], capture_output=True, text=True, timeout=30).stdout
        if "sanitizers=none" not in build:
            # LeakSanitizer refuses to run under ptrace, and a sanitizer's
            # runtime makes system calls of its own that no release build makes.
            self.skipTest("a sanitizer build: " + build.strip().splitlines()[-1])
        probe = subprocess.run([strace, "-f", "-qq", "-o", "/dev/null", "true"], capture_output=True,
                               text=True, timeout=30)
        if probe.returncode != 0:
            self.skipTest("strace cannot trace here (ptrace refused): " + probe.stderr.strip()[:200])
        allowed = expand_filter(analyze, "@system-service") - expand_filter(analyze, "@privileged")
        self.assertIn("io_uring_enter", allowed)
        with tempfile.TemporaryDirectory() as d:
            trace = os.path.join(d, "trace")
            wrapper = os.path.join(d, "aigw")
            with open(wrapper, "w") as f:
                f.write('#!/bin/sh\nexec %s -f -qq -o %s %s "$@"\n' % (strace, trace, os.path.abspath(AIGW)))
            os.chmod(wrapper, 0o755)
            env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
            server = Server(PRINT_ENV + TRACED, binary=wrapper, env=env)
            # Signals go to aigw, not to strace (which would detach and leave
            # it running): its pid is the tracer's child.
            with open("/proc/%d/task/%d/children" % (server.proc.pid, server.proc.pid)) as f:
                aigw_pid = int(f.read().split()[0])
            try:
                self.assertEqual(roundtrip(server, chat("print-env")).status, 200)
                self.assertEqual(roundtrip(server, chat("aigw-demo")).status, 200)
                os.kill(aigw_pid, signal.SIGHUP)
                self.assertEqual(roundtrip(server, chat("aigw-demo")).status, 200)
                os.kill(aigw_pid, signal.SIGTERM)
                self.assertEqual(server.wait(30), 0)
            finally:
                if server.proc.poll() is None:
                    os.kill(aigw_pid, signal.SIGKILL)
                server.kill()
            with open(trace) as f:
                lines = f.read().splitlines()
        calls = set()
        for line in lines:
            m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
            if m:
                calls.add(m.group(1))
        self.assertIn("io_uring_setup", calls)
        self.assertIn("execve", calls)  # the process-mode child was traced too
        if os.geteuid() == 0:
            # SQLite (the usage store) gives a new WAL or journal file its
            # database's owner with fchown, only when it runs as root, and
            # ignores a failure. Under the unit (DynamicUser=yes) it never
            # runs as root, so this call is never made there.
            calls.discard("fchown")
        self.assertEqual(sorted(calls - allowed), [])
        wx = [l for l in lines if re.search(r"\b(mprotect|pkey_mprotect)\(.*PROT_EXEC", l)
              or re.search(r"\bmmap\(.*PROT_WRITE\|PROT_EXEC", l)]
        self.assertEqual(wx, [])
        families = set(re.findall(r"\bsocket\((AF_[A-Z0-9]+)", "\n".join(lines)))
        self.assertTrue(families)
        self.assertLessEqual(families, {"AF_INET", "AF_INET6", "AF_UNIX"})

    def test_plugins_allow_memory_deny_write_execute(self):
        # MemoryDenyWriteExecute=yes refuses mprotect(PROT_EXEC): a plugin
        # with text relocations or an executable stack would fail to load.
        readelf = shutil.which("readelf")
        if not readelf:
            self.skipTest("readelf is not installed (package binutils)")
        build_plugins = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(AIGW))), "plugins")
        plugins = glob.glob(os.path.join(build_plugins, "*", "libaigw_*.so"))
        self.assertGreaterEqual(len(plugins), 4, build_plugins)
        for so in plugins + [os.path.abspath(AIGW)]:
            dyn = subprocess.run([readelf, "-dW", so], capture_output=True, text=True, timeout=30).stdout
            self.assertNotIn("TEXTREL", dyn, so)
            segs = subprocess.run([readelf, "-lW", so], capture_output=True, text=True, timeout=30).stdout
            stack = [l for l in segs.splitlines() if "GNU_STACK" in l]
            self.assertEqual(len(stack), 1, so)
            self.assertEqual(stack[0].split()[-2], "RW", so + ": " + stack[0])


if __name__ == "__main__":
    main()
