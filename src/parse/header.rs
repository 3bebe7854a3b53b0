//! The syslog header: RFC 3164, RFC 5424 and the loose forms devices really send, via
//! syslog_loose, plus what syslog_loose leaves to the caller:
//! - the year of a 3164 timestamp is the one that puts it nearest the receive time, so a
//!   31 December message received on 1 January is last year's;
//! - 3164 timestamps are read in the listener's time zone;
//! - a timestamp further in the future than allowed is clamped to the receive time and flagged;
//! - structured-data values are unescaped (RFC 5424 section 6.3.3);
//! - a 3164 "tag" that is not followed by `:` or `[` is body text, not a program name;
//! - invalid UTF-8 is parsed lossily while the raw bytes are kept unchanged.
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, Frame, MessageText};
use chrono::{Datelike, TimeZone};
use chrono_tz::Tz;
use std::borrow::Cow;

/// How the header parser treats timestamps for one listener.
#[derive(Debug, Clone, Copy)]
pub struct HeaderOptions {
    /// Zone of timestamps that carry no offset (RFC 3164).
    pub tz: Tz,
    /// Timestamps later than receive time plus this many microseconds are clamped.
    pub max_future_us: i64,
}

impl Default for HeaderOptions {
    fn default() -> Self {
        HeaderOptions {
            tz: Tz::UTC,
            max_future_us: 15 * 60 * 1_000_000,
        }
    }
}

/// Parses a frame's syslog header into a new event (body fields are left to the body parsers).
pub fn parse(frame: &Frame, opts: &HeaderOptions) -> Event {
    let raw = &frame.bytes;
    let (text, invalid_utf8): (Cow<'_, str>, bool) = match std::str::from_utf8(raw) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (String::from_utf8_lossy(raw), true),
    };
    let received = frame.received_at;
    // The resolver sees the date before the listener's zone applies, so it allows the widest
    // zone offset (14 h) on top of the permitted skew; the exact future check is the clamp below.
    let max_future = opts.max_future_us.saturating_add(14 * 3_600_000_000);
    let resolver = move |d: syslog_loose::IncompleteDate| nearest_year(d, received, max_future);
    let first = syslog_loose::parse_message_with_year_exact_tz(
        &text,
        resolver,
        Some(opts.tz),
        syslog_loose::Variant::Either,
    )
    .ok();
    // Some devices (SRX100, older appliances) send RFC 5424 timestamps without a zone, which
    // syslog_loose rejects. Retry with the timestamp marked UTC, then read it in the listener's
    // zone; offsets into the patched text are mapped back to the raw bytes with `unpatch`.
    let patch = if first.is_none() {
        zone_less_5424(&text)
    } else {
        None
    };
    let parsed = match &patch {
        Some((patched, _)) => syslog_loose::parse_message_with_year_exact_tz(
            patched,
            resolver,
            Some(opts.tz),
            syslog_loose::Variant::RFC5424,
        )
        .ok(),
        None => first,
    };
    let base: &str = patch.as_ref().map_or(&*text, |(p, _)| p.as_str());
    let unpatch = |pos: usize| match &patch {
        Some((_, at)) if pos > *at => pos - 1,
        _ => pos,
    };

    let mut ev = Event::bare(frame);
    ev.invalid_utf8 = invalid_utf8;

    let Some(m) = parsed else {
        // RFC 3164 section 4.3.2: a valid PRI with an unreadable header keeps the PRI, and
        // everything after it is the message.
        let (pri, start) = match leading_pri(&text) {
            Some((pri, len)) => (Some(pri), len),
            None => (None, 0),
        };
        ev.facility = pri.map(|p| p / 8);
        ev.severity = pri.map(|p| p % 8);
        let msg = text.get(start..).unwrap_or_default();
        ev.message = message_at(&text, start, invalid_utf8, strip_bom(msg));
        return ev;
    };
    ev.facility = m.facility.map(|f| f as u8);
    ev.severity = m.severity.map(|s| s as u8);
    ev.msgid = m.msgid.filter(|h| *h != "-").map(str::to_owned);
    let mut msg = m.msg;
    // Cisco devices without `logging device-id` send `… 09:36:50: %ASA-4-106023: …`: what
    // looks like a host name is the message tag, and the message starts there.
    let tag_as_host = m
        .hostname
        .filter(|h| h.starts_with('%'))
        .and_then(|h| offset_in(base, h));
    let appname = if let Some(start) = tag_as_host {
        msg = base.get(start..).unwrap_or(msg);
        None
    } else {
        ev.host = m.hostname.filter(|h| *h != "-").map(str::to_owned);
        m.appname
    };
    match (appname, &m.protocol) {
        // RFC 3164: a tag is followed by `[pid]` or `:`; anything else is the body's first word.
        // A Cisco mnemonic (`asa01 %ASA-6-302013: …`, `%LINK-3-UPDOWN: …`) is no program name
        // either: it starts the message, where the Cisco parsers read it.
        (Some(app), syslog_loose::Protocol::RFC3164)
            if app.starts_with('%') || !tag_is_terminated(base, app) =>
        {
            if let Some(start) = offset_in(base, app) {
                msg = base.get(start..).unwrap_or(msg);
            }
        }
        (Some(app), _) if app != "-" => {
            ev.app = Some(app.to_owned());
            ev.pid = m.procid.map(|p| match p {
                syslog_loose::ProcId::PID(n) => n.to_string(),
                syslog_loose::ProcId::Name(s) => s.to_owned(),
            });
        }
        _ => {}
    }
    if let syslog_loose::Protocol::RFC5424(v) = m.protocol {
        ev.fields.push((
            Cow::Borrowed(crate::model::fields::LOG_SYSLOG_VERSION),
            FieldValue::Int(i64::from(v)),
        ));
    }
    for el in &m.structured_data {
        for (k, v) in el.params.iter() {
            let key = format!(
                "{}.{}.{}",
                crate::model::fields::LOG_SYSLOG_STRUCTURED_DATA,
                el.id,
                k
            );
            ev.fields.push((
                Cow::Owned(key),
                FieldValue::Str(unescape_sd(v).into_owned()),
            ));
        }
    }
    if let Some(ts) = m.timestamp {
        let us = if patch.is_some() {
            opts.tz
                .from_local_datetime(&ts.naive_utc())
                .earliest()
                .map_or(ts.timestamp_micros(), |t| t.timestamp_micros())
        } else {
            ts.timestamp_micros()
        };
        if us > received.saturating_add(opts.max_future_us) {
            ev.clamped_from = Some(us);
        } else {
            ev.timestamp = us;
        }
    }
    let start = offset_in(base, msg).unwrap_or(0);
    ev.message = match message_at(base, start, invalid_utf8, strip_bom(msg)) {
        MessageText::RawSuffix(o) => MessageText::RawSuffix(unpatch(o)),
        owned => owned,
    };
    ev
}

