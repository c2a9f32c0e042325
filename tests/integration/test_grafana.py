"""deploy/grafana/aigw.json against the real binary: every metric name its
queries use exists in /metrics after some traffic (a renamed metric must
fail here, not leave a chart blank), and the file is a dashboard Grafana can
import (unique panel ids, a Prometheus data source on every query). The
checks are functions so they also run on broken copies, which they must
catch."""

import copy
import json
import os
import re
import unittest

from harness import SOURCE_ROOT, Reader, Server, main, request

DASHBOARD = os.path.join(SOURCE_ROOT, "deploy", "grafana", "aigw.json")
ADMIN_KEY = "adm-grafana-51d0aa"
ALICE = "sk-grafana-alice-2b9e77"

CONFIG = """
[admin]
listen = "127.0.0.1:0"
api_key = "%s"

[[provider]]
name = "demo"
plugin = "local"
models = ["aigw-demo"]

[[key]]
name = "alice"
secret = "%s"
daily_tokens = 100000
monthly_tokens = 1000000
rpm = 2
""" % (ADMIN_KEY, ALICE)

METRIC = re.compile(r"\baigw_[a-z0-9_]+")


def queries(dash):
    out = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    out += [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    return out


def missing_metrics(dash, exposition):
    """Names the dashboard queries that /metrics does not have."""
    have = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            have.add(re.split(r"[{ ]", line, 1)[0])
    used = {m for q in queries(dash) for m in METRIC.findall(q)}
    return sorted(used - have)


def shape_problems(dash):
    problems = []
    ids = [p.get("id") for p in dash["panels"]]
    if len(ids) != len(set(ids)) or None in ids:
        problems.append("panel ids must be present and unique")
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        if not p.get("targets"):
            problems.append("panel %r has no query" % p.get("title"))
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("type") != "prometheus" or not t.get("expr"):
                problems.append("panel %r: a query without a Prometheus data source or expr" % p.get("title"))
        if not {"x", "y", "w", "h"} <= set(p.get("gridPos", {})):
            problems.append("panel %r has no place (gridPos)" % p.get("title"))
    for key in ("uid", "title", "schemaVersion"):
        if key not in dash:
            problems.append("no %s" % key)
    return problems


def admin_get(server, path):
    with server.connect(timeout=10, admin=True) as s:
        s.sendall(request("GET", path, {"Authorization": "Bearer " + ADMIN_KEY}))
        return Reader(s).read_response()


def chat(server, key):
    body = json.dumps({"model": "aigw-demo", "messages": [{"role": "user", "content": "hi"}]}).encode()
    with server.connect(timeout=10) as s:
        s.sendall(request("POST", "/v1/chat/completions", {"Authorization": "Bearer " + key}, body))
        return Reader(s).read_response().status


class GrafanaDashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD) as f:
            cls.dash = json.load(f)
        cls.server = Server(CONFIG)
        # Traffic that fills every labelled family the dashboard reads: an
        # answer, an rpm refusal, an unknown key.
        cls.statuses = [chat(cls.server, ALICE) for _ in range(3)] + [chat(cls.server, "sk-unknown")]
        cls.metrics = admin_get(cls.server, "/metrics").body.decode()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_traffic(self):
        self.assertEqual(self.statuses, [200, 200, 429, 401])

    def test_every_queried_metric_exists(self):
        self.assertGreater(len(queries(self.dash)), 10)
        self.assertEqual(missing_metrics(self.dash, self.metrics), [])

    def test_a_renamed_metric_is_caught(self):
        broken = copy.deepcopy(self.dash)
        broken["panels"][1]["targets"][0]["expr"] = "sum(rate(aigw_requests_count[5m]))"
        self.assertEqual(missing_metrics(broken, self.metrics), ["aigw_requests_count"])

    def test_shape(self):
        self.assertEqual(shape_problems(self.dash), [])
        broken = copy.deepcopy(self.dash)
        broken["panels"][2]["id"] = broken["panels"][1]["id"]
        del broken["panels"][3]["targets"][0]["datasource"]
        self.assertEqual(len(shape_problems(broken)), 2)


if __name__ == "__main__":
    main()
