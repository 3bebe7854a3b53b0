//! A device's interfaces: found by discovery (names, aliases, speeds) and read each poll (oper
//! status and counters, only the columns the rates need, all in the same GETBULK requests),
//! turned into per-port rates by `rates.rs`. A port is known by its ifName (else ifDescr), not
//! its ifIndex, so its history survives an agent that renumbers ifIndex after a reboot.

use super::client::{Error, Session};
use super::rates::{Counter, Gap, Sample};
use super::walk::{self, Sizer};
pub use crate::model::port::PortReport;
use crate::snmp::message::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const IF: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
const IFX: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];

fn if_col(c: u32) -> Vec<u32> {
    let mut v = IF.to_vec();
    v.push(c);
    v
}

fn ifx_col(c: u32) -> Vec<u32> {
    let mut v = IFX.to_vec();
    v.push(c);
    v
}

/// An oper-status change of one port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The port's name.
    pub port: String,
    /// `up` or `down` before.
    pub from: &'static str,
    /// Now.
    pub to: &'static str,
}

/// What one poll found.
#[derive(Debug, Default)]
pub struct Polled {
    /// Every port, by name.
    pub ports: Vec<PortReport>,
    /// Ports whose oper status changed since the previous poll.
    pub changes: Vec<Change>,
    /// Rates not stored, by reason (first samples excluded).
    pub gaps: Vec<Gap>,
}

#[derive(Debug, Default)]
struct Port {
    index: u32,
    alias: Option<String>,
    speed_bps: Option<f64>,
    oper: Option<i64>,
    /// in octets, out octets, in errors, out errors, in discards, out discards.
    counters: [Counter; 6],
}

/// One device's interface state across polls.
#[derive(Debug, Default)]
pub struct Interfaces {
    ports: BTreeMap<String, Port>,
    by_index: HashMap<u32, String>,
    /// Some port lacked a usable HC octet counter last poll: read the 32-bit ones too.
    want_32: bool,
    discovered: bool,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Bytes(b) => {
            Some(String::from_utf8_lossy(b).trim().to_string()).filter(|s| !s.is_empty())
        }
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        Value::Counter32(c) | Value::Gauge32(c) | Value::TimeTicks(c) => Some(u64::from(*c)),
        Value::Counter64(c) => Some(*c),
        _ => None,
    }
}

fn index_of(i: &[u32]) -> Option<u32> {
    match i {
        [x] => Some(*x),
        _ => None,
    }
}

fn by_index(col: &walk::Column) -> HashMap<u32, &Value> {
    col.iter()
        .filter_map(|(i, v)| Some((index_of(i)?, v)))
        .collect()
}

/// The value of row `i` of a column, if it has the type `pick` takes.
fn at_index<T>(m: &HashMap<u32, &Value>, i: u32, pick: impl Fn(&Value) -> Option<T>) -> Option<T> {
    m.get(&i).and_then(|v| pick(v))
}

/// RFC 2863 ifOperStatus names.
pub fn oper_name(v: i64) -> &'static str {
    match v {
        1 => "up",
        2 => "down",
        3 => "testing",
        5 => "dormant",
        6 => "notPresent",
        7 => "lowerLayerDown",
        _ => "unknown",
    }
}

impl Interfaces {
    /// Ports known.
    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// True before any port is known.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    /// True once discovery has run.
    pub fn discovered(&self) -> bool {
        self.discovered
    }

    /// Reads names, aliases and speeds (on add, and every few hours): 5 columns.
    pub async fn discover(&mut self, s: &mut Session, sizer: &mut Sizer) -> Result<(), Error> {
        let cols = walk::columns(
            s,
            &[if_col(2), ifx_col(1), ifx_col(18), if_col(5), ifx_col(15)],
            sizer,
        )
        .await?;
        let get = |i: usize| cols.get(i).map(by_index).unwrap_or_default();
        let (descr, name, alias, speed, high) = (get(0), get(1), get(2), get(3), get(4));
        let mut names: Vec<(u32, String)> = descr
            .keys()
            .map(|i| {
                let n = name
                    .get(i)
                    .and_then(|v| text(v))
                    .or_else(|| descr.get(i).and_then(|v| text(v)))
                    .unwrap_or_else(|| format!("if{i}"));
                (*i, n)
            })
            .collect();
        names.sort();
        // Names that repeat (several `Null0`) get their index to stay apart.
        let mut count: HashMap<&str, usize> = HashMap::new();
        for (_, n) in &names {
            *count.entry(n.as_str()).or_default() += 1;
        }
        let keyed: Vec<(u32, String)> = names
            .iter()
            .map(|(i, n)| {
                if count.get(n.as_str()).copied().unwrap_or(0) > 1 {
                    (*i, format!("{n}#{i}"))
                } else {
                    (*i, n.clone())
                }
            })
            .collect();
        let mut ports = BTreeMap::new();
        self.by_index.clear();
        for (i, key) in keyed {
            // A port seen before keeps its counters, whatever its ifIndex is now.
            let mut p = self.ports.remove(&key).unwrap_or_default();
            p.index = i;
            p.alias = alias.get(&i).and_then(|v| text(v));
            let hs = high.get(&i).and_then(|v| number(v)).filter(|v| *v > 0);
            p.speed_bps = match hs {
                Some(mbps) => Some(mbps as f64 * 1e6),
                None => speed.get(&i).and_then(|v| number(v)).map(|b| b as f64),
            };
            self.by_index.insert(i, key.clone());
            ports.insert(key, p);
        }
        self.ports = ports;
        self.discovered = true;
        Ok(())
    }

