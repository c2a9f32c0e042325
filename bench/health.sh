#!/usr/bin/env bash
# aigw vs nginx on GET /health: CPU per request, and resident memory idle and
# per idle keep-alive connection. Method and figures: docs/benchmarks.md.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: bench/health.sh [-h]

Measures, in one run, aigw (1 worker) against nginx (1 worker process) serving
GET /health on 127.0.0.1:

  1. Throughput and CPU: `wrk -t1 -c$CONNECTIONS -d$DURATION` against each
     server in interleaved rounds (aigw nginx aigw nginx ...). For each round:
     requests/s (wrk), server CPU time (utime+stime from /proc/PID/stat)
     divided by wrk's request count = CPU microseconds per request, and the
     ratio aigw/nginx. Then the median of each column.
     Goal: aigw <= 0.5x nginx CPU per request.
  2. Memory: VmRSS of each server just after start, then with
     $IDLE_CONNECTIONS idle keep-alive connections (each served one request;
     bench/hold_connections.py holds them) minus VmRSS just before opening
     them, divided by their number. Goal: <= 1 KiB per connection for aigw.

Environment:
  AIGW              aigw binary (default: build/src/aigw under the repository root)
  NGINX             nginx binary (default: nginx on PATH)
  DURATION          wrk duration of one round (default 10s)
  ROUNDS            rounds, each one run per server (default 3)
  CONNECTIONS       wrk connections (default 64)
  WARMUP            wrk warm-up per server before the rounds (default 2s; 0 = none)
  IDLE_CONNECTIONS  idle connections for the memory test (default 10000; 0 = skip)
  PIN               1 (default, when 2+ CPUs): servers on CPU 0, wrk on CPU 1;
                    0: let the scheduler place everything
  KEEP_TMP          1: keep the temporary directory (configs, logs, raw data)

Only 127.0.0.1 is used. All processes started are stopped on exit.
Needs: wrk, nginx, python3, taskset (for PIN=1).
EOF
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
AIGW=${AIGW:-$root/build/src/aigw}
NGINX=${NGINX:-nginx}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-2s}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
KEEP_TMP=${KEEP_TMP:-0}
if [ -z "${PIN:-}" ]; then
  if [ "$(nproc)" -ge 2 ]; then PIN=1; else PIN=0; fi
fi

die() { echo "health.sh: $*" >&2; exit 1; }

[ -x "$AIGW" ] || die "no aigw binary at $AIGW (build it with 'make build', or set AIGW=path)"
command -v wrk >/dev/null || die "wrk not found (scripts/install-deps --bench)"
command -v "$NGINX" >/dev/null || die "nginx not found (scripts/install-deps --bench)"
command -v python3 >/dev/null || die "python3 not found"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ "$CONNECTIONS" =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be a positive integer"
[[ "$IDLE_CONNECTIONS" =~ ^[0-9]+$ ]] || die "IDLE_CONNECTIONS must be an integer"
[[ "$DURATION" =~ ^[1-9][0-9]*[smh]?$ ]] || die "DURATION must look like 10s, 1m"
[[ "$WARMUP" =~ ^[0-9]+[smh]?$ ]] || die "WARMUP must look like 2s, or 0"

# wrk and timeout take the same duration syntax; seconds for our own bounds.
to_seconds() {
  local v=$1
  case "$v" in
    *h) echo $((${v%h} * 3600)) ;;
    *m) echo $((${v%m} * 60)) ;;
    *s) echo "${v%s}" ;;
    *) echo "$v" ;;
  esac
}
duration_s=$(to_seconds "$DURATION")
warmup_s=$(to_seconds "$WARMUP")

server_cpus=()
wrk_cpus=()
if [ "$PIN" = 1 ]; then
  command -v taskset >/dev/null || die "PIN=1 needs taskset (util-linux); or set PIN=0"
  server_cpus=(taskset -c 0)
  wrk_cpus=(taskset -c 1)
fi

