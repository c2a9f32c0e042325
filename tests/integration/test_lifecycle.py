"""Graceful shutdown: SIGTERM drains, /ready turns 503, in-flight requests
finish, the grace period is enforced, a second signal exits at once."""

import signal
import subprocess
import time
import unittest

from harness import Reader, Server, main, request


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
