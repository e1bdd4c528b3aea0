extension Dashboard {
    /// The second half of the inline script: the panels, polling /stats, and the admin buttons.
    static let panelsScript = #"""
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
          function renderEndpoints(s) {
            const c = s.cache || {};
            const rows = Object.entries(c.by_endpoint || {});
            $('endpoints').replaceChildren(...rows.map(([path, e]) => {
              const tr = node('tr');
              tr.setAttribute('data-endpoint', path);
              tr.append(node('td', 'name', path));
              for (const [field, text] of [['hits', fmtInt], ['misses', fmtInt], ['partial_hits', fmtInt], ['tokens_saved', fmtInt]]) {
                const td = node('td');
                td.setAttribute('data-field', field);
                put(td, e[field], text(e[field]));
                tr.append(td);
              }
              const cost = node('td'); put(cost, e.cost_saved_usd, fmtUSD(e.cost_saved_usd)); tr.append(cost);
              return tr;
            }));
            put('offline-misses', c.offline_misses, fmtInt(c.offline_misses));
            put('offline-tokens', c.offline_miss_tokens, fmtInt(c.offline_miss_tokens));
            put('offline-cost', c.offline_miss_cost_usd, fmtUSD(c.offline_miss_cost_usd));
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
            renderEndpoints(s);
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