# Enough descriptors for the idle connections (the servers inherit this limit;
# the helper raises its own).
need_fd=$((IDLE_CONNECTIONS + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fd" ]; then
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need_fd" ]; then
    ulimit -Hn "$need_fd" 2>/dev/null ||
      die "open-file hard limit $(ulimit -Hn) < $need_fd; lower IDLE_CONNECTIONS or raise it"
  fi
  ulimit -n "$need_fd"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aigw-bench.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    # Bounded: whatever has not exited after 5 s is killed.
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ "$KEEP_TMP" = 1 ]; then
    echo "health.sh: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

clk_tck=$(getconf CLK_TCK)

# "utime stime" of a whole process (all its threads), in clock ticks. The
# command name (field 2) may hold spaces: cut after its closing parenthesis.
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*') '}
  # Now field 1 is the state (field 3 of the file): utime is 12, stime 13.
  awk '{ print $12, $13 }' <<<"$stat"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# GET /health over bash's /dev/tcp (in a subshell, so a refused connection
# only fails the subshell); succeeds on a 200.
health_ok() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ "$line" == "HTTP/1."?" 200 "* ]]
  ) 2>/dev/null
}

wait_healthy() {
  local name=$1 pid=$2 port=$3
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || die "$name exited during start-up (logs in $tmp; KEEP_TMP=1 keeps them)"
    health_ok "$port" && return 0
    sleep 0.1
  done
  die "$name did not answer GET /health on 127.0.0.1:$port within 10 s"
}

# ---- aigw -------------------------------------------------------------------

