extension Dashboard {
    /// The first half of the inline script: formatting, the /stats samples and the SVG charts.
    static let chartsScript = #"""
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

        """#
}
