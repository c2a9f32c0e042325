"""Usage of every instance through Redis ([state] with [state.redis]): two
aigw processes against one real redis-server (started here on a free
loopback port, no persistence) add their usage aggregates up in Redis, so
/admin/usage on either answers for both; source=local answers for one.
While Redis is away usage waits and is sent when it returns, nothing lost;
the shared answer is then a clear 503, the local one still works.
Skipped (exit 77) when redis-server is not installed."""

import json
import time
import unittest

from harness import Reader, main, request
from harness import Server
from test_redis_limits import ADMIN, DEMO, RedisServer, metric, wait_until

SECRETS = {"ua": "sk-usage-a-91f2", "ub": "sk-usage-b-77c0"}
KEYS = "".join('\n[[key]]\nname = "%s"\nsecret = "%s"\n' % kv for kv in SECRETS.items())
STATE = '\n[state]\nflush_interval = "100ms"\n'


def redis_section(port):
    return ('\n[state.redis]\nurl = "redis://127.0.0.1:%d/0"\ninstances = 2\n'
            'connect_timeout = "200ms"\ncommand_timeout = "200ms"\n' % port)


def chat(server, key):
    body = json.dumps({"model": "aigw-demo", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]})
    with server.connect(timeout=10) as s:
        s.sendall(request("POST", "/v1/chat/completions", {"Authorization": "Bearer " + SECRETS[key]},
                          body.encode()))
        r = Reader(s).read_response()
    assert r.status == 200, r.body
    return r.json()["usage"]["total_tokens"]


def usage(server, query, accept=None):
    with server.connect(timeout=10, admin=True) as s:
        s.sendall(request("GET", "/admin/usage?" + query, {"Accept": accept} if accept else {}))
        return Reader(s).read_response()


def by_key(resp):
    return {row["key"]: (row["requests"], row["total_tokens"]) for row in resp.json()["data"]}


class UsageOfEveryInstance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer()
        cls.redis.start()
        cfg = DEMO + ADMIN + KEYS + STATE + redis_section(cls.redis.port)
        cls.a = Server(cfg, workers=2)
        cls.b = Server(cfg, workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()
        cls.redis.kill()

    def test_every_instance_answers_for_all_and_nothing_is_lost_while_redis_is_away(self):
        tokens_a = sum(chat(self.a, "ua") for _ in range(5))
        tokens_b = sum(chat(self.b, "ub") for _ in range(3))
        want = {"ua": (5, tokens_a), "ub": (3, tokens_b)}
        # Within a flush or two (100 ms here), both instances answer alike.
        for srv in (self.a, self.b):
            wait_until(lambda: by_key(usage(srv, "group_by=key")) == want, timeout=5,
                       what="usage of both instances")
        resp = usage(self.a, "group_by=key")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.json()["source"], "all")
        # source=local: this instance's own file only.
        local = usage(self.a, "group_by=key&source=local")
        self.assertEqual(local.json()["source"], "local")
        self.assertEqual(by_key(local), {"ua": (5, tokens_a)})
        # Grouped by model and provider too, and as CSV.
        rows = usage(self.b, "group_by=key,model,provider&key=ub").json()["data"]
        self.assertEqual([(r["key"], r["model"], r["provider"], r["requests"]) for r in rows],
                         [("ub", "aigw-demo", "demo", 3)])
        csv = usage(self.a, "group_by=key", accept="text/csv")
        self.assertEqual(csv.header("Content-Type"), "text/csv; charset=utf-8")
        lines = csv.body.decode().split("\r\n")
        self.assertTrue(lines[0].startswith("key,requests,"))
        self.assertIn("ua,5,", lines[1])
        self.assertIn("ub,3,", lines[2])
        # Redis holds names, never a key's secret.
        day = time.strftime("%Y-%m-%d", time.gmtime())
        fields = self.redis.cli("HGETALL", "aigw:usage:{%s}" % day)
        self.assertIn("2:ua9:aigw-demo4:demorequests", fields)
        self.assertNotIn("sk-usage", fields)
        self.assertEqual(metric(self.a, 'aigw_redis_usage_rows_total{result="lost"}'), 0)
        self.assertGreater(metric(self.a, 'aigw_redis_usage_rows_total{result="sent"}'), 0)

        # Redis away: requests are served, usage waits (counted as pending).
        self.redis.kill()
        tokens_later = sum(chat(self.a, "ua") for _ in range(4))
        wait_until(lambda: metric(self.a, "aigw_redis_usage_pending_rows") >= 1, timeout=5,
                   what="usage waiting for Redis")
        away = usage(self.a, "group_by=key")
        self.assertEqual(away.status, 503)
        self.assertEqual(away.json()["error"]["code"], "redis_unavailable")
        self.assertIn("source=local", away.json()["error"]["message"])
        wait_until(lambda: by_key(usage(self.a, "group_by=key&source=local")) == {"ua": (9, tokens_a + tokens_later)},
                   timeout=5, what="this instance's own usage while Redis is away")
        wait_until(lambda: any("redis unavailable for the usage copy" in r.get("msg", "")
                               for r in self.a.log_records()), what="the warning")
        # Back (empty: no persistence): what waited arrives, nothing lost,
        # nothing counted twice.
        self.redis.start()
        wait_until(lambda: usage(self.a, "group_by=key").status == 200 and
                   by_key(usage(self.a, "group_by=key")) == {"ua": (4, tokens_later)}, timeout=10,
                   what="the usage that waited, in Redis")
        self.assertEqual(metric(self.a, 'aigw_redis_usage_rows_total{result="lost"}'), 0)
        self.assertEqual(metric(self.a, "aigw_redis_usage_pending_rows"), 0)
        wait_until(lambda: any("redis available again for the usage copy" in r.get("msg", "")
                               for r in self.a.log_records()), what="the recovery line")
        # One line per change, never one per flush.
        self.assertEqual(sum("redis unavailable for the usage copy" in r.get("msg", "")
                             for r in self.a.log_records()), 1)

    def test_bad_questions_are_400(self):
        r = usage(self.a, "from=2020-01-01&to=2026-01-01")
        self.assertEqual(r.status, 400)
        self.assertIn("at most 400 days", r.json()["error"]["message"])
        r = usage(self.a, "source=elsewhere")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "invalid_usage_query")


if __name__ == "__main__":
    main()
