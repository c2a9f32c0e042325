"""The operator's dashboard in a real browser (Debian's chromium, headless,
driven through the DevTools protocol: tests/integration/cdp.py) against the
real binary after a known sequence of requests: the page loads with no
console error and no failed fetch once the key is typed, every panel shows
the figures /metrics, /admin/providers, /admin/errors, /admin/config and
/admin/usage hold, tables page at
100 rows, the Reload button reloads, a wrong admin key shows a clear
message, the rendered DOM holds no secret of the config, and the page fits
a phone's width. Writes the screenshots docs/dashboard.md shows to
$AIGW_SCREENSHOT_DIR (meson: build/dashboard-screenshots), or to
docs/dashboard/ when run by hand without it. Skipped (77), with the reason,
when chromium is missing or cannot start."""

import json
import os
import re
import sys
import threading
import time
import unittest
import warnings

from harness import SOURCE_ROOT, Reader, Server, request
from cdp import Browser, CdpError, find_chromium

ADMIN_KEY = "adm-browser-93be1f"
ALICE = "sk-browser-alice-4a17c2"
BOB = "sk-browser-bob-0e58d3"
CAROL = "sk-browser-carol-77d2a9"  # no limits: the live traffic's key
# 60 upstream keys: 60 channels on each of 2 workers, 120 rows to page.
# The last is read from the environment (its value is a secret too; the
# config panel shows its "env:NAME").
UPSTREAM_KEYS = ["sk-upstream-secret-%02d-b7" % i for i in range(59)]
UPSTREAM_ENV = {"AIGW_BROWSER_UPSTREAM": "sk-upstream-from-env-c4e1"}
SECRETS = [ADMIN_KEY, ALICE, BOB, CAROL] + UPSTREAM_KEYS + list(UPSTREAM_ENV.values())

CONFIG = """
[admin]
listen = "127.0.0.1:0"
api_key = "%s"

[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]

[[provider]]
name = "dead"
plugin = "openai"
base_url = "http://127.0.0.1:9/v1"
api_keys = [%s]
models = ["dead-model"]

[[key]]
name = "alice"
secret = "%s"
daily_tokens = 1000

[[key]]
name = "bob"
secret = "%s"
rpm = 1

[[key]]
name = "carol"
secret = "%s"

[state]
flush_interval = "200ms"
""" % (ADMIN_KEY, ", ".join(['"%s"' % k for k in UPSTREAM_KEYS] + ['"env:AIGW_BROWSER_UPSTREAM"']),
       ALICE, BOB, CAROL)

SHOTS = os.environ.get("AIGW_SCREENSHOT_DIR") or os.path.join(SOURCE_ROOT, "docs", "dashboard")


def call(server, key, model="aigw-demo"):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hello dashboard"}]}).encode()
    with server.connect(timeout=20) as s:
        s.sendall(request("POST", "/v1/chat/completions", {"Authorization": "Bearer " + key}, body))
        return Reader(s).read_response().status


def admin(server, path):
    with server.connect(timeout=10, admin=True) as s:
        s.sendall(request("GET", path, {"Authorization": "Bearer " + ADMIN_KEY}))
        return Reader(s).read_response()


