"""A small Chrome DevTools Protocol client over --remote-debugging-pipe:
chromium reads commands from our fd 3 and writes replies and events to fd 4,
each a JSON text ended by a NUL byte. No websocket and no npm package, so the
browser tests need only Debian's chromium."""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium():
    env = os.environ.get("AIGW_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for p in CHROMIUM_CANDIDATES:
        if os.access(p, os.X_OK):
            return p
    return shutil.which("chromium")


class CdpError(Exception):
    pass


class Browser:
    """One headless chromium with a fresh profile; pages are flat sessions."""

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--remote-debugging-pipe", "--hide-scrollbars",
             "--force-device-scale-factor=1"]

    def __init__(self, binary):
        self.profile = tempfile.TemporaryDirectory(prefix="aigw-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # chromium expects its command pipe on fd 3 and its answers on fd 4.
        # (Copied high first, in case the pipes themselves are 3 or 4; kept
        # open by pass_fds, which is applied after preexec_fn.)
        def fds():
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)
        self.proc = subprocess.Popen([binary] + self.FLAGS + ["--user-data-dir=" + self.profile.name,
                                                              "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.stderr_lines = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self._next = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._replies = {}
        self.events = []  # (sessionId, method, params), in arrival order
        threading.Thread(target=self._read, daemon=True).start()

    def _drain_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode("utf-8", "replace").rstrip())

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._r, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._replies[None] = "closed"
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._cond:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append((msg.get("sessionId"), msg["method"], msg.get("params", {})))
                    self._cond.notify_all()

    def send(self, method, params=None, session=None, timeout=30):
        with self._lock:
            self._next += 1
            mid = self._next
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        end = time.time() + timeout
        with self._cond:
            while mid not in self._replies:
                if None in self._replies:
                    raise CdpError("chromium exited:\n" + "\n".join(self.stderr_lines[-20:]))
                left = end - time.time()
                if left <= 0:
                    raise CdpError("no answer to %s in %ds" % (method, timeout))
                self._cond.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise CdpError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def wait_event(self, session, method, since, timeout=30):
        """The first `method` event of `session` at or after index `since`."""
        end = time.time() + timeout
        with self._cond:
            while True:
                for i in range(since, len(self.events)):
                    s, m, p = self.events[i]
                    if s == session and m == method:
                        return p
                left = end - time.time()
                if left <= 0:
                    raise CdpError("no %s event in %ds" % (method, timeout))
                self._cond.wait(left)

    def new_page(self, width=1280, height=900, mobile=False):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(domain + ".enable", session=session)
        page.resize(width, height, mobile)
        return page

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except CdpError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.profile.cleanup()


class Page:
    def __init__(self, browser, session):
        self.b, self.session = browser, session

    def send(self, method, params=None, timeout=30):
        return self.b.send(method, params, self.session, timeout)

    def resize(self, width, height, mobile=False):
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def mark(self):
        """An index into the event list: what happens from now on."""
        with self.b._lock:
            return len(self.b.events)

    def navigate(self, url, timeout=30):
        since = self.mark()
        self.send("Page.navigate", {"url": url})
        self.b.wait_event(self.session, "Page.loadEventFired", since, timeout)
        return since

    def reload(self, timeout=30):
        since = self.mark()
        self.send("Page.reload", {"ignoreCache": False})
        self.b.wait_event(self.session, "Page.loadEventFired", since, timeout)
        return since

    def eval(self, expression, timeout=30):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True}, timeout)
        if "exceptionDetails" in r:
            raise CdpError("%s: %s" % (expression[:80], r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expression, timeout=20, what=None):
        """Polls a JavaScript expression until it is truthy; returns its value."""
        end = time.time() + timeout
        while True:
            v = self.eval(expression)
            if v:
                return v
            if time.time() > end:
                raise AssertionError("timed out waiting for %s" % (what or expression))
            time.sleep(0.1)

    def type_into(self, selector, text):
        """Focuses an input and types as a user would (key events, not a value set)."""
        self.eval("document.querySelector(%s).focus()" % json.dumps(selector))
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path, full_page=True):
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            m = self.send("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def screenshot_element(self, selector, path):
        """A PNG of one element (a panel), at its place in the laid-out page."""
        rect = self.eval("(() => { const r = document.querySelector(%s).getBoundingClientRect();"
                         " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; })()"
                         % json.dumps(selector))
        rect["scale"] = 1
        data = self.send("Page.captureScreenshot", {"format": "png", "clip": rect,
                                                    "captureBeyondViewport": True})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def problems(self, since):
        """Console errors, uncaught exceptions, failed loads and HTTP errors
        of this page's requests, from event index `since` on."""
        out = []
        with self.b._lock:
            events = [e for e in self.b.events[since:] if e[0] == self.session]
        for _, method, p in events:
            if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.%s: %s" % (p["type"], [a.get("value", a.get("description")) for a in p["args"]]))
            elif method == "Runtime.exceptionThrown":
                out.append("exception: %s" % p["exceptionDetails"].get("exception", {}).get("description"))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append("log: %s %s" % (p["entry"].get("text"), p["entry"].get("url", "")))
            elif method == "Network.loadingFailed" and not p.get("canceled"):
                out.append("failed load: %s %s" % (p.get("type"), p.get("errorText")))
            elif method == "Network.responseReceived" and p["response"]["status"] >= 400:
                out.append("HTTP %d: %s" % (p["response"]["status"], p["response"]["url"]))
        return out
