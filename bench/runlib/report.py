"""The goals of issue 4 checked against a run, and the Markdown summary."""

MIB = 1024.0


def _get(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def goals(doc):
    """[{goal, scenario, value, threshold, unit, met, note}]; met is None when
    the run did not measure it."""
    sc = doc["scenarios"]
    out = []

    def add(goal, scenario, value, threshold, unit, ok, note=""):
        out.append({"goal": goal, "scenario": scenario, "value": value, "threshold": threshold,
                    "unit": unit, "met": None if value is None else bool(ok(value)), "note": note})

    for name in ("chat", "embeddings", "stream", "chat-open"):
        if name in sc:
            v = _get(sc[name], "ratio_vs_nginx", "aigw", "cpu_us")
            add("aigw CPU per proxied request ≤ 0.6× nginx's", name, v, 0.6, "x nginx",
                lambda x: x <= 0.6)
    for name in ("chat", "embeddings"):
        if name in sc:
            v = _get(sc[name], "ratio_vs_nginx", "aigw", "rps")
            add("aigw requests/s ≥ nginx's (closed loop)", name, v, 1.0, "x nginx",
                lambda x: x >= 1.0)
    if "stream-ttfb" in sc:
        v = _get(sc["stream-ttfb"], "added_vs_direct", "aigw", "ttfb_p99_us")
        add("aigw adds ≤ 200 µs to p99 time to first byte, concurrency 1", "stream-ttfb", v, 200,
            "us", lambda x: x <= 200)
        v = _get(sc["stream-ttfb"], "added_vs_direct", "aigw", "first_p99_us")
        add("(same, to the first content event)", "stream-ttfb", v, 200, "us", lambda x: x <= 200)
    if "slow-streams" in sc:
        r = sc["slow-streams"]["runs"][0]
        n, want = r["streams"], r["streams_wanted"]
        ok_run = r["errors"] == 0 and r["ok"] > 0
        peak = r["rss_peak_kib"] / MIB
        at10k = r["rss_at_10000_kib"] / MIB
        errs = "" if ok_run else f"; {r['errors']} errors"
        if n >= 10000:
            add("10,000 slow streams on 2 workers: aigw RSS ≤ 256 MiB", "slow-streams", peak, 256,
                "MiB", lambda x: x <= 256 and ok_run, errs.lstrip("; "))
        elif n >= 9000:
            # Just short of 10,000 (the open-file limit): judged on the linear
            # extrapolation, which the measured figure must not already exceed.
            add("10,000 slow streams on 2 workers: aigw RSS ≤ 256 MiB", "slow-streams", at10k, 256,
                "MiB", lambda x: x <= 256 and peak <= 256 and ok_run,
                f"{n:,} streams measured (open-file limit {want - n} short): {peak:.1f} MiB; "
                f"the figure is that, extrapolated linearly to 10,000{errs}")
        else:
            why = "the open-file limit" if n < want else "--slow-streams"
            add("10,000 slow streams on 2 workers: aigw RSS ≤ 256 MiB", "slow-streams", None, 256,
                "MiB", lambda x: False,
                f"ran only {n:,} streams ({why}): {peak:.1f} MiB, {at10k:.0f} MiB extrapolated "
                f"linearly to 10,000{errs}")
    if "messages" in sc:
        v = _get(sc["messages"], "ratio_vs_openai", "anthropic-native", "cpu_us")
        rat = _get(sc["messages"], "ratio_vs_openai") or {}
        add("/v1/messages passed through natively: aigw CPU per request ≤ 1.05× /v1/chat/completions "
            "passed through", "messages", v, 1.05, "x openai-passthrough", lambda x: x <= 1.05,
            "as many events; per KiB received: "
            f"{fratio(_get(rat, 'anthropic-native', 'cpu_us_per_kib'))}; against a stream of as many "
            f"bytes: {fratio(_get(rat, 'anthropic-native-vs-bytes', 'cpu_us'))} per request")
    if "chat" in sc:
        v = _get(sc["chat"], "median", "aigw", "reuse")
        add("≥ 99% of aigw's upstream requests on an existing connection", "chat", v, 0.99,
            "share", lambda x: x >= 0.99)
    return out


def fnum(v, digits=0):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def fus(v):
    """µs figure, shown in µs below 10 ms, else ms."""
    if v is None:
        return "–"
    if abs(v) >= 10000:
        return f"{v / 1000:,.1f} ms"
    if abs(v) >= 1000:
        return f"{v / 1000:,.2f} ms"
    return f"{v:,.0f} µs"


def fratio(v):
    return "–" if v is None else f"{v:.2f}"


def fgoal(g):
    v, u = g["value"], g["unit"]
    if v is None:
        return "not measured at this size"
    if u == "share":
        return f"{100 * v:.2f}%"
    if u == "us":
        return f"{v:+,.0f} µs"
    if u == "MiB":
        return f"{v:,.1f} MiB"
    if u.startswith("x "):
        return f"{v:.2f}× {u[2:]}"
    return f"{v:.2f}× nginx"


def machine_table(doc):
    m = doc["machine"]
    ag = m["aigw"]
    rows = [
        ("CPUs", f"{m['nproc']} (`nproc`), {m['cpu_model']}, hypervisor: {m['hypervisor']}"),
        ("memory", f"{m['mem_total_kib'] / MIB / MIB:.0f} GiB" if m.get("mem_total_kib") else "–"),
        ("kernel", f"Linux {m['kernel']}"),
        ("OS", m.get("os") or "–"),
        ("load", f"1-min load average {m['loadavg_start']:.2f} at start, "
                 f"{m.get('loadavg_end', 0):.2f} at end; steal {m.get('steal_pct')}% of CPU time"),
        ("pinning", m["pinning"]),
        ("aigw", f"`{ag['path']}` built {ag.get('mtime') or '?'} (sha256 {(ag.get('sha256') or '?')[:12]}), "
                 f"buildtype {ag.get('buildtype') or '?'}; working tree at commit {ag.get('commit') or '?'}"),
        ("nginx", m.get("nginx") or "not used"),
        ("open files", f"{m['nofile_limit']}"),
    ]
    out = ["| | |", "|-|-|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    return out


def traffic_tables(name, res, rounds, duration_s):
    cfg = res["config"]
    med = res["median"]
    targets = list(med)
    out = [f"### {name}: {cfg['what']}", "",
           f"Medians of {rounds} rounds of {duration_s:g} s.", ""]
    hdr = "| target | req/s | p50 | p99 | p99.9 | CPU µs/req | user/sys | mock µs/req | RSS MiB | upstream reuse | errors |"
    out += [hdr, "|" + "---|" * 11]
    for t in targets:
        m = med[t]
        errs = sum(r["errors"] for r in res["runs"] if r["target"] == t)
        reuse = "–" if m.get("reuse") is None else f"{100 * m['reuse']:.2f}%"
        up = "–" if t == "direct" else fnum(m.get("upstream_cpu_us"), 1)
        out.append(f"| {t} | {fnum(m.get('rps'))} | {fus(m.get('lat_p50_us'))} | "
                   f"{fus(m.get('lat_p99_us'))} | {fus(m.get('lat_p999_us'))} | "
                   f"{fnum(m.get('cpu_us'), 1)} | {fnum(m.get('cpu_user_us'), 1)}/{fnum(m.get('cpu_sys_us'), 1)} | "
                   f"{up} | {fnum((m.get('rss_kib') or 0) / MIB, 1)} | {reuse} | {errs} |")
    out.append("")
    rows = []
    for base, key in (("nginx", "ratio_vs_nginx"), ("direct", "ratio_vs_direct")):
        for t, r in res.get(key, {}).items():
            if r:
                rows.append((f"{t} / {base}", r))
    if rows:
        out += ["Ratios (median of the per-round ratios):", "",
                "| ratio | req/s | p50 | p99 | p99.9 | CPU/req | RSS |", "|---|---|---|---|---|---|---|"]
        for label, r in rows:
            out.append(f"| {label} | {fratio(r.get('rps'))} | {fratio(r.get('lat_p50_us'))} | "
                       f"{fratio(r.get('lat_p99_us'))} | {fratio(r.get('lat_p999_us'))} | "
                       f"{fratio(r.get('cpu_us'))} | {fratio(r.get('rss_kib'))} |")
        out.append("")
    if any("ttfb_p50_us" in med[t] for t in targets):
        add = res.get("added_vs_direct", {})
        out += ["Streams (\"+\": added over direct, median of the per-round differences):", "",
                "| target | TTFB p50 | TTFB p99 | +TTFB p50 | +TTFB p99 | first event p50 | first event p99 | "
                "+first p99 | gap p50 | gap p99 | gap p99.9 | +gap p99 | events/s |",
                "|" + "---|" * 13]
        for t in targets:
            m, d = med[t], add.get(t, {})
            out.append(f"| {t} | {fus(m.get('ttfb_p50_us'))} | {fus(m.get('ttfb_p99_us'))} | "
                       f"{sfus(d.get('ttfb_p50_us'))} | {sfus(d.get('ttfb_p99_us'))} | "
                       f"{fus(m.get('first_p50_us'))} | {fus(m.get('first_p99_us'))} | "
                       f"{sfus(d.get('first_p99_us'))} | {fus(m.get('gap_p50_us'))} | "
                       f"{fus(m.get('gap_p99_us'))} | {fus(m.get('gap_p999_us'))} | "
                       f"{sfus(d.get('gap_p99_us'))} | {fnum(m.get('events_per_s'))} |")
        out.append("")
    return out


def gemini_table(res):
    """The gemini scenario's own figures: translation against pass-through."""
    cfg = res["config"]
    r1 = res.get("ratio_gemini_vs_openai", {})
    rn = res.get("cpu_ratio_gemini_vs_openai", {})
    add = res.get("added_vs_direct", {})
    g, o = add.get("aigw-gemini", {}), add.get("aigw-openai", {})
    med, cmed = res["median"], res.get("cpu_median", {})
    n = cfg.get("cpu_connections")
    out = [f"Recording: `{cfg['recording']}`. direct-gemini is the replaying mock loaded with the "
           "recorded Gemini request: Gemini's SSE has no `[DONE]` and no OpenAI content field, so "
           "aigw-bench records no latency for it and its \"first event\" is its time to first byte "
           "(its first event carries content); those streams are not counted as errors.", "",
           "| figure | aigw-gemini (translated) | aigw-openai (passed through) | gemini / openai |",
           "|---|---|---|---|",
           f"| aigw CPU µs per stream, {n} connections | {fnum(cmed.get('aigw-gemini', {}).get('cpu_us'), 1)} | "
           f"{fnum(cmed.get('aigw-openai', {}).get('cpu_us'), 1)} | {fratio(rn.get('cpu_us'))} |",
           f"| streams/s, {n} connections | {fnum(cmed.get('aigw-gemini', {}).get('rps'))} | "
           f"{fnum(cmed.get('aigw-openai', {}).get('rps'))} | {fratio(rn.get('rps'))} |",
           f"| aigw CPU µs per stream, 1 connection | {fnum(med.get('aigw-gemini', {}).get('cpu_us'), 1)} | "
           f"{fnum(med.get('aigw-openai', {}).get('cpu_us'), 1)} | {fratio(r1.get('cpu_us'))} |"]
    for key, label in (("first_p50_us", "p50"), ("first_p99_us", "p99")):
        out.append(f"| first content event {label}, added over its direct (1 connection) | "
                   f"{sfus(g.get(key))} | {sfus(o.get(key))} | – |")
    out.append("")
    return out


def sfus(v):
    if v is None:
        return "–"
    return ("+" if v >= 0 else "−") + fus(abs(v))


def messages_table(res):
    """The messages scenario: /v1/messages native and translated against the
    OpenAI pass-through, one aigw, CPU per request and per KiB."""
    cfg, med, rat = res["config"], res["median"], res.get("ratio_vs_openai", {})
    out = [f"### messages: {cfg['what']}", "",
           f"Recording (anthropic-native): `{cfg['recording']}`. openai-passthrough and "
           "messages-translated stream aigw-mock's synthetic answer of as many events, "
           "openai-passthrough-bytes one of about as many bytes. One aigw "
           "(1 worker) for all four; medians of the rounds, ratios are the medians of the "
           "per-round ratios to openai-passthrough.", "",
           "| target | req/s | p50 | p99 | aigw CPU µs/req | KiB/req | aigw CPU µs/KiB | / openai CPU per req "
           "| / openai CPU per KiB | errors |",
           "|" + "---|" * 10]
    for t, m in med.items():
        r = rat.get(t, {})
        errs = sum(x["errors"] for x in res["runs"] if x["target"] == t)
        out.append(f"| {t} | {fnum(m.get('rps'))} | {fus(m.get('lat_p50_us'))} | {fus(m.get('lat_p99_us'))} | "
                   f"{fnum(m.get('cpu_us'), 1)} | {fnum(m.get('kib_per_request'), 2)} | "
                   f"{fnum(m.get('cpu_us_per_kib'), 2)} | {fratio(r.get('cpu_us'))} | "
                   f"{fratio(r.get('cpu_us_per_kib'))} | {errs} |")
    vb = rat.get("anthropic-native-vs-bytes", {})
    out += ["", f"anthropic-native / openai-passthrough-bytes (the OpenAI stream of about as many bytes, "
                f"{cfg.get('bytes_tokens')} token events): CPU per request {fratio(vb.get('cpu_us'))}, "
                f"per KiB {fratio(vb.get('cpu_us_per_kib'))}.", ""]
    return out


def markdown(doc, svg_name):
    c = doc["config"]
    sc = doc["scenarios"]
    out = [f"# bench/run {doc['name']}", "",
           f"Started {doc['started']}, took {doc['elapsed_s']:.0f} s.", "",
           "```sh", doc["command"], "```", "",
           "## Machine", ""]
    out += machine_table(doc)
    out += ["", "## Goals (issue 4)", "", "| goal | scenario | figure | met |", "|---|---|---|---|"]
    for g in doc["goals"]:
        met = "–" if g["met"] is None else ("**yes**" if g["met"] else "**no**")
        note = f" ({g['note']})" if g.get("note") else ""
        out.append(f"| {g['goal']} | {g['scenario']} | {fgoal(g)}{note} | {met} |")
    out += ["", "## Figures", ""]
    for name, res in sc.items():
        if name in ("idle", "slow-streams"):
            continue
        if name == "messages":
            out += messages_table(res)
            continue
        out += traffic_tables(name, res, c["rounds"], c["duration_s"])
        if name == "gemini":
            out += gemini_table(res)
    if "idle" in sc:
        res = sc["idle"]
        n = res["config"]["connections"]
        out += [f"### idle: {n:,} idle keep-alive connections (each served one GET /health)", "",
                "| target | RSS before, MiB | RSS with the connections, MiB | bytes per connection |",
                "|---|---|---|---|"]
        for r in res["runs"]:
            if "error" in r:
                out.append(f"| {r['target']} | {fnum(r['rss_before_kib'] / MIB, 1)} | failed: "
                           f"{r['error'].splitlines()[-1] if r['error'] else ''} | – |")
            else:
                out.append(f"| {r['target']} | {fnum(r['rss_before_kib'] / MIB, 1)} | "
                           f"{fnum(r['rss_after_kib'] / MIB, 1)} | {fnum(r['bytes_per_connection'])} |")
        out.append("")
    if "slow-streams" in sc:
        r = sc["slow-streams"]["runs"][0]
        out += [f"### slow-streams: {r['streams']:,} concurrent streams through aigw with 2 workers", "",
                f"Each stream: {r['stream_tokens']} token events {r['stream_interval_s'] * 1000:g} ms "
                f"apart ({r['stream_s']:g} s). Open loop at {r['rate']:.0f} streams/s (streams / "
                f"stream length, less 2%), so that the streams are staggered and about "
                f"{r['streams']:,} are in flight after a {r['warmup_s']:g} s ramp; "
                f"{r['duration_s']:g} s measured.", "",
                "| figure | value |", "|---|---|",
                f"| aigw RSS idle (2 workers) | {r['rss_idle_kib'] / MIB:.1f} MiB |",
                f"| aigw RSS peak | **{r['rss_peak_kib'] / MIB:.1f} MiB** |",
                f"| per stream (peak − idle) / streams | {fnum(r['rss_per_stream_bytes'])} bytes |",
                f"| streams in flight (rate × mean latency) | {r['in_flight_mean']:,.0f} |",
                f"| aigw descriptors at the peak (client + upstream) | {r['fds_peak']:,} |",
                f"| streams completed in the window / errors | {r['ok']:,} / {r['errors']} |",
                f"| time to first byte p50 / p99 | {fus(r.get('ttfb_p50_us'))} / {fus(r.get('ttfb_p99_us'))} |",
                f"| gap between events p50 / p99 | {fus(r.get('gap_p50_us'))} / {fus(r.get('gap_p99_us'))} |",
                f"| mock RSS | {r['mock_rss_kib'] / MIB:.1f} MiB |", ""]
    if doc.get("warnings"):
        out += ["## Warnings", ""] + [f"- {w}" for w in doc["warnings"]] + [""]
    out += ["## Chart", "", f"![latency and CPU per request]({svg_name})", ""]
    return "\n".join(out)
