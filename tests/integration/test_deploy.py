"""deploy/: the Kubernetes manifests and the Containerfile agree with the
configuration they carry.

Nothing here starts a container or a cluster. Each check is a function that
returns the problems it finds, so the tests can run them on the files as
shipped (no problem allowed) and on broken copies (the problem must be
found): a check that cannot fail proves nothing.

`kubectl apply --dry-run=client` runs only with AIGW_TEST_KUBECTL=1: even a
client dry run asks the API server for its resource list, so without a
cluster it cannot work, and with one it would talk to whatever cluster the
current kubeconfig names.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
import unittest

import yaml

from harness import AIGW, SOURCE_ROOT, main

K8S_DIR = os.path.join(SOURCE_ROOT, "deploy", "k8s")
CONTAINER_DIR = os.path.join(SOURCE_ROOT, "deploy", "container")
CONFIG_PATH_IN_IMAGE = "/etc/aigw/aigw.toml"
# aigw gives the responses it ends at shutdown_grace half a second to leave
# (docs/architecture.md, Shutdown).
LAST_BYTES_S = 0.5


# --- reading -------------------------------------------------------------

def load_manifests(directory=K8S_DIR):
    """Every document of every .yaml file: {(kind, name): object}."""
    objs = {}
    for fn in sorted(os.listdir(directory)):
        if not fn.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(directory, fn)) as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                key = (doc.get("kind"), (doc.get("metadata") or {}).get("name"))
                if key in objs:
                    raise ValueError("%s: %s/%s defined twice" % (fn, key[0], key[1]))
                objs[key] = doc
    return objs


def duration_s(text):
    """A docs/config.md duration ("1m30s", "250ms", "0") in seconds."""
    if text == "0":
        return 0.0
    parts = re.findall(r"(\d+)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("not a duration: %r" % text)
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(int(n) * scale[u] for n, u in parts)


def documented_default(key):
    """The default of a [server] key from docs/config.md's table, so the
    test follows the documentation rather than a copy of it."""
    with open(os.path.join(SOURCE_ROOT, "docs", "config.md")) as f:
        text = f.read()
    section = text.split("## `[server]`", 1)[1].split("\n### ", 1)[0]
    m = re.search(r"^\|\s*`%s`\s*\|[^|]*\|\s*`\"?([^`\"]+)\"?`\s*\|" % re.escape(key), section, re.M)
    if not m:
        raise ValueError("docs/config.md has no default for server.%s" % key)
    return m.group(1)


def listen_ports(listen):
    """Ports of a listen value (a string or an array of "<ip>:<port>")."""
    addrs = [listen] if isinstance(listen, str) else list(listen or [])
    return {int(a.rsplit(":", 1)[1]) for a in addrs}


def listen_hosts(listen):
    addrs = [listen] if isinstance(listen, str) else list(listen or [])
    return {a.rsplit(":", 1)[0] for a in addrs}


def env_names(value):
    """The NAMEs of every "env:NAME" string in a parsed TOML value (comments
    are not values, so a commented-out example does not count)."""
    if isinstance(value, str):
        return {value[4:]} if value.startswith("env:") else set()
    if isinstance(value, dict):
        value = value.values()
    if isinstance(value, list) or not isinstance(value, (str, int, float, bool)):
        return set().union(*(env_names(v) for v in value)) if value else set()
    return set()


def config_of(objs):
    cm = objs.get(("ConfigMap", "aigw-config"))
    if cm is None or "aigw.toml" not in (cm.get("data") or {}):
        raise ValueError("no ConfigMap aigw-config with aigw.toml")
    return cm["data"]["aigw.toml"]


def container_of(objs):
    dep = objs[("Deployment", "aigw")]
    return dep, dep["spec"]["template"]["spec"], dep["spec"]["template"]["spec"]["containers"][0]


def named_ports(container):
    return {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}


def resolve_port(container, port):
    """A probe's or Service's target port (a number or a container port name)."""
    return port if isinstance(port, int) else named_ports(container).get(port)


# --- checks: each returns a list of problems -----------------------------

def check_ports(objs):
    cfg = tomllib.loads(config_of(objs))
    _, _, c = container_of(objs)
    problems = []
    public = listen_ports(cfg.get("server", {}).get("listen", "127.0.0.1:8080"))
    admin = listen_ports(cfg.get("admin", {}).get("listen", []))
    if not admin:
        problems.append("the config has no [admin] listen: no /metrics for the ServiceMonitor")
    declared = {p["containerPort"] for p in c.get("ports", [])}
    if declared != public | admin:
        problems.append("containerPorts %s != the config's listen ports %s" % (sorted(declared), sorted(public | admin)))
    for section, listen in (("server", cfg.get("server", {}).get("listen", "127.0.0.1:8080")),
                            ("admin", cfg.get("admin", {}).get("listen", []))):
        for host in listen_hosts(listen):
            if host.startswith("127.") or host == "[::1]":
                problems.append("%s.listen %s is loopback: unreachable from the pod IP" % (section, host))
    if resolve_port(c, "http") not in public:
        problems.append("container port 'http' is not a server.listen port")
    if resolve_port(c, "admin") not in admin:
        problems.append("container port 'admin' is not an admin.listen port")
    return problems


def check_probes(objs):
    cfg = tomllib.loads(config_of(objs))
    _, _, c = container_of(objs)
    problems = []
    serving = listen_ports(cfg.get("server", {}).get("listen", "127.0.0.1:8080")) | \
        listen_ports(cfg.get("admin", {}).get("listen", []))
    for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
        get = (c.get(probe) or {}).get("httpGet")
        if not get:
            problems.append("%s is not an httpGet probe" % probe)
            continue
        if get.get("path") != path:
            problems.append("%s path %r, want %r" % (probe, get.get("path"), path))
        if resolve_port(c, get.get("port")) not in serving:
            problems.append("%s port %r is no port aigw listens on" % (probe, get.get("port")))
    return problems


def check_shutdown_timing(objs):
    cfg = tomllib.loads(config_of(objs))
    _, pod, c = container_of(objs)
    server = cfg.get("server", {})
    delay = duration_s(server.get("shutdown_delay", documented_default("shutdown_delay")))
    grace = duration_s(server.get("shutdown_grace", documented_default("shutdown_grace")))
    problems = []
    tgps = pod.get("terminationGracePeriodSeconds", 30)  # Kubernetes' default
    if not tgps > delay + grace + LAST_BYTES_S:
        problems.append("terminationGracePeriodSeconds %s <= shutdown_delay %gs + shutdown_grace %gs + %gs"
                        % (tgps, delay, grace, LAST_BYTES_S))
    # docs/config.md: shutdown_delay should cover periodSeconds x failureThreshold,
    # or the pod closes before its readiness probe has failed.
    rp = c.get("readinessProbe") or {}
    seen_after = rp.get("periodSeconds", 10) * rp.get("failureThreshold", 3)
    if seen_after > delay:
        problems.append("readiness fails only after %ss, longer than shutdown_delay %gs" % (seen_after, delay))
    return problems


def check_secrets_wiring(objs):
    """Every env:NAME of the config reaches the container, from a Secret key
    that exists; and the example Secret holds placeholders only."""
    text = config_of(objs)
    _, _, c = container_of(objs)
    problems = []
    env = {e["name"]: e for e in c.get("env", [])}
    for name in sorted(env_names(tomllib.loads(text))):
        ref = ((env.get(name) or {}).get("valueFrom") or {}).get("secretKeyRef")
        if ref is None:
            problems.append("env:%s of the config is not set from a Secret in the container" % name)
            continue
        secret = objs.get(("Secret", ref["name"]))
        data = {**((secret or {}).get("stringData") or {}), **((secret or {}).get("data") or {})}
        if ref["key"] not in data:
            problems.append("env %s: Secret %s has no key %s" % (name, ref["name"], ref["key"]))
    for (kind, name), obj in objs.items():
        if kind == "Secret":
            for k, v in (obj.get("stringData") or {}).items():
                if "REPLACE-ME" not in str(v):
                    problems.append("Secret %s key %s is not a REPLACE-ME placeholder" % (name, k))
            if obj.get("data"):
                problems.append("Secret %s has base64 data: example Secrets hold placeholders only" % name)
    return problems


def check_security(objs):
    _, pod, c = container_of(objs)
    problems = []
    psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
    merged = {**psc, **csc}
    if merged.get("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if merged.get("runAsUser", 1) == 0:
        problems.append("runAsUser is 0")
    if csc.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem is not true")
    if csc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
        problems.append("capabilities do not drop ALL")
    seccomp = (merged.get("seccompProfile") or {}).get("type")
    if seccomp not in ("Unconfined", "Localhost"):
        # RuntimeDefault (or nothing: the runtime's default) refuses io_uring
        # on containerd 2.0 and Docker 25+: aigw would not start.
        problems.append("seccompProfile %r: the runtime default refuses io_uring" % seccomp)
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(part) or {}):
                problems.append("resources.%s.%s is not set" % (part, r))
    # A read-only root leaves aigw nowhere to copy its plugins (/tmp).
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    if csc.get("readOnlyRootFilesystem") and "emptyDir" not in vols.get(mounts.get("/tmp"), {}):
        problems.append("read-only root without an emptyDir at /tmp for the plugin copies")
    cfg_vol = vols.get(mounts.get(os.path.dirname(CONFIG_PATH_IN_IMAGE)), {})
    if (cfg_vol.get("configMap") or {}).get("name") != "aigw-config":
        problems.append("%s is not the ConfigMap aigw-config" % os.path.dirname(CONFIG_PATH_IN_IMAGE))
    return problems


def check_services(objs):
    cfg = tomllib.loads(config_of(objs))
    dep, _, c = container_of(objs)
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    public = listen_ports(cfg.get("server", {}).get("listen", "127.0.0.1:8080"))
    admin = listen_ports(cfg.get("admin", {}).get("listen", []))
    problems = []
    services = {name: o for (kind, name), o in objs.items() if kind == "Service"
                and all(pod_labels.get(k) == v for k, v in (o["spec"].get("selector") or {}).items())}
    targets = {}
    for name, svc in services.items():
        for p in svc["spec"]["ports"]:
            targets[(name, p.get("name"))] = resolve_port(c, p.get("targetPort", p.get("port")))
    if not public & set(targets.values()):
        problems.append("no Service reaches the public port %s" % sorted(public))
    sm = objs.get(("ServiceMonitor", "aigw"))
    if sm is None:
        return problems + ["no ServiceMonitor aigw"]
    sel = (sm["spec"].get("selector") or {}).get("matchLabels") or {}
    picked = [n for n, s in services.items()
              if all((s["metadata"].get("labels") or {}).get(k) == v for k, v in sel.items())]
    if not picked:
        problems.append("the ServiceMonitor selects no Service of the pods")
    for ep in sm["spec"].get("endpoints", []):
        for n in picked:
            t = targets.get((n, ep.get("port")))
            if t not in admin:
                problems.append("ServiceMonitor port %r on Service %s reaches %r, not the admin port %s"
                                % (ep.get("port"), n, t, sorted(admin)))
            if t in public:
                problems.append("ServiceMonitor scrapes the public port")
        if ep.get("path") != "/metrics":
            problems.append("ServiceMonitor path %r, want /metrics" % ep.get("path"))
        if "api_key" in cfg.get("admin", {}):
            want = cfg["admin"]["api_key"].removeprefix("env:")
            env = {e["name"]: e for e in c.get("env", [])}
            ref = ((env.get(want) or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            creds = (ep.get("authorization") or {}).get("credentials") or {}
            if (creds.get("name"), creds.get("key")) != (ref.get("name"), ref.get("key")):
                problems.append("ServiceMonitor's bearer token %s is not the admin api_key's Secret %s"
                                % (creds, ref))
    for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler"):
        if (kind, "aigw") not in objs:
            problems.append("no %s aigw" % kind)
    pdb = objs.get(("PodDisruptionBudget", "aigw"))
    if pdb and (pdb["spec"]["selector"].get("matchLabels") or {}).items() - pod_labels.items():
        problems.append("the PodDisruptionBudget does not select the aigw pods")
    hpa = objs.get(("HorizontalPodAutoscaler", "aigw"))
    if hpa and (hpa["spec"]["scaleTargetRef"].get("kind"), hpa["spec"]["scaleTargetRef"].get("name")) != \
            ("Deployment", dep["metadata"]["name"]):
        problems.append("the HorizontalPodAutoscaler does not scale the aigw Deployment")
    return problems


def parse_containerfile(text):
    """Instructions of the last stage: [(INSTRUCTION, argument text)], with
    continuation lines joined and comments dropped."""
    lines, cur = [], ""
    for raw in text.splitlines():
        if not cur and raw.lstrip().startswith("#"):
            continue
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        cur += raw
        if cur.strip():
            word, _, rest = cur.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
        cur = ""
    last_from = max(i for i, (w, _) in enumerate(lines) if w == "FROM")
    return lines[last_from:]


def check_containerfile(text, image_config_text, k8s_objs):
    stage = parse_containerfile(text)
    problems = []
    get = lambda w: [a for x, a in stage if x == w]  # noqa: E731
    if not stage[0][1].startswith("debian:12-slim"):
        problems.append("the final stage is %r, not debian:12-slim" % stage[0][1])
    expose = {int(p.split("/")[0]) for a in get("EXPOSE") for p in a.split()}
    cfg = tomllib.loads(image_config_text)
    ports = listen_ports(cfg.get("server", {}).get("listen", "127.0.0.1:8080")) | \
        listen_ports(cfg.get("admin", {}).get("listen", []))
    if expose != ports:
        problems.append("EXPOSE %s != the image config's listen ports %s" % (sorted(expose), sorted(ports)))
    _, _, c = container_of(k8s_objs)
    k8s_ports = {p["containerPort"] for p in c.get("ports", [])}
    if expose != k8s_ports:
        problems.append("EXPOSE %s != the Deployment's containerPorts %s" % (sorted(expose), sorted(k8s_ports)))
    if get("STOPSIGNAL") != ["SIGTERM"]:
        problems.append("STOPSIGNAL is %s, not SIGTERM" % get("STOPSIGNAL"))
    users = get("USER")
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the image runs as root (USER %s)" % (users[-1] if users else "unset"))
    entry = get("ENTRYPOINT")
    if not entry or json.loads(entry[-1]) != ["aigw", "serve", "-c", CONFIG_PATH_IN_IMAGE]:
        problems.append("ENTRYPOINT %s is not aigw serve -c %s" % (entry, CONFIG_PATH_IN_IMAGE))
    hc = " ".join(get("HEALTHCHECK"))
    public = listen_ports(cfg.get("server", {}).get("listen", "127.0.0.1:8080"))
    hc_ports = {int(p) for p in re.findall(r"(?:/dev/tcp/[^/\s]+/|:)(\d+)\b", hc)}
    if "/health" not in hc or not hc_ports & public:
        problems.append("HEALTHCHECK does not ask /health on a public port: %r" % hc)
    return problems


# --- the tests -------------------------------------------------------------

class Manifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objs = load_manifests()

    def test_every_document_is_a_kubernetes_object(self):
        kinds = {k for k, _ in self.objs}
        for want in ("ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler", "ServiceMonitor"):
            self.assertIn(want, kinds)
        for (kind, name), o in self.objs.items():
            self.assertTrue(o.get("apiVersion"), (kind, name))
            self.assertTrue(kind and name, o)

    def test_shipped_files_have_no_problem(self):
        for check in (check_ports, check_probes, check_shutdown_timing, check_secrets_wiring,
                      check_security, check_services):
            with self.subTest(check=check.__name__):
                self.assertEqual(check(self.objs), [])

    def test_configmap_config_passes_check_config(self):
        text = config_of(self.objs)
        self.assert_check_config(text)

    def test_image_config_passes_check_config(self):
        with open(os.path.join(CONTAINER_DIR, "aigw.toml")) as f:
            self.assert_check_config(f.read())

    def assert_check_config(self, text):
        # check-config resolves each base_url's host and tests have no
        # network: the host becomes 127.0.0.1, the rest stays as written
        # (as test_cli does for the README's examples).
        text = re.sub(r'(base_url = "https?://)[^/:"]+', r"\g<1>127.0.0.1", text)
        env = dict(os.environ)
        for name in re.findall(r'"env:([A-Za-z_][A-Za-z0-9_]*)"', text):
            env[name] = "test-dummy-" + name.lower()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "aigw.toml")
            with open(path, "w") as f:
                f.write(text)
            r = subprocess.run([AIGW, "check-config", "-c", path], capture_output=True, text=True,
                               timeout=60, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_containerfile(self):
        with open(os.path.join(CONTAINER_DIR, "Containerfile")) as f:
            text = f.read()
        with open(os.path.join(CONTAINER_DIR, "aigw.toml")) as f:
            image_cfg = f.read()
        self.assertEqual(check_containerfile(text, image_cfg, self.objs), [])

    def test_kubectl_client_dry_run(self):
        if os.environ.get("AIGW_TEST_KUBECTL") != "1":
            self.skipTest("kubectl apply --dry-run=client needs an API server for its resource list "
                          "(no cluster here); set AIGW_TEST_KUBECTL=1 to run it against the current kubeconfig")
        if not shutil.which("kubectl"):
            self.skipTest("kubectl is not installed")
        # The ServiceMonitor needs the Prometheus Operator's CRD; the rest is core.
        files = [os.path.join(K8S_DIR, f) for f in sorted(os.listdir(K8S_DIR))
                 if f.endswith(".yaml") and f != "servicemonitor.yaml"]
        args = ["kubectl", "apply", "--dry-run=client"] + [a for f in files for a in ("-f", f)]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


class ChecksCatchMistakes(unittest.TestCase):
    """Each check, fed a broken copy of the shipped files, reports it."""

    @classmethod
    def setUpClass(cls):
        cls.objs = load_manifests()
        with open(os.path.join(CONTAINER_DIR, "Containerfile")) as f:
            cls.containerfile = f.read()
        with open(os.path.join(CONTAINER_DIR, "aigw.toml")) as f:
            cls.image_cfg = f.read()

    def broken(self, edit):
        objs = copy.deepcopy(self.objs)
        edit(objs)
        return objs

    def set_config(self, objs, text):
        objs[("ConfigMap", "aigw-config")]["data"]["aigw.toml"] = text

    def test_grace_period_too_short(self):
        objs = self.broken(lambda o: container_of(o)[1].update(terminationGracePeriodSeconds=40))
        self.assertTrue(check_shutdown_timing(objs))

    def test_documented_defaults_apply_when_unset(self):
        # Without shutdown_* in the config the defaults of docs/config.md
        # (5 s + 30 s) count: 35 s is not enough, 36 is.
        def edit(o, tgps):
            text = re.sub(r"(?m)^shutdown_(delay|grace) = .*\n", "", config_of(o))
            self.set_config(o, text)
            container_of(o)[1]["terminationGracePeriodSeconds"] = tgps
            container_of(o)[2]["readinessProbe"].update(periodSeconds=2, failureThreshold=2)
        self.assertTrue(check_shutdown_timing(self.broken(lambda o: edit(o, 35))))
        self.assertEqual(check_shutdown_timing(self.broken(lambda o: edit(o, 36))), [])

    def test_readiness_slower_than_shutdown_delay(self):
        objs = self.broken(lambda o: container_of(o)[2]["readinessProbe"].update(failureThreshold=5))
        self.assertTrue(check_shutdown_timing(objs))

    def test_container_port_differs_from_config(self):
        objs = self.broken(lambda o: container_of(o)[2]["ports"][0].update(containerPort=8081))
        self.assertTrue(check_ports(objs))

    def test_loopback_listen(self):
        objs = self.broken(lambda o: self.set_config(
            o, config_of(o).replace('"0.0.0.0:8080"', '"127.0.0.1:8080"')))
        self.assertTrue(check_ports(objs))

    def test_wrong_probe_path(self):
        objs = self.broken(lambda o: container_of(o)[2]["readinessProbe"]["httpGet"].update(path="/health"))
        self.assertTrue(check_probes(objs))

    def test_probe_on_unknown_port(self):
        objs = self.broken(lambda o: container_of(o)[2]["livenessProbe"]["httpGet"].update(port=8888))
        self.assertTrue(check_probes(objs))

    def test_servicemonitor_on_public_port(self):
        def edit(o):
            for p in o[("Service", "aigw-admin")]["spec"]["ports"]:
                p["targetPort"] = "http"
        self.assertTrue(check_services(self.broken(edit)))

    def test_servicemonitor_wrong_token(self):
        def edit(o):
            o[("ServiceMonitor", "aigw")]["spec"]["endpoints"][0]["authorization"]["credentials"]["key"] = "X"
        self.assertTrue(check_services(self.broken(edit)))

    def test_runtime_default_seccomp(self):
        objs = self.broken(lambda o: container_of(o)[1]["securityContext"].update(
            seccompProfile={"type": "RuntimeDefault"}))
        self.assertTrue(check_security(objs))

    def test_writable_root(self):
        objs = self.broken(lambda o: container_of(o)[2]["securityContext"].update(readOnlyRootFilesystem=False))
        self.assertTrue(check_security(objs))

    def test_missing_secret_key(self):
        objs = self.broken(lambda o: o[("Secret", "aigw-secrets")]["stringData"].pop("OPENAI_API_KEY"))
        self.assertTrue(check_secrets_wiring(objs))

    def test_real_looking_secret(self):
        objs = self.broken(lambda o: o[("Secret", "aigw-secrets")]["stringData"].update(OPENAI_API_KEY="sk-abc"))
        self.assertTrue(check_secrets_wiring(objs))

    def test_containerfile_mistakes(self):
        cases = {
            "EXPOSE 8080 9090": "EXPOSE 8080",
            "STOPSIGNAL SIGTERM": "STOPSIGNAL SIGINT",
            "USER 10001:10001": "USER root",
            '"/etc/aigw/aigw.toml"]': '"/etc/aigw.toml"]',
        }
        self.assertEqual(check_containerfile(self.containerfile, self.image_cfg, self.objs), [])
        for old, new in cases.items():
            with self.subTest(change=new):
                self.assertIn(old, self.containerfile)
                text = self.containerfile.replace(old, new)
                self.assertTrue(check_containerfile(text, self.image_cfg, self.objs))
        # No USER at all is root too.
        text = re.sub(r"(?m)^USER .*\n", "", self.containerfile)
        self.assertTrue(check_containerfile(text, self.image_cfg, self.objs))


if __name__ == "__main__":
    main()
