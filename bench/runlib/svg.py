"""A hand-written SVG chart of a bench/run result: latency percentiles per
target (log scale) and CPU time per request per target. No dependencies."""

import math
from xml.sax.saxutils import escape

COLORS = {"direct": "#8c8c8c", "nginx": "#2e9e44", "aigw": "#1f6fc5"}
EXTRA = ["#d9822b", "#9b59b6", "#c0392b", "#16a085", "#7f6000"]

# (scenario, figure prefix, subtitle)
LATENCY_PANELS = [
    ("chat", "lat", "chat: latency"),
    ("chat-open", "lat", "chat-open: latency"),
    ("embeddings", "lat", "embeddings: latency"),
    ("stream-ttfb", "ttfb", "stream-ttfb: first byte"),
    ("stream", "gap", "stream: gap between events"),
]
PCTS = [("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")]
CPU_SCENARIOS = ["chat", "chat-open", "embeddings", "stream", "stream-ttfb"]


def color(name, i):
    return COLORS.get(name) or EXTRA[i % len(EXTRA)]


def fmt_time(us):
    if us >= 1_000_000:
        return f"{us / 1e6:g} s"
    if us >= 1000:
        return f"{us / 1000:g} ms"
    return f"{us:g} µs"


def short_time(us):
    if us >= 1000:
        v = us / 1000
        return f"{v:.1f}ms" if v < 100 else f"{v:.0f}ms"
    return f"{us:.0f}µs"


class Svg:
    def __init__(self, w, h):
        self.w, self.h = w, h
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def rect(self, x, y, w, h, fill, title=None, **kw):
        extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in kw.items())
        t = f"<title>{escape(title)}</title>" if title else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" '
                 f'fill="{fill}"{extra}>{t}</rect>')

    def line(self, x1, y1, x2, y2, stroke="#ccc", width=1, dash=None):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
                 f'stroke-width="{width}"{d}/>')

    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill="#222", rotate=None):
        r = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'font-weight="{weight}" fill="{fill}"{r}>{escape(s)}</text>')

    def render(self):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" font-family="Helvetica, Arial, sans-serif">\n'
                f'<rect x="0" y="0" width="{self.w}" height="{self.h}" fill="#ffffff"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def chart(doc):
    sc = doc["scenarios"]
    targets = []
    for name in doc["config"].get("scenarios", []):
        if name in ("gemini", "messages"):
            continue  # not charted: their targets have their own table in the .md
        for t in (sc.get(name, {}).get("median") or {}):
            if t not in targets:
                targets.append(t)
    if not targets:
        targets = [t["name"] for t in doc["config"]["targets"]]
    tcolor = {t: color(t, i) for i, t in enumerate(t for t in targets if t not in COLORS)}
    tcolor.update({t: COLORS[t] for t in targets if t in COLORS})

    panels = [(s, p, title) for s, p, title in LATENCY_PANELS
              if s in sc and any(sc[s]["median"].get(t, {}).get(f"{p}_p50_us") for t in targets)]
    cpu_sc = [s for s in CPU_SCENARIOS if s in sc and "median" in sc[s]]

    W = 980
    margin = 20
    lat_h = 250
    cpu_h = 230
    y_lat = 100
    y_cpu = y_lat + (lat_h + 70 if panels else 0)
    H = y_cpu + (cpu_h + 30 if cpu_sc else 0)
    g = Svg(W, H)
    c = doc["config"]
    g.text(margin, 28, f"bench/run {doc['name']}", size=17, weight="bold")
    g.text(margin, 48, f"medians of {c['rounds']} rounds of {c['duration_s']:g} s, loopback, "
                       f"{doc['machine']['nproc']} CPUs; hover a bar for its value", size=12,
           fill="#555")
    # legend
    x = W - margin
    for t in reversed(targets):
        wtxt = 8 * len(t) + 24
        x -= wtxt
        g.rect(x, 36, 12, 12, tcolor[t])
        g.text(x + 16, 47, t, size=12)

    if panels:
        g.text(margin, y_lat - 22, "Latency percentiles (log scale; lower is better)", size=14,
               weight="bold")
        pw = (W - 2 * margin) / len(panels)
        for i, (s, p, title) in enumerate(panels):
            latency_panel(g, margin + i * pw, y_lat, pw, lat_h, sc[s]["median"], p, title,
                          targets, tcolor)
    if cpu_sc:
        g.text(margin, y_cpu - 22, "CPU time per request of each server process, µs "
                                   "(direct: the mock; a stream is one request; lower is better)",
               size=14, weight="bold")
        pw = (W - 2 * margin) / len(cpu_sc)
        for i, s in enumerate(cpu_sc):
            cpu_panel(g, margin + i * pw, y_cpu, pw, cpu_h, sc[s]["median"], s, targets, tcolor)
    return g.render()


