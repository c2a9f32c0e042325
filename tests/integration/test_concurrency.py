"""1,000 concurrent connections on 2 workers, each served, none dropped."""

import resource
import selectors
import socket
import time

from harness import ServerTest, main, request


class Concurrency(ServerTest):
    WORKERS = 2

    def test_thousand_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        need = 2200
        if soft < need:
            if hard < need:
                self.skipTest("RLIMIT_NOFILE hard limit %d is below %d" % (hard, need))
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
        n = 1000
        socks = []
        for _ in range(n):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.server.port))
            socks.append(s)
        sel = selectors.DefaultSelector()
        for i, s in enumerate(socks):
            sel.register(s, selectors.EVENT_WRITE, i)
        raw = request("GET", "/health")
        bufs = [b""] * n
        done = set()
        deadline = time.time() + 60
        while len(done) < n and time.time() < deadline:
            for key, ev in sel.select(timeout=1):
                s, i = key.fileobj, key.data
                if ev & selectors.EVENT_WRITE:
                    s.send(raw)
                    sel.modify(s, selectors.EVENT_READ, i)
                    continue
                chunk = s.recv(4096)
                bufs[i] += chunk
                if b"\r\n\r\n" in bufs[i] and bufs[i].endswith(b'{"status":"ok"}'):
                    done.add(i)
                    sel.unregister(s)
                elif not chunk:
                    self.fail("connection %d closed early: %r" % (i, bufs[i]))
        self.assertEqual(len(done), n)
        for b in bufs:
            self.assertTrue(b.startswith(b"HTTP/1.1 200 OK\r\n"))
        for s in socks:
            s.close()


if __name__ == "__main__":
    main()