def metric_sums(text):
    """name -> [(labels, value)] from Prometheus text, for the test's own figures."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})?\s+(\S+)$', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


def text_of(page, selector):
    return page.eval("(() => { const e = document.querySelector(%s); return e ? e.textContent : null; })()"
                     % json.dumps(selector))


def table_rows(page, box):
    """The rows of a dashboard table as lists of cell texts."""
    return page.eval("[...document.querySelectorAll('#%s tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
                     % box)


def number(text):
    return float(text.replace(",", "").split()[0])


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = find_chromium()
        if binary is None:
            raise unittest.SkipTest("chromium is not installed (scripts/install-deps --test installs it)")
        cls.server = Server(CONFIG, workers=2, env=dict(os.environ, **UPSTREAM_ENV))
        # The known sequence: alice 3 answers; bob 1 answer and 1 refusal
        # (rpm = 1); one unknown key; one request whose provider is down.
        cls.statuses = [call(cls.server, ALICE) for _ in range(3)]
        cls.statuses += [call(cls.server, BOB), call(cls.server, BOB), call(cls.server, "sk-nobody")]
        cls.statuses.append(call(cls.server, ALICE, "dead-model"))
        # Usage is committed every flush_interval.
        end = time.time() + 10
        while time.time() < end:
            rows = admin(cls.server, "/admin/usage?group_by=key").json()["data"]
            if sum(r["requests"] for r in rows if r["key"] == "alice") >= 4:
                break
            time.sleep(0.1)
        os.makedirs(SHOTS, exist_ok=True)
        try:
            cls.browser = Browser(binary)
            cls.browser.send("Browser.getVersion", timeout=20)
        except (CdpError, OSError) as e:
            cls.server.stop()
            raise unittest.SkipTest("chromium cannot start here: %s" % e)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.server.stop()

    def url(self, query="?every=1"):
        return "http://127.0.0.1:%d/ui%s" % (self.server.admin_port, query)

    def signed_in_page(self, width=1280, height=900, mobile=False):
        """A tab where the key was typed once and the page then reloaded (the
        key kept in sessionStorage): returns the page and the event index
        after that reload, from which nothing may fail."""
        page = self.browser.new_page(width, height, mobile)
        page.navigate(self.url())
        page.wait_for("document.getElementById('status').textContent.includes('admin key')",
                      what="the request for a key")
        page.type_into("#key-input", ADMIN_KEY)
        page.eval("document.querySelector('#key-form button[type=submit]').click()")
        page.wait_for("document.getElementById('status').textContent.startsWith('Updated')", what="data")
        since = page.reload()
        page.wait_for("document.getElementById('status').textContent.startsWith('Updated')"
                      " && document.querySelectorAll('#usage-table tbody tr').length > 0", what="data after reload")
        return page, since

    def test_statuses_of_the_known_sequence(self):
        self.assertEqual(self.statuses[:6], [200, 200, 200, 200, 429, 401])
        self.assertGreaterEqual(self.statuses[6], 500)

    def test_wrong_key_shows_a_clear_message(self):
        page = self.browser.new_page()
        page.navigate(self.url())
        page.wait_for("document.getElementById('status').textContent.includes('needs its admin key')",
                      what="the request for a key")
        page.type_into("#key-input", "not-the-admin-key")
        page.eval("document.querySelector('#key-form button[type=submit]').click()")
        msg = page.wait_for("(() => { const s = document.getElementById('status');"
                            " return s.textContent.includes('refused') && s.className === 'error' && s.textContent; })()",
                            what="the refusal")
        self.assertIn("401", msg)
        self.assertIn("api_key", msg)
        # Nothing of the gateway is drawn for a wrong key.
        self.assertEqual(table_rows(page, "providers-table"), [])
        self.assertNotIn("not-the-admin-key", page.eval("document.documentElement.outerHTML"))
        page.screenshot(os.path.join(SHOTS, "wrong-key.png"), full_page=False)

    def test_panels_show_the_gateway_figures(self):
        page, since = self.signed_in_page()
        ms = metric_sums(admin(self.server, "/metrics").body.decode())
        requests = sum(v for _, v in ms["aigw_requests_total"])
        errors = sum(v for l, v in ms["aigw_requests_total"] if int(l["status"]) >= 400)
        tokens = sum(v for _, v in ms["aigw_tokens_total"])
        self.assertEqual(requests, 7)
        # Since start: exactly what /metrics says.
        self.assertEqual(number(text_of(page, "#total-requests")), requests)
        self.assertEqual(number(text_of(page, "#total-errors")), errors)
        self.assertEqual(number(text_of(page, "#total-tokens")), tokens)
        self.assertRegex(text_of(page, "#total-p50"), r"^\d+ (ms|s)$")
        self.assertRegex(text_of(page, "#total-ttft-p99"), r"^\d+ (ms|s)$")
        # Generation 1: unittest runs methods alphabetically, so this runs
        # before test_reload_button_reloads makes generation 2.
        self.assertEqual(number(text_of(page, "#total-generation")), 1)
        # Now: rates appear from the second scrape on (every=1 s); nothing runs.
        page.wait_for("/^[0-9]/.test(document.getElementById('now-rps').textContent)", what="a rate")
        self.assertEqual(number(text_of(page, "#now-rps")), 0)
        self.assertEqual(number(text_of(page, "#now-streams")), 0)
        self.assertTrue(page.eval("document.querySelectorAll('#now-chart polyline').length === 2"))
        # The chart is the gateway's 15 minutes (90 buckets) from the first
        # refresh, with the known sequence's requests in it.
        self.assertEqual(page.eval("document.querySelector('#now-chart polyline.ok').getAttribute('points')"
                                   ".split(' ').length"), 90)
        self.assertIn("last 15 min", text_of(page, "#now-chart text"))
        hist = admin(self.server, "/admin/history").json()
        self.assertEqual(sum(b["requests"] for b in hist["buckets"]), requests)

        # Keys: names only, with their counts, refusals and quota.
        keys = {r[0]: r for r in table_rows(page, "keys-table")}
        self.assertEqual(number(keys["alice"][1]), 4)    # 3 answers + the dead provider's failure
        self.assertEqual(number(keys["bob"][1]), 2)
        self.assertEqual(number(keys["bob"][4]), 1)      # refused by rpm
        self.assertNotIn("(no key)", keys)
        self.assertIn("3 keys · 1 requests with no key (1 refused)", text_of(page, "#keys-summary"))
        alice_tokens = sum(v for l, v in ms["aigw_tokens_total"] if l["key"] == "alice")
        self.assertEqual(number(keys["alice"][3]), alice_tokens)
        self.assertIn("/ 1,000", keys["alice"][5])        # daily_tokens
        self.assertEqual(keys["bob"][5], "—")             # no daily quota
        self.assertRegex(keys["bob"][7], r"^[01] / 1$")  # rpm left (0 within the minute of bob's request)
        self.assertEqual(keys["alice"][7], "—")           # no rpm limit
        # Sorted by the gateway: the largest spender first.
        page.eval("document.getElementById('keys-sort').value = 'tokens';"
                  "document.getElementById('keys-sort').dispatchEvent(new Event('change'))")
        page.wait_for("document.querySelector('#keys-table tbody tr td').textContent === 'alice'"
                      " && document.querySelectorAll('#keys-table tbody tr').length === 3", what="keys by tokens")
        page.eval("document.getElementById('keys-filter').value = 'ca';"
                  "document.getElementById('keys-filter').dispatchEvent(new Event('input'))")
        page.wait_for("document.querySelectorAll('#keys-table tbody tr').length === 1", what="the key filter")
        self.assertEqual(table_rows(page, "keys-table")[0][0], "carol")
        page.eval("document.getElementById('keys-filter').value = '';"
                  "document.getElementById('keys-sort').value = 'name';"
                  "document.getElementById('keys-sort').dispatchEvent(new Event('change'))")
        page.wait_for("document.querySelectorAll('#keys-table tbody tr').length === 3", what="every key again")

        # Providers: 61 channels on each of 2 workers, paged at 100 rows.
        rows = table_rows(page, "providers-table")
        self.assertEqual(len(rows), 100)
        self.assertIn("rows 1–100 of 122", text_of(page, "#providers .pager"))
        page.eval("[...document.querySelectorAll('#providers .pager button')].pop().click()")
        self.assertEqual(len(table_rows(page, "providers-table")), 22)
        page.eval("document.getElementById('providers-filter').value = 'demo';"
                  "document.getElementById('providers-filter').dispatchEvent(new Event('input'))")
        demo = table_rows(page, "providers-table")
        self.assertEqual(sorted(r[0] for r in demo), ["0", "1"])
        self.assertEqual({r[1] for r in demo}, {"demo#0"})
        self.assertEqual(sum(number(r[7]) for r in demo), 4)  # alice's 3 and bob's 1
        # The dead provider's channel says what failed last, and when.
        page.eval("document.getElementById('providers-filter').value = 'dead';"
                  "document.getElementById('providers-filter').dispatchEvent(new Event('input'))")
        dead = table_rows(page, "providers-table")
        self.assertTrue(any(r[11].startswith("connect ") and r[11].endswith(" ago") for r in dead), dead)
        self.assertTrue(all(r[12] == "—" for r in dead), dead)  # no probe configured
        page.eval("document.getElementById('providers-filter').value = '';"
                  "document.getElementById('providers-filter').dispatchEvent(new Event('input'))")

        # Recent errors: the three failures of the known sequence, newest first.
        errs = table_rows(page, "errors-table")
        self.assertEqual(len(errs), 3)
        self.assertGreaterEqual(int(errs[0][1]), 500)          # the dead provider, last
        self.assertEqual((errs[0][3], errs[0][4], errs[0][5]), ("alice", "dead-model", "dead"))
        self.assertEqual((errs[1][1], errs[1][2], errs[1][3]), ("401", "invalid_api_key", "(no key)"))
        self.assertEqual((errs[2][1], errs[2][3]), ("429", "bob"))

        # Usage: the store's rows, a bar each, and the CSV through fetch.
        usage = admin(self.server, "/admin/usage").json()["data"]
        urows = table_rows(page, "usage-table")
        self.assertEqual(len(urows), len(usage))
        alice = [r for r in urows if r[0] == "alice" and r[1] == "aigw-demo"][0]
        self.assertEqual(number(alice[2]), 3)
        self.assertEqual(page.eval("document.querySelectorAll('#usage-chart rect').length"), len(usage))
        csv = page.eval("fetch('/admin/usage?group_by=key', {headers: {Accept: 'text/csv',"
                        " Authorization: 'Bearer ' + sessionStorage.getItem('aigw-admin-key')}}).then(r => r.text())")
        self.assertTrue(csv.startswith("key,requests"), csv[:80])

        # No secret of the config anywhere in what is rendered.
        dom = page.eval("document.documentElement.outerHTML + document.body.innerText")
        for secret in SECRETS:
            self.assertNotIn(secret, dom)
        self.assertEqual(page.eval("document.getElementById('key-input').value"), "")

        self.assertEqual(page.problems(since), [])
        page.screenshot(os.path.join(SHOTS, "dashboard.png"))
        # (The Now panel's picture is taken under traffic, below.)
        for panel in ("providers", "keys", "errors", "usage"):
            page.screenshot_element("#" + panel, os.path.join(SHOTS, "panel-%s.png" % panel))

    def test_config_panel(self):
        # Runs before test_reload_button_reloads (alphabetical): generation 1.
        page, since = self.signed_in_page()
        page.wait_for("document.querySelectorAll('#plugins-table tbody tr').length === 2", what="the plugins")
        plugins = {r[0]: r for r in table_rows(page, "plugins-table")}
        self.assertEqual(set(plugins), {"local", "openai"})
        self.assertEqual(plugins["openai"][5], "http")
        self.assertEqual(plugins["local"][5], "direct")
        self.assertEqual(plugins["openai"][6], "dead")
        self.assertRegex(plugins["openai"][2], r"^1\.\d+$")
        self.assertIn("generation 1", text_of(page, "#config-summary"))
        self.assertEqual(text_of(page, "#config-restart"), "")
        page.eval("document.querySelector('#config details').open = true")
        text = text_of(page, "#config-text")
        shown = json.loads(text)
        self.assertEqual(shown["admin"]["api_key"], "<redacted>")
        self.assertEqual([k["name"] for k in shown["keys"]], ["alice", "bob", "carol"])
        dead = [p for p in shown["providers"] if p["name"] == "dead"][0]
        self.assertEqual(dead["plugin_settings"]["api_keys"], ["<redacted>"] * 59 + ["env:AIGW_BROWSER_UPSTREAM"])
        dom = page.eval("document.documentElement.outerHTML + document.body.innerText")
        for secret in SECRETS:
            self.assertNotIn(secret, dom)
        self.assertEqual(page.problems(since), [])
        page.screenshot_element("#config", os.path.join(SHOTS, "panel-config.png"))

    def test_reload_button_reloads(self):
        page, since = self.signed_in_page()
        before = [l for l in self.server.lines if "reload" in l.lower()]
        page.eval("document.getElementById('reload').click()")
        msg = page.wait_for("(() => { const t = document.getElementById('reload-result').textContent;"
                            " return t.startsWith('Reloaded') && t; })()", what="the reload's answer")
        self.assertNotIn("error", page.eval("document.getElementById('reload-result').className"))
        # A new plugin generation, seen by the page and by /metrics.
        page.wait_for("document.getElementById('total-generation').textContent === '2'", what="generation 2")
        ms = metric_sums(admin(self.server, "/metrics").body.decode())
        self.assertEqual(ms["aigw_plugin_generation"][0][1], 2)
        self.assertGreater(len([l for l in self.server.lines if "reload" in l.lower()]), len(before), msg)
        self.assertEqual(page.problems(since), [])

    def test_then_live_traffic_moves_the_now_panel(self):
        # Named to run after the panels test (which needs a quiet gateway).
        page, since = self.signed_in_page()
        stop = threading.Event()
        sent = []

        def traffic():
            while not stop.is_set():
                sent.append(call(self.server, CAROL))
                time.sleep(0.02)
        t = threading.Thread(target=traffic)
        t.start()
        try:
            rate = page.wait_for("(() => { const t = document.getElementById('now-rps').textContent;"
                                 " return /^[0-9]/.test(t) && Number(t.replace(/,/g, '')) > 0 && t; })()",
                                 what="a rate above 0")
            page.wait_for("Number(document.getElementById('now-tps').textContent.replace(/,/g, '')) > 0",
                          what="tokens/s above 0")
            page.wait_for("(document.querySelector('#now-chart polyline.ok') || {getAttribute: () => ''})"
                          ".getAttribute('points').split(' ').length >= 3", what="three points on the chart")
            page.screenshot_element("#now", os.path.join(SHOTS, "panel-now-traffic.png"))
        finally:
            stop.set()
            t.join()
        self.assertTrue(sent and all(s == 200 for s in sent), sent[:5])
        # At most what one client sending in a loop can do on this machine.
        self.assertLess(number(rate), 1000)
        self.assertEqual(page.problems(since), [])

    def test_phone_width(self):
        page, since = self.signed_in_page(390, 844, mobile=True)
        # The page itself never scrolls sideways; wide tables scroll in their box.
        self.assertLessEqual(page.eval("document.documentElement.scrollWidth"), 390)
        self.assertEqual(page.eval("getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length"), 1)
        self.assertEqual(page.problems(since), [])
        page.screenshot(os.path.join(SHOTS, "phone.png"))


if __name__ == "__main__":
    warnings.simplefilter("ignore", ResourceWarning)
    result = unittest.main(verbosity=2, exit=False).result
    if not result.wasSuccessful():
        sys.exit(1)
    # Everything skipped (no chromium): meson's skip code, so the summary
    # counts it as skipped, not passed.
    sys.exit(77 if result.testsRun and len(result.skipped) == result.testsRun else 0)
