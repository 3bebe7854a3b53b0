//! Alert evidence on SQLite: copies of the events an alert links, taken before retention
//! removes their segment, and the alert book's own retention (`prune`).

use crate::model::alert::Kept;
use rusqlite::{Connection, OptionalExtension, params};

/// The (alert, event) links whose event id lies in `lo..=hi` (one segment), at most
/// `per_alert` per alert counting what the alert already keeps, newest events first.
pub(super) fn links_in(
    conn: &Connection,
    lo: i64,
    hi: i64,
    per_alert: usize,
) -> rusqlite::Result<Vec<(i64, i64)>> {
    let mut q = conn.prepare_cached(
        "SELECT l.alert_id, l.event_id, \
           (SELECT count(*) FROM alert_evidence k WHERE k.alert_id = l.alert_id) \
         FROM alert_events l WHERE l.event_id BETWEEN ?1 AND ?2 \
         ORDER BY l.alert_id, l.event_id DESC",
    )?;
    let rows = q.query_map(params![lo, hi], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    let mut current = (i64::MIN, 0usize);
    for row in rows {
        let (alert, event, kept) = row?;
        if current.0 != alert {
            current = (alert, usize::try_from(kept).unwrap_or(0));
        }
        if current.1 < per_alert {
            current.1 += 1;
            out.push((alert, event));
        }
    }
    Ok(out)
}

/// Stores copies of evidence events (idempotent: a copy repeated after a crash is ignored);
/// returns how many rows were new.
pub(super) fn keep(conn: &mut Connection, kept: &[(i64, Kept)]) -> rusqlite::Result<u64> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut n = 0u64;
    {
        let mut put = tx.prepare_cached(
            "INSERT OR IGNORE INTO alert_evidence (alert_id, event_id, ts, sender, fields, raw) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for (alert, k) in kept {
            n += put.execute(params![alert, k.event_id, k.ts, k.sender, k.fields, k.raw])? as u64;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// The events an alert keeps itself, newest first.
pub(super) fn evidence(conn: &Connection, alert_id: i64) -> rusqlite::Result<Vec<Kept>> {
    let mut q = conn.prepare_cached(
        "SELECT event_id, ts, sender, fields, raw FROM alert_evidence WHERE alert_id = ?1 \
         ORDER BY event_id DESC",
    )?;
    let rows = q.query_map([alert_id], kept_row)?;
    rows.collect()
}

/// A kept copy of an event, if some alert keeps it.
pub(super) fn kept_event(conn: &Connection, event_id: i64) -> rusqlite::Result<Option<Kept>> {
    let mut q = conn.prepare_cached(
        "SELECT event_id, ts, sender, fields, raw FROM alert_evidence WHERE event_id = ?1 LIMIT 1",
    )?;
    q.query_row([event_id], kept_row).optional()
}

/// Bytes the kept evidence takes (what `retention.max_bytes` counts of alerts.db).
pub(super) fn evidence_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT coalesce(sum(length(fields) + length(raw) + 40), 0) FROM alert_evidence",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// See [`AlertBook::trim_evidence`]: the oldest copies go, a thousand per transaction.
pub(super) fn trim_evidence(conn: &mut Connection, max_bytes: u64) -> rusqlite::Result<u64> {
    let mut removed = 0u64;
    while evidence_bytes(conn)? > max_bytes {
        let n = conn.execute(
            "DELETE FROM alert_evidence WHERE (alert_id, event_id) IN \
             (SELECT alert_id, event_id FROM alert_evidence ORDER BY ts LIMIT 1000)",
            [],
        )?;
        if n == 0 {
            break;
        }
        removed += n as u64;
    }
    Ok(removed)
}

/// Removes kept copies of a forgotten sender (address or host name); returns how many.
pub(super) fn forget_evidence(conn: &mut Connection, host: &str) -> rusqlite::Result<u64> {
    let n = conn.execute(
        "DELETE FROM alert_evidence WHERE sender = ?1 OR json_extract(fields, '$.\"host.name\"') = ?1",
        [host],
    )?;
    Ok(n as u64)
}

/// Retention of the alert store: resolved alerts whose last change is before
/// `alerts_before` go with their links, history and evidence; delivered or dead
/// notifications queued before `outbox_before` go. Returns (alerts, outbox rows) removed.
pub(super) fn prune(
    conn: &mut Connection,
    alerts_before: i64,
    outbox_before: i64,
) -> rusqlite::Result<(u64, u64)> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let gone = "SELECT id FROM alerts WHERE state = 'resolved' AND last_seen < ?1 \
                AND NOT EXISTS (SELECT 1 FROM alert_audit t WHERE t.alert_id = alerts.id AND t.at >= ?1)";
    tx.execute(
        &format!("DELETE FROM alert_events WHERE alert_id IN ({gone})"),
        [alerts_before],
    )?;
    tx.execute(
        &format!("DELETE FROM alert_evidence WHERE alert_id IN ({gone})"),
        [alerts_before],
    )?;
    tx.execute(
        &format!("DELETE FROM alert_audit WHERE alert_id IN ({gone})"),
        [alerts_before],
    )?;
    let alerts = tx.execute(
        "DELETE FROM alerts WHERE state = 'resolved' AND last_seen < ?1 \
         AND NOT EXISTS (SELECT 1 FROM alert_audit t WHERE t.alert_id = alerts.id)",
        [alerts_before],
    )?;
    let outbox = tx.execute(
        "DELETE FROM outbox WHERE state IN ('sent', 'dead') AND created_at < ?1",
        [outbox_before],
    )?;
    tx.commit()?;
    Ok((alerts as u64, outbox as u64))
}
fn kept_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Kept> {
    Ok(Kept {
        event_id: r.get(0)?,
        ts: r.get(1)?,
        sender: r.get(2)?,
        fields: r.get(3)?,
        raw: r.get(4)?,
    })
}