start_aigw() {
  cat >"$tmp/aigw.toml" <<EOF
[server]
listen = "127.0.0.1:0"
workers = 1
shutdown_delay = "0s"

[server.limits]
max_connections_per_worker = $((IDLE_CONNECTIONS + 10000))
max_requests_per_connection = 1000000000

[log]
level = "info"
EOF
  "${server_cpus[@]}" "$AIGW" serve -c "$tmp/aigw.toml" 2>"$tmp/aigw.log" &
  aigw_pid=$!
  pids+=("$aigw_pid")
  aigw_port=
  for _ in $(seq 100); do
    aigw_port=$(sed -n 's/.*"msg":"listening","addr":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$tmp/aigw.log" | head -n1)
    [ -n "$aigw_port" ] && break
    kill -0 "$aigw_pid" 2>/dev/null || { cat "$tmp/aigw.log" >&2; die "aigw exited during start-up"; }
    sleep 0.1
  done
  [ -n "$aigw_port" ] || die "aigw logged no listening address within 10 s"
  wait_healthy aigw "$aigw_pid" "$aigw_port"
}

# ---- nginx ------------------------------------------------------------------

start_nginx() {
  local configure temp_paths="" m
  configure=$("$NGINX" -V 2>&1)
  mkdir -p "$tmp/nginx/logs" "$tmp/nginx/temp"
  # Keep every temp path private (nginx creates them at start); name only the
  # modules this build has, or nginx rejects the directive.
  for m in client_body proxy fastcgi uwsgi scgi; do
    if [ "$m" = client_body ] || ! grep -q -- "--without-http_${m}_module" <<<"$configure"; then
      temp_paths+="    ${m}_temp_path $tmp/nginx/temp/$m;"$'\n'
    fi
  done
  for _ in 1 2 3; do
    nginx_port=$(free_port)
    cat >"$tmp/nginx/nginx.conf" <<EOF
# master_process off: one process, which is the worker, so its PID is known.
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile $need_fd;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events {
    worker_connections $((IDLE_CONNECTIONS + 1024));
}
http {
    access_log off;
$temp_paths
    keepalive_requests 1000000000;
    keepalive_timeout 75s;
    server {
        listen 127.0.0.1:$nginx_port;
        location = /health {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }
    }
}
EOF
    "${server_cpus[@]}" "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" \
      -e "$tmp/nginx/logs/error.log" 2>>"$tmp/nginx/logs/stderr.log" &
    nginx_pid=$!
    pids+=("$nginx_pid")
    # A port taken between free_port and bind makes nginx exit: try another.
    for _ in $(seq 100); do
      kill -0 "$nginx_pid" 2>/dev/null || break
      health_ok "$nginx_port" && return 0
      sleep 0.1
    done
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    unset 'pids[-1]'  # reaped: its PID may be reused, never signal it again
  done
  cat "$tmp/nginx/logs/error.log" "$tmp/nginx/logs/stderr.log" >&2 2>/dev/null || true
  die "nginx did not start"
}

# ---- measurement ------------------------------------------------------------

# run_wrk PORT DURATION OUTFILE: bounded by timeout; fails on socket errors or
# non-2xx answers, which would make the figures meaningless.
run_wrk() {
  local port=$1 dur=$2 out=$3
  timeout $(($(to_seconds "$dur") + 30)) "${wrk_cpus[@]}" \
    wrk -t1 -c"$CONNECTIONS" -d"$dur" "http://127.0.0.1:$port/health" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed against port $port"; }
  if grep -qE 'Non-2xx|Socket errors' "$out"; then
    cat "$out" >&2
    die "wrk reported errors against port $port"
  fi
}

# measure NAME PID PORT ROUND: one round; appends a line to $tmp/rounds.tsv.
measure() {
  local name=$1 pid=$2 port=$3 round=$4 out u0 s0 u1 s1 reqs rps
  out="$tmp/wrk-$name-$round.txt"
  read -r u0 s0 < <(cpu_ticks "$pid")
  run_wrk "$port" "$DURATION" "$out"
  sleep 0.2  # let the server finish closing wrk's connections
  read -r u1 s1 < <(cpu_ticks "$pid")
  reqs=$(awk '/ requests in / { print $1; exit }' "$out")
  rps=$(awk '/^Requests\/sec:/ { print $2; exit }' "$out")
  if [ -z "$reqs" ] || [ "$reqs" -eq 0 ]; then
    cat "$out" >&2
    die "no request count in wrk's output"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$reqs" $((u1 - u0)) $((s1 - s0)) \
    >>"$tmp/rounds.tsv"
}

# hold_idle NAME PID PORT: VmRSS before/after IDLE_CONNECTIONS idle connections.
hold_idle() {
  local name=$1 pid=$2 port=$3 before after hpid
  sleep 0.5
  before=$(rss_kib "$pid")
  python3 "$root/bench/hold_connections.py" --port "$port" -n "$IDLE_CONNECTIONS" \
    --timeout 120 --max-hold 300 >"$tmp/hold-$name.out" 2>"$tmp/hold-$name.err" &
  hpid=$!
  pids+=("$hpid")
  for _ in $(seq 1300); do
    grep -q '^ready' "$tmp/hold-$name.out" 2>/dev/null && break
    kill -0 "$hpid" 2>/dev/null || { cat "$tmp/hold-$name.err" >&2; die "hold_connections.py failed against $name"; }
    sleep 0.1
  done
  grep -q '^ready' "$tmp/hold-$name.out" || die "hold_connections.py did not get ready against $name"
  sleep 1  # let the server settle (no request is in flight any more)
  after=$(rss_kib "$pid")
  kill "$hpid" 2>/dev/null || true
  wait "$hpid" 2>/dev/null || true
  unset 'pids[-1]'
  printf '%s\t%s\t%s\n' "$name" "$before" "$after" >>"$tmp/idle.tsv"
  sleep 1  # connections close
}

describe_machine() {
  local model
  model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  echo "machine: $(nproc) CPUs, ${model:-unknown CPU}, Linux $(uname -r)"
  echo "aigw:    $AIGW"
  echo "nginx:   $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
  echo "wrk:     wrk -t1 -c$CONNECTIONS -d$DURATION http://127.0.0.1:PORT/health, $ROUNDS rounds, warm-up $WARMUP"
  echo "time:    about $((2 * warmup_s + 2 * ROUNDS * duration_s + (IDLE_CONNECTIONS > 0 ? 10 : 0) + 3)) s"
  if [ "$PIN" = 1 ]; then
    echo "pinning: servers on CPU 0, wrk on CPU 1"
  else
    echo "pinning: none"
  fi
}

# ---- run --------------------------------------------------------------------

describe_machine
echo

start_aigw
aigw_rss0=$(rss_kib "$aigw_pid")
start_nginx
nginx_rss0=$(rss_kib "$nginx_pid")
: >"$tmp/rounds.tsv"
: >"$tmp/idle.tsv"

if [ "$warmup_s" -gt 0 ]; then
  run_wrk "$aigw_port" "$WARMUP" "$tmp/warmup-aigw.txt"
  run_wrk "$nginx_port" "$WARMUP" "$tmp/warmup-nginx.txt"
fi

for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS ..." >&2
  measure aigw "$aigw_pid" "$aigw_port" "$round"
  measure nginx "$nginx_pid" "$nginx_port" "$round"
done

echo "== GET /health, wrk -t1 -c$CONNECTIONS -d$DURATION (CPU = server utime+stime / wrk requests)"
awk -v tck="$clk_tck" -F'\t' '
  function median(a, n,    i, j, t, b) {
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j+1] = b[j]; b[j+1] = t }
    return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
  }
  function row(label, v1, v2, v3, v4, v5, v6, v7, v8, v9) {
    printf "%-7s %11.0f %11.0f %9.2f %9.2f %7.3f   %6.2f %6.2f %6.2f %6.2f\n", label, v1, v2, v3, v4, v5, v6, v7, v8, v9
  }
  {
    k = $1 SUBSEP $2
    rps[k] = $3; usr[k] = $5 * 1e6 / tck / $4; sys[k] = $6 * 1e6 / tck / $4
    if ($1 > rounds) rounds = $1
  }
  END {
    printf "%-7s %11s %11s %9s %9s %7s   %27s\n", "", "req/s", "req/s", "CPU us/r", "CPU us/r", "CPU", "user+sys split, us/r"
    printf "%-7s %11s %11s %9s %9s %7s   %6s %6s %6s %6s\n", "round", "aigw", "nginx", "aigw", "nginx", "a/n", "a usr", "a sys", "n usr", "n sys"
    for (r = 1; r <= rounds; r++) {
      a = r SUBSEP "aigw"; n = r SUBSEP "nginx"
      c[1, r] = rps[a]; c[2, r] = rps[n]
      c[3, r] = usr[a] + sys[a]; c[4, r] = usr[n] + sys[n]; c[5, r] = c[3, r] / c[4, r]
      c[6, r] = usr[a]; c[7, r] = sys[a]; c[8, r] = usr[n]; c[9, r] = sys[n]
      row(r, c[1, r], c[2, r], c[3, r], c[4, r], c[5, r], c[6, r], c[7, r], c[8, r], c[9, r])
    }
    for (k = 1; k <= 9; k++) { for (r = 1; r <= rounds; r++) col[r] = c[k, r]; med[k] = median(col, rounds) }
    row("median", med[1], med[2], med[3], med[4], med[5], med[6], med[7], med[8], med[9])
    printf "\ngoal aigw <= 0.5x nginx CPU per request: %s (median ratio %.3f)\n", (med[5] <= 0.5 ? "MET" : "NOT MET"), med[5]
  }' "$tmp/rounds.tsv"
echo

echo "== memory (VmRSS)"
printf 'aigw idle after start:  %6d KiB\n' "$aigw_rss0"
printf 'nginx idle after start: %6d KiB\n' "$nginx_rss0"
if [ "$IDLE_CONNECTIONS" -gt 0 ]; then
  echo "opening $IDLE_CONNECTIONS idle keep-alive connections to each ..." >&2
  hold_idle aigw "$aigw_pid" "$aigw_port"
  hold_idle nginx "$nginx_pid" "$nginx_port"
  awk -v n="$IDLE_CONNECTIONS" -F'\t' '
    {
      per[$1] = ($3 - $2) * 1024 / n
      printf "%-6s before %6d KiB, with %d idle connections %6d KiB: %7.0f bytes per connection\n", $1, $2, n, $3, per[$1]
    }
    END {
      printf "\ngoal aigw <= 1 KiB per idle connection: %s (%.0f bytes)\n", (per["aigw"] <= 1024 ? "MET" : "NOT MET"), per["aigw"]
    }' "$tmp/idle.tsv"
fi
