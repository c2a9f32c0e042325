"""Limits shared through Redis ([state.redis]): two aigw processes against one
real redis-server (started here on a free loopback port, no persistence)
share a key's rpm, tpm and daily quota within the tolerance of docs/state.md;
Redis killed mid-run puts each aigw on its fallback ("local": limit /
instances; "deny": 429) with no crash and no hang, and they share again when
it returns. Skipped (exit 77) when redis-server is not installed."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

from harness import Reader, Server, main, request

REDIS = shutil.which("redis-server")
if REDIS is None:
    print("SKIP: redis-server is not installed (scripts/install-deps --test installs it)")
    sys.exit(77)

SECRETS = {"shared": "sk-redis-shared-1a", "tokens": "sk-redis-tokens-2b", "quota": "sk-redis-quota-3c",
           "fall": "sk-redis-fall-4d"}
DEMO = '\n[[provider]]\nname = "demo"\nplugin = "local"\nmodels = ["aigw-demo"]\n'
ADMIN = '\n[admin]\nlisten = "127.0.0.1:0"\n'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, password=None):
        self.port = free_port()
        self.proc = None
        self.password = password

    def start(self):
        auth = ["--requirepass", self.password] if self.password else []
        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"] + auth,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 10
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("redis-server did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cli(self, *args):
        env = dict(os.environ, REDISCLI_AUTH=self.password) if self.password else None
        return subprocess.run(["redis-cli", "-p", str(self.port)] + list(args), capture_output=True,
                              text=True, timeout=10, env=env).stdout.strip()


def keys_config(keys):
    out = ""
    for name, limits in keys.items():
        out += '\n[[key]]\nname = "%s"\nsecret = "%s"\n%s\n' % (name, SECRETS[name], limits)
    return out


def redis_section(port, mode="local", instances=2, password=False):
    return ('\n[state.redis]\nurl = "redis://127.0.0.1:%d/0"\non_unavailable = "%s"\ninstances = %d\n'
            'connect_timeout = "200ms"\ncommand_timeout = "200ms"\n%s'
            % (port, mode, instances, 'password = "env:AIGW_TEST_REDIS_PASSWORD"\n' if password else ""))


def chat(max_tokens=20):
    return json.dumps({"model": "aigw-demo", "max_tokens": max_tokens,
                       "messages": [{"role": "user", "content": "hi"}]}).encode()


def blast(servers, name, total, clients_each=2, body=None):
    """`total` requests spread over `servers`, each client on one keep-alive
    connection; returns (statuses, usage tokens of the admitted, seconds)."""
    body = body or chat()
    per = total // (len(servers) * clients_each)
    results = []
    lock = threading.Lock()

    def client(server):
        got = []
        s = server.connect(timeout=10)
        rd = Reader(s)
        for _ in range(per):
            s.sendall(request("POST", "/v1/chat/completions", {"Authorization": "Bearer " + SECRETS[name]}, body))
            r = rd.read_response()
            tokens = r.json().get("usage", {}).get("total_tokens", 0) if r.status == 200 else 0
            got.append((r.status, tokens, r))
            if r.header("Connection") == "close":
                s.close()
                s = server.connect(timeout=10)
                rd = Reader(s)
        s.close()
        with lock:
            results.extend(got)

    start = time.time()
    threads = [threading.Thread(target=client, args=(srv,)) for srv in servers for _ in range(clients_each)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, time.time() - start


def get(server, path, admin=False):
    with server.connect(timeout=10, admin=admin) as s:
        s.sendall(request("GET", path))
        return Reader(s).read_response()


def metric(server, name):
    for line in get(server, "/metrics", admin=True).body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def wait_until(pred, timeout=5.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(what + " not met in %.1f s" % timeout)


def tolerance(limit, instances=2, workers=1, request=1):
    """docs/state.md: an instance holds at most 2 P in its pool plus W b in
    its workers (2 W b for tokens), with b = max(1, limit / (8 W N)) and
    P = max(T, b, the largest request), T = max(2, limit / (16 N))."""
    b = max(1, limit // (8 * workers * instances))
    p = max(2, limit // (16 * instances), b, request)
    return p, b


class SharedLimits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer()
        cls.redis.start()
        keys = keys_config({"shared": "rpm = 300", "tokens": "tpm = 6000", "quota": "daily_tokens = 600"})
        cfg = DEMO + ADMIN + keys + redis_section(cls.redis.port)
        cls.a = Server(cfg, workers=1)
        cls.b = Server(cfg, workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()
        cls.redis.kill()

    def test_rpm_is_shared_within_the_tolerance(self):
        limit = 300
        results, secs = blast([self.a, self.b], "shared", 1000)
        self.assertEqual(len(results), 1000)
        ok = sum(1 for st, _, _ in results if st == 200)
        refused = [r for st, _, r in results if st == 429]
        self.assertEqual(ok + len(refused), 1000, set(st for st, _, _ in results))
        t, b = tolerance(limit)
        bound = limit + int(limit * secs / 60) + 1 + 2 * (2 * t + b)
        self.assertLessEqual(ok, bound, "secs=%.2f" % secs)
        # One budget for both: far below the 600 two separate budgets admit,
        # and not much below the limit (only what pools still hold is unused).
        self.assertGreaterEqual(ok, limit - 2 * (2 * t + b))
        self.assertEqual(refused[0].json()["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(refused[0].header("x-ratelimit-limit-requests"), "300")
        self.assertIn(self.redis.cli("EXISTS", "aigw:{shared}:rpm"), ("1",))
        self.assertEqual(metric(self.a, "aigw_redis_up"), 1)
        self.assertGreater(metric(self.a, "aigw_redis_calls_total"), 0)
        # Nothing secret in Redis: keys are named by key name.
        self.assertNotIn("sk-redis", self.redis.cli("KEYS", "*"))

    def test_tpm_is_shared_within_the_tolerance(self):
        limit = 6000
        results, secs = blast([self.a, self.b], "tokens", 1000)
        used = sum(tok for st, tok, _ in results if st == 200)
        ok = sum(1 for st, _, _ in results if st == 200)
        self.assertGreater(ok, 0)
        self.assertEqual(ok + sum(1 for st, _, _ in results if st == 429), 1000)
        t, b = tolerance(limit)
        # Each request is estimated above its usage (max_tokens), so no
        # settle adds to the charge: usage <= what the budget admitted.
        bound = limit + int(limit * secs / 60) + 1 + 2 * (2 * t + 2 * b)
        self.assertLessEqual(used, bound, "secs=%.2f ok=%d" % (secs, ok))
        self.assertGreaterEqual(used, limit // 2)
        self.assertLess(used, 2 * limit - 2 * (2 * t + 2 * b))

    def test_daily_quota_is_shared(self):
        # a spends the quota until it is refused three times in a row (a
        # pool that ran dry an instant before Redis refills it refuses once)...
        refused = 0
        for _ in range(400):
            st = blast([self.a], "quota", 1, clients_each=1)[0][0]
            refused = refused + 1 if st[0] == 429 else 0
            if refused == 3:
                break
            if st[0] == 429:
                time.sleep(0.06)  # longer than a pool waits before asking Redis again (50 ms)
        self.assertEqual(refused, 3, "the quota of 600 tokens was never spent")
        self.assertEqual(st[2].json()["error"]["code"], "insufficient_quota")
        # ...and b, which never sent a request for this key, admits at most
        # the tokens its pool and worker held (counted as used in Redis, each
        # request using 4 of them), then refuses the same way: 600 tokens
        # for both, not 600 each.
        results, _ = blast([self.b], "quota", 60, clients_each=1)
        ok = sum(1 for st, _, _ in results if st == 200)
        usage = max([tok for st, tok, _ in results if st == 200] or [1])
        p, b = tolerance(600, request=40)
        self.assertLessEqual(ok, (2 * p + b) // usage + 1, [st for st, _, _ in results])
        self.assertEqual([st for st, _, _ in results[-3:]], [429] * 3)
        self.assertEqual(results[-1][2].json()["error"]["code"], "insufficient_quota")
        day = int(time.time()) // 86400
        self.assertGreaterEqual(int(self.redis.cli("GET", "aigw:{quota}:daily:%d" % day) or 0), 600 * 9 // 10)


REDIS_PASSWORD = "redis-pw-never-logged-5e9a"


class RedisKilledMidRun(unittest.TestCase):
    """One aigw on "local", one on "deny", both with rpm 40 over 2 instances,
    against a Redis with a password (from env:, never logged)."""

    @classmethod
    def setUpClass(cls):
        os.environ["AIGW_TEST_REDIS_PASSWORD"] = REDIS_PASSWORD
        cls.redis = RedisServer(password=REDIS_PASSWORD)
        cls.redis.start()
        keys = keys_config({"fall": "rpm = 40"})
        cls.local = Server(DEMO + ADMIN + keys + redis_section(cls.redis.port, "local", password=True), workers=1)
        cls.deny = Server(DEMO + ADMIN + keys + redis_section(cls.redis.port, "deny", password=True), workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.local.stop()
        cls.deny.stop()
        cls.redis.kill()

    def logged(self, server, msg):
        return any(msg in rec.get("msg", "") for rec in server.log_records())

    def test_fallback_then_recovery(self):
        self.assertEqual(blast([self.local, self.deny], "fall", 4, clients_each=1)[0][0][0], 200)
        self.redis.kill()
        for srv in (self.local, self.deny):
            wait_until(lambda: metric(srv, "aigw_redis_up") == 0, what="aigw_redis_up 0")
            self.assertGreater(metric(srv, "aigw_redis_errors_total"), 0)
        # local: each instance enforces its share, 40 / 2 = 20 (whatever is
        # left in the pool was leased from Redis earlier and is not used).
        results, secs = blast([self.local], "fall", 40, clients_each=1)
        ok = sum(1 for st, _, _ in results if st == 200)
        self.assertGreaterEqual(ok, 15)
        self.assertLessEqual(ok, 20 + 1)
        self.assertLess(secs, 10, "a request waited on the dead Redis")
        # deny: every limited request is refused at once.
        results, secs = blast([self.deny], "fall", 10, clients_each=1)
        self.assertEqual([st for st, _, _ in results], [429] * 10)
        self.assertLess(secs, 5)
        # One log line per change, not one per request.
        for srv in (self.local, self.deny):
            self.assertEqual(sum("redis unavailable" in rec.get("msg", "") for rec in srv.log_records()), 1)
            self.assertFalse(any("sk-redis" in line for line in srv.lines))
        self.redis.start()
        for srv in (self.local, self.deny):
            wait_until(lambda: metric(srv, "aigw_redis_up") == 1, timeout=8, what="aigw_redis_up 1")
            self.assertTrue(self.logged(srv, "redis available again"))
        # Shared again: the fresh Redis has a full bucket of 40 for both, and
        # the instance that refused everything admits again (a request may
        # find the pool not yet refilled just after the switch).
        wait_until(lambda: blast([self.deny], "fall", 1, clients_each=1)[0][0][0] == 200, timeout=8,
                   what="deny instance admitting again")
        results, _ = blast([self.deny], "fall", 10, clients_each=1)
        self.assertGreaterEqual([st for st, _, _ in results].count(200), 1,
                                ([st for st, _, _ in results], self.deny.lines[-6:]))
        # The password, through connects, a loss and a reconnect: in no log
        # line and no metric.
        for srv in (self.local, self.deny):
            self.assertFalse(any(REDIS_PASSWORD in line for line in srv.lines))
            self.assertNotIn(REDIS_PASSWORD, get(srv, "/metrics", admin=True).body.decode())


class Reload(unittest.TestCase):
    def test_reload_keeps_sharing_and_applies_new_limits(self):
        redis = RedisServer()
        redis.start()
        srv = Server(DEMO + ADMIN + keys_config({"shared": "rpm = 300"}) + redis_section(redis.port), workers=2)
        try:
            self.assertEqual(blast([srv], "shared", 2, clients_each=1)[0][0][0], 200)
            with open(srv.config_path) as f:
                text = f.read()

            def reload(new_text):
                with open(srv.config_path, "w") as f:
                    f.write(new_text)
                with srv.connect(timeout=10, admin=True) as s:
                    s.sendall(request("POST", "/admin/reload"))
                    return Reader(s).read_response()

            # Limits change at once; the Redis link and its pools stay.
            r = reload(text.replace("rpm = 300", "rpm = 10"))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["restart_required"], [])
            results, secs = blast([srv], "shared", 40, clients_each=2)
            ok = sum(1 for st, _, _ in results if st == 200)
            p, b = tolerance(10, workers=2)
            self.assertGreaterEqual(ok, 1)
            self.assertLessEqual(ok, 10 + 1 + 2 * (2 * p + 2 * b), [st for st, _, _ in results])
            self.assertEqual(metric(srv, "aigw_redis_up"), 1)
            self.assertEqual(sum("redis connected" in rec.get("msg", "") for rec in srv.log_records()), 1)
            # [state.redis] itself needs a restart.
            r = reload(text.replace("instances = 2", "instances = 3"))
            self.assertEqual(r.status, 200, r.body)
            self.assertIn("state.redis", r.json()["restart_required"])
        finally:
            srv.stop()
            redis.kill()


if __name__ == "__main__":
    main()
