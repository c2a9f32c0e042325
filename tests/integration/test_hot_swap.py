"""Hot swap of a plugin under load: concurrent streaming and non-streaming
requests while the plugin file is replaced 20 times (by file change, SIGHUP
and the admin endpoint). No request may fail or be cut short, and in the end
the replaced objects are gone from the process's memory map."""

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

from harness import Reader, Server, main, request

BUILD_PLUGIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(os.environ.get(
    "AIGW_BIN", "build/src/aigw")))), "plugins", "local", "libaigw_local.so")


def read_stream(sock):
    """Reads one chunked response to the end; returns the body."""
    rd = Reader(sock)
    while b"\r\n\r\n" not in rd.buf:
        rd._fill()
    head, rd.buf = rd.buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200"), head
    body = b""
    while True:
        while b"\r\n" not in rd.buf:
            rd._fill()
        line, rd.buf = rd.buf.split(b"\r\n", 1)
        n = int(line, 16)
        while len(rd.buf) < n + 2:
            rd._fill()
        if n == 0:
            rd.buf = rd.buf[2:]
            return body
        body += rd.buf[:n]
        rd.buf = rd.buf[n + 2:]


class HotSwap(unittest.TestCase):
    def test_twenty_swaps_under_load(self):
        if not os.path.exists(BUILD_PLUGIN):
            self.skipTest("no built libaigw_local.so at " + BUILD_PLUGIN)
        d = tempfile.mkdtemp(prefix="aigw-swap-")
        plugin_path = os.path.join(d, "libaigw_local.so")
        with open(BUILD_PLUGIN, "rb") as f:
            original = f.read()
        with open(plugin_path, "wb") as f:
            f.write(original)
        runtime = os.path.join(d, "run")
        os.environ["AIGW_RUNTIME_DIR"] = runtime
        srv = Server("""
[admin]
listen = "127.0.0.1:0"
[[plugin]]
name = "local"
path = "%s"
[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]
chunk_interval = "2ms"
""" % plugin_path, workers=2)
        del os.environ["AIGW_RUNTIME_DIR"]
        stop = threading.Event()
        failures = []
        counts = {"stream": 0, "plain": 0}
        words = " ".join("w%d" % i for i in range(30))
        expected = "You said: " + words

        def streamer():
            body = json.dumps({"model": "aigw-demo", "stream": True,
                               "messages": [{"role": "user", "content": words}]}).encode()
            while not stop.is_set():
                try:
                    with srv.connect() as s:
                        s.sendall(request("POST", "/v1/chat/completions", {}, body))
                        events = [e for e in read_stream(s).decode().split("\n\n") if e]
                        if events[-1] != "data: [DONE]":
                            failures.append("stream not finished: %r" % events[-3:])
                            continue
                        text = "".join(json.loads(e[6:])["choices"][0]["delta"].get("content", "")
                                       for e in events[:-1])
                        if text != expected:
                            failures.append("stream text %r" % text)
                        counts["stream"] += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    failures.append("stream: %r" % e)

        def plain():
            body = json.dumps({"model": "aigw-demo",
                               "messages": [{"role": "user", "content": "hi"}]}).encode()
            while not stop.is_set():
                with srv.connect() as s:
                    rd = Reader(s)
                    while not stop.is_set():
                        try:
                            s.sendall(request("POST", "/v1/chat/completions", {}, body))
                            r = rd.read_response()
                            if r.status != 200 or r.json()["choices"][0]["message"]["content"] != "You said: hi":
                                failures.append("plain: %d %r" % (r.status, r.body[:200]))
                            counts["plain"] += 1
                            if r.header("Connection") == "close":
                                break  # max_requests_per_connection: reconnect
                        except Exception as e:  # noqa: BLE001
                            failures.append("plain: %r" % e)
                            return

        threads = [threading.Thread(target=streamer) for _ in range(3)] + \
                  [threading.Thread(target=plain) for _ in range(2)]
        try:
            for t in threads:
                t.start()
            time.sleep(0.3)
            for i in range(1, 21):
                # A different file each time: the same code plus i trailing
                # bytes, which the loader ignores but the content hash sees.
                tmp = plugin_path + ".new"
                with open(tmp, "wb") as f:
                    f.write(original + b"\0" * i)
                how = i % 3
                if how == 0:
                    os.rename(tmp, plugin_path)  # inotify sees the rename
                elif how == 1:
                    os.rename(tmp, plugin_path)
                    srv.signal(signal.SIGHUP)
                else:
                    os.rename(tmp, plugin_path)
                    with srv.connect(admin=True) as a:
                        a.sendall(request("POST", "/admin/plugins/reload"))
                        r = Reader(a).read_response()
                        self.assertEqual(r.status, 200, r.body)
                        self.assertEqual(r.json()["status"], "reloaded")
                time.sleep(0.15)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(failures, [])
        self.assertGreater(counts["stream"], 20)
        self.assertGreater(counts["plain"], 20)
        reloads = [x for x in srv.log_records() if x.get("msg") == "plugins reloaded"]
        self.assertGreaterEqual(len(reloads), 20)

        # Every retired copy is unloaded once no request holds it: one copy left.
        deadline = time.time() + 10
        while True:
            maps = open("/proc/%d/maps" % srv.proc.pid).read()
            copies = {line.split()[-1] for line in maps.splitlines() if runtime in line}
            if len(copies) <= 1 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(copies), 1, copies)
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)

    def test_broken_replacement_keeps_old_plugin(self):
        if not os.path.exists(BUILD_PLUGIN):
            self.skipTest("no built libaigw_local.so")
        d = tempfile.mkdtemp(prefix="aigw-swap-")
        plugin_path = os.path.join(d, "libaigw_local.so")
        shutil.copy(BUILD_PLUGIN, plugin_path)
        srv = Server("""
[admin]
listen = "127.0.0.1:0"
[[plugin]]
name = "local"
path = "%s"
[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]
""" % plugin_path, workers=1)
        try:
            with open(plugin_path + ".new", "w") as f:
                f.write("garbage")
            os.rename(plugin_path + ".new", plugin_path)
            time.sleep(0.3)
            with srv.connect(admin=True) as a:
                a.sendall(request("POST", "/admin/plugins/reload"))
                r = Reader(a).read_response()
            self.assertEqual(r.status, 500)
            self.assertEqual(r.json()["error"]["code"], "reload_failed")
            self.assertIn("not a shared object", r.json()["error"]["message"])
            body = json.dumps({"model": "aigw-demo", "messages": [{"role": "user", "content": "ok"}]}).encode()
            with srv.connect() as s:
                s.sendall(request("POST", "/v1/chat/completions", {}, body))
                self.assertEqual(Reader(s).read_response().status, 200)
            # Admin routes are not on the public port.
            with srv.connect() as s:
                s.sendall(request("POST", "/admin/plugins/reload"))
                self.assertEqual(Reader(s).read_response().status, 404)
        finally:
            srv.stop()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
