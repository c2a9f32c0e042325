"""Routes, keep-alive, pipelining, HTTP/1.0, Expect and chunked bodies through
the real binary."""

import socket
import threading
import time

from harness import Reader, ServerTest, main, request, roundtrip


class HttpBasics(ServerTest):
    WORKERS = 2

    def test_health(self):
        r = roundtrip(self.server, request("GET", "/health"))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ok"})
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertIsNotNone(r.header("Date"))

    def test_ready(self):
        r = roundtrip(self.server, request("GET", "/ready"))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), {"status": "ready"})

    def test_head_has_no_body(self):
        with self.server.connect() as s:
            s.sendall(request("HEAD", "/health") + request("GET", "/health"))
            rd = Reader(s)
            head = rd.read_response(head_only=True)
            self.assertEqual(head.status, 200)
            self.assertEqual(head.header("Content-Length"), "15")
            # The next response starts right after the head: no body was sent.
            self.assertEqual(rd.read_response().json(), {"status": "ok"})

    def test_unknown_path_is_404_in_error_shape(self):
        r = roundtrip(self.server, request("GET", "/nope"))
        self.assertErrorShape(r, 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        r = roundtrip(self.server, request("POST", "/health", body=b"{}"))
        self.assertErrorShape(r, 405, "method_not_allowed")
        self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_absolute_form_target(self):
        r = roundtrip(self.server, request("GET", "http://localhost/health"))
        self.assertEqual(r.status, 200)

    def test_keep_alive_many_requests(self):
        with self.server.connect() as s:
            rd = Reader(s)
            for _ in range(50):
                s.sendall(request("GET", "/health"))
                r = rd.read_response()
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.header("Connection"))

    def test_pipelining_keeps_order(self):
        paths = ["/health", "/nope", "/ready", "/health", "/x"] * 40
        with self.server.connect() as s:
            s.sendall(b"".join(request("GET", p) for p in paths))
            rd = Reader(s)
            for p in paths:
                r = rd.read_response()
                self.assertEqual(r.status, 200 if p in ("/health", "/ready") else 404, p)

    def test_pipelining_split_at_every_byte(self):
        raw = request("GET", "/health") + request("POST", "/nope", body=b"abc") + request("GET", "/ready")
        with self.server.connect() as s:
            for i in range(len(raw)):
                s.sendall(raw[i:i + 1])
                if i % 16 == 0:
                    time.sleep(0.001)
            rd = Reader(s)
            self.assertEqual(rd.read_response().status, 200)
            self.assertEqual(rd.read_response().status, 404)
            self.assertEqual(rd.read_response().status, 200)

    def test_connection_close(self):
        with self.server.connect() as s:
            s.sendall(request("GET", "/health", {"Connection": "close"}) + request("GET", "/health"))
            rd = Reader(s)
            r = rd.read_response()
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(rd.at_eof())
            self.assertEqual(rd.buf, b"", "nothing may follow a Connection: close response")

    def test_http10_closes_by_default(self):
        with self.server.connect() as s:
            s.sendall(request("GET", "/health", version="HTTP/1.0"))
            rd = Reader(s)
            r = rd.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.version, "HTTP/1.1")
            self.assertEqual(r.header("Connection"), "close")
            self.assertTrue(rd.at_eof())

    def test_http10_keep_alive(self):
        with self.server.connect() as s:
            rd = Reader(s)
            for _ in range(3):
                s.sendall(request("GET", "/health", {"Connection": "keep-alive"}, version="HTTP/1.0"))
                r = rd.read_response()
                self.assertEqual(r.header("Connection"), "keep-alive")

    def test_expect_100_continue(self):
        with self.server.connect() as s:
            s.sendall(request("POST", "/nope", {"Expect": "100-continue", "Content-Length": "5"}))
            rd = Reader(s)
            self.assertEqual(rd.read_response().status, 100)
            s.sendall(b"hello")
            self.assertEqual(rd.read_response().status, 404)
            s.sendall(request("GET", "/health"))
            self.assertEqual(rd.read_response().status, 200)

    def test_expect_without_waiting(self):
        # The client sent the body right away: no 100 Continue is owed.
        with self.server.connect() as s:
            s.sendall(request("POST", "/nope", {"Expect": "100-continue"}, body=b"hello"))
            rd = Reader(s)
            self.assertEqual(rd.read_response().status, 404)

    def test_chunked_body_then_next_request(self):
        body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
        with self.server.connect() as s:
            s.sendall(request("POST", "/nope", {"Transfer-Encoding": "chunked"}, body=body) +
                      request("GET", "/health"))
            rd = Reader(s)
            self.assertEqual(rd.read_response().status, 404)
            self.assertEqual(rd.read_response().status, 200)

    def test_body_in_pieces(self):
        with self.server.connect() as s:
            s.sendall(request("POST", "/nope", {"Content-Length": "10"}))
            time.sleep(0.05)
            s.sendall(b"01234")
            time.sleep(0.05)
            s.sendall(b"56789" + request("GET", "/health"))
            rd = Reader(s)
            self.assertEqual(rd.read_response().status, 404)
            self.assertEqual(rd.read_response().status, 200)

    def test_large_pipelined_burst_without_reading(self):
        # A client that pipelines many requests and reads late: back-pressure
        # pauses reading on the server, nothing is lost or reordered.
        n = 8000  # under the default 10,000 requests per connection
        raw = b"".join(request("GET", "/health" if i % 2 else "/nope") for i in range(n))
        with self.server.connect(timeout=60) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sender = threading.Thread(target=s.sendall, args=(raw,))
            sender.start()
            time.sleep(0.5)  # let the server's output back up
            rd = Reader(s)
            for i in range(n):
                self.assertEqual(rd.read_response().status, 200 if i % 2 else 404)
            sender.join()

    def test_malformed_gets_400_and_close(self):
        cases = [
            b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"GET /health HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n",
            b"GET /health HTTP/1.1\nHost: a\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
            b"GET /health HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET /he alth HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ]
        for raw in cases:
            with self.server.connect() as s:
                s.sendall(raw)
                rd = Reader(s)
                r = rd.read_response()
                self.assertErrorShape(r, 400)
                self.assertEqual(r.header("Connection"), "close")
                self.assertTrue(rd.at_eof(), raw)

    def test_transfer_encoding_other_than_chunked_is_501(self):
        r = roundtrip(self.server, request("POST", "/x", {"Transfer-Encoding": "gzip"}))
        self.assertErrorShape(r, 501)

    def test_http2_version_is_505(self):
        r = roundtrip(self.server, b"GET /health HTTP/2.0\r\nHost: a\r\n\r\n")
        self.assertErrorShape(r, 505)


if __name__ == "__main__":
    main()
