//! The security headers every answer carries (pages, API, `/metrics`, static files):
//! a Content-Security-Policy that allows only the compiled-in script and style and no other
//! origin, `nosniff`, no framing, same-origin referrers, `no-store` for everything that is not
//! a static file (pages show events), and HSTS when served over HTTPS. A handler that needs a
//! different policy (the histogram SVG, embedded by the search page) sets its own header, which
//! is kept.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The dashboard's policy: its own script and style files only; no inline script, no plugins,
/// no framing, forms post only to Picket.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; object-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the headers the handler did not set.
pub async fn secure(req: Request, next: Next) -> Response {
    let static_file = req.uri().path().starts_with("/static/");
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        h.entry(name)
            .or_insert_with(|| HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    if !static_file {
        // Replaces what a handler set (axum's SSE says `no-cache`): nothing but the compiled-in
        // files may be kept by a browser or a proxy.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// `Strict-Transport-Security` for a dashboard served over HTTPS.
pub fn hsts(max_age_secs: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("max-age={max_age_secs}"))
        .unwrap_or_else(|_| HeaderValue::from_static("max-age=31536000"))
}
