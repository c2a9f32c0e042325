"""The servers bench/run starts: aigw-mock (the upstream), aigw (openai plugin
in front of the mocks; for the gemini scenario also the gemini plugin in front
of a mock replaying a Gemini recording) and nginx (proxy_pass in front of the
same mocks).
Everything binds 127.0.0.1 only; configs, logs and temp files live in the
run's private temporary directory."""

import os
import shutil
import subprocess
import time

from .procs import BenchError, free_port, log_tail, wait_http_ok, wait_listening

UPSTREAM_KEY_ENV = "AIGW_BENCH_UPSTREAM_KEY"


def start_mock(procs, binary, name, *, tokens, interval, threads=1, max_connections=30000,
               port=0, cpus=None, idle_timeout="120s", replay=()):
    """replay: recordings (tests/fixtures format) the mock answers instead of
    its synthetic answers; their streams are paced by interval as well."""
    argv = [binary, "--listen", f"127.0.0.1:{port}", "--threads", str(threads),
            "--stream-tokens", str(tokens), "--stream-interval", interval,
            "--completion-tokens", "16", "--max-connections", str(max_connections),
            "--idle-timeout", idle_timeout, "--models", "bench"]
    for f in replay:
        argv += ["--replay", f]
    p = procs.start(name, argv, cpus=cpus)
    p.port = wait_listening(p)
    wait_http_ok(p, p.port)
    p.argv = argv
    return p


