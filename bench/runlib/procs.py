"""Child processes (started, watched, always stopped) and what /proc says
about a process: CPU time, resident memory, open descriptors."""

import ctypes
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


class BenchError(Exception):
    """A step that cannot go on (a server that does not start, a tool that
    fails). The message says what and where the logs are."""


def _child_setup(cpus):
    """Runs in the child between fork and exec: its own session (so a Ctrl-C
    in the terminal reaches only bench/run, which then stops everything in
    order), SIGKILL if bench/run dies without cleaning up, optional pinning."""
    def setup():
        os.setsid()
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass
        if cpus:
            os.sched_setaffinity(0, cpus)
    return setup


class ProcessSet:
    """Every process bench/run starts goes through here, so that stop_all()
    (called on exit, error, Ctrl-C or SIGTERM) can stop each one by its PID."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = []  # (name, Popen)

    def start(self, name, argv, cpus=None, env=None, stdout=None, log=None):
        """Starts argv; stderr (and stdout unless given) go to tmp/<log or name>.log."""
        path = os.path.join(self.tmp, (log or name) + ".log")
        logf = open(path, "ab")
        try:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                 stdout=stdout if stdout is not None else logf, stderr=logf,
                                 env=env, preexec_fn=_child_setup(cpus), close_fds=True)
        except OSError as e:
            raise BenchError(f"cannot start {name} ({argv[0]}): {e}") from e
        finally:
            logf.close()
        p.log_path = path
        p.bench_name = name
        self.procs.append((name, p))
        return p

    def stop(self, p, timeout=5.0):
        """SIGTERM, then SIGKILL after `timeout`; reaps it, forgets it."""
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        self.procs = [(n, q) for (n, q) in self.procs if q is not p]

    def stop_all(self):
        for _, p in list(self.procs):
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5.0
        for _, p in list(self.procs):
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        self.procs = []


def log_tail(path, lines=20):
    try:
        with open(path, "rb") as f:
            data = f.read()[-8192:].decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])
    except OSError:
        return ""


def wait_listening(p, timeout=10.0):
    """The port from a {"msg":"listening","addr":"127.0.0.1:PORT"} line of
    the process's log (aigw and aigw-mock both write one)."""
    deadline = time.monotonic() + timeout
    pat = re.compile(rb'"msg":"listening","addr":"127\.0\.0\.1:(\d+)"')
    while time.monotonic() < deadline:
        try:
            with open(p.log_path, "rb") as f:
                m = pat.search(f.read())
            if m:
                return int(m.group(1))
        except OSError:
            pass
        if p.poll() is not None:
            raise BenchError(f"{p.bench_name} exited during start-up (status {p.returncode}):\n"
                             + log_tail(p.log_path))
        time.sleep(0.05)
    raise BenchError(f"{p.bench_name} logged no listening address within {timeout:.0f} s:\n"
                     + log_tail(p.log_path))


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def http_get(port, path, timeout=5.0):
    """(status, body bytes) of GET path on 127.0.0.1:port, a fresh connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def wait_http_ok(p, port, path="/health", timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p is not None and p.poll() is not None:
            raise BenchError(f"{p.bench_name} exited during start-up (status {p.returncode}):\n"
                             + log_tail(p.log_path))
        try:
            status, _ = http_get(port, path, timeout=1.0)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    name = p.bench_name if p is not None else f"127.0.0.1:{port}"
    raise BenchError(f"{name} did not answer GET {path} with 200 within {timeout:.0f} s")


def mock_stats(port):
    status, body = http_get(port, "/mock/stats")
    if status != 200:
        raise BenchError(f"GET /mock/stats on port {port}: status {status}")
    return json.loads(body)


# ---- /proc ------------------------------------------------------------------

def cpu_sample(pid):
    """CPU used so far by process pid, all its threads: {"ns": run time in
    nanoseconds, "user_s", "sys_s"}. ns is the sum of the threads'
    /proc/PID/task/TID/schedstat run times (nanoseconds) when the kernel has
    them, else utime+stime; user_s/sys_s come from /proc/PID/stat (clock
    ticks: the split is sampled, the sum is what matters)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    ns = None
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        ns = total
    except (OSError, ValueError, IndexError):
        ns = None
    if ns is None or ns == 0:
        ns = (utime + stime) * 1_000_000_000 // CLK_TCK
    return {"ns": ns, "user_s": utime / CLK_TCK, "sys_s": stime / CLK_TCK}


def cpu_delta(a, b):
    return {"ns": b["ns"] - a["ns"], "user_s": b["user_s"] - a["user_s"],
            "sys_s": b["sys_s"] - a["sys_s"]}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
