//! Reading tables in as few round trips as the agent allows: several columns per GETBULK,
//! max-repetitions sized so answers stay under about 1,400 bytes and adapted to each device
//! (halved on tooBig, grown back as answers fit), and GETNEXT for v1 agents.

use super::client::{Error, MAX_PDU_BYTES, Session};
use crate::snmp::message::{Request, Value, Version};

/// Round trips one table read may take at most (a loop guard against agents that never end).
const MAX_ROUNDS: usize = 20_000;
/// Bytes of message around the varbinds (header, community or USM parameters).
const OVERHEAD: usize = 120;

/// Per-device sizing of GETBULK requests.
#[derive(Debug, Clone, Copy)]
pub struct Sizer {
    /// Average bytes per varbind seen in answers.
    per_varbind: f64,
    /// Upper bound from tooBig answers (max varbinds per answer that fit).
    cap: u32,
}

impl Default for Sizer {
    fn default() -> Self {
        // ifTable rows on a switch: about 25 bytes per varbind.
        Sizer {
            per_varbind: 25.0,
            cap: 256,
        }
    }
}

impl Sizer {
    /// Repetitions for `columns` columns so the answer stays under [`MAX_PDU_BYTES`].
    pub fn repetitions(&self, columns: usize) -> u32 {
        let room = (MAX_PDU_BYTES - OVERHEAD) as f64;
        let per_row = self.per_varbind * columns.max(1) as f64;
        let fit = (room / per_row).floor() as u32;
        let cap = (self.cap / u32::try_from(columns.max(1)).unwrap_or(1)).max(1);
        fit.clamp(1, 64).min(cap)
    }

    fn saw(&mut self, bytes: u64, varbinds: usize) {
        if varbinds == 0 {
            return;
        }
        let v = bytes as f64 / varbinds as f64;
        self.per_varbind = (self.per_varbind * 0.5 + v * 0.5).max(8.0);
    }

    fn too_big(&mut self, asked: u32, columns: usize) {
        let asked = asked.saturating_mul(u32::try_from(columns).unwrap_or(1));
        self.cap = (asked / 2).max(1);
        self.per_varbind *= 1.5;
    }
}

/// One column's rows: (index, value), in agent order.
pub type Column = Vec<(Vec<u32>, Value)>;

/// Reads every row of each column under `roots` (ifDescr, ifHCInOctets …); one answer may
/// carry rows of all the columns still open.
pub async fn columns(
    s: &mut Session,
    roots: &[Vec<u32>],
    sizer: &mut Sizer,
) -> Result<Vec<Column>, Error> {
    let mut out: Vec<Column> = vec![Vec::new(); roots.len()];
    let mut next: Vec<Vec<u32>> = roots.to_vec();
    let mut open: Vec<usize> = (0..roots.len()).collect();
    let v1 = s.security_version() == Version::V1;
    for _ in 0..MAX_ROUNDS {
        if open.is_empty() {
            return Ok(out);
        }
        let oids: Vec<Vec<u32>> = open.iter().filter_map(|&c| next.get(c).cloned()).collect();
        let reps = if v1 { 1 } else { sizer.repetitions(open.len()) };
        let before = s.telemetry.bytes_in;
        let kind = if v1 {
            Request::GetNext
        } else {
            Request::GetBulk(0, reps)
        };
        let binds = match s.request(kind, &oids).await {
            Ok(b) => b,
            Err(Error::Agent { status: 1, .. }) if reps > 1 => {
                sizer.too_big(reps, open.len());
                continue;
            }
            // v1: noSuchName is how an agent says "past the end" of a GETNEXT.
            Err(Error::Agent { status: 2, index }) if v1 => {
                let at = usize::try_from(index - 1).unwrap_or(0);
                if at < open.len() {
                    open.remove(at);
                } else {
                    open.clear();
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        sizer.saw(s.telemetry.bytes_in - before, binds.len());
        let width = open.len();
        let mut closed = vec![false; width];
        for (i, (oid, value)) in binds.into_iter().enumerate() {
            let slot = i % width;
            let (Some(&c), Some(false)) = (open.get(slot), closed.get(slot).copied()) else {
                continue;
            };
            let (Some(root), Some(last)) = (roots.get(c), next.get_mut(c)) else {
                continue;
            };
            let ended =
                matches!(value, Value::Exception(_)) || !oid.starts_with(root) || oid <= *last;
            if ended {
                if let Some(x) = closed.get_mut(slot) {
                    *x = true;
                }
                continue;
            }
            if let (Some(col), Some(index)) = (out.get_mut(c), oid.get(root.len()..)) {
                col.push((index.to_vec(), value));
            }
            *last = oid;
        }
        let mut kept = Vec::with_capacity(width);
        for (slot, &c) in open.iter().enumerate() {
            if !closed.get(slot).copied().unwrap_or(true) {
                kept.push(c);
            }
        }
        open = kept;
    }
    Ok(out)
}

/// Every OID under `root` with its value (the walk browser and `picket device walk`).
pub async fn subtree(
    s: &mut Session,
    root: &[u32],
    sizer: &mut Sizer,
) -> Result<Vec<(Vec<u32>, Value)>, Error> {
    let mut cols = columns(s, &[root.to_vec()], sizer).await?;
    let rows = cols.pop().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|(index, v)| {
            let mut oid = root.to_vec();
            oid.extend(index);
            (oid, v)
        })
        .collect())
}
