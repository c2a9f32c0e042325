"""Graceful shutdown: SIGTERM first turns /ready 503 for shutdown_delay while
everything else is served, then drains; in-flight requests finish, the grace
period is enforced (streams still open get an error event before the close),
a second signal exits at once."""

import json
import signal
import subprocess
import threading
import time
import unittest

from harness import Reader, Server, main, request


SLOW_DEMO = """
[[provider]]
name = "slow"
plugin = "local"
models = ["slow-demo"]
chunk_interval = "300ms"

[[provider]]
name = "fast"
plugin = "local"
models = ["fast-demo"]
chunk_interval = "0ms"
"""


def chat(model, content, stream=False):
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    data = json.dumps(body).encode()
    return request("POST", "/v1/chat/completions", {"Content-Type": "application/json"}, data)


class ShutdownDelay(unittest.TestCase):
    def test_a_load_balancer_sees_503_while_requests_still_succeed(self):
        srv = Server(SLOW_DEMO, workers=2, shutdown_delay="1500ms", extra_server='shutdown_grace = "5s"')
        try:
            def get(path):
                with srv.connect(timeout=5) as s:
                    s.sendall(request("GET", path))
                    return Reader(s).read_response().status

            self.assertEqual(get("/ready"), 200)
            signalled = time.time()
            srv.signal(signal.SIGTERM)
            # A load balancer's health check, polling on new connections.
            seen = []
            served = 0
            while time.time() - signalled < 1.2:
                seen.append(get("/ready"))
                with srv.connect(timeout=5) as s:
                    s.sendall(chat("fast-demo", "still here"))
                    r = Reader(s).read_response()
                    self.assertEqual(r.status, 200, r.body)
                    served += 1
                time.sleep(0.05)
            # /ready turned 503 at once and stayed so; requests went on.
            self.assertEqual(set(seen[1:]), {503}, seen)
            self.assertGreater(served, 5)
            self.assertIsNone(srv.proc.poll())
            # After the delay the listeners close and the process exits.
            self.assertEqual(srv.wait(10), 0)
            self.assertGreaterEqual(time.time() - signalled, 1.4)
            msgs = [x.get("msg") for x in srv.log_records()]
            self.assertIn("shutting down: /ready now answers 503; draining after the delay", msgs)
            self.assertIn("shutting down: draining connections", msgs)
        finally:
            srv.kill()

    def test_sigint_skips_the_delay(self):
        srv = Server(workers=1, shutdown_delay="10s")
        start = time.time()
        srv.signal(signal.SIGINT)
        self.assertEqual(srv.wait(10), 0)
        self.assertLess(time.time() - start, 3)

    def test_a_stream_cut_by_the_grace_ends_with_an_error_event(self):
        srv = Server(SLOW_DEMO, workers=1, extra_server='shutdown_grace = "600ms"')
        try:
            s = srv.connect(timeout=10)
            words = " ".join("w%d" % i for i in range(40))  # 40 chunks, 300 ms apart
            s.sendall(chat("slow-demo", words, stream=True))
            got = b""
            while b"data:" not in got:
                got += s.recv(65536)
            srv.signal(signal.SIGTERM)
            s.settimeout(5)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            text = got.decode()
            self.assertIn('"code":"shutting_down"', text)
            # The chunked body is closed properly after the error event.
            self.assertTrue(text.endswith("0\r\n\r\n"), text[-200:])
            self.assertNotIn("[DONE]", text)
            self.assertEqual(srv.wait(10), 0)
        finally:
            srv.kill()


class Shutdown(unittest.TestCase):
    def test_request_in_flight_finishes(self):
        srv = Server(extra_server='shutdown_grace = "20s"', workers=1)
        try:
            busy = srv.connect()
            watcher = srv.connect()
            rd_w = Reader(watcher)
            watcher.sendall(request("GET", "/ready"))
            self.assertEqual(rd_w.read_response().status, 200)

            # Half a request body is in flight when the signal comes.
            busy.sendall(request("POST", "/nope", {"Content-Length": "10"}) + b"01234")
            time.sleep(0.2)
            srv.signal(signal.SIGTERM)
            time.sleep(0.5)
            self.assertIsNone(srv.proc.poll(), "exited with a request in flight")

            # The idle keep-alive watcher was closed by the drain.
            self.assertTrue(rd_w.at_eof(timeout=5))
            # New connections are refused: the listener is gone.
            with self.assertRaises(OSError):
                srv.connect(timeout=2).sendall(request("GET", "/health"))
                raise OSError("connected")

            busy.sendall(b"56789")
            rd = Reader(busy)
            r = rd.read_response()
            self.assertEqual(r.status, 404)
            self.assertEqual(r.header("Connection"), "close")
            self.assertEqual(srv.wait(10), 0)
            msgs = [x.get("msg") for x in srv.log_records()]
            self.assertIn("shutting down: draining connections", msgs)
            self.assertIn("stopped", msgs)
        finally:
            srv.kill()

    def test_ready_is_503_while_draining(self):
        srv = Server(extra_server='shutdown_grace = "20s"', workers=1)
        try:
            keep = srv.connect()
            keep.sendall(request("POST", "/nope", {"Content-Length": "4"}) + b"ab")
            time.sleep(0.2)
            srv.signal(signal.SIGTERM)
            time.sleep(0.3)
            # The pending request completes, and a pipelined /ready behind it
            # is not served because the first response closes the connection.
            keep.sendall(b"cd" + request("GET", "/ready"))
            rd = Reader(keep)
            self.assertEqual(rd.read_response().header("Connection"), "close")
            self.assertTrue(rd.at_eof())
            self.assertEqual(srv.wait(10), 0)
        finally:
            srv.kill()

    def test_grace_period_is_enforced(self):
        srv = Server(extra_server='shutdown_grace = "500ms"', workers=2)
        try:
            stuck = srv.connect()
            stuck.sendall(request("POST", "/nope", {"Content-Length": "100"}) + b"x")
            time.sleep(0.2)
            start = time.time()
            srv.signal(signal.SIGTERM)
            self.assertEqual(srv.wait(10), 0)
            self.assertLess(time.time() - start, 5)
            self.assertGreaterEqual(time.time() - start, 0.4)
            recs = [x for x in srv.log_records() if x.get("msg") == "stopped"]
            self.assertEqual(recs[-1]["connections_cut"], 1)
        finally:
            srv.kill()

    def test_second_signal_exits_at_once(self):
        srv = Server(extra_server='shutdown_grace = "30s"', workers=1)
        try:
            stuck = srv.connect()
            stuck.sendall(request("POST", "/nope", {"Content-Length": "100"}) + b"x")
            time.sleep(0.2)
            srv.signal(signal.SIGTERM)
            time.sleep(0.3)
            start = time.time()
            srv.signal(signal.SIGINT)
            rc = srv.wait(5)
            self.assertEqual(rc, 1)
            self.assertLess(time.time() - start, 3)
        finally:
            srv.kill()

    def test_idle_server_stops_promptly(self):
        srv = Server(workers=2)
        start = time.time()
        srv.signal(signal.SIGINT)
        self.assertEqual(srv.wait(10), 0)
        self.assertLess(time.time() - start, 3)


if __name__ == "__main__":
    main()
