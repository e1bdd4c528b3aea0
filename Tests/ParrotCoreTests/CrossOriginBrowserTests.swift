import Foundation
import ParrotCore
import ParrotMock
import XCTest

/// A real headless Chromium opens a page served by another local server (another origin, another
/// site: `localhost` against Parrot's `127.0.0.1`) and tries what any page could: an HTML form
/// posting JSON as `text/plain`, `fetch` with and without CORS, an image load, a cache clear.
final class CrossOriginBrowserTests: XCTestCase {
    static let script = """
        const parrot = new URLSearchParams(location.search).get('parrot');
        const body = JSON.stringify({model: 'gpt-4o-mini', messages: [{role: 'user', content: 'a web page spends your key'}]});
        const results = {};
        async function attempt(name, run, ms = 3000) {
          const late = new Promise(resolve => setTimeout(() => resolve('no answer'), ms));
          try { results[name] = await Promise.race([run(), late]); } catch (e) { results[name] = 'blocked'; }
        }
        function finish(text) { document.getElementById('out').textContent = 'done ' + text; }
        """

    static let foreignPage = """
        <!doctype html><html><body>
        <iframe name="sink" id="sink"></iframe>
        <form id="form" method="POST" enctype="text/plain" target="sink">
          <input type="hidden" name='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"form' value='"}]}'>
        </form>
        <pre id="out">pending</pre>
        <script>
        \(script)
        function submitForm() {
          return new Promise(resolve => {
            document.getElementById('sink').onload = () => resolve('submitted');
            const form = document.getElementById('form');
            form.action = parrot + '/v1/chat/completions';
            form.submit();
          });
        }
        (async () => {
          await attempt('no-cors', async () => (await fetch(parrot + '/v1/chat/completions',
            {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body})).type);
          await attempt('cors', async () => {
            const r = await fetch(parrot + '/v1/chat/completions', {method: 'POST', headers: {'Content-Type': 'application/json'}, body});
            return r.status + ' ' + await r.text();
          });
          await attempt('image', () => new Promise(resolve => {
            const image = new Image();
            image.onload = () => resolve('loaded');
            image.onerror = () => resolve('error');
            image.src = parrot + '/v1/models';
          }));
          await attempt('clear', async () => (await fetch(parrot + '/cache', {method: 'DELETE'})).status);
          await attempt('form', submitForm, 8000);
          finish(JSON.stringify(results));
        })();
        </script></body></html>
        """

    static let allowedPage = """
        <!doctype html><html><body><pre id="out">pending</pre>
        <script>
        \(script)
        (async () => {
          try {
            const r = await fetch(parrot + '/v1/chat/completions',
              {method: 'POST', headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer sk-from-the-page'}, body});
            const answer = await r.json();
            finish('status=' + r.status + ' cache=' + r.headers.get('x-parrot-cache') + ' object=' + answer.object);
          } catch (e) {
            finish('failed ' + e);
          }
        })();
        </script></body></html>
        """

    /// Serves `html` on another port, starts Parrot with `configure(config, pageOrigin)`, and
    /// returns what Chromium shows of the page once its script is done.
    func run(_ html: String, configure: @escaping (inout ProxyConfig, String) -> Void,
             _ check: (TestProxy, String) async throws -> Void) async throws {
        guard let chromium = try DashboardBrowserTests.chromium() else { return }
        let page = try await PageServer.start(html: html)
        let origin = "http://localhost:\(page.port)"
        do {
            try await withProxy(configure: { configure(&$0, origin) }) { proxy in
                let url = "\(origin)/?parrot=\(proxy.baseURL)"
                let dom = try await DashboardBrowserTests.chromium(chromium, ["--virtual-time-budget=10000", "--dump-dom", url])
                try await check(proxy, dom)
            }
        } catch {
            await page.stop()
            throw error
        }
        await page.stop()
    }

    func testAPageOnAnotherOriginCannotMakeParrotCallTheProvider() async throws {
        try await run(Self.foreignPage, configure: { _, _ in }) { proxy, dom in
            XCTAssertTrue(dom.contains("done {"), "the page's script ran to the end: \(dom)")
            XCTAssertTrue(dom.contains(#""cors":"blocked""#), "the page read nothing: \(dom)")
            XCTAssertEqual(proxy.mock.totalRequests, 0, "the provider received no request from the page")
            let requests = try await proxy.stats()["requests"]?.intValue ?? 0
            // The form post, the no-cors post, the CORS preflight and the image load.
            XCTAssertGreaterThanOrEqual(requests, 4, "the page's requests did reach Parrot, which refused them")
        }
    }

    func testAPageOnAnAllowedOriginGetsTheAnswer() async throws {
        try await run(Self.allowedPage, configure: { config, origin in config.server.allowedOrigins = [origin] }) { proxy, dom in
            XCTAssertTrue(dom.contains("done status=200 cache=MISS object=chat.completion"), dom)
            XCTAssertEqual(proxy.mock.totalRequests, 1)
        }
    }
}
