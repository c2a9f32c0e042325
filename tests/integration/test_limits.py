"""Each configurable limit and timeout, with the status the client sees."""

import socket
import time

from harness import Reader, Server, ServerTest, main, request, roundtrip


class SizeLimits(ServerTest):
    CONFIG = """
[server.limits]
max_header_bytes = "4KiB"
max_header_count = 20
max_uri_bytes = "1KiB"
max_body_bytes = "64KiB"
max_requests_per_connection = 3
"""

    def expect_error_and_close(self, raw, status, code=None):
        with self.server.connect() as s:
            s.sendall(raw)
            rd = Reader(s)
            r = rd.read_response()
            self.assertErrorShape(r, status, code)
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(rd.at_eof())

    def test_uri_too_long_414(self):
        self.expect_error_and_close(request("GET", "/" + "a" * 1100), 414)

    def test_uri_at_limit_is_fine(self):
        r = roundtrip(self.server, request("GET", "/" + "a" * 900))
        self.assertEqual(r.status, 404)

    def test_header_bytes_431(self):
        self.expect_error_and_close(request("GET", "/health", {"X-Big": "b" * 5000}), 431)

    def test_header_bytes_431_without_line_end(self):
        # The limit holds even when the head never ends: we must not buffer more.
        self.expect_error_and_close(b"GET /health HTTP/1.1\r\nX-Big: " + b"b" * 6000, 431)

    def test_header_count_431(self):
        hs = {"X-H%d" % i: "v" for i in range(25)}
        self.expect_error_and_close(request("GET", "/health", hs), 431)

    def test_body_413_before_body_is_sent(self):
        # Only the head is sent: the 413 must come without waiting for the body.
        with self.server.connect() as s:
            s.sendall(request("POST", "/health", {"Content-Length": str(1 << 20)}))
            rd = Reader(s)
            r = rd.read_response()
            self.assertErrorShape(r, 413)
            self.assertEqual(r.header("Connection"), "close")

    def test_chunked_body_over_limit_413(self):
        chunk = b"%x\r\n%s\r\n" % (16384, b"z" * 16384)
        with self.server.connect() as s:
            s.sendall(request("POST", "/nope", {"Transfer-Encoding": "chunked"}))
            rd = Reader(s)
            try:
                for _ in range(8):
                    s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = rd.read_response()
            self.assertErrorShape(r, 413)

    def test_body_at_limit_is_fine(self):
        r = roundtrip(self.server, request("POST", "/nope", body=b"x" * 65536))
        self.assertEqual(r.status, 404)

    def test_requests_per_connection(self):
        with self.server.connect() as s:
            rd = Reader(s)
            for i in range(3):
                s.sendall(request("GET", "/health"))
                r = rd.read_response()
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("Connection"), "close" if i == 2 else None)
            self.assertTrue(rd.at_eof())


class ConnectionCap(ServerTest):
    CONFIG = """
[server.limits]
max_connections_per_worker = 4
"""

    def test_refused_cleanly_then_recovers(self):
        held = [self.server.connect() for _ in range(4)]
        for s in held:  # make sure each is accepted and counted
            s.sendall(request("GET", "/health"))
            self.assertEqual(Reader(s).read_response().status, 200)
        with self.server.connect() as extra:
            rd = Reader(extra)
            r = rd.read_response()
            self.assertErrorShape(r, 503, "server_busy")
            self.assertTrue(rd.at_eof())
        for s in held:
            s.close()
        deadline = time.time() + 10
        while True:
            try:
                r = roundtrip(self.server, request("GET", "/health"))
                if r.status == 200:
                    break
            except (EOFError, ConnectionResetError):
                pass
            self.assertLess(time.time(), deadline, "server did not recover after connections closed")
            time.sleep(0.05)


class Timeouts(ServerTest):
    CONFIG = """
[server.timeouts]
header_read = "1s"
body_read_gap = "1s"
keepalive_idle = "1s"
send = "1s"
"""

    def assert_closed_between(self, s, lo, hi, expect_status=None):
        start = time.time()
        rd = Reader(s)
        if expect_status is not None:
            s.settimeout(hi + 5)
            r = rd.read_response()
            self.assertErrorShape(r, expect_status, "request_timeout")
        self.assertTrue(rd.at_eof(timeout=hi + 5))
        took = time.time() - start
        self.assertGreaterEqual(took, lo, "closed too early")
        return took

    def test_partial_head_gets_408(self):
        with self.server.connect() as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n")
            self.assert_closed_between(s, 0.7, 5, 408)

    def test_slow_sender_cannot_stretch_header_timeout(self):
        raw = request("GET", "/health", {"X-Pad": "p" * 200})
        with self.server.connect() as s:
            start = time.time()
            got = None
            for b in raw:
                try:
                    s.sendall(bytes([b]))
                except (BrokenPipeError, ConnectionResetError):
                    break
                time.sleep(0.02)  # the whole head would take ~5 s
                if time.time() - start > 3:
                    break
            s.settimeout(5)
            rd = Reader(s)
            got = rd.read_response()
            self.assertErrorShape(got, 408)
            self.assertLess(time.time() - start, 4)

    def test_silent_connection_closed_without_response(self):
        with self.server.connect() as s:
            rd = Reader(s)
            self.assertTrue(rd.at_eof(timeout=6))
            self.assertEqual(rd.buf, b"")

    def test_body_gap_408(self):
        with self.server.connect() as s:
            s.sendall(request("POST", "/nope", {"Content-Length": "10"}) + b"12345")
            self.assert_closed_between(s, 0.7, 5, 408)

    def test_body_progress_resets_gap(self):
        with self.server.connect() as s:
            s.sendall(request("POST", "/nope", {"Content-Length": "6"}))
            for b in b"abcdef":
                time.sleep(0.4)  # 2.4 s in all, each gap under the 1 s limit
                s.sendall(bytes([b]))
            s.settimeout(5)
            self.assertEqual(Reader(s).read_response().status, 404)

    def test_keepalive_idle_close(self):
        with self.server.connect() as s:
            s.sendall(request("GET", "/health"))
            rd = Reader(s)
            self.assertEqual(rd.read_response().status, 200)
            self.assert_closed_between(s, 0.7, 5)

    def test_client_that_never_reads_is_dropped(self):
        with self.server.connect() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(0.2)
            raw = request("GET", "/health") * 2000
            # Keep sending without reading; the server stops reading once its
            # output backs up, and the send timeout then drops us.
            sent_total = 0
            deadline = time.time() + 10
            closed = False
            while time.time() < deadline:
                try:
                    sent_total += s.send(raw)
                except socket.timeout:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
            self.assertTrue(closed, "server kept a non-reading client open")
        # And the server is fine afterwards.
        self.assertEqual(roundtrip(self.server, request("GET", "/health")).status, 200)




if __name__ == "__main__":
    main()
