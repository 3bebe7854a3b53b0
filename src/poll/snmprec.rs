//! The `.snmprec` recording format (snmpsim's): one `OID|TAG|VALUE` line per object, sorted by
//! OID. "Record this device" and `picket device walk --snmprec` write it, for bug reports and
//! test fixtures; the benchmark's responder and the tests read it back.

use crate::snmp::message::Value;

/// The OID in dotted form.
pub fn dotted(oid: &[u32]) -> String {
    let mut s = String::with_capacity(oid.len() * 4);
    for (i, a) in oid.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str(itoa::Buffer::new().format(*a));
    }
    s
}

/// Reads a dotted OID (`1.3.6.1.2.1.1.1.0`, a leading `.` allowed).
pub fn parse_oid(s: &str) -> Option<Vec<u32>> {
    let s = s.trim().trim_start_matches('.');
    if s.is_empty() {
        return None;
    }
    s.split('.').map(|a| a.parse().ok()).collect()
}

fn hex(b: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(b)
}

/// One recording line for a value (no newline); `None` for exceptions, which are not recorded.
pub fn line(oid: &[u32], v: &Value) -> Option<String> {
    let (tag, value) = match v {
        Value::Int(i) => ("2", i.to_string()),
        Value::Bytes(b) => {
            let printable = !b.is_empty()
                && b.iter()
                    .all(|c| (0x20..0x7f).contains(c) && *c != b'|' && *c != b'\\');
            if printable || b.is_empty() {
                ("4", String::from_utf8_lossy(b).into_owned())
            } else {
                ("4x", hex(b))
            }
        }
        Value::Null => ("5", String::new()),
        Value::Oid(o) => ("6", dotted(o)),
        Value::Ip(a) => ("64", std::net::Ipv4Addr::from(*a).to_string()),
        Value::Counter32(c) => ("65", c.to_string()),
        Value::Gauge32(g) => ("66", g.to_string()),
        Value::TimeTicks(t) => ("67", t.to_string()),
        Value::Opaque(b) => ("68x", hex(b)),
        Value::Counter64(c) => ("70", c.to_string()),
        Value::Exception(_) => return None,
    };
    Some(format!("{}|{tag}|{value}", dotted(oid)))
}

/// Why a recording line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadLine(pub String);

fn unescape(s: &str) -> Vec<u8> {
    // Python-style `\xNN` escapes (snmpsim's `4e` tag).
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b.get(i) == Some(&b'\\') && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        if let Some(c) = b.get(i) {
            out.push(*c);
        }
        i += 1;
    }
    out
}

/// Reads one line (`OID|TAG|VALUE`).
pub fn parse_line(l: &str) -> Result<(Vec<u32>, Value), BadLine> {
    let bad = |why: &str| BadLine(format!("{why}: {l:?}"));
    let mut parts = l.splitn(3, '|');
    let oid = parts
        .next()
        .and_then(parse_oid)
        .ok_or_else(|| bad("not an OID"))?;
    let tag = parts.next().ok_or_else(|| bad("no tag"))?;
    let raw = parts.next().unwrap_or("");
    let hexed = tag.ends_with('x');
    let num = tag.trim_end_matches(['x', 'e']);
    let bytes = || -> Result<Vec<u8>, BadLine> {
        if hexed {
            data_encoding::HEXLOWER_PERMISSIVE
                .decode(raw.trim().as_bytes())
                .map_err(|_| bad("bad hex"))
        } else if tag.ends_with('e') {
            Ok(unescape(raw))
        } else {
            Ok(raw.as_bytes().to_vec())
        }
    };
    let n = |r: &str| -> Result<u64, BadLine> { r.trim().parse().map_err(|_| bad("bad number")) };
    let v = match num {
        "2" => Value::Int(raw.trim().parse().map_err(|_| bad("bad integer"))?),
        "4" => Value::Bytes(bytes()?),
        "5" => Value::Null,
        "6" => Value::Oid(parse_oid(raw).ok_or_else(|| bad("bad OID value"))?),
        "64" => {
            let b = if hexed || tag.ends_with('e') {
                bytes()?
            } else {
                let ip: std::net::Ipv4Addr = raw.trim().parse().map_err(|_| bad("bad address"))?;
                ip.octets().to_vec()
            };
            let a: [u8; 4] = b.try_into().map_err(|_| bad("bad address"))?;
            Value::Ip(a)
        }
        "65" => Value::Counter32(u32::try_from(n(raw)?).map_err(|_| bad("out of range"))?),
        "66" => Value::Gauge32(u32::try_from(n(raw)?).map_err(|_| bad("out of range"))?),
        "67" => Value::TimeTicks(u32::try_from(n(raw)?).map_err(|_| bad("out of range"))?),
        "68" => Value::Opaque(bytes()?),
        "70" => Value::Counter64(n(raw)?),
        _ => return Err(bad("unknown tag")),
    };
    Ok((oid, v))
}

/// Reads a whole recording, skipping blank lines; refuses the first bad line with its number.
pub fn parse(text: &str) -> Result<Vec<(Vec<u32>, Value)>, BadLine> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_end_matches('\r');
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        out.push(parse_line(l).map_err(|e| BadLine(format!("line {}: {}", i + 1, e.0)))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_round_trips() {
        let values = [
            Value::Int(-5),
            Value::Bytes(b"eth0".to_vec()),
            Value::Bytes(vec![0, 0x1b, 0xff]),
            Value::Null,
            Value::Oid(vec![1, 3, 6, 1, 4, 1, 9]),
            Value::Ip([192, 0, 2, 1]),
            Value::Counter32(4_294_967_295),
            Value::Gauge32(1_000_000_000),
            Value::TimeTicks(123),
            Value::Opaque(vec![1, 2]),
            Value::Counter64(u64::MAX),
        ];
        for v in values {
            let l = line(&[1, 3, 6, 1, 2, 1, 1, 1, 0], &v).unwrap();
            assert_eq!(parse_line(&l).unwrap().1, v, "{l}");
        }
    }

    #[test]
    fn the_corpus_recordings_read_in_full() {
        let dir = crate::test_util::corpus_dir().join("snmp-walks");
        let mut files = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "snmprec") {
                let text = std::fs::read_to_string(&p).unwrap();
                let rows = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert!(!rows.is_empty(), "{}", p.display());
                files += 1;
            }
        }
        assert_eq!(files, 6);
    }

    #[test]
    fn escapes_and_bad_lines() {
        assert_eq!(
            parse_line("1.3.6|4e|a\\x00b").unwrap().1,
            Value::Bytes(vec![b'a', 0, b'b'])
        );
        assert!(parse_line("x.y|2|1").is_err());
        assert!(parse_line("1.3|99|1").is_err());
        assert!(parse_line("1.3|65|99999999999").is_err());
        assert!(
            parse("1.3|2|1\n1.3|2|z\n")
                .unwrap_err()
                .0
                .starts_with("line 2")
        );
    }
}