def latency_panel(g, x0, y0, w, h, med, prefix, title, targets, tcolor):
    left, bottom = 52, 40
    px, pw = x0 + left, w - left - 12
    py, ph = y0 + 20, h - bottom
    vals = [med.get(t, {}).get(f"{prefix}_{k}_us") for t in targets for k, _ in PCTS]
    vals = [v for v in vals if v and v > 0]
    if not vals:
        return
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals) * 1.05))
    if hi <= lo:
        hi = lo * 10

    def ypos(v):
        v = max(v, lo)
        return py + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    g.text(x0 + w / 2, y0 + 8, title, size=12, anchor="middle", weight="bold")
    d = lo
    while d <= hi * 1.0001:
        y = ypos(d)
        g.line(px, y, px + pw, y, stroke="#ddd")
        g.text(px - 4, y + 4, fmt_time(d), size=10, anchor="end", fill="#555")
        for m in (2, 5):
            if d * m < hi:
                g.line(px, ypos(d * m), px + pw, ypos(d * m), stroke="#f0f0f0")
        d *= 10
    g.line(px, py, px, py + ph, stroke="#888")
    g.line(px, py + ph, px + pw, py + ph, stroke="#888")
    gw = pw / len(PCTS)
    bw = min(22, (gw - 10) / max(1, len(targets)))
    for j, (k, label) in enumerate(PCTS):
        gx = px + j * gw + (gw - bw * len(targets)) / 2
        for i, t in enumerate(targets):
            v = med.get(t, {}).get(f"{prefix}_{k}_us")
            if not v:
                continue
            y = ypos(v)
            g.rect(gx + i * bw, y, bw - 2, py + ph - y, tcolor[t],
                   title=f"{t} {label}: {short_time(v)}")
        g.text(px + j * gw + gw / 2, py + ph + 16, label, size=11, anchor="middle")


def cpu_panel(g, x0, y0, w, h, med, title, targets, tcolor):
    left, bottom = 44, 40
    px, pw = x0 + left, w - left - 12
    py, ph = y0 + 20, h - bottom
    vals = [med.get(t, {}).get("cpu_us") for t in targets]
    vals = [v for v in vals if v]
    if not vals:
        return
    step = nice_step(max(vals) * 1.15 / 4)
    top = 4 * step

    def ypos(v):
        return py + ph - v / top * ph

    g.text(x0 + w / 2, y0 + 8, title, size=12, anchor="middle", weight="bold")
    for k in range(5):
        v = step * k
        g.line(px, ypos(v), px + pw, ypos(v), stroke="#ddd")
        g.text(px - 4, ypos(v) + 4, f"{v:g}", size=10, anchor="end", fill="#555")
    g.line(px, py, px, py + ph, stroke="#888")
    g.line(px, py + ph, px + pw, py + ph, stroke="#888")
    bw = min(36, (pw - 16) / max(1, len(targets)))
    gx = px + (pw - bw * len(targets)) / 2
    for i, t in enumerate(targets):
        v = med.get(t, {}).get("cpu_us")
        if v is None:
            continue
        y = ypos(v)
        g.rect(gx + i * bw, y, bw - 3, py + ph - y, tcolor[t], title=f"{title} {t}: {v:.1f} µs")
        g.text(gx + i * bw + (bw - 3) / 2, y - 3, f"{v:.1f}" if v < 100 else f"{v:.0f}",
               size=9, anchor="middle", fill="#333")
        g.text(gx + i * bw + (bw - 3) / 2, py + ph + 14, t, size=10, anchor="middle", fill="#333")


def nice_step(v):
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= v."""
    if v <= 0:
        return 1
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v * 0.9999:
            return m * e
    return 10 * e
