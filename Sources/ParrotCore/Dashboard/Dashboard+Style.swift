extension Dashboard {
    /// The document head: metadata and the page's whole stylesheet.
    static let documentHead = #"""
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
        """#
}
