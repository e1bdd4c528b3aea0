/// The live page at `/dashboard`: one self-contained HTML document (inline CSS, inline JS, no
/// CDN, no build step) that polls `/stats` every 2 s and draws everything client-side. It is a
/// static string served as is, so the page costs the proxy's hot path nothing.
///
/// Every element showing a number has a stable `id` and carries the raw `/stats` value in
/// `data-value` (tests compare those exactly). Text that comes from `/stats` (model and provider
/// names, error messages) only ever reaches the DOM through `textContent` / `setAttribute`.
///
/// The document is kept in pieces by concern (`Dashboard+Style`, `+Markup`, `+ChartsScript`,
/// `+PanelsScript`) and joined once, on first use.
enum Dashboard {
    static let html = [documentHead, markup, chartsScript, panelsScript].joined(separator: "\n")
}
