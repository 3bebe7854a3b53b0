//! Threat lists: IP, CIDR and domain indicators from files (one per line, CSV with a header,
//! or a STIX 2.1 bundle), each list with a name and a severity.

use super::table::{IpTable, parse_net};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a matching indicator says.
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    /// The list it came from.
    pub list: Arc<str>,
    /// The list's severity (`low`, `medium`, `high`, `critical`).
    pub severity: Arc<str>,
    /// A description, when the file gave one.
    pub description: Option<Arc<str>>,
}

/// A list to load.
#[derive(Debug, Clone)]
pub struct ListSpec {
    /// Its name (`threat.feed.name`).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its severity.
    pub severity: String,
}

/// Every loaded list: one IP table and one domain map.
#[derive(Default)]
pub struct Threats {
    /// IP and CIDR indicators.
    pub ips: IpTable<Indicator>,
    /// Domain indicators (lower case); a domain also matches its subdomains.
    pub domains: HashMap<String, Indicator>,
}

/// A list file that could not be used (or a line in it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {message}", file.display())]
pub struct ListError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (1 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl Threats {
    /// Loads the lists; a file that cannot be read is an error and the others load. Lines
    /// that are not indicators are skipped and counted in the error list (one entry per file).
    pub fn load(specs: &[ListSpec]) -> (Threats, Vec<ListError>) {
        let mut t = Threats::default();
        let mut errors = Vec::new();
        for s in specs {
            let base = Indicator {
                list: s.name.as_str().into(),
                severity: s.severity.as_str().into(),
                description: None,
            };
            let text = match std::fs::read(&s.path) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => {
                    errors.push(ListError {
                        file: s.path.clone(),
                        line: 1,
                        message: format!("cannot read: {e}"),
                    });
                    continue;
                }
            };
            let ext = s
                .path
                .extension()
                .and_then(|x| x.to_str())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let result = match ext.as_str() {
                "json" => t.add_stix(&text, &base),
                "csv" => t.add_csv(&text, &base),
                _ => t.add_lines(&text, &base),
            };
            if let Err((line, message)) = result {
                errors.push(ListError {
                    file: s.path.clone(),
                    line,
                    message,
                });
            }
        }
        (t, errors)
    }

    fn add(&mut self, value: &str, ind: Indicator) -> bool {
        let v = value.trim().trim_matches(['\'', '"']);
        if let Some(net) = parse_net(v) {
            self.ips.insert(net, ind);
            return true;
        }
        let d = v.trim_end_matches('.').to_ascii_lowercase();
        if !d.is_empty()
            && d.contains('.')
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        {
            self.domains.insert(d, ind);
            return true;
        }
        false
    }

    /// One indicator per line; `#` starts a comment.
    fn add_lines(&mut self, text: &str, base: &Indicator) -> Result<(), (usize, String)> {
        let mut bad = None;
        for (i, line) in text.lines().enumerate() {
            let v = line.split('#').next().unwrap_or_default().trim();
            if !v.is_empty() && !self.add(v, base.clone()) && bad.is_none() {
                bad = Some((
                    i + 1,
                    format!("`{v}` is not an IP, CIDR or domain (skipped)"),
                ));
            }
        }
        bad.map_or(Ok(()), Err)
    }

    /// CSV with a header: the indicator column is `indicator`, `ip`, `cidr`, `network`,
    /// `domain` or `value` (else the first); `description`/`comment` is kept.
    fn add_csv(&mut self, text: &str, base: &Indicator) -> Result<(), (usize, String)> {
        let mut lines = text.lines().enumerate();
        let Some((_, header)) = lines.next() else {
            return Ok(());
        };
        let cols: Vec<String> = split_csv(header)
            .iter()
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let pick = |names: &[&str]| cols.iter().position(|c| names.contains(&c.as_str()));
        let (value_col, header_is_data) =
            match pick(&["indicator", "ip", "cidr", "network", "domain", "value"]) {
                Some(i) => (i, false),
                None => (
                    0,
                    parse_net(cols.first().map_or("", String::as_str)).is_some(),
                ),
            };
        let desc_col = pick(&["description", "comment", "reason"]);
        if header_is_data {
            self.add(
                &split_csv(header).first().cloned().unwrap_or_default(),
                base.clone(),
            );
        }
        let mut bad = None;
        for (i, line) in lines {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let f = split_csv(line);
            let mut ind = base.clone();
            ind.description = desc_col
                .and_then(|c| f.get(c))
                .filter(|d| !d.is_empty())
                .map(|d| d.as_str().into());
            let v = f.get(value_col).map(String::as_str).unwrap_or_default();
            if !self.add(v, ind) && bad.is_none() {
                bad = Some((
                    i + 1,
                    format!("`{v}` is not an IP, CIDR or domain (skipped)"),
                ));
            }
        }
        bad.map_or(Ok(()), Err)
    }

    /// A STIX 2.1 bundle: `indicator` objects whose pattern compares `ipv4-addr:value`,
    /// `ipv6-addr:value` or `domain-name:value` with a literal (several may be OR-ed).
    fn add_stix(&mut self, text: &str, base: &Indicator) -> Result<(), (usize, String)> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| (e.line(), format!("not JSON: {e}")))?;
        let objects = v
            .get("objects")
            .and_then(|o| o.as_array())
            .ok_or((1, "not a STIX bundle (no `objects` array)".to_string()))?;
        for o in objects {
            if o.get("type").and_then(|t| t.as_str()) != Some("indicator") {
                continue;
            }
            let Some(pattern) = o.get("pattern").and_then(|p| p.as_str()) else {
                continue;
            };
            let mut ind = base.clone();
            ind.description = o
                .get("name")
                .or_else(|| o.get("description"))
                .and_then(|d| d.as_str())
                .map(Into::into);
            for (kind, value) in stix_comparisons(pattern) {
                if matches!(kind, "ipv4-addr" | "ipv6-addr" | "domain-name") {
                    self.add(value, ind.clone());
                }
            }
        }
        Ok(())
    }

    /// The indicator for an address, if any list has it.
    pub fn ip(&self, ip: std::net::IpAddr) -> Option<&Indicator> {
        self.ips.get(ip)
    }

    /// The indicator for a domain or one of its parents.
    pub fn domain(&self, name: &str) -> Option<&Indicator> {
        let d = name.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = d.as_str();
        loop {
            if let Some(i) = self.domains.get(rest) {
                return Some(i);
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// Indicators loaded.
    pub fn len(&self) -> usize {
        self.ips.len() + self.domains.len()
    }

    /// True when no list gave any.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `(object-type, literal)` of each `[type:value = 'literal']` comparison in a STIX pattern.
fn stix_comparisons(pattern: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(colon) = rest.find(":value") {
        let kind = rest
            .get(..colon)
            .and_then(|h| {
                h.rsplit(|c: char| c == '[' || c.is_whitespace() || c == '(')
                    .next()
            })
            .unwrap_or_default()
            .trim();
        let after = rest.get(colon + 6..).unwrap_or_default();
        let Some(q1) = after.find('\'') else { break };
        let lit = after.get(q1 + 1..).unwrap_or_default();
        let Some(q2) = lit.find('\'') else { break };
        out.push((kind, lit.get(..q2).unwrap_or_default()));
        rest = lit.get(q2 + 1..).unwrap_or_default();
    }
    out
}

/// Splits one CSV line (double quotes, `""` escapes).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_owned()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

/// A list spec read from a path (for tests and `config check`).
pub fn spec(name: &str, path: &Path, severity: &str) -> ListSpec {
    ListSpec {
        name: name.into(),
        path: path.to_path_buf(),
        severity: severity.into(),
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::test_util::write_file;

    #[test]
    fn plain_csv_and_stix_lists_match_ips_cidrs_and_domains() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let plain = write_file(
            d.path(),
            "bad.txt",
            "# comment\n203.0.113.7\n198.51.100.0/24 # a net\nevil.example\nnot an indicator\n",
        );
        let csv = write_file(
            d.path(),
            "feed.csv",
            "ip,description\n192.0.2.0/28,\"scanner, loud\"\n2001:db8::/48,v6 net\n",
        );
        let stix = write_file(
            d.path(),
            "bundle.json",
            r#"{"type":"bundle","objects":[
              {"type":"indicator","name":"C2 server","pattern":"[ipv4-addr:value = '100.100.100.100'] OR [domain-name:value = 'c2.example.net']","pattern_type":"stix"},
              {"type":"malware","name":"x"},
              {"type":"indicator","pattern":"[ipv6-addr:value = '2001:db8:1::1']"}]}"#,
        );
        let (t, errors) = Threats::load(&[
            spec("local", &plain, "high"),
            spec("feed", &csv, "medium"),
            spec("stix", &stix, "critical"),
            spec("missing", &d.path().join("nope.txt"), "low"),
        ]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].line, 5);
        assert!(errors[1].message.contains("cannot read"));
        let ip = |s: &str| t.ip(s.parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(ip("203.0.113.7").map(|i| &*i.list), Some("local"));
        assert_eq!(ip("198.51.100.9").map(|i| &*i.severity), Some("high"));
        assert_eq!(
            ip("192.0.2.3").and_then(|i| i.description.as_deref()),
            Some("scanner, loud")
        );
        assert_eq!(ip("2001:db8::9").map(|i| &*i.list), Some("feed"));
        assert_eq!(
            ip("100.100.100.100").and_then(|i| i.description.as_deref()),
            Some("C2 server")
        );
        assert_eq!(ip("2001:db8:1::1").map(|i| &*i.list), Some("stix"));
        assert!(ip("192.0.2.200").is_none());
        assert_eq!(
            t.domain("www.Evil.Example.").map(|i| &*i.list),
            Some("local")
        );
        assert_eq!(
            t.domain("c2.example.net").map(|i| &*i.severity),
            Some("critical")
        );
        assert!(t.domain("example.net").is_none());
    }

    fn base() -> Indicator {
        Indicator {
            list: "q".into(),
            severity: "high".into(),
            description: None,
        }
    }

    /// Addresses from 198.18.0.0/15 (benchmark space, never in a list by accident), written in
    /// the form of `style`: a plain line, a CSV row, or a STIX indicator.
    fn addresses(raw: &[u32]) -> Vec<std::net::Ipv4Addr> {
        raw.iter()
            .take(200)
            .map(|r| std::net::Ipv4Addr::from(0xC612_0000 | (r & 0x1_FFFF)))
            .collect()
    }

    fn all_found(t: &Threats, ips: &[std::net::Ipv4Addr]) -> bool {
        ips.iter().all(|ip| t.ip((*ip).into()).is_some())
    }

    quickcheck::quickcheck! {
        /// Any text, read as each of the three formats, never panics, and a problem it reports
        /// names a line inside the text.
        fn any_text_in_any_format_names_a_line_inside(text: String) -> bool {
            let lines = text.lines().count().max(1);
            let inside = |r: Result<(), (usize, String)>| r.err().is_none_or(|(l, _)| (1..=lines + 1).contains(&l));
            let mut t = Threats::default();
            inside(t.add_lines(&text, &base()))
                && inside(t.add_csv(&text, &base()))
                && inside(t.add_stix(&text, &base()))
        }

        /// Every address of a plain list is found, whatever junk and comments are around it,
        /// and an address that is not listed is not.
        fn plain_lists_find_every_address(raw: Vec<u32>, junk: Vec<String>, probe: u32) -> bool {
            let ips = addresses(&raw);
            let mut text = String::new();
            for (i, ip) in ips.iter().enumerate() {
                text.push_str(&format!("{ip} # entry {i}\n"));
                if let Some(j) = junk.get(i) {
                    // Junk made harmless for a line format: no newlines.
                    text.push_str(&format!("# {}\n", j.replace(['\n', '\r'], " ")));
                }
            }
            let mut t = Threats::default();
            let ok = t.add_lines(&text, &base()).is_ok();
            let outside = std::net::Ipv4Addr::from(0xC614_0000 | (probe & 0xFFFF));
            ok && all_found(&t, &ips) && t.ip(outside.into()).is_none()
        }

        /// Every address of a CSV feed is found, with quoted descriptions holding commas.
        fn csv_feeds_find_every_address(raw: Vec<u32>, notes: Vec<String>) -> bool {
            let ips = addresses(&raw);
            let mut text = String::from("description,indicator\n");
            for (i, ip) in ips.iter().enumerate() {
                let note = notes.get(i).map_or(String::new(), |n| n.replace(['"', '\n', '\r'], ""));
                text.push_str(&format!("\"{note}, seen\",{ip}\n"));
            }
            let mut t = Threats::default();
            t.add_csv(&text, &base()).is_ok() && all_found(&t, &ips)
        }

        /// Every address of a STIX bundle is found, OR-ed in one pattern or one per indicator.
        fn stix_bundles_find_every_address(raw: Vec<u32>, one_pattern: bool) -> bool {
            let ips = addresses(&raw);
            let objects: Vec<serde_json::Value> = if one_pattern && !ips.is_empty() {
                let p = ips
                    .iter()
                    .map(|ip| format!("[ipv4-addr:value = '{ip}']"))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                vec![serde_json::json!({"type": "indicator", "pattern": p})]
            } else {
                ips.iter()
                    .map(|ip| serde_json::json!({"type": "indicator", "pattern": format!("[ipv4-addr:value = '{ip}']")}))
                    .collect()
            };
            let text = serde_json::json!({"type": "bundle", "objects": objects}).to_string();
            let mut t = Threats::default();
            t.add_stix(&text, &base()).is_ok() && all_found(&t, &ips)
        }
    }
}
