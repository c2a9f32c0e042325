"""Medians over rounds, per-round ratios and differences, durations."""

import re

# Figures of one run (flat keys) that get a median, and for which bench/run
# reports ratios against nginx and against direct.
RATIO_KEYS = ["rps", "lat_p50_us", "lat_p99_us", "lat_p999_us", "cpu_us", "rss_kib",
              "ttfb_p50_us", "ttfb_p99_us", "first_p50_us", "first_p99_us",
              "gap_p50_us", "gap_p99_us"]
# Stream figures for which the difference target - direct (same round) is
# what matters: the time a proxy adds.
ADDED_KEYS = ["lat_p50_us", "lat_p99_us", "lat_p999_us",
              "ttfb_p50_us", "ttfb_p99_us", "ttfb_p999_us",
              "first_p50_us", "first_p99_us", "first_p999_us",
              "gap_p50_us", "gap_p99_us", "gap_p999_us"]


def median(values):
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def medians(records):
    """{key: median over records} for every numeric key of the records."""
    keys = set()
    for r in records:
        keys |= {k for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {k: median([r.get(k) for r in records]) for k in sorted(keys)}


def per_round(runs, target, base, key, op):
    """op(target's figure, base's figure) for each round both ran."""
    by = {}
    for r in runs:
        by.setdefault(r["round"], {})[r["target"]] = r
    out = []
    for rnd in sorted(by):
        a, b = by[rnd].get(target), by[rnd].get(base)
        if a is None or b is None:
            continue
        x, y = a.get(key), b.get(key)
        if x is None or y is None:
            continue
        v = op(x, y)
        if v is not None:
            out.append(v)
    return out


def ratio(x, y):
    return x / y if y else None


def diff(x, y):
    return x - y


def ratios(runs, target, base, keys=RATIO_KEYS):
    """{key: median of the per-round ratios target/base}."""
    out = {}
    for k in keys:
        v = per_round(runs, target, base, k, ratio)
        if v:
            out[k] = median(v)
    return out


def added(runs, target, base, keys=ADDED_KEYS):
    """{key: median of the per-round differences target - base}."""
    out = {}
    for k in keys:
        v = per_round(runs, target, base, k, diff)
        if v:
            out[k] = median(v)
    return out


_DUR = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


def parse_duration(text):
    """'10s', '500ms', '2m', '1.5s', '3' (seconds) -> seconds (float)."""
    m = _DUR.match(text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (write 10s, 500ms or 2m)")
    n = float(m.group(1))
    unit = m.group(2) or "s"
    return n / 1000 if unit == "ms" else n * 60 if unit == "m" else n


def dur_arg(seconds):
    """Seconds -> an aigw-bench / aigw-mock duration ('1500ms')."""
    return f"{int(round(seconds * 1000))}ms"
