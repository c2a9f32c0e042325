// The operator's dashboard: reads /metrics, /admin/providers, /admin/errors,
// /admin/keys, /admin/history, /admin/config and /admin/usage on this admin listener and draws them. Plain DOM and SVG;
// every string from the gateway goes in through textContent, never as markup.
'use strict';

(function () {
  const KEY = 'aigw-admin-key';  // sessionStorage: gone when the tab closes
  const PAGE = 100;              // rows per table page
  const params = new URLSearchParams(location.search);
  const EVERY_MS = Math.max(1, Number(params.get('every')) || 5) * 1000;

  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  // A chart is drawn in its own pixels (the viewBox follows the element's
  // width), so its text is never stretched.
  function width(chart) { return Math.max(200, Math.round(chart.getBoundingClientRect().width) || 600); }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  // ---- status line --------------------------------------------------------

  function status(text, kind) {
    const s = $('status');
    s.textContent = text;
    s.className = kind || '';
  }

  class AuthError extends Error {}

  // Every fetch carries the admin key when one was typed; no cookies, so a
  // page elsewhere cannot make the browser act for the operator.
  async function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({}, opts.headers);
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = 'Bearer ' + key;
    const r = await fetch(path, {method: opts.method || 'GET', headers, cache: 'no-store', credentials: 'omit'});
    if (r.status === 401) throw new AuthError();
    if (!r.ok) {
      let msg = r.statusText;
      try { msg = (await r.json()).error.message; } catch (e) { /* not JSON */ }
      const err = new Error(path + ': ' + r.status + ' ' + msg);
      err.status = r.status;
      throw err;
    }
    return r;
  }

  // ---- Prometheus text ----------------------------------------------------

  function parseLabels(s) {
    const out = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let m;
    while ((m = re.exec(s)) !== null) {
      out[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    return out;
  }

  // name -> [{labels, value}]
  function parseMetrics(text) {
    const out = new Map();
    const re = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
    for (const line of text.split('\n')) {
      if (line === '' || line[0] === '#') continue;
      const m = re.exec(line);
      if (!m) continue;
      if (!out.has(m[1])) out.set(m[1], []);
      out.get(m[1]).push({labels: m[2] ? parseLabels(m[2]) : {}, value: Number(m[3])});
    }
    return out;
  }

  function sum(ms, name, pred) {
    let t = 0;
    for (const s of ms.get(name) || []) if (!pred || pred(s.labels)) t += s.value;
    return t;
  }
  function byLabel(ms, name, label, pred) {
    const out = new Map();
    for (const s of ms.get(name) || []) {
      if (pred && !pred(s.labels)) continue;
      const k = s.labels[label];
      out.set(k, (out.get(k) || 0) + s.value);
    }
    return out;
  }
  // A histogram's buckets over every label set: sorted [[le, cumulative]].
  function buckets(ms, name) {
    const m = byLabel(ms, name + '_bucket', 'le');
    return [...m.entries()].map(([le, c]) => [le === '+Inf' ? Infinity : Number(le), c]).sort((a, b) => a[0] - b[0]);
  }
  // Observations between two scrapes; none before a second scrape exists.
  function bucketDelta(now, then) {
    if (!then) return [];
    return now.map(([le, c], i) => [le, c - (then[i] ? then[i][1] : 0)]);
  }
  // As Prometheus' histogram_quantile: linear within the bucket that holds
  // the rank; the +Inf bucket answers its lower bound.
  function quantile(q, bs) {
    if (bs.length === 0) return NaN;
    const total = bs[bs.length - 1][1];
    if (!(total > 0)) return NaN;
    const rank = q * total;
    let prevLe = 0, prevC = 0;
    for (const [le, c] of bs) {
      if (c >= rank) {
        if (le === Infinity) return prevLe;
        return c === prevC ? le : prevLe + (le - prevLe) * (rank - prevC) / (c - prevC);
      }
      prevLe = le;
      prevC = c;
    }
    return prevLe;
  }

  // What the page needs from one scrape.
  function summarise(ms) {
    const isError = (l) => Number(l.status) >= 400;
    return {
      requests: sum(ms, 'aigw_requests_total'),
      errors: sum(ms, 'aigw_requests_total', isError),
      tokens: sum(ms, 'aigw_tokens_total'),
      latency: buckets(ms, 'aigw_request_duration_seconds'),
      ttft: buckets(ms, 'aigw_time_to_first_token_seconds'),
      streams: sum(ms, 'aigw_active_streams'),
      connections: sum(ms, 'aigw_active_connections'),
      generation: sum(ms, 'aigw_plugin_generation'),
    };
  }

  // ---- formatting ---------------------------------------------------------

  function num(v, digits) {
    if (v === undefined || v === null || Number.isNaN(v)) return '—';
    return Number(v).toLocaleString('en-US', {maximumFractionDigits: digits === undefined ? 0 : digits});
  }
  function seconds(v) {
    if (Number.isNaN(v)) return '—';
    return v < 1 ? num(v * 1000, 0) + ' ms' : num(v, 2) + ' s';
  }
  function percent(v) { return Number.isNaN(v) ? '—' : num(v * 100, 1) + ' %'; }

  function cards(container, list) {
    container.replaceChildren(...list.map(([label, value, id]) => {
      const c = el('div', 'card');
      c.append(el('span', 'label', label));
      const v = el('span', 'value', value);
      if (id) v.id = id;
      c.append(v);
      return c;
    }));
  }

  // ---- tables with pages --------------------------------------------------

  // columns: [{title, get(row) -> text or Node, cls}]; pages of PAGE rows.
  const pages = {};
  const drawn = {};  // id -> what the table shows now, to skip redrawing the same rows
  function table(id, columns, rows) {
    const box = $(id);
    const page = Math.min(pages[id] || 0, Math.max(0, Math.ceil(rows.length / PAGE) - 1));
    pages[id] = page;
    // Rebuilding a page of 100 rows costs the browser far more layout and
    // paint than comparing the data: most refreshes change few figures.
    const shown = JSON.stringify([page, rows.length, columns.map((c) => c.title), rows.slice(page * PAGE, (page + 1) * PAGE)]);
    if (drawn[id] === shown) return;
    drawn[id] = shown;
    const t = el('table');
    const head = el('tr');
    for (const c of columns) head.append(el('th', c.text ? 'text' : '', c.title));
    t.append(el('thead'));
    t.tHead.append(head);
    const body = el('tbody');
    for (const r of rows.slice(page * PAGE, (page + 1) * PAGE)) {
      const tr = el('tr');
      for (const c of columns) {
        const v = c.get(r);
        const td = el('td', c.text ? 'text' : '');
        if (v instanceof Node) td.append(v); else td.textContent = v;
        if (c.cls) td.classList.add(c.cls(r));
        tr.append(td);
      }
      body.append(tr);
    }
    t.append(body);
    const parts = [t];
    if (rows.length === 0) parts.push(el('p', 'empty', 'No rows.'));
    if (rows.length > PAGE) {
      const pager = el('div', 'pager');
      const prev = el('button', '', '‹ previous');
      const next = el('button', '', 'next ›');
      prev.type = next.type = 'button';
      prev.disabled = page === 0;
      next.disabled = (page + 1) * PAGE >= rows.length;
      prev.onclick = () => { pages[id] = page - 1; table(id, columns, rows); };
      next.onclick = () => { pages[id] = page + 1; table(id, columns, rows); };
      pager.append(prev, el('span', '', 'rows ' + (page * PAGE + 1) + '–' + Math.min(rows.length, (page + 1) * PAGE) +
                               ' of ' + rows.length), next);
      parts.push(pager);
    }
    box.replaceChildren(...parts);
  }

  function matches(filterId, ...fields) {
    const f = $(filterId).value.trim().toLowerCase();
    return !f || fields.some((x) => String(x).toLowerCase().includes(f));
  }

  // ---- Now ----------------------------------------------------------------

  const history = [];  // [{t, s}]: the last two scrapes, whose difference is "now"

  function drawNow(ms) {
    const s = summarise(ms);
    const t = Date.now();
    history.push({t, s});
    while (history.length > 2) history.shift();
    const prev = history.length > 1 ? history[history.length - 2] : null;
    const dt = prev ? (t - prev.t) / 1000 : 0;
    const rate = (f) => (prev && dt > 0 ? Math.max(0, (f(s) - f(prev.s)) / dt) : NaN);
    const reqs = prev ? s.requests - prev.s.requests : NaN;
    const lat = bucketDelta(s.latency, prev && prev.s.latency);
    const ttft = bucketDelta(s.ttft, prev && prev.s.ttft);
    $('now-window').textContent = prev ? 'over the last ' + num(dt, 1) + ' s' : '(rates after the next refresh)';
    cards($('now-cards'), [
      ['requests/s', num(rate((x) => x.requests), 2), 'now-rps'],
      ['error rate', reqs > 0 ? percent((s.errors - prev.s.errors) / reqs) : '—', 'now-errors'],
      ['latency p50', seconds(quantile(0.5, lat))],
      ['latency p99', seconds(quantile(0.99, lat))],
      ['first token p50', seconds(quantile(0.5, ttft))],
      ['first token p99', seconds(quantile(0.99, ttft)), 'now-ttft-p99'],
      ['tokens/s', num(rate((x) => x.tokens), 1), 'now-tps'],
      ['in-flight streams', num(s.streams), 'now-streams'],
      ['open connections', num(s.connections), 'now-connections'],
    ]);
    cards($('total-cards'), [
      ['requests', num(s.requests), 'total-requests'],
      ['errors (4xx, 5xx)', num(s.errors), 'total-errors'],
      ['error rate', s.requests > 0 ? percent(s.errors / s.requests) : '—'],
      ['tokens', num(s.tokens), 'total-tokens'],
      ['latency p50', seconds(quantile(0.5, s.latency)), 'total-p50'],
      ['latency p99', seconds(quantile(0.99, s.latency)), 'total-p99'],
      ['first token p99', seconds(quantile(0.99, s.ttft)), 'total-ttft-p99'],
      ['plugin generation', num(s.generation), 'total-generation'],
    ]);
    drawRates();
  }

  // The chart: the gateway's own 15 minutes (GET /admin/history, every
  // worker's 10-second buckets merged), so it is full when the page opens.
  let lastHistory = null;
  function drawRates(doc) {
    if (doc) lastHistory = doc;
    doc = lastHistory;
    if (!doc) return;
    const chart = $('now-chart');
    const W = width(chart), H = 120;
    chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const step = doc.bucket_seconds;
    const buckets = doc.buckets || [];
    const pts = buckets.map((b, i) => {
      // The newest bucket is still filling: its rate is over what has passed.
      const last = i === buckets.length - 1;
      const secs = last ? Math.max(1, doc.now_s - b.start_s + 1) : step;
      return {t: last ? doc.now_s : b.start_s + step, rps: b.requests / secs, eps: b.errors / secs};
    });
    const nodes = [];
    const top = Math.max(1, ...pts.map((p) => p.rps));
    const first = buckets.length ? buckets[0].start_s : doc.now_s;
    const span = Math.max(step, doc.now_s - first);
    const x = (t) => (W * (t - first) / span).toFixed(1);
    const y = (v) => (H - 4 - (H - 16) * v / top).toFixed(1);
    if (pts.length > 0) {
      nodes.push(svg('polyline', {class: 'ok', points: pts.map((p) => x(p.t) + ',' + y(p.rps)).join(' ')}));
      nodes.push(svg('polyline', {class: 'bad', points: pts.map((p) => x(p.t) + ',' + y(p.eps)).join(' ')}));
    }
    const label = svg('text', {x: 4, y: 11});
    label.textContent = 'max ' + num(top, 2) + '/s, last ' + num(span / 60) + ' min';
    nodes.push(label);
    chart.replaceChildren(...nodes);
  }

  // ---- Keys ---------------------------------------------------------------

  function gauge(used, remaining) {
    const box = el('span');
    if (used === undefined && remaining === undefined) {
      box.textContent = '—';
      return box;
    }
    const quota = (used || 0) + (remaining || 0);
    const g = el('span', 'gauge');
    const fill = el('span');
    const share = quota > 0 ? Math.min(1, (used || 0) / quota) : 1;
    fill.style.width = (share * 100).toFixed(0) + '%';  // CSSOM, allowed by the CSP
    if (share >= 0.9) g.classList.add('high');
    g.append(fill);
    box.append(g, document.createTextNode(num(used) + ' / ' + num(quota)));
    box.title = num(remaining) + ' tokens left';
    return box;
  }

  // One page of keys from /admin/keys: the gateway filters, sorts and
  // pages, so 10,000 keys cost what 100 do.
  const keysView = {offset: 0, total: 0};
  function keysQuery() {
    const q = new URLSearchParams({offset: keysView.offset, limit: PAGE, sort: $('keys-sort').value});
    if ($('keys-filter').value) q.set('q', $('keys-filter').value);
    return '/admin/keys?' + q.toString();
  }
  async function loadKeys() {
    drawKeys(await (await api(keysQuery())).json());
  }
  function drawKeys(doc) {
    keysView.total = doc.total;
    // A page past the end (keys removed by a reload, a narrower filter).
    if (doc.keys.length === 0 && doc.total > 0 && keysView.offset > 0) {
      keysView.offset = Math.floor((doc.total - 1) / PAGE) * PAGE;
      loadKeys().catch(failed);
      return;
    }
    const nk = doc.no_key || {};
    $('keys-summary').textContent = num(doc.total) + (doc.total === 1 ? ' key' : ' keys') +
      (nk.requests ? ' · ' + num(nk.requests) + ' requests with no key (' + num(nk.errors) + ' refused)' : '');
    const quota = (l) => (l ? gauge(l.used, l.remaining) : gauge());
    const left = (l) => (l ? num(l.remaining) + ' / ' + num(l.limit) : '—');
    table('keys-table', [
      {title: 'key', text: true, get: (r) => r.name},
      {title: 'requests', get: (r) => num(r.requests)},
      {title: 'errors', get: (r) => num(r.errors)},
      {title: 'tokens', get: (r) => num(r.tokens)},
      {title: 'refused by limits', get: (r) => num(r.refused)},
      {title: 'today', text: true, get: (r) => quota(r.daily_tokens)},
      {title: 'this month', text: true, get: (r) => quota(r.monthly_tokens)},
      {title: 'rpm left', get: (r) => left(r.rpm)},
      {title: 'tpm left', get: (r) => left(r.tpm)},
    ], doc.keys);
    const pager = $('keys-pager');
    if (doc.total <= PAGE) {
      pager.replaceChildren();
      return;
    }
    const prev = el('button', '', '‹ previous');
    const next = el('button', '', 'next ›');
    prev.type = next.type = 'button';
    prev.disabled = keysView.offset === 0;
    next.disabled = keysView.offset + PAGE >= doc.total;
    prev.onclick = () => { keysView.offset = Math.max(0, keysView.offset - PAGE); loadKeys().catch(failed); };
    next.onclick = () => { keysView.offset += PAGE; loadKeys().catch(failed); };
    pager.replaceChildren(prev, el('span', '', 'keys ' + num(keysView.offset + 1) + '–' +
      num(Math.min(doc.total, keysView.offset + PAGE)) + ' of ' + num(doc.total)), next);
  }

  // ---- Providers and channels ---------------------------------------------

  let providerRows = [];
  function drawProviders(doc) {
    if (doc) {
      providerRows = [];
      for (const w of doc.workers || []) {
        for (const c of w.channels || []) providerRows.push(Object.assign({worker: w.worker}, c));
      }
      const states = {};
      for (const r of providerRows) states[r.state] = (states[r.state] || 0) + 1;
      $('providers-summary').textContent = 'generation ' + doc.generation + ' · ' +
        Object.keys(states).sort().map((k) => states[k] + ' ' + k).join(', ');
    }
    const rows = providerRows.filter((r) => matches('providers-filter', r.channel, r.provider, r.state));
    const ms = (v) => (v > 0 ? num(v) + ' ms' : '');
    // "12 s ago": the gateway reports ages (its clock is monotonic).
    const ago = (v) => {
      const s = Math.round(v / 1000);
      return s < 120 ? s + ' s ago' : s < 7200 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago';
    };
    table('providers-table', [
      {title: 'worker', get: (r) => r.worker},
      {title: 'channel', text: true, get: (r) => r.channel},
      {title: 'provider', text: true, get: (r) => r.provider},
      {title: 'state', text: true, get: (r) => r.state, cls: (r) => 'state-' + r.state},
      {title: 'cooling', get: (r) => ms(r.cooling_ms)},
      {title: 'open for', get: (r) => ms(r.open_ms)},
      {title: 'in flight', get: (r) => num(r.in_flight)},
      {title: 'requests', get: (r) => num(r.requests)},
      {title: 'failures', get: (r) => num(r.failures)},
      {title: 'in a row', get: (r) => num(r.consecutive_failures)},
      {title: 'first byte (avg)', get: (r) => (r.ewma_ttfb_ms > 0 ? num(r.ewma_ttfb_ms) + ' ms' : '—')},
      {title: 'last error', text: true,
       get: (r) => (r.last_error ? r.last_error + ' ' + ago(r.last_error_ago_ms) : '—')},
      {title: 'probe', text: true, get: (r) => (r.probe ? r.probe + ' ' + ago(r.probe_ago_ms) : '—')},
    ], rows);
  }

  // ---- Recent errors ------------------------------------------------------

  let errorRows = [];
  function drawErrors(doc) {
    if (doc) {
      errorRows = doc.errors || [];
      $('errors-summary').textContent = errorRows.length + ' kept (the last ' + doc.capacity_per_worker +
        ' per worker)';
    }
    const rows = errorRows.filter((r) => matches('errors-filter', r.key, r.model, r.provider, r.status, r.error));
    const time = (ms) => new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
    table('errors-table', [
      {title: 'time (UTC)', text: true, get: (r) => time(r.time_ms)},
      {title: 'status', get: (r) => r.status, cls: (r) => (r.status >= 500 ? 'state-open' : 'state-cooling')},
      {title: 'error', text: true, get: (r) => r.error},
      {title: 'key', text: true, get: (r) => r.key || '(no key)'},
      {title: 'model', text: true, get: (r) => r.model || '—'},
      {title: 'provider', text: true, get: (r) => r.provider || '—'},
      {title: 'attempts', get: (r) => num(r.attempts)},
      {title: 'latency', get: (r) => num(r.latency_ms) + ' ms'},
      {title: 'request id', text: true, get: (r) => r.request_id},
      {title: 'worker', get: (r) => r.worker},
    ], rows);
  }

  // ---- Plugins and config -------------------------------------------------

  // Read again only when the generation changes (a reload or a plugin hot
  // swap): the config is the same between them.
  let configGeneration = null;
  async function loadConfig(generation) {
    if (generation !== undefined && generation === configGeneration) return;
    const doc = await (await api('/admin/config')).json();
    configGeneration = doc.generation;
    $('config-summary').textContent = 'generation ' + doc.generation + ' · host ABI ' + doc.abi + ' · ' +
      doc.config.source;
    const later = doc.restart_required || [];
    $('config-restart').textContent = later.length
      ? 'Changed in the file but not applied until a restart: ' + later.join(', ') : '';
    table('plugins-table', [
      {title: 'plugin', text: true, get: (r) => r.name},
      {title: 'file', text: true, get: (r) => (r.builtin ? '(built in)' : r.file)},
      {title: 'ABI (negotiated)', get: (r) => r.abi},
      {title: 'built for ABI', get: (r) => r.plugin_abi},
      {title: 'version', text: true, get: (r) => r.version},
      {title: 'mode', text: true, get: (r) => r.mode},
      {title: 'providers', text: true, get: (r) => r.providers.join(', ')},
    ], doc.plugins || []);
    // The gateway has already put "<redacted>" in place of every secret.
    $('config-text').textContent = JSON.stringify(doc.config, null, 2);
  }

  // ---- Usage --------------------------------------------------------------

  function usageQuery() {
    const q = new URLSearchParams();
    if ($('usage-from').value) q.set('from', $('usage-from').value);
    if ($('usage-to').value) q.set('to', $('usage-to').value);
    q.set('group_by', $('usage-group').value);
    return '/admin/usage?' + q.toString();
  }

  async function loadUsage() {
    let doc;
    try {
      doc = await (await api(usageQuery())).json();
    } catch (e) {
      if (e instanceof AuthError) throw e;
      // The store may be off ([state] enabled = false): say so in the panel.
      $('usage-note').textContent = e.status === 404 ? 'The usage store is off ([state] enabled = false).' : String(e.message);
      $('usage-table').replaceChildren();
      $('usage-chart').replaceChildren();
      return;
    }
    const groups = doc.group_by || [];
    const rows = doc.data || [];
    $('usage-note').textContent = 'From ' + doc.from + ' to ' + doc.to + ' (UTC), ' + rows.length + ' rows.';
    const numeric = rows.length ? Object.keys(rows[0]).filter((k) => !groups.includes(k)) : [];
    // An empty group value: a request with no key, model or provider (a refusal).
    table('usage-table', groups.map((g) => ({title: g, text: true, get: (r) => r[g] || '(none)'}))
      .concat(numeric.map((k) => ({title: k.replace(/_/g, ' '), get: (r) => num(r[k])}))), rows);
    drawUsageChart(rows, groups);
  }

  // One bar per row (the 30 largest by total tokens), labelled by its groups.
  function drawUsageChart(rows, groups) {
    const chart = $('usage-chart');
    const W = width(chart), H = 160, base = H - 18;
    chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const top = rows.map((r) => ({label: groups.map((g) => r[g] || '(none)').join(' · ') || 'total', v: r.total_tokens || 0}))
      .sort((a, b) => b.v - a.v).slice(0, 30);
    const max = Math.max(1, ...top.map((b) => b.v));
    const slot = Math.min(80, W / Math.max(1, top.length));
    const nodes = [];
    top.forEach((b, i) => {
      const h = (base - 12) * b.v / max;
      const r = svg('rect', {x: (i * slot + 2).toFixed(1), y: (base - h).toFixed(1),
                             width: Math.max(1, slot - 4).toFixed(1), height: h.toFixed(1)});
      const tip = svg('title', {});
      tip.textContent = b.label + ': ' + num(b.v) + ' tokens';
      r.append(tip);
      nodes.push(r);
      if (slot >= 40) {
        const t = svg('text', {x: (i * slot + 2).toFixed(1), y: H - 5});
        const fit = Math.max(3, Math.floor(slot / 6));
        t.textContent = b.label.length > fit ? b.label.slice(0, fit - 1) + '…' : b.label;
        nodes.push(t);
      }
    });
    const label = svg('text', {x: 4, y: 11});
    label.textContent = 'total tokens, max ' + num(max);
    nodes.push(label);
    chart.replaceChildren(...nodes);
  }

  // The CSV comes through fetch (it needs the Bearer header a plain link
  // cannot send) and is saved from a Blob.
  async function downloadCsv() {
    try {
      const r = await api(usageQuery(), {headers: {Accept: 'text/csv'}});
      const url = URL.createObjectURL(await r.blob());
      const a = el('a');
      a.href = url;
      a.download = 'aigw-usage.csv';
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (e) {
      failed(e);
    }
  }

  // ---- refresh loop, key, reload ------------------------------------------

  function failed(e) {
    if (e instanceof AuthError) {
      const had = !!sessionStorage.getItem(KEY);
      status(had ? 'The admin key was refused (401 invalid_admin_key): type the [admin] api_key of this gateway.'
                 : 'This gateway needs its admin key: type the [admin] api_key above.', 'error');
      $('key-input').focus();
    } else {
      status('Could not read the gateway: ' + e.message, 'error');
    }
  }

  let timer = null;
  let usageLoaded = false;
  async function refresh() {
    clearTimeout(timer);
    try {
      const [metrics, providers, errors, keys, hist] = await Promise.all([
        api('/metrics').then((r) => r.text()),
        api('/admin/providers').then((r) => r.json()),
        api('/admin/errors').then((r) => r.json()),
        api(keysQuery()).then((r) => r.json()),
        api('/admin/history').then((r) => r.json()),
      ]);
      drawNow(parseMetrics(metrics));
      drawRates(hist);
      drawKeys(keys);
      drawProviders(providers);
      drawErrors(errors);
      await loadConfig(providers.generation);
      if (!usageLoaded) {
        usageLoaded = true;
        await loadUsage();
      }
      status('Updated ' + new Date().toLocaleTimeString() + ' · every ' + EVERY_MS / 1000 + ' s', 'ok');
      timer = setTimeout(refresh, EVERY_MS);
    } catch (e) {
      failed(e);
      // A refused key stops the loop until a new one is typed.
      if (!(e instanceof AuthError)) timer = setTimeout(refresh, EVERY_MS);
    }
  }

  // The answer stays beside the button (the status line moves on with the
  // next refresh).
  async function reload() {
    const b = $('reload');
    const out = $('reload-result');
    b.disabled = true;
    out.className = '';
    out.textContent = 'Reloading…';
    try {
      const doc = await (await api('/admin/reload', {method: 'POST'})).json();
      const later = (doc.restart_required || []).length ? '; needs a restart: ' + doc.restart_required.join(', ') : '';
      out.textContent = 'Reloaded at ' + new Date().toLocaleTimeString() + ': ' + (doc.message || doc.status) + later;
      history.length = 0;  // a new generation: rates start again
      usageLoaded = false;
      refresh();
    } catch (e) {
      out.className = 'error';
      out.textContent = e instanceof AuthError ? 'Reload refused: no valid admin key' : 'Reload failed: ' + e.message;
      failed(e);
    } finally {
      b.disabled = false;
    }
  }

  function start() {
    const today = new Date().toISOString().slice(0, 10);
    $('usage-to').value = today;
    $('usage-from').value = today.slice(0, 8) + '01';
    $('key-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const k = $('key-input').value;
      $('key-input').value = '';  // the field never keeps the key on screen
      if (k) sessionStorage.setItem(KEY, k); else sessionStorage.removeItem(KEY);
      usageLoaded = false;
      status('Checking the key…');
      refresh();
    });
    $('key-forget').addEventListener('click', () => {
      sessionStorage.removeItem(KEY);
      status('Key forgotten.');
    });
    $('reload').addEventListener('click', reload);
    $('usage-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      loadUsage().catch(failed);
    });
    $('usage-csv').addEventListener('click', downloadCsv);
    $('providers-filter').addEventListener('input', () => { pages['providers-table'] = 0; drawProviders(null); });
    $('errors-filter').addEventListener('input', () => { pages['errors-table'] = 0; drawErrors(null); });
    for (const [id, ev] of [['keys-filter', 'input'], ['keys-sort', 'change']]) {
      $(id).addEventListener(ev, () => { keysView.offset = 0; loadKeys().catch(failed); });
    }
    refresh();
  }

  start();
})();
