//! One delivery attempt over HTTP (ureq) or SMTP (lettre), classified as delivered, worth
//! retrying, or permanent.

use super::{Attempt, Channel, Kind, Tls, render};
use crate::model::Secret;
use serde_json::Value;

const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// Sends `alert` (as queued) for `notice` on `ch`.
pub fn send(ch: &Channel, alert: &Value, notice: &str) -> Attempt {
    match ch.settings.kind {
        Kind::Email => email(ch, alert, notice),
        kind => {
            let s = &ch.settings;
            let body = match render::body(
                kind,
                s.template.as_deref(),
                s.routing_key.as_ref().map(Secret::expose),
                alert,
                notice,
            ) {
                Ok(b) => b,
                Err(e) => return Attempt::Permanent(format!("template: {e}")),
            };
            let url = match (kind, s.url.as_ref().map(Secret::expose)) {
                (_, Some(u)) => u,
                (Kind::Pagerduty, None) => PAGERDUTY_URL,
                (_, None) => return Attempt::Permanent("no url".into()),
            };
            http(ch, url, &body)
        }
    }
}

/// HMAC-SHA256 of `body` with `secret`, hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::SimpleHmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn http(ch: &Channel, url: &str, body: &str) -> Attempt {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(ch.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("picket/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut req = agent.post(url).header("Content-Type", "application/json");
    for (k, v) in &ch.settings.headers {
        req = req.header(k.as_str(), v.expose());
    }
    if let (Kind::Webhook, Some(secret)) = (ch.settings.kind, &ch.settings.hmac_secret) {
        req = req.header(
            "X-Picket-Signature",
            format!("sha256={}", signature(secret.expose(), body.as_bytes())),
        );
    }
    match req.send(body) {
        Ok(resp) => {
            let code = resp.status().as_u16();
            match code {
                200..=299 => Attempt::Delivered,
                429 | 500..=599 => Attempt::Retry(format!("HTTP {code}")),
                _ => Attempt::Permanent(format!("HTTP {code}")),
            }
        }
        // Timeouts and failures to connect or to get an answer are worth retrying; a bad URL
        // or TLS certificate is not.
        Err(
            e @ (ureq::Error::Timeout(_)
            | ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound),
        ) => Attempt::Retry(e.to_string()),
        Err(e) => Attempt::Permanent(e.to_string()),
    }
}

fn email(ch: &Channel, alert: &Value, notice: &str) -> Attempt {
    use lettre::message::{Mailbox, MultiPart};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{Message, SmtpTransport, Transport};
    let s = &ch.settings;
    let (subject, text, html) = render::email(alert, notice);
    let parse = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| format!("address {a:?}: {e}"))
    };
    let Some(from) = s.from.as_deref() else {
        return Attempt::Permanent("no from address".into());
    };
    let mut b = match parse(from) {
        Ok(f) => Message::builder().from(f).subject(subject),
        Err(e) => return Attempt::Permanent(e),
    };
    for to in &s.to {
        match parse(to) {
            Ok(m) => b = b.to(m),
            Err(e) => return Attempt::Permanent(e),
        }
    }
    let msg = match b.multipart(MultiPart::alternative_plain_html(text, html)) {
        Ok(m) => m,
        Err(e) => return Attempt::Permanent(e.to_string()),
    };
    let Some(host) = s.smtp_host.as_deref() else {
        return Attempt::Permanent("no smtp_host".into());
    };
    let builder = match s.tls {
        Tls::Starttls => SmtpTransport::starttls_relay(host),
        Tls::Tls => SmtpTransport::relay(host),
        Tls::None => Ok(SmtpTransport::builder_dangerous(host)),
    };
    let mut builder = match builder {
        Ok(b) => b.timeout(Some(ch.timeout)),
        Err(e) => return Attempt::Permanent(e.to_string()),
    };
    if let Some(p) = s.smtp_port {
        builder = builder.port(p);
    }
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.expose().to_string()));
    }
    match builder.build().send(&msg) {
        Ok(_) => Attempt::Delivered,
        Err(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
        Err(e) => Attempt::Retry(e.to_string()),
    }
}
