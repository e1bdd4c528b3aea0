/// The live page at `/dashboard`: one self-contained HTML document (inline CSS, inline JS, no
/// CDN, no build step) that polls `/stats` every 2 s and draws everything client-side. It is a
/// static string served as is, so the page costs the proxy's hot path nothing.
///
/// Every element showing a number has a stable `id` and carries the raw `/stats` value in
/// `data-value` (tests compare those exactly). Text that comes from `/stats` (model and provider
/// names, error messages) only ever reaches the DOM through `textContent` / `setAttribute`.
enum Dashboard {
    static let html = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>Parrot · dashboard</title>
        <style>
        :root{
          --bg:#f4f5f7;--card:#fff;--fg:#1a1e23;--muted:#5d6773;--line:#e2e5e9;--grid:#edf0f3;
          --accent:#0e7c6b;--exact:#2563eb;--semantic:#9333ea;--stale:#d97706;--rps:#0e7c6b;--upstream:#7c8796;
          --good:#15803d;--good-bg:#dcfce7;--warn:#a16207;--warn-bg:#fef3c7;--bad:#b91c1c;--bad-bg:#fee2e2;
          --bar:#e6e9ed;
        }
        @media (prefers-color-scheme:dark){:root{
          --bg:#0e1115;--card:#161a20;--fg:#e5e8ec;--muted:#98a2ae;--line:#262c34;--grid:#20262d;
          --accent:#2dd4bf;--exact:#60a5fa;--semantic:#c084fc;--stale:#fbbf24;--rps:#2dd4bf;--upstream:#8b96a5;
          --good:#4ade80;--good-bg:#12351f;--warn:#facc15;--warn-bg:#3a2f0b;--bad:#f87171;--bad-bg:#3f1515;
          --bar:#272e37;
        }}
        *{box-sizing:border-box}
        html{-webkit-text-size-adjust:100%}
        body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
        .wrap{max-width:1280px;margin:0 auto;padding:16px}
        header{display:flex;flex-wrap:wrap;align-items:center;gap:10px 16px;margin-bottom:14px}
        .brand{display:flex;align-items:center;gap:10px;margin-right:auto}
        .brand h1{font-size:20px;margin:0;font-weight:650;letter-spacing:-.01em}
        .brand .sub{color:var(--muted);font-size:13px}
        .logo{width:30px;height:30px;flex:none}
        .status{display:flex;align-items:center;gap:8px;color:var(--muted);font-size:13px;flex-wrap:wrap}
        .pill{display:inline-flex;align-items:center;gap:6px;padding:2px 10px;border-radius:999px;font-size:12px;font-weight:600;background:var(--bar);color:var(--muted)}
        .pill::before{content:"";width:7px;height:7px;border-radius:50%;background:currentColor}
        .pill.live{background:var(--good-bg);color:var(--good)}
        .pill.stale{background:var(--bad-bg);color:var(--bad)}
        form.admin,.admin-actions{display:flex;gap:6px;align-items:center}
        input,button{font:inherit;font-size:13px;border-radius:7px;border:1px solid var(--line);background:var(--card);color:var(--fg);padding:5px 10px}
        input{width:150px}
        button{cursor:pointer;font-weight:550}
        button:hover{border-color:var(--muted)}
        button.danger{color:var(--bad);border-color:color-mix(in srgb,var(--bad) 45%,var(--line))}
        button.quiet{color:var(--muted)}
        [hidden]{display:none!important}
        #banner{margin:0 0 14px;padding:10px 14px;border-radius:10px;background:var(--bad-bg);color:var(--bad);font-weight:550;border:1px solid color-mix(in srgb,var(--bad) 35%,transparent)}
        #admin-result{margin:0 0 14px;padding:8px 14px;border-radius:10px;font-size:13px;border:1px solid var(--line);background:var(--card)}
        #admin-result.good{color:var(--good);background:var(--good-bg)}
        #admin-result.bad{color:var(--bad);background:var(--bad-bg)}
        .kpis{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:10px;margin-bottom:14px}
        @media (min-width:640px){.kpis{grid-template-columns:repeat(4,minmax(0,1fr))}}
        @media (min-width:1100px){.kpis{grid-template-columns:repeat(8,minmax(0,1fr))}}
        .kpi,.card{background:var(--card);border:1px solid var(--line);border-radius:12px}
        .kpi{padding:11px 13px;min-width:0}
        .kpi .label{color:var(--muted);font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .kpi .value{font-size:23px;font-weight:650;letter-spacing:-.02em;margin-top:2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .kpi .note{color:var(--muted);font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .kpi.hero .value{color:var(--accent)}
        .num,.value,td{font-variant-numeric:tabular-nums}
        .grid{display:grid;grid-template-columns:minmax(0,1fr);gap:14px}
        @media (min-width:900px){.grid{grid-template-columns:repeat(2,minmax(0,1fr))}}
        .card{padding:14px 16px;min-width:0}
        .card h2{font-size:14px;margin:0 0 10px;font-weight:650;display:flex;align-items:baseline;gap:8px;flex-wrap:wrap}
        .card h2 .hint{color:var(--muted);font-weight:400;font-size:12px}
        svg.chart{display:block;width:100%;height:150px;overflow:visible}
        svg.chart text{fill:var(--muted);font-size:10.5px}
        .legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin-top:8px;font-size:12px;color:var(--muted)}
        .legend b{color:var(--fg);font-weight:600}
        .sw{display:inline-block;width:10px;height:3px;border-radius:2px;vertical-align:middle;margin-right:5px}
        table{width:100%;border-collapse:collapse;font-size:13px}
        th{color:var(--muted);font-weight:500;font-size:12px;text-align:right;padding:4px 6px;border-bottom:1px solid var(--line);white-space:nowrap}
        td{padding:5px 6px;text-align:right;border-bottom:1px solid var(--grid);white-space:nowrap}
        th:first-child,td:first-child{text-align:left;padding-left:0}
        th:last-child,td:last-child{padding-right:0}
        tr:last-child td{border-bottom:0}
        td.name{max-width:220px;overflow:hidden;text-overflow:ellipsis}
        .dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,150px),1fr));gap:0 22px;margin:0}
        .dl div{display:flex;justify-content:space-between;gap:8px;padding:5px 0;border-bottom:1px solid var(--grid);font-size:13px;min-width:0}
        .dl dt{color:var(--muted);white-space:nowrap}
        .dl dd{margin:0;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
        .badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;font-weight:650;white-space:nowrap}
        .badge.good,.st-closed{background:var(--good-bg);color:var(--good)}
        .badge.warn,.st-half_open{background:var(--warn-bg);color:var(--warn)}
        .badge.bad,.st-open{background:var(--bad-bg);color:var(--bad)}
        .st-unknown{background:var(--bar);color:var(--muted)}
        .flag{margin-top:10px;padding:7px 10px;border-radius:8px;background:var(--warn-bg);color:var(--warn);font-size:12.5px}
        .empty{color:var(--muted);font-size:13px;padding:6px 0}
        .providers{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,270px),1fr));gap:12px}
        .card.wide{grid-column:1/-1}
        .prov{border:1px solid var(--line);border-radius:10px;padding:10px 12px}
        .prov-head{display:flex;align-items:center;justify-content:space-between;gap:8px;margin-bottom:6px}
        .prov-name{font-weight:650;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
        .meter{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;align-items:center;font-size:12.5px;margin-top:6px}
        .meter .m-label{color:var(--muted)}
        .meter .m-text{text-align:right;font-weight:600;font-variant-numeric:tabular-nums}
        .bar{grid-column:1/-1;height:5px;border-radius:3px;background:var(--bar);overflow:hidden}
        .bar i{display:block;height:100%;background:var(--accent);border-radius:3px}
        .bar i.warn{background:var(--stale)}
        .bar i.bad{background:var(--bad)}
        .counts{display:flex;gap:14px;flex-wrap:wrap;font-size:12.5px;color:var(--muted)}
        .counts b{color:var(--fg);font-weight:600}
        .counts b.alert{color:var(--bad)}
        body.is-stale .kpi .value,body.is-stale .card dd,body.is-stale td,body.is-stale .legend b,body.is-stale svg.chart path,body.is-stale .prov b,body.is-stale .m-text{opacity:.45}
        footer{color:var(--muted);font-size:12px;margin:18px 0 4px;text-align:center}
        footer a{color:inherit}
        @media (max-width:480px){
          .wrap{padding:10px}
          .kpi .value{font-size:20px}
          .dl{gap:0 14px}
          input{width:120px}
          th,td{padding-left:4px;padding-right:4px}
        }
        </style>
        </head>
        <body>
        <div class="wrap">
        <header>
          <div class="brand">
            <svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><circle cx="16" cy="16" r="15" fill="#0e7c6b"/><path d="M10 23c0-7 3-13 10-13 3 0 5 2 5 5h-5c-3 0-5 3-5 8z" fill="#fff"/><circle cx="20.5" cy="13.5" r="1.4" fill="#0e7c6b"/><path d="M25 15l2.5 2.5L25 19z" fill="#fbbf24"/></svg>
            <div><h1>Parrot</h1><div class="sub">cache dashboard</div></div>
          </div>
          <div class="status">
            <span id="live" class="pill">connecting</span>
            <span>up <span id="uptime" class="num" data-value="">—</span></span>
            <span>· updated <span id="updated">—</span></span>
          </div>
          <form id="admin-form" class="admin" autocomplete="off">
            <input id="admin-token" type="password" placeholder="Admin token" aria-label="Admin token">
            <button type="submit">Unlock</button>
          </form>
          <div id="admin-actions" class="admin-actions" hidden>
            <button id="clear-cache" class="danger" type="button">Clear cache</button>
            <button id="reset-stats" class="danger" type="button">Reset stats</button>
            <button id="forget-token" class="quiet" type="button" title="Forget the admin token">Lock</button>
          </div>
        </header>
        <div id="banner" role="alert" hidden></div>
        <div id="admin-result" role="status" hidden></div>

        <section class="kpis">
          <div class="kpi hero"><div class="label">Hit rate</div><div class="value" id="hit-rate" data-value="">—</div><div class="note"><span id="lookups" data-value="">—</span> lookups</div></div>
          <div class="kpi"><div class="label">Requests</div><div class="value" id="requests" data-value="">—</div><div class="note">all /v1/* calls</div></div>
          <div class="kpi"><div class="label">Requests / s</div><div class="value" id="rps" data-value="">—</div><div class="note">last 2 s</div></div>
          <div class="kpi"><div class="label">Tokens saved</div><div class="value" id="tokens-saved" data-value="">—</div><div class="note">served from cache</div></div>
          <div class="kpi"><div class="label">Dollars saved</div><div class="value" id="cost-saved" data-value="">—</div><div class="note" id="cost-note">priced models</div></div>
          <div class="kpi"><div class="label">Entries</div><div class="value" id="entries" data-value="">—</div><div class="note">in the store</div></div>
          <div class="kpi"><div class="label">Cache size</div><div class="value" id="bytes" data-value="">—</div><div class="note">compressed bodies</div></div>
          <div class="kpi"><div class="label">Memory (RSS)</div><div class="value" id="rss" data-value="">—</div><div class="note">Parrot process</div></div>
        </section>

        <main class="grid">
          <section class="card">
            <h2>Hit rate over time <span class="hint">per 2 s interval</span></h2>
            <svg class="chart" id="chart-hits" role="img" aria-label="hit rate over time"></svg>
            <div class="legend">
              <span><i class="sw" style="background:var(--exact)"></i>exact <b id="rate-exact" data-value="">—</b></span>
              <span><i class="sw" style="background:var(--semantic)"></i>semantic <b id="rate-semantic" data-value="">—</b></span>
              <span><i class="sw" style="background:var(--stale)"></i>stale <b id="rate-stale" data-value="">—</b></span>
            </div>
          </section>
          <section class="card">
            <h2>Requests per second <span class="hint">client calls and upstream calls</span></h2>
            <svg class="chart" id="chart-rps" role="img" aria-label="requests per second"></svg>
            <div class="legend">
              <span><i class="sw" style="background:var(--rps)"></i>requests/s <b id="rate-requests" data-value="">—</b></span>
              <span><i class="sw" style="background:var(--upstream)"></i>upstream/s <b id="rate-upstream" data-value="">—</b></span>
            </div>
          </section>

          <section class="card wide">
            <h2>Cache <span class="hint" id="store-name"></span> <span id="store-status" class="badge" hidden></span></h2>
            <dl class="dl">
              <div><dt>Exact hits</dt><dd id="hits" data-value="">—</dd></div>
              <div><dt>Semantic hits</dt><dd id="semantic-hits" data-value="">—</dd></div>
              <div><dt>Misses</dt><dd id="misses" data-value="">—</dd></div>
              <div><dt>Stale served</dt><dd id="stale" data-value="">—</dd></div>
              <div><dt>Bypass</dt><dd id="bypass" data-value="">—</dd></div>
              <div><dt>Entries</dt><dd id="entries-detail" data-value="">—</dd></div>
              <div><dt>Stored bytes</dt><dd id="bytes-detail" data-value="">—</dd></div>
              <div><dt>Compression</dt><dd id="compression-ratio" data-value="">—</dd></div>
              <div><dt>Memory entries</dt><dd id="memory-entries" data-value="">—</dd></div>
              <div><dt>Memory size</dt><dd id="memory-bytes" data-value="">—</dd></div>
            </dl>
          </section>

          <section class="card">
            <h2>Latency <span class="hint">milliseconds</span></h2>
            <table>
              <thead><tr><th>operation</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>max</th></tr></thead>
              <tbody id="latency">
                <tr><td>exact hit</td><td id="lat-hit-count"></td><td id="lat-hit-p50"></td><td id="lat-hit-p95"></td><td id="lat-hit-p99"></td><td id="lat-hit-max"></td></tr>
                <tr><td>miss</td><td id="lat-miss-count"></td><td id="lat-miss-p50"></td><td id="lat-miss-p95"></td><td id="lat-miss-p99"></td><td id="lat-miss-max"></td></tr>
                <tr><td>upstream</td><td id="lat-upstream-count"></td><td id="lat-upstream-p50"></td><td id="lat-upstream-p95"></td><td id="lat-upstream-p99"></td><td id="lat-upstream-max"></td></tr>
                <tr><td>overhead</td><td id="lat-overhead-count"></td><td id="lat-overhead-p50"></td><td id="lat-overhead-p95"></td><td id="lat-overhead-p99"></td><td id="lat-overhead-max"></td></tr>
              </tbody>
            </table>
          </section>

          <section class="card">
            <h2>Savings by model <span class="hint">answers served from cache</span></h2>
            <table>
              <thead><tr><th>model</th><th>answers</th><th>tokens</th><th>saved</th></tr></thead>
              <tbody id="models"></tbody>
            </table>
            <div id="models-empty" class="empty">No answers served from cache yet.</div>
            <div id="unpriced" class="flag" hidden></div>
          </section>

          <section class="card wide">
            <h2>Providers</h2>
            <div id="providers" class="providers"></div>
            <div id="providers-empty" class="empty" hidden>No providers configured.</div>
          </section>
        </main>
        <footer>Polls <a href="/stats">/stats</a> every 2 s · Prometheus text at <a href="/metrics">/metrics</a></footer>
        </div>

        <script>
        'use strict';
        (function () {
          const POLL_MS = 2000, TIMEOUT_MS = 4000, KEEP = 2200, SPAN_MAX = 3600, TOKEN_KEY = 'parrot.adminToken';
          const NS = 'http://www.w3.org/2000/svg';
          const $ = (id) => document.getElementById(id);
          const nf = new Intl.NumberFormat('en-US');
          let samples = [];          // successive /stats samples, oldest first
          let seeded = false;        // the first poll asks for ?history=1 and seeds the charts
          let lastGood = null;       // Date of the last good sample
          let timer = null;
          const drawnWidth = new Map(); // chart element → width it was last drawn at

          // ---------- formatting ----------
          const isNum = (v) => typeof v === 'number' && isFinite(v);
          const fmtInt = (v) => isNum(v) ? nf.format(v) : '—';
          const fmtPct = (v) => isNum(v) ? (v * 100).toFixed(1) + '%' : '—';
          function fmtUSD(v) {
            if (!isNum(v)) return '—';
            if (v === 0) return '$0.00';
            if (Math.abs(v) < 1) return '$' + String(Number(v.toPrecision(2)));
            return '$' + v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
          }
          function fmtBytes(v) {
            if (!isNum(v)) return '—';
            const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
            let i = 0, x = v;
            while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
            return (i === 0 ? String(x) : x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)) + ' ' + units[i];
          }
          function fmtMs(v) {
            if (!isNum(v)) return '—';
            if (v >= 10000) return (v / 1000).toFixed(1) + ' s';
            return v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : nf.format(Math.round(v));
          }
          function fmtRate(v) {
            if (!isNum(v)) return '—';
            return v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : nf.format(Math.round(v));
          }
          function fmtDur(s) {
            if (!isNum(s)) return '—';
            s = Math.floor(s);
            const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
            if (d) return d + 'd ' + h + 'h';
            if (h) return h + 'h ' + m + 'm';
            if (m) return m + 'm ' + r + 's';
            return r + 's';
          }
          const clock = (d) => d.toLocaleTimeString('en-GB', { hour12: false });

          // Shows `text` and keeps the raw number in data-value (empty when absent).
          function put(target, raw, text) {
            const el = typeof target === 'string' ? $(target) : target;
            if (!el) return;
            el.setAttribute('data-value', raw === null || raw === undefined ? '' : String(raw));
            el.textContent = text;
          }
          function node(tag, cls, text) {
            const el = document.createElement(tag);
            if (cls) el.className = cls;
            if (text !== undefined) el.textContent = text;
            return el;
          }

          // ---------- samples and rates ----------
          function record(s) {
            const c = s.cache || {};
            let upstream = 0;
            for (const p of Object.values(s.providers || {})) upstream += (p && p.requests) || 0;
            const x = { t: s.uptime_s, requests: s.requests, hits: c.hits, semantic: c.semantic_hits, stale: c.stale, misses: c.misses, upstream };
            const prev = samples[samples.length - 1];
            if (prev) {
              // A restart (uptime went back) or a stats reset (a counter went down) starts a new series.
              const reset = x.t < prev.t || ['requests', 'hits', 'semantic', 'stale', 'misses', 'upstream'].some((k) => x[k] < prev[k]);
              if (reset) samples = [];
              else if (x.t === prev.t) samples.pop();
            }
            samples.push(x);
            if (samples.length > KEEP) samples.shift();
          }
          // The server's last hour (10-second samples of what happened in each interval) as the
          // cumulative samples record() keeps, ending at the current totals, so the charts are
          // full when the page opens. History times are Unix seconds; samples use uptime.
          function seed(s, history) {
            const c = s.cache || {};
            let upstream = 0;
            for (const p of Object.values(s.providers || {})) upstream += (p && p.requests) || 0;
            const offset = s.uptime_s - Date.now() / 1000;
            let cur = { requests: s.requests, hits: c.hits, semantic: c.semantic_hits, stale: c.stale, misses: c.misses, upstream };
            const out = [];
            for (let i = history.length - 1; i >= 0; i--) {
              const h = history[i], t = h.t + offset;
              if (!(t > 0) || t >= s.uptime_s) continue;
              out.unshift(Object.assign({ t }, cur));
              cur = {
                requests: cur.requests - h.requests, hits: cur.hits - h.hits, semantic: cur.semantic - h.semantic_hits,
                stale: cur.stale, misses: cur.misses - h.misses, upstream: cur.upstream - h.upstream_calls,
              };
            }
            samples = out.slice(-KEEP);
          }
          function intervals() {
            const out = [];
            for (let i = 1; i < samples.length; i++) {
              const a = samples[i - 1], b = samples[i], dt = b.t - a.t;
              if (!(dt > 0)) continue;
              const dh = b.hits - a.hits, ds = b.semantic - a.semantic, dst = b.stale - a.stale;
              const lookups = dh + ds + dst + (b.misses - a.misses);
              out.push({
                t: b.t,
                rps: (b.requests - a.requests) / dt,
                ups: (b.upstream - a.upstream) / dt,
                exact: lookups > 0 ? dh / lookups : null,
                semantic: lookups > 0 ? ds / lookups : null,
                stale: lookups > 0 ? dst / lookups : null,
              });
            }
            return out;
          }

          // ---------- charts (plain SVG) ----------
          function svg(tag, attrs, parent) {
            const el = document.createElementNS(NS, tag);
            for (const k in attrs) el.setAttribute(k, attrs[k]);
            if (parent) parent.appendChild(el);
            return el;
          }
          function niceMax(v) {
            if (!(v > 0)) return 1;
            const p = Math.pow(10, Math.floor(Math.log10(v)));
            for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
            return 10 * p;
          }
          function drawChart(el, points, series, yMax, fmtY) {
            el.replaceChildren();
            const measured = Math.round(el.getBoundingClientRect().width);
            drawnWidth.set(el, measured);
            const W = Math.max(160, measured || 320), H = 150;
            const L = 40, R = 6, T = 6, B = 18, w = W - L - R, h = H - T - B;
            el.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
            const now = samples.length ? samples[samples.length - 1].t : 0;
            const first = samples.length ? samples[0].t : 0;
            const span = Math.min(SPAN_MAX, Math.max(60, now - first));
            const x0 = now - span;
            const X = (t) => L + (t - x0) / span * w, Y = (v) => T + h - Math.min(v, yMax) / yMax * h;
            for (const f of [0, 0.5, 1]) {
              const y = Y(f * yMax);
              svg('line', { x1: L, x2: L + w, y1: y, y2: y, stroke: 'var(--grid)', 'stroke-width': 1 }, el);
              const label = svg('text', { x: L - 6, y: y + 3.5, 'text-anchor': 'end' }, el);
              label.textContent = fmtY(f * yMax);
            }
            const left = svg('text', { x: L, y: H - 3 }, el);
            left.textContent = '−' + (span >= 120 ? Math.round(span / 60) + ' min' : Math.round(span) + ' s');
            const right = svg('text', { x: L + w, y: H - 3, 'text-anchor': 'end' }, el);
            right.textContent = 'now';
            const shown = points.filter((p) => p.t >= x0);
            if (!shown.length) {
              const msg = svg('text', { x: L + w / 2, y: T + h / 2, 'text-anchor': 'middle' }, el);
              msg.textContent = samples.length ? 'collecting samples…' : 'waiting for /stats…';
              return;
            }
            for (const s of series) {
              let d = '', run = [];
              const flush = () => {
                if (run.length === 1) svg('circle', { cx: run[0][0], cy: run[0][1], r: 2.2, fill: s.color }, el);
                run = [];
              };
              for (const p of shown) {
                const v = p[s.key];
                if (!isNum(v)) { flush(); continue; }
                const pt = [X(p.t).toFixed(1), Y(v).toFixed(1)];
                d += (run.length ? 'L' : 'M') + pt[0] + ' ' + pt[1];
                run.push(pt);
              }
              flush();
              if (s.fill && d) {
                const firstX = X(shown[0].t).toFixed(1), lastX = X(shown[shown.length - 1].t).toFixed(1);
                if (shown.every((p) => isNum(p[s.key]))) {
                  svg('path', { d: d + 'L' + lastX + ' ' + (T + h) + 'L' + firstX + ' ' + (T + h) + 'Z', fill: s.color, 'fill-opacity': 0.12, stroke: 'none' }, el);
                }
              }
              if (d) svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.8, 'stroke-linejoin': 'round', 'stroke-linecap': 'round' }, el);
            }
          }
          function drawCharts() {
            const pts = intervals();
            drawChart($('chart-hits'), pts, [
              { key: 'stale', color: 'var(--stale)' },
              { key: 'semantic', color: 'var(--semantic)' },
              { key: 'exact', color: 'var(--exact)' },
            ], 1, (v) => Math.round(v * 100) + '%');
            let top = 0;
            for (const p of pts) top = Math.max(top, p.rps, p.ups);
            drawChart($('chart-rps'), pts, [
              { key: 'ups', color: 'var(--upstream)' },
              { key: 'rps', color: 'var(--rps)', fill: true },
            ], niceMax(top), (v) => fmtRate(v).replace(/\.00$/, ''));
            const lastPt = pts[pts.length - 1] || {};
            put('rate-exact', lastPt.exact, fmtPct(lastPt.exact));
            put('rate-semantic', lastPt.semantic, fmtPct(lastPt.semantic));
            put('rate-stale', lastPt.stale, fmtPct(lastPt.stale));
            put('rate-requests', lastPt.rps, fmtRate(lastPt.rps));
            put('rate-upstream', lastPt.ups, fmtRate(lastPt.ups));
            put('rps', lastPt.rps, fmtRate(lastPt.rps));
          }

          // ---------- panels ----------
          function renderCache(s) {
            const c = s.cache || {};
            put('hit-rate', c.hit_rate, fmtPct(c.hit_rate));
            const lookups = [c.hits, c.semantic_hits, c.stale, c.misses].every(isNum) ? c.hits + c.semantic_hits + c.stale + c.misses : null;
            put('lookups', lookups, fmtInt(lookups));
            put('requests', s.requests, fmtInt(s.requests));
            put('tokens-saved', c.tokens_saved, fmtInt(c.tokens_saved));
            put('cost-saved', c.cost_saved_usd, fmtUSD(c.cost_saved_usd));
            put('entries', c.entries, fmtInt(c.entries));
            put('entries-detail', c.entries, fmtInt(c.entries));
            put('bytes', c.bytes, fmtBytes(c.bytes));
            put('bytes-detail', c.bytes, fmtBytes(c.bytes));
            put('hits', c.hits, fmtInt(c.hits));
            put('semantic-hits', c.semantic_hits, fmtInt(c.semantic_hits));
            put('misses', c.misses, fmtInt(c.misses));
            put('stale', c.stale, fmtInt(c.stale));
            put('bypass', c.bypass, fmtInt(c.bypass));
            put('compression-ratio', c.compression_ratio, isNum(c.compression_ratio) ? c.compression_ratio.toFixed(2) + '×' : '—');
            put('memory-entries', c.memory_entries, fmtInt(c.memory_entries));
            put('memory-bytes', c.memory_bytes, fmtBytes(c.memory_bytes));
            put('rss', s.memory && s.memory.rss_bytes, fmtBytes(s.memory && s.memory.rss_bytes));
            put('uptime', s.uptime_s, fmtDur(s.uptime_s));
            $('store-name').textContent = typeof c.store === 'string' ? c.store : '';
            const st = $('store-status');
            st.hidden = !c.store_status;
            st.textContent = c.store_status === 'ok' ? 'store ok' : 'store ' + String(c.store_status || '');
            st.className = 'badge ' + (c.store_status === 'ok' ? 'good' : 'bad');
          }
          function renderLatency(s) {
            const lat = s.latency_ms || {};
            for (const op of ['hit', 'miss', 'upstream', 'overhead']) {
              const o = lat[op] || {};
              put('lat-' + op + '-count', o.count, fmtInt(o.count));
              for (const f of ['p50', 'p95', 'p99', 'max']) {
                put('lat-' + op + '-' + f, o[f], o.count ? fmtMs(o[f]) : '—');
              }
            }
          }
          function renderModels(s) {
            const c = s.cache || {};
            const unpriced = new Set(Array.isArray(c.unpriced_models) ? c.unpriced_models.map(String) : []);
            const rows = Object.entries(c.by_model || {}).map(([name, m]) => ({
              name, answers: m.answers, tokens: (m.prompt_tokens || 0) + (m.completion_tokens || 0),
              prompt: m.prompt_tokens, completion: m.completion_tokens, cost: m.cost_saved_usd,
              unpriced: unpriced.has(name) || m.cost_saved_usd === null,
            }));
            rows.sort((a, b) => (b.cost || 0) - (a.cost || 0) || b.tokens - a.tokens || (a.name < b.name ? -1 : 1));
            const body = $('models');
            body.replaceChildren(...rows.map((r) => {
              const tr = node('tr');
              tr.setAttribute('data-model', r.name);
              const name = node('td', 'name', r.name);
              name.title = r.name;
              tr.append(name);
              const answers = node('td'); put(answers, r.answers, fmtInt(r.answers)); tr.append(answers);
              const tokens = node('td'); put(tokens, r.tokens, fmtInt(r.tokens));
              tokens.title = fmtInt(r.prompt) + ' prompt + ' + fmtInt(r.completion) + ' completion';
              tr.append(tokens);
              const cost = node('td');
              if (r.unpriced) {
                cost.setAttribute('data-value', '');
                cost.append(node('span', 'badge warn', 'unpriced'));
              } else put(cost, r.cost, fmtUSD(r.cost));
              tr.append(cost);
              return tr;
            }));
            $('models-empty').hidden = rows.length > 0;
            const flag = $('unpriced');
            const names = [...unpriced];
            flag.hidden = names.length === 0;
            flag.textContent = names.length === 0 ? '' :
              '⚠ No price for ' + names.join(', ') + ': ' + (names.length === 1 ? 'its' : 'their') +
              ' savings are not in the dollar total. Add [pricing."model"] to proxy.conf.';
            $('cost-note').textContent = names.length ? names.length + ' model' + (names.length === 1 ? '' : 's') + ' unpriced' : 'priced models';
          }
          // A labelled figure with an optional fill bar; the figure carries data-field/data-value.
          function meter(parent, label, field, raw, used, max, text, tone) {
            const m = node('div', 'meter');
            const figure = node('span', 'm-text');
            figure.setAttribute('data-field', field);
            put(figure, raw, text);
            m.append(node('span', 'm-label', label), figure);
            if (isNum(max) && max > 0 && isNum(used)) {
              const bar = node('div', 'bar'), fill = node('i', tone || '');
              fill.style.width = Math.max(0, Math.min(100, used / max * 100)).toFixed(1) + '%';
              bar.append(fill);
              m.append(bar);
            }
            parent.append(m);
          }
          function renderProviders(s) {
            const box = $('providers');
            const entries = Object.entries(s.providers || {});
            box.replaceChildren(...entries.map(([name, p]) => {
              p = p || {};
              const card = node('div', 'prov');
              card.setAttribute('data-provider', name);
              const head = node('div', 'prov-head');
              const breaker = p.breaker || {};
              const state = ['closed', 'open', 'half_open'].includes(breaker.state) ? breaker.state : 'unknown';
              const badge = node('span', 'badge st-' + state, 'breaker ' + (state === 'half_open' ? 'half-open' : String(breaker.state || 'unknown')));
              badge.setAttribute('data-field', 'breaker');
              badge.setAttribute('data-value', String(breaker.state || ''));
              if (isNum(breaker.failures) && breaker.failures > 0) badge.title = breaker.failures + ' consecutive failures';
              head.append(node('span', 'prov-name', name), badge);
              card.append(head);
              const counts = node('div', 'counts');
              for (const [key, label] of [['requests', 'requests'], ['errors', 'errors'], ['rate_limited', 'rate-limited']]) {
                const span = node('span');
                const b = node('b', key !== 'requests' && p[key] > 0 ? 'alert' : '');
                b.setAttribute('data-field', key);
                put(b, p[key], fmtInt(p[key]));
                span.append(b, document.createTextNode(' ' + label));
                counts.append(span);
              }
              if (isNum(breaker.failures) && breaker.failures > 0) {
                const span = node('span'), b = node('b', 'alert');
                b.setAttribute('data-field', 'failures');
                put(b, breaker.failures, fmtInt(breaker.failures));
                span.append(b, document.createTextNode(' failing in a row'));
                counts.append(span);
              }
              card.append(counts);
              const lim = p.limits || {};
              const budget = (remaining, limit) => {
                if (remaining === null || remaining === undefined || !isNum(limit)) return ['unlimited', ''];
                const ratio = remaining / limit;
                return [fmtInt(remaining) + ' / ' + fmtInt(limit), ratio < 0.1 ? 'bad' : ratio < 0.3 ? 'warn' : ''];
              };
              const [rq, rqTone] = budget(lim.remaining_requests, lim.rpm);
              meter(card, 'Requests left / min', 'remaining_requests', lim.remaining_requests, lim.remaining_requests, lim.rpm, rq, rqTone);
              const [tk, tkTone] = budget(lim.remaining_tokens, lim.tpm);
              meter(card, 'Tokens left / min', 'remaining_tokens', lim.remaining_tokens, lim.remaining_tokens, lim.tpm, tk, tkTone);
              const pool = p.pool || {};
              const busy = isNum(pool.in_flight) && isNum(pool.max_connections) && pool.max_connections > 0 ? pool.in_flight / pool.max_connections : 0;
              meter(card, 'Open connections', 'in_flight', pool.in_flight, pool.in_flight, pool.max_connections,
                fmtInt(pool.in_flight) + ' / ' + fmtInt(pool.max_connections), busy > 0.9 ? 'bad' : busy > 0.7 ? 'warn' : '');
              return card;
            }));
            $('providers-empty').hidden = entries.length > 0;
          }

          // ---------- polling ----------
          function setLive(ok, message) {
            const pill = $('live'), banner = $('banner');
            document.body.classList.toggle('is-stale', !ok && lastGood !== null);
            pill.className = 'pill ' + (ok ? 'live' : 'stale');
            pill.textContent = ok ? 'live' : lastGood ? 'stale' : 'offline';
            banner.hidden = ok;
            if (!ok) {
              banner.textContent = 'Cannot reach /stats (' + message + '). ' + (lastGood
                ? 'The numbers below are from ' + clock(lastGood) + ' and may be out of date. '
                : '') + 'Retrying every 2 s…';
            }
          }
          async function refresh() {
            const ctl = new AbortController();
            const abort = setTimeout(() => ctl.abort(), TIMEOUT_MS);
            let s;
            try {
              const r = await fetch(seeded ? '/stats' : '/stats?history=1', { cache: 'no-store', signal: ctl.signal, headers: { accept: 'application/json' } });
              if (!r.ok) throw new Error('HTTP ' + r.status);
              s = await r.json();
              if (!s || typeof s !== 'object' || !s.cache) throw new Error('unexpected answer');
              if (!seeded && Array.isArray(s.history)) seed(s, s.history);
              seeded = true;
            } catch (e) {
              setLive(false, e && e.name === 'AbortError' ? 'timed out' : (e && e.message) || 'network error');
              return;
            } finally {
              clearTimeout(abort);
            }
            lastGood = new Date();
            record(s);
            renderCache(s);
            renderLatency(s);
            renderModels(s);
            renderProviders(s);
            drawCharts();
            $('updated').textContent = clock(lastGood);
            setLive(true);
          }
          async function poll() {
            clearTimeout(timer);
            await refresh();
            timer = setTimeout(poll, POLL_MS);
          }

          // ---------- admin ----------
          function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
          function setToken(v) {
            try { if (v) sessionStorage.setItem(TOKEN_KEY, v); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* storage blocked */ }
            showAdmin();
          }
          function showAdmin() {
            const unlocked = token() !== '';
            $('admin-actions').hidden = !unlocked;
            $('admin-form').hidden = unlocked;
          }
          function say(text, tone) {
            const box = $('admin-result');
            box.hidden = false;
            box.className = tone || '';
            box.textContent = text;
          }
          async function admin(method, path, label, done) {
            say(label + '…');
            try {
              const r = await fetch(path, { method, cache: 'no-store', headers: { authorization: 'Bearer ' + token() } });
              let body = null;
              try { body = await r.json(); } catch (e) { body = null; }
              if (r.status === 401) {
                setToken('');
                say(label + ': wrong token (401), nothing changed. Enter the admin token again.', 'bad');
              } else if (!r.ok) {
                const detail = body && body.error && typeof body.error.message === 'string' ? ': ' + body.error.message : '';
                say(label + ' failed (HTTP ' + r.status + ')' + detail, 'bad');
              } else {
                say(done(body || {}) + ' at ' + clock(new Date()) + '.', 'good');
                poll();
              }
            } catch (e) {
              say(label + ' failed: Parrot is unreachable.', 'bad');
            }
          }
          $('admin-form').addEventListener('submit', (e) => {
            e.preventDefault();
            const v = $('admin-token').value.trim();
            $('admin-token').value = '';
            if (v) { setToken(v); $('admin-result').hidden = true; }
          });
          $('forget-token').addEventListener('click', () => { setToken(''); $('admin-result').hidden = true; });
          $('clear-cache').addEventListener('click', () => {
            if (!confirm('Clear the whole cache? Every stored answer is deleted.')) return;
            admin('DELETE', '/cache', 'Clear cache', (b) => 'Cache cleared: ' + fmtInt(b.deleted) + ' entries deleted');
          });
          $('reset-stats').addEventListener('click', () => {
            admin('POST', '/stats/reset', 'Reset stats', () => 'Stats reset');
          });

          // Charts are drawn in pixels (crisp text at any width): redraw when their width changes.
          const charts = [$('chart-hits'), $('chart-rps')];
          const resized = () => { if (charts.some((c) => Math.round(c.getBoundingClientRect().width) !== drawnWidth.get(c))) drawCharts(); };
          if ('ResizeObserver' in window) {
            const observer = new ResizeObserver(resized);
            charts.forEach((c) => observer.observe(c));
          } else {
            window.addEventListener('resize', resized);
          }
          showAdmin();
          drawCharts();
          poll();
        })();
        </script>
        </body>
        </html>
        """#
}