    /// One poll of the counters and oper status; `uptime` is sysUpTime of the same poll.
    pub async fn poll(
        &mut self,
        s: &mut Session,
        sizer: &mut Sizer,
        uptime: Option<u32>,
        interval: Duration,
    ) -> Result<Polled, Error> {
        let mut roots = vec![
            if_col(8),
            ifx_col(6),
            ifx_col(10),
            if_col(14),
            if_col(20),
            if_col(13),
            if_col(19),
            ifx_col(19),
        ];
        if self.want_32 {
            roots.push(if_col(10));
            roots.push(if_col(16));
        }
        let cols = walk::columns(s, &roots, sizer).await?;
        let at = crate::model::clock::now_micros();
        let get = |i: usize| cols.get(i).map(by_index).unwrap_or_default();
        let (oper, hc_in, hc_out) = (get(0), get(1), get(2));
        let (in_err, out_err, in_disc, out_disc, disc) = (get(3), get(4), get(5), get(6), get(7));
        let (c_in, c_out) = (get(8), get(9));
        let mut out = Polled::default();
        let mut want_32 = false;
        for (key, p) in &mut self.ports {
            let i = p.index;
            let u32_of = |m: &HashMap<u32, &Value>| {
                at_index(m, i, |v| match v {
                    Value::Counter32(c) => Some(*c),
                    _ => None,
                })
            };
            let u64_of = |m: &HashMap<u32, &Value>| {
                at_index(m, i, |v| match v {
                    Value::Counter64(c) => Some(*c),
                    _ => None,
                })
            };
            let discontinuity = at_index(&disc, i, |v| match v {
                Value::TimeTicks(t) => Some(*t),
                _ => None,
            });
            let sample = |hc: Option<u64>, c32: Option<u32>| Sample {
                hc,
                c32,
                uptime,
                discontinuity,
                at,
            };
            let (hi, ho) = (u64_of(&hc_in), u64_of(&hc_out));
            let new_oper = at_index(&oper, i, |v| match v {
                Value::Int(x) => Some(*x),
                _ => None,
            });
            if hi.is_none() || ho.is_none() || (hi == Some(0) && new_oper == Some(1)) {
                want_32 = true;
            }
            let samples = [
                (sample(hi, u32_of(&c_in)), 8.0, p.speed_bps),
                (sample(ho, u32_of(&c_out)), 8.0, p.speed_bps),
                (sample(None, u32_of(&in_err)), 1.0, None),
                (sample(None, u32_of(&out_err)), 1.0, None),
                (sample(None, u32_of(&in_disc)), 1.0, None),
                (sample(None, u32_of(&out_disc)), 1.0, None),
            ];
            let mut rates = [None; 6];
            for (slot, (c, (smp, scale, speed))) in
                rates.iter_mut().zip(p.counters.iter_mut().zip(samples))
            {
                match c.update(smp, scale, speed, interval) {
                    Ok(r) => *slot = Some(r),
                    Err(Gap::First | Gap::Missing) => {}
                    Err(g) => out.gaps.push(g),
                }
            }
            if let (Some(before), Some(now)) = (p.oper, new_oper) {
                if before != now && (before == 1 || now == 1) {
                    out.changes.push(Change {
                        port: key.clone(),
                        from: oper_name(before),
                        to: oper_name(now),
                    });
                }
            }
            if new_oper.is_some() {
                p.oper = new_oper;
            }
            let [
                in_bps,
                out_bps,
                in_errors,
                out_errors,
                in_discards,
                out_discards,
            ] = rates;
            out.ports.push(PortReport {
                name: key.clone(),
                index: i,
                alias: p.alias.clone(),
                speed_bps: p.speed_bps,
                oper: p.oper.map(|o| oper_name(o).to_string()),
                in_bps,
                out_bps,
                in_errors,
                out_errors,
                in_discards,
                out_discards,
            });
        }
        self.want_32 = want_32;
        // An ifIndex nobody knew: the table changed; rediscover on the next poll.
        if oper.keys().any(|i| !self.by_index.contains_key(i)) {
            self.discovered = false;
        }
        Ok(out)
    }
}