/// For `<PRI>1 2013-01-19T15:18:17.040 host …` (an RFC 5424 timestamp with no zone): the text
/// with `Z` after the timestamp, and where it was inserted.
fn zone_less_5424(text: &str) -> Option<(String, usize)> {
    let close = text.find('>')?;
    let after = text.get(close + 1..)?.strip_prefix("1 ")?;
    let ts_start = close + 3;
    let ts = after.split(' ').next()?;
    let (date, time) = ts.split_once('T')?;
    let zoned = time.ends_with('Z') || time.contains('+') || time.contains('-');
    if zoned
        || date.len() != 10
        || time.len() < 8
        || !ts
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'T'))
    {
        return None;
    }
    let at = ts_start + ts.len();
    let mut patched = String::with_capacity(text.len() + 1);
    patched.push_str(text.get(..at)?);
    patched.push('Z');
    patched.push_str(text.get(at..)?);
    Some((patched, at))
}

/// Where the message starts: an offset into the raw bytes when they are the text, else a copy.
fn message_at(text: &str, start: usize, invalid_utf8: bool, msg: &str) -> MessageText {
    let bom = if text.get(start..).is_some_and(|t| t.starts_with('\u{feff}')) {
        3
    } else {
        0
    };
    if invalid_utf8 {
        MessageText::Owned(msg.to_owned())
    } else if text.get(start + bom..) == Some(msg) {
        MessageText::RawSuffix(start + bom)
    } else {
        MessageText::Owned(msg.to_owned())
    }
}

/// A `<N>` priority (0..=191) at the start of `text`, and its length.
fn leading_pri(text: &str) -> Option<(u8, usize)> {
    let rest = text.strip_prefix('<')?;
    let end = rest.find('>')?;
    let digits = rest.get(..end)?;
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pri: u8 = digits.parse().ok().filter(|p| *p <= 191)?;
    Some((pri, end + 2))
}

fn strip_bom(s: &str) -> &str {
    s.strip_prefix('\u{feff}').unwrap_or(s)
}

/// The byte offset of `part` (a sub-slice of `whole`) within `whole`.
fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

/// True when the 3164 tag `app` in `text` is followed by `[` or `:` (a real tag).
fn tag_is_terminated(text: &str, app: &str) -> bool {
    let Some(start) = offset_in(text, app) else {
        return true;
    };
    matches!(text.as_bytes().get(start + app.len()), Some(b'[' | b':'))
}

/// Undoes RFC 5424 PARAM-VALUE escaping: `\"`, `\\` and `\]`; other backslashes stay.
fn unescape_sd(v: &str) -> Cow<'_, str> {
    if !v.contains('\\') {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&n) = chars.peek() {
                if matches!(n, '"' | '\\' | ']') {
                    out.push(n);
                    chars.next();
                    continue;
                }
            }
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// The year that puts a year-less date nearest to `received_us` (UTC) without putting it more
/// than `max_future_us` ahead of it: a 31 December message received on 1 January is last
/// year's, a 1 January message received seconds before midnight is next year's, and a replayed
/// "Dec 10" line read on 22 November is last year's rather than eighteen days in the future.
pub fn nearest_year(d: syslog_loose::IncompleteDate, received_us: i64, max_future_us: i64) -> i32 {
    let now = chrono::DateTime::from_timestamp_micros(received_us).unwrap_or_default();
    let (mon, day, h, mi, s) = d;
    let y = now.year();
    let mut best = y;
    let mut best_dist = i64::MAX;
    for cand in [y - 1, y, y + 1] {
        if let chrono::LocalResult::Single(t) =
            chrono::Utc.with_ymd_and_hms(cand, mon, day, h, mi, s)
        {
            let ahead = t.timestamp_micros() - received_us;
            if ahead > max_future_us {
                continue;
            }
            let dist = ahead.abs();
            if dist < best_dist {
                best = cand;
                best_dist = dist;
            }
        }
    }
    best
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
