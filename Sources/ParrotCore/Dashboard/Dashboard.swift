/// The live page at `/dashboard`: self-contained HTML that polls `/stats`.
enum Dashboard {
    static let html = """
        <!doctype html><html><head><meta charset="utf-8"><title>Parrot</title></head>
        <body><h1>Parrot</h1><pre id="stats">loading…</pre>
        <script>
        async function tick(){try{const r=await fetch('/stats');document.getElementById('stats').textContent=JSON.stringify(await r.json(),null,2)}catch(e){document.getElementById('stats').textContent='/stats unreachable'}}
        tick();setInterval(tick,2000);
        </script></body></html>
        """
}
