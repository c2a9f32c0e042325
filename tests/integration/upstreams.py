"""Misbehaving OpenAI-shaped upstreams for the integration tests, in pure
Python (socket, ssl, threading): a provider that answers like the real ones
do when they close connections, recycle them, die half-way, drip, rate-limit
or reject a key.

One Upstream is one threaded HTTP/1.1 server on 127.0.0.1 port 0, plain or
TLS (a test CA made with the openssl CLI, see make_cert; aigw then reaches it
as https://localhost:PORT with ca_file). What it does is a *mode*, a string
of space- or comma-separated tokens:

  answer       ok (default) | die-after-head | die-after-events=N |
               die-mid-chunk | drip=MS | status=CODE
  close        close=keep (default) | close=notify | close=fin |
               close=header | keepalive=N
  tokens=N     content events after "echo: <prompt>" (default 4)
  retry-after=S  the Retry-After of status=429 (default 7; retry-after-ms
               is S * 1000)
  tool=NAME    the answer is a call of tool NAME with arguments
               {"city": <prompt>} (streamed in three pieces), finish_reason
               tool_calls
  reasoning    a reasoning_content ("thinking about: <prompt>") before the
               text, as DeepSeek-style servers send it

  close=notify   after each response: TLS close_notify, then close at once
  close=fin      after each response: a bare FIN (TLS: no close_notify)
  close=header   every response says `Connection: close`, then closes the
                 way a server does (close_notify over TLS, else FIN)
  keepalive=N    like nginx `keepalive_requests N`: the Nth response on a
                 connection says `Connection: close` and the connection ends
  together       the last response's bytes, close_notify and FIN leave in
                 one TCP segment (else each goes out as soon as it is made)
  linger=MS      close that long after the last response: an idle pooled
                 connection that the provider drops

  die-after-head     stream: the head and the role event, then a bare FIN;
                     non-stream: the head (full Content-Length), no body
  die-after-events=N stream: N events (the role event is the first), FIN;
                     non-stream: half the body
  die-mid-chunk      stream: the role event, one content event, then half of
                     the next chunk; non-stream (chunked): half a chunk
  drip=MS            every event (non-stream: every piece of the body) MS
                     milliseconds after the one before
  status=CODE        an OpenAI-shaped error; 429 carries Retry-After and
                     retry-after-ms

The mode of one request is, from weakest to strongest: the server's mode
(set_mode), the mode mapped to the request's key (key_modes, by the bare key
of `Authorization: Bearer KEY`), the `x-upstream-mode` header (a provider's
`headers = [...]` in aigw's config), and `[upstream-mode: ...]` in the last
message's content (per request, chosen by the test). Tokens of a stronger
source override the same tokens of a weaker one.

The answer echoes the prompt (see answer_text), so a test can tell that each
client got the answer to its own request and not one meant for another.
Counters (stats()) tell connection reuse and recycling apart, and count
each prompt served, so a request that went upstream twice shows."""

import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time

IO_TIMEOUT = 10.0  # per socket operation, and the idle keep-alive limit


def make_cert(d):
    """A test CA and a server certificate for localhost signed by it, made
    with the openssl CLI in directory d: (ca.pem, srv.pem, srv.key)."""
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key,
        "-out", ca, "-days", "2", "-subj", "/CN=aigw test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", crt, "-days", "2",
        "-extfile", ext)
    return ca, crt, key


def tls_skip_reason():
    """Why a TLS upstream cannot be tested here, or None. aigw spreads its
    connections over every address of the host name, and the upstream binds
    127.0.0.1 only: a localhost that also names ::1 would turn half of the
    connections into refusals that have nothing to do with the test."""
    if shutil.which("openssl") is None:
        return "openssl not installed (scripts/install-deps --test installs it)"
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)}
    except OSError as e:
        return "localhost does not resolve: %s" % e
    if addrs != {"127.0.0.1"}:
        return "localhost resolves to %s, not only 127.0.0.1" % sorted(addrs)
    return None


def answer_text(prompt, tokens=4):
    return " ".join(["echo:", prompt] + ["t%d" % i for i in range(tokens)])