def snapshot(binaries, tmp):
    """Copies the binaries bench/run runs (and the openai plugin that aigw
    would load) into tmp/bin, so that a rebuild of the build directory during
    the run cannot mix two versions. Returns ({name: path of the copy},
    plugin copy or None, {name: {"path", "sha256", "mtime"}})."""
    import hashlib
    d = os.path.join(tmp, "bin")
    os.makedirs(d, exist_ok=True)
    out, info = {}, {}

    def copy(name, src):
        dst = os.path.join(d, name)
        shutil.copy2(src, dst)
        with open(dst, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        st = os.stat(dst)
        info[name] = {"path": os.path.abspath(src), "sha256": digest,
                      "mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime))}
        return dst

    for name, src in binaries.items():
        out[name] = copy(name, src)
    plugins = find_plugins(binaries["aigw"], tmp, ("openai", "gemini", "anthropic"))
    if "openai" not in plugins:
        raise BenchError(f"{binaries['aigw']} finds no openai plugin ({binaries['aigw']} plugins -c "
                         f"{tmp}/plugins-probe.toml); build it (make build)")
    plugin = copy("libaigw_openai.so", plugins["openai"])
    # The gemini plugin only serves the gemini scenario, which says so when
    # it is missing.
    if "gemini" in plugins:
        out["gemini-plugin"] = copy("libaigw_gemini.so", plugins["gemini"])
    # Likewise the anthropic plugin and the messages scenario.
    if "anthropic" in plugins:
        out["anthropic-plugin"] = copy("libaigw_anthropic.so", plugins["anthropic"])
    return out, plugin, info


def find_plugins(aigw, tmp, names):
    """{name: the .so aigw would load for [[plugin]] name = ...}, for those it finds."""
    cfg = os.path.join(tmp, "plugins-probe.toml")
    with open(cfg, "w") as f:
        f.write("".join(f'[[plugin]]\nname = "{n}"\n' for n in names))
    found = {}
    try:
        r = subprocess.run([aigw, "plugins", "-c", cfg], capture_output=True, text=True, timeout=30)
        for line in r.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] in names and parts[-1].endswith(".so") and os.path.exists(parts[-1]):
                found[parts[0]] = parts[-1]
    except (OSError, subprocess.SubprocessError):
        pass
    return found


def aigw_config(providers, *, workers, max_connections_per_worker=30000, plugin_path=None,
                header_read=None, gemini=None, anthropic=None):
    """providers: [(name, model, upstream_port, upstream_max_connections)]. None for
    max_connections_per_worker or a provider's max_connections keeps aigw's default.
    gemini: (name, model, upstream_port, plugin path) for one provider of the
    gemini plugin (its base_url is the API root: the plugin appends /v1beta).
    anthropic: the same for one provider of the anthropic plugin (its base_url
    is the API root too: the plugin appends /v1/messages)."""
    out = [
        "[server]",
        'listen = "127.0.0.1:0"',
        f"workers = {workers}",
        'shutdown_delay = "0s"',
        'shutdown_grace = "0s"',
        "",
        "[server.limits]",
        *([f"max_connections_per_worker = {max_connections_per_worker}"]
          if max_connections_per_worker is not None else []),
        "max_requests_per_connection = 1000000000",
        "",
        *(["[server.timeouts]", f'header_read = "{header_read}"', ""] if header_read else []),
        "[log]",
        'level = "info"',
        "",
        "[[plugin]]",
        'name = "openai"',
    ]
    if plugin_path:
        out.append(f'path = "{plugin_path}"')
    for name, model, port, maxc in providers:
        out += [
            "",
            "[[provider]]",
            f'name = "{name}"',
            'plugin = "openai"',
            f'base_url = "http://127.0.0.1:{port}/v1"',
            f'api_keys = ["env:{UPSTREAM_KEY_ENV}"]',
            f'models = ["{model}"]',
            *([f"max_connections = {maxc}"] if maxc is not None else []),
        ]
    for plugin, spec in (("gemini", gemini), ("anthropic", anthropic)):
        if not spec:
            continue
        name, model, port, path = spec
        out += [
            "",
            "[[plugin]]",
            f'name = "{plugin}"',
            f'path = "{path}"',
            "",
            "[[provider]]",
            f'name = "{name}"',
            f'plugin = "{plugin}"',
            f'base_url = "http://127.0.0.1:{port}"',
            f'api_keys = ["env:{UPSTREAM_KEY_ENV}"]',
            f'models = ["{model}"]',
        ]
    return "\n".join(out) + "\n"


def start_aigw(procs, binary, name, tmp, providers, *, workers=1, cpus=None,
               max_connections_per_worker=30000, plugin_path=None, header_read=None, gemini=None,
               anthropic=None):
    cfg = os.path.join(tmp, name + ".toml")
    with open(cfg, "w") as f:
        f.write(aigw_config(providers, workers=workers, header_read=header_read,
                            max_connections_per_worker=max_connections_per_worker,
                            plugin_path=plugin_path, gemini=gemini, anthropic=anthropic))
    env = dict(os.environ)
    env[UPSTREAM_KEY_ENV] = "sk-bench-not-a-secret"
    argv = [binary, "serve", "-c", cfg]
    p = procs.start(name, argv, cpus=cpus, env=env)
    p.port = wait_listening(p)
    wait_http_ok(p, p.port)
    p.argv = argv
    p.config_path = cfg
    return p


def nginx_version(binary):
    try:
        r = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
        return (r.stderr or r.stdout).strip().replace("nginx version: ", "")
    except (OSError, subprocess.SubprocessError):
        return None


def nginx_config(binary, tmp, ports, upstreams, *, nofile, connections):
    """ports: {"fast": P1, "fast-stream": P2, "paced": P3};
    upstreams: {"mock_fast": port, "mock_paced": port}."""
    d = os.path.join(tmp, "nginx")
    try:
        configure = subprocess.run([binary, "-V"], capture_output=True, text=True,
                                   timeout=10).stderr
    except (OSError, subprocess.SubprocessError):
        configure = ""
    temp = [f"    client_body_temp_path {d}/temp/client_body;"]
    for m in ("proxy", "fastcgi", "uwsgi", "scgi"):
        if f"--without-http_{m}_module" not in configure:
            temp.append(f"    {m}_temp_path {d}/temp/{m};")
    ups = []
    for name, port in upstreams.items():
        ups.append(f"""    upstream {name} {{
        server 127.0.0.1:{port};
        keepalive 64;
        keepalive_requests 1000000000;
    }}""")
    proxy = """        proxy_http_version 1.1;
        proxy_set_header Connection "";"""
    health = """        location = /health {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }"""
    servers = f"""    # chat, chat-open, embeddings, idle: nginx's default (buffered) proxying
    server {{
        listen 127.0.0.1:{ports["fast"]};
{health}
        location / {{
            proxy_pass http://mock_fast;
{proxy}
        }}
    }}
    # stream-ttfb: streams from the same mock, unbuffered
    server {{
        listen 127.0.0.1:{ports["fast-stream"]};
{health}
        location / {{
            proxy_pass http://mock_fast;
{proxy}
            proxy_buffering off;
        }}
    }}
    # stream: paced streams (the second mock), unbuffered
    server {{
        listen 127.0.0.1:{ports["paced"]};
{health}
        location / {{
            proxy_pass http://mock_paced;
{proxy}
            proxy_buffering off;
        }}
    }}"""
    nl = "\n"
    return f"""# Generated by bench/run. master_process off: one process, which is the
# worker, so its PID is the one whose CPU is accounted.
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {d}/nginx.pid;
error_log {d}/logs/error.log warn;
events {{
    worker_connections {connections};
}}
http {{
    access_log off;
{nl.join(temp)}
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
{nl.join(ups)}
{servers}
}}
"""


def start_nginx(procs, binary, tmp, upstreams, *, cpus=None, nofile=20000, connections=19000):
    d = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(d, "logs"), exist_ok=True)
    os.makedirs(os.path.join(d, "temp"), exist_ok=True)
    last = ""
    for _ in range(3):
        ports = {"fast": free_port(), "fast-stream": free_port(), "paced": free_port()}
        if len(set(ports.values())) != 3:
            continue
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(binary, tmp, ports, upstreams, nofile=nofile, connections=connections))
        argv = [binary, "-p", d, "-c", conf, "-e", os.path.join(d, "logs", "error.log")]
        p = procs.start("nginx", argv, cpus=cpus)
        try:
            for port in ports.values():
                wait_http_ok(p, port, timeout=10.0)
            p.ports = ports
            p.argv = argv
            p.config_path = conf
            return p
        except BenchError as e:
            # A port taken between free_port() and nginx's bind: try others.
            last = str(e) + "\n" + log_tail(os.path.join(d, "logs", "error.log"))
            procs.stop(p)
            time.sleep(0.2)
    raise BenchError("nginx did not start:\n" + last)
