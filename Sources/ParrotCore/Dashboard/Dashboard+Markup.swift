extension Dashboard {
    /// The page body: every panel, figure and chart, each with the stable `id` tests read.
    static let markup = #"""
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

          <section class="card">
            <h2>By endpoint <span class="hint">chat, embeddings and responses share one cache</span></h2>
            <table>
              <thead><tr><th>endpoint</th><th>hits</th><th>misses</th><th>partial</th><th>tokens</th><th>saved</th></tr></thead>
              <tbody id="endpoints"></tbody>
            </table>
            <p class="hint">Offline misses (only-if-cached, replay): <span id="offline-misses" data-value="">—</span>,
              would cost ~<span id="offline-tokens" data-value="">—</span> tokens,
              <span id="offline-cost" data-value="">—</span></p>
          </section>

          <section class="card wide">
            <h2>Providers</h2>
            <div id="providers" class="providers"></div>
            <div id="providers-empty" class="empty" hidden>No providers configured.</div>
          </section>
        </main>
        <footer>Polls <a href="/stats">/stats</a> every 2 s · Prometheus text at <a href="/metrics">/metrics</a></footer>
        </div>

        """#
}