def parse_mode(spec):
    out = {}
    for tok in re.split(r"[\s,]+", spec or ""):
        if not tok:
            continue
        name, _, value = tok.partition("=")
        if name == "together":
            out["together"] = True
        elif name in ("ok", "die-after-head", "die-mid-chunk"):
            out["answer"] = (name, 0)
        elif name in ("die-after-events", "drip", "status"):
            out["answer"] = (name, int(value))
        elif name == "close":
            if value not in ("keep", "notify", "fin", "header"):
                raise ValueError("unknown close mode %r" % value)
            out["close"] = value
        elif name in ("keepalive", "tokens", "retry-after", "linger"):
            out[name] = int(value)
        elif name == "tool":
            out["tool"] = value
        elif name == "reasoning":
            out["reasoning"] = True
        else:
            raise ValueError("unknown upstream mode token %r" % tok)
    return out


class _Request:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.json = None
        if body:
            try:
                self.json = json.loads(body)
            except ValueError:
                pass

    def prompt(self):
        try:
            content = self.json["messages"][-1]["content"]
        except (KeyError, IndexError, TypeError):
            return ""
        if isinstance(content, list):  # text parts
            return "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else ""

    def stream(self):
        return bool(isinstance(self.json, dict) and self.json.get("stream"))

    def include_usage(self):
        opts = self.json.get("stream_options") if isinstance(self.json, dict) else None
        return bool(isinstance(opts, dict) and opts.get("include_usage"))

    def key(self):
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer "):] if auth.startswith("Bearer ") else auth


class _Died(Exception):
    """The answer ended the connection on purpose: nothing more is read."""


class Upstream:
    def __init__(self, mode="", tls=False, cert=None, key_modes=None, model="upstream-model"):
        """cert: (ca, crt, key) from make_cert, needed with tls."""
        self.tls = tls
        self.model = model
        self.key_modes = {k: parse_mode(v) for k, v in (key_modes or {}).items()}
        self._mode = parse_mode(mode)
        self._ctx = None
        self.ca_file = None
        if tls:
            self.ca_file, crt, key = cert
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(crt, key)
        self._lock = threading.Lock()
        self._stats = {"connections": 0, "requests": 0, "tls_handshake_failures": 0, "keys_seen": [],
                       "paths": {}, "prompts": {}}
        self._last = None  # the last request: (path, headers, parsed body)
        self._live = set()
        self._threads = []
        self._stopping = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.2)  # the accept loop looks at _stopping this often
        self.port = self._sock.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    @property
    def base_url(self):
        if self.tls:
            return "https://localhost:%d/v1" % self.port
        return "http://127.0.0.1:%d/v1" % self.port

    def set_mode(self, spec):
        mode = parse_mode(spec)
        with self._lock:
            self._mode = mode

    def stats(self):
        with self._lock:
            s = dict(self._stats)
            s["keys_seen"] = list(s["keys_seen"])
            s["paths"] = dict(s["paths"])
            s["prompts"] = {k: list(v) for k, v in s["prompts"].items()}
            return s

    def last_request(self):
        """(path, headers with lower-case names, parsed JSON body) of the
        last request served, or None."""
        with self._lock:
            return self._last

    def stop(self):
        self._stopping.set()
        self._acceptor.join(5)
        self._sock.close()
        with self._lock:
            live = list(self._live)
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(5)

    # ---- connections -----------------------------------------------------

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                raw, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._stats["connections"] += 1
                conn_no = self._stats["connections"]
                self._live.add(raw)
            t = threading.Thread(target=self._serve, args=(raw, conn_no), daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, raw, conn_no):
        conn = raw
        try:
            raw.settimeout(IO_TIMEOUT)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:
                try:
                    conn = self._ctx.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    with self._lock:
                        self._stats["tls_handshake_failures"] += 1
                    return
            buf = bytearray()
            served = 0
            while not self._stopping.is_set():
                req = self._read_request(conn, buf)
                if req is None:
                    return
                served += 1
                mode = self._mode_for(req)
                with self._lock:
                    self._stats["requests"] += 1
                    self._last = (req.path, dict(req.headers), req.json)
                    self._stats["paths"][req.path] = self._stats["paths"].get(req.path, 0) + 1
                    # Where each prompt was served: connection number, and
                    # the request's place on that connection.
                    self._stats["prompts"].setdefault(req.prompt(), []).append("conn %d #%d" % (conn_no, served))
                    if req.key() and req.key() not in self._stats["keys_seen"]:
                        self._stats["keys_seen"].append(req.key())
                last = mode.get("close", "keep") != "keep" or served == mode.get("keepalive", 0)
                announce = mode.get("close") == "header" or served == mode.get("keepalive", 0)
                if last and mode.get("together"):
                    # Corked: the last bytes, the close_notify and the FIN
                    # leave in one segment and arrive in one read. On the
                    # connection's own socket: wrap_socket detached `raw`.
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                try:
                    self._answer(conn, req, mode, announce)
                except _Died:
                    return
                if last:
                    time.sleep(mode.get("linger", 0) / 1000)
                    how = mode.get("close", "keep")
                    self._close(conn, "fin" if how == "fin" else "notify")
                    return
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            with self._lock:
                self._live.discard(raw)
            try:
                conn.close()
            except OSError:
                pass

    def _close(self, conn, how):
        """Ends a connection after a complete response."""
        if self.tls and how == "notify":
            # One SSL_shutdown: close_notify goes out now; the peer's own
            # close_notify is not waited for (nginx and most servers do not).
            conn.setblocking(False)
            try:
                conn.unwrap()
            except (ssl.SSLError, OSError, ValueError):
                pass
        else:
            # SSLSocket.shutdown drops the TLS state first: a bare FIN.
            try:
                conn.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        conn.close()

    def _die(self, conn):
        """Ends a connection in the middle of a response: a bare FIN."""
        try:
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        conn.close()
        raise _Died()

    def _read_request(self, conn, buf):
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
            if len(buf) > 1 << 20:
                return None
        end = buf.index(b"\r\n\r\n")
        lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
        del buf[:end + 4]
        method, path, _ = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        n = int(headers.get("content-length", "0") or 0)
        while len(buf) < n:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            buf += chunk
        body = bytes(buf[:n])
        del buf[:n]
        return _Request(method, path, headers, body)

    def _mode_for(self, req):
        with self._lock:
            mode = dict(self._mode)
        mode.update(self.key_modes.get(req.key(), {}))
        mode.update(parse_mode(req.headers.get("x-upstream-mode", "")))
        m = re.search(r"\[upstream-mode:([^\]]*)\]", req.prompt())
        if m:
            mode.update(parse_mode(m.group(1)))
        return mode

    # ---- answers -----------------------------------------------------------

    def _head(self, status, headers, announce):
        reason = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests"}.get(status, "Error")
        out = "HTTP/1.1 %d %s\r\n" % (status, reason)
        for k, v in headers:
            out += "%s: %s\r\n" % (k, v)
        if announce:
            out += "Connection: close\r\n"
        return (out + "\r\n").encode("latin-1")

    def _json(self, conn, status, obj, announce, extra=()):
        body = json.dumps(obj).encode()
        conn.sendall(self._head(status, [("Content-Type", "application/json"),
                                         ("Content-Length", str(len(body)))] + list(extra), announce) + body)

    def _answer(self, conn, req, mode, announce):
        if req.method == "GET" and req.path.endswith("/models"):
            self._json(conn, 200, {"object": "list", "data": [{"id": self.model, "object": "model"}]}, announce)
            return
        if req.method != "POST" or not req.path.endswith("/chat/completions"):
            self._json(conn, 404, {"error": {"message": "no such path", "type": "invalid_request_error",
                                             "code": "not_found"}}, announce)
            return
        kind, arg = mode.get("answer", ("ok", 0))
        if kind == "status":
            self._error(conn, arg, mode, announce)
            return
        text = answer_text(req.prompt(), mode.get("tokens", 4))
        if mode.get("tool") or mode.get("reasoning"):
            self._special(conn, req, mode, text, announce)
            return
        if req.stream():
            self._sse(conn, req, text, kind, arg, announce)
        else:
            self._completion(conn, req, text, kind, arg, announce)

    def _error(self, conn, status, mode, announce):
        extra = []
        if status == 429:
            secs = mode.get("retry-after", 7)
            extra = [("Retry-After", str(secs)), ("retry-after-ms", str(secs * 1000))]
            err = {"message": "Rate limit reached for requests", "type": "requests", "code": "rate_limit_exceeded"}
        elif status == 401:
            err = {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                   "code": "invalid_api_key"}
        else:
            err = {"message": "upstream error %d" % status, "type": "server_error", "code": None}
        self._json(conn, status, {"error": err}, announce, extra)

    def _completion(self, conn, req, text, kind, arg, announce):
        obj = {"id": "chatcmpl-up", "object": "chat.completion", "created": 0, "model": self.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop"}],
               "usage": {"prompt_tokens": 3, "completion_tokens": len(text.split()),
                         "total_tokens": 3 + len(text.split())}}
        body = json.dumps(obj).encode()
        if kind == "die-mid-chunk":
            head = self._head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")],
                              announce)
            conn.sendall(head + b"%x\r\n" % len(body) + body[:len(body) // 2])
            self._die(conn)
        head = self._head(200, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                          announce)
        if kind == "die-after-head":
            conn.sendall(head)
            self._die(conn)
        if kind == "die-after-events":
            conn.sendall(head + body[:len(body) // 2])
            self._die(conn)
        if kind == "drip":
            conn.sendall(head)
            step = max(1, len(body) // 8)
            for i in range(0, len(body), step):
                time.sleep(arg / 1000)
                conn.sendall(body[i:i + step])
            return
        conn.sendall(head + body)

    def _special(self, conn, req, mode, text, announce):
        """A tool call or a reasoning answer (mode tool=NAME, reasoning)."""
        tool = mode.get("tool")
        args = json.dumps({"city": req.prompt()})
        reasoning = "thinking about: " + req.prompt() if mode.get("reasoning") else None
        usage = {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16,
                 "prompt_tokens_details": {"cached_tokens": 4}}
        finish = "tool_calls" if tool else "stop"
        if not req.stream():
            msg = {"role": "assistant", "content": None if tool else text}
            if reasoning:
                msg["reasoning_content"] = reasoning
            if tool:
                msg["tool_calls"] = [{"id": "call_up1", "type": "function",
                                      "function": {"name": tool, "arguments": args}}]
            self._json(conn, 200, {"id": "chatcmpl-up", "object": "chat.completion", "created": 0,
                                   "model": self.model, "usage": usage,
                                   "choices": [{"index": 0, "message": msg, "finish_reason": finish}]}, announce)
            return

        def chunk(delta, finish_reason=None):
            return {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 0, "model": self.model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        events = [chunk({"role": "assistant", "content": ""})]
        if reasoning:
            events += [chunk({"reasoning_content": w}) for w in (reasoning[:8], reasoning[8:])]
        if tool:
            third = max(1, len(args) // 3)
            pieces = [args[:third], args[third:2 * third], args[2 * third:]]
            events.append(chunk({"tool_calls": [{"index": 0, "id": "call_up1", "type": "function",
                                                 "function": {"name": tool, "arguments": ""}}]}))
            events += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces]
        else:
            events += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(text.split(" "))]
        events.append(chunk({}, finish))
        if req.include_usage():
            events.append({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 0,
                           "model": self.model, "choices": [], "usage": usage})
        frames = [("data: %s\n\n" % json.dumps(e)).encode() for e in events] + [b"data: [DONE]\n\n"]
        head = self._head(200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")],
                          announce)
        conn.sendall(head + b"".join(b"%x\r\n%s\r\n" % (len(f), f) for f in frames) + b"0\r\n\r\n")

    def _sse(self, conn, req, text, kind, arg, announce):
        def chunk(delta, finish=None, usage=None):
            obj = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 0, "model": self.model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            if usage is not None:
                obj["choices"] = []
                obj["usage"] = usage
            return "data: %s\n\n" % json.dumps(obj)

        words = text.split(" ")
        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
        events.append(chunk({}, "stop"))
        if req.include_usage():
            events.append(chunk({}, usage={"prompt_tokens": 3, "completion_tokens": len(words),
                                           "total_tokens": 3 + len(words)}))
        events.append("data: [DONE]\n\n")
        frames = [b"%x\r\n%s\r\n" % (len(e.encode()), e.encode()) for e in events]
        head = self._head(200, [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache"),
                                ("Transfer-Encoding", "chunked")], announce)
        if kind == "die-after-head":
            conn.sendall(head + frames[0])
            self._die(conn)
        if kind == "die-after-events":
            conn.sendall(head + b"".join(frames[:arg]))
            self._die(conn)
        if kind == "die-mid-chunk":
            half = frames[2][:len(frames[2]) // 2]
            conn.sendall(head + frames[0] + frames[1] + half)
            self._die(conn)
        if kind == "drip":
            conn.sendall(head)
            for f in frames:
                time.sleep(arg / 1000)
                conn.sendall(f)
            conn.sendall(b"0\r\n\r\n")
            return
        conn.sendall(head + b"".join(frames) + b"0\r\n\r\n")
