//! Frame → Event: the syslog header first, then a chain of body parsers until one matches.
//!
//! A message no body parser understands is not an error: it keeps its header fields and raw
//! bytes and is counted under `parser="none"`. Parsers are pure functions of the event; they
//! never do I/O.

pub mod cef;
pub mod devices;
pub mod grok;
pub mod header;
pub mod json;
pub mod kv;
pub mod leef;
pub mod poll;
pub mod settings;
pub mod snmp;
pub mod user;

use crate::model::{Event, Frame};
pub use header::HeaderOptions;

/// Where `needle` first occurs in `hay`: `memchr` for its first non-space byte, then a
/// compare. For the short literals parsers look for on every line this beats building a
/// substring searcher per call (`str::find` or `memmem::find` spent more time on setup than
/// on searching).
pub(crate) fn find(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(anchor) = n.iter().position(|b| *b != b' ') else {
        return hay.find(needle);
    };
    let first = *n.get(anchor)?;
    memchr::memchr_iter(first, h).find_map(|i| {
        let start = i.checked_sub(anchor)?;
        h.get(start..)
            .is_some_and(|t| t.starts_with(n))
            .then_some(start)
    })
}

/// Whether `needle` occurs in `hay` (see [`find`]).
pub(crate) fn has(hay: &str, needle: &str) -> bool {
    find(hay, needle).is_some()
}

/// A body parser: looks at an event whose header is parsed and, if the body is its format,
/// fills fields and returns true.
pub trait BodyParser: Send + Sync {
    /// The parser's name, as in `picket.parser` and the `parser` metric label.
    fn name(&self) -> &'static str;
    /// Tries to parse the event's message; returns true when it matched.
    fn parse(&self, event: &mut Event) -> bool;
    /// What the parser looks for, for `picket parse --explain`.
    fn describe(&self) -> String {
        describe_builtin(self.name()).to_owned()
    }
}

fn describe_builtin(name: &str) -> &'static str {
    match name {
        "fortinet.fortigate" => "a FortiOS key=value log with logid= (or log_id=) and type=",
        "cisco.asa" => "a Cisco ASA/FTD message tag %ASA-n-NNNNNN (or %FTD-, %PIX-, %FWSM-)",
        "pfsense.log" => {
            "program filterlog (CSV with IP version 4 or 6 in field 9) or dhcpd with a DHCP message"
        }
        "juniper.srx" => {
            "a Juniper tag (RT_FLOW_…, APPTRACK_…, IDP_…, RT_SCREEN_…) as MSGID or in the text"
        }
        "panw.panos" => "a PAN-OS CSV record with type TRAFFIC or THREAT",
        "windows.security" => {
            "MSWinEventLog followed by TAB-separated Snare fields with a numeric event id"
        }
        "cef" => "CEF: with seven |-separated header fields",
        "leef" => "LEEF: with vendor, product, version and event id",
        "json" => "a JSON object as the body (optionally after @cee:)",
        "system.auth" => "a Linux auth program (sshd, sudo, su, cron, useradd …) or pam_unix(…)",
        "kv" => "at least three key=value pairs",
        _ => "its own format",
    }
}

/// Try a named parser first for events from a sender network or listener
/// (`[[parse.hint]]` in the configuration: "10.0.0.1 is a FortiGate").
#[derive(Debug, Clone)]
pub struct Hint {
    /// Events from this network.
    pub sender: Option<ipnet::IpNet>,
    /// Events from this listener.
    pub listener: Option<crate::model::ListenerId>,
    /// The parser to try first.
    pub parser: String,
}

/// The whole parse stage: header options per listener plus the body parser chain.
pub struct Chain {
    listeners: Vec<HeaderOptions>,
    parsers: Vec<Box<dyn BodyParser>>,
    /// Hints with the index of their parser in `parsers`.
    hints: Vec<(Hint, usize)>,
    /// How SNMP frames become events.
    snmp: snmp::Options,
}

/// The chain a configuration asks for: user parsers from `dir` (each failed file reported,
/// the others loaded), the built-ins, and the hints; plus the problems found (failed parser
/// files, hints naming no parser).
pub fn configured(
    listeners: Vec<HeaderOptions>,
    dir: &std::path::Path,
    hints: Vec<Hint>,
) -> (Chain, Vec<String>) {
    configured_with(listeners, dir, hints, true)
}

/// [`configured`], or, with `body` false, a chain that parses only the syslog header.
pub fn configured_with(
    listeners: Vec<HeaderOptions>,
    dir: &std::path::Path,
    hints: Vec<Hint>,
    body: bool,
) -> (Chain, Vec<String>) {
    if !body {
        return (Chain::header_only(listeners), Vec::new());
    }
    let (user, errors) = user::load_dir(dir);
    let mut problems: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let user: Vec<Box<dyn BodyParser>> = user
        .into_iter()
        .map(|p| Box::new(p) as Box<dyn BodyParser>)
        .collect();
    let chain = Chain::with_parsers(listeners, user, hints.clone());
    for name in chain.unknown_hints(&hints) {
        problems.push(format!(
            "parse.hint: no parser named `{name}` (known: {})",
            chain.parser_names().join(", ")
        ));
    }
    (chain, problems)
}

/// The built-in parsers, in the order tried (specific formats before generic ones).
pub fn builtin() -> Vec<Box<dyn BodyParser>> {
    vec![
        Box::new(devices::fortigate::FortiGate),
        Box::new(devices::cisco_asa::CiscoAsa),
        Box::new(devices::pfsense::PfSense),
        Box::new(devices::juniper_srx::JuniperSrx),
        Box::new(devices::panos::PanOs),
        Box::new(devices::windows::WindowsSnare),
        Box::new(cef::CefParser),
        Box::new(leef::LeefParser),
        Box::new(json::JsonParser),
        Box::new(devices::linux_auth::LinuxAuth),
        Box::new(kv::KeyValue),
    ]
}

impl Chain {
    /// A chain with per-listener header options (indexed by `ListenerId`) and the built-in parsers.
    pub fn new(listeners: Vec<HeaderOptions>) -> Self {
        Self::with_parsers(listeners, Vec::new(), Vec::new())
    }

    /// Sets how SNMP frames are turned into events (names, severities).
    pub fn with_snmp(mut self, snmp: snmp::Options) -> Self {
        self.snmp = snmp;
        self
    }

    /// A chain that parses the syslog header only (`[parse] body = false`).
    pub fn header_only(listeners: Vec<HeaderOptions>) -> Self {
        Chain {
            listeners,
            parsers: Vec::new(),
            hints: Vec::new(),
            snmp: Default::default(),
        }
    }

    /// A chain whose user-defined parsers come before the built-in ones (so a user can
    /// override one), with hints. Hints naming no known parser are ignored; see
    /// [`Chain::unknown_hints`].
    pub fn with_parsers(
        listeners: Vec<HeaderOptions>,
        user: Vec<Box<dyn BodyParser>>,
        hints: Vec<Hint>,
    ) -> Self {
        let mut parsers = user;
        parsers.extend(builtin());
        let hints = hints
            .into_iter()
            .filter_map(|h| {
                parsers
                    .iter()
                    .position(|p| p.name() == h.parser)
                    .map(|i| (h, i))
            })
            .collect();
        Chain {
            listeners,
            parsers,
            hints,
            snmp: Default::default(),
        }
    }

    /// The names in `hints` that no parser has.
    pub fn unknown_hints(&self, hints: &[Hint]) -> Vec<String> {
        hints
            .iter()
            .filter(|h| !self.parsers.iter().any(|p| p.name() == h.parser))
            .map(|h| h.parser.clone())
            .collect()
    }

    /// Every parser's name, in the order tried.
    pub fn parser_names(&self) -> Vec<&'static str> {
        self.parsers.iter().map(|p| p.name()).collect()
    }

    fn hinted(&self, frame: &Frame) -> Option<usize> {
        self.hints
            .iter()
            .find(|(h, _)| {
                h.listener.is_none_or(|l| l == frame.listener)
                    && h.sender
                        .is_none_or(|c| crate::model::cidr::contains(&c, frame.peer.ip()))
                    && (h.listener.is_some() || h.sender.is_some())
            })
            .map(|(_, i)| *i)
    }

    /// Parses one frame into an event.
    pub fn parse(&self, frame: &Frame) -> Event {
        self.run(frame, None)
    }

    /// Parses one frame and says, for each parser tried, whether it matched and what it needs.
    pub fn explain(&self, frame: &Frame) -> (Event, Vec<(&'static str, bool, String)>) {
        let mut trace = Vec::new();
        let ev = self.run(frame, Some(&mut trace));
        (ev, trace)
    }

    fn run(
        &self,
        frame: &Frame,
        mut trace: Option<&mut Vec<(&'static str, bool, String)>>,
    ) -> Event {
        if frame.transport == crate::model::Transport::Snmp {
            return snmp::build(frame, &self.snmp);
        }
        if frame.transport == crate::model::Transport::Poll {
            return poll::build(frame);
        }
        let opts = self
            .listeners
            .get(usize::from(frame.listener))
            .copied()
            .unwrap_or_default();
        let mut ev = header::parse(frame, &opts);
        let first = self.hinted(frame);
        let order = first
            .into_iter()
            .chain((0..self.parsers.len()).filter(|i| Some(*i) != first));
        for i in order {
            let Some(p) = self.parsers.get(i) else {
                continue;
            };
            let matched = p.parse(&mut ev);
            if let Some(t) = trace.as_deref_mut() {
                t.push((p.name(), matched, p.describe()));
            }
            if matched {
                ev.parser = p.name();
                break;
            }
        }
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(line: &[u8]) -> Frame {
        Frame {
            bytes: line.to_vec().into(),
            peer: "10.0.0.1:514".parse().unwrap(),
            listener: 0,
            transport: crate::model::Transport::Udp,
            received_at: 0,
            truncated: false,
        }
    }

    #[test]
    fn has_finds_literals() {
        assert!(has("a for b", " for "));
        assert!(!has("a fork", " for "));
        assert!(has("for x", "for"));
        assert!(!has(" for", " for "));
        assert!(has("x logid=1", "logid="));
        assert!(has("ab", ""));
        assert!(has("a  b", "  "));
        for (h, n) in [
            ("aaa", "aa"),
            ("xyz", "z"),
            ("", "a"),
            ("a b c", " c"),
            ("x  CEF:0|", "CEF:"),
            ("é CEF:", "CEF:"),
        ] {
            assert_eq!(find(h, n), h.find(n), "{h:?} {n:?}");
        }
    }

    #[test]
    fn a_hint_tries_its_parser_first() {
        let hint = Hint {
            sender: Some("10.0.0.0/24".parse().unwrap()),
            listener: None,
            parser: "cef".into(),
        };
        let chain = Chain::with_parsers(
            vec![HeaderOptions::default()],
            Vec::new(),
            vec![hint.clone()],
        );
        let (_, trace) = chain.explain(&frame(b"<14>Nov 22 10:00:00 h x: hello"));
        assert_eq!(trace.first().map(|t| t.0), Some("cef"));
        let unknown = Hint {
            parser: "nope".into(),
            ..hint
        };
        assert_eq!(chain.unknown_hints(&[unknown]), vec!["nope".to_string()]);
    }

    quickcheck::quickcheck! {
        fn no_parser_panics_on_arbitrary_input(body: Vec<u8>) -> bool {
            let chain = Chain::new(vec![HeaderOptions::default()]);
            let text = String::from_utf8_lossy(&body);
            // Each trigger leads the arbitrary text into one parser's deeper paths.
            let triggers = [
                "", "logid=0100032002 type=event subtype=system ", "%ASA-6-302013: ", "%FTD-4-106023: Deny tcp src ",
                "CEF:0|a|b|c|d|e|f|", "LEEF:2.0|a|b|c|d|^|", "{\"EventID\":4625,", "MSWinEventLog\t1\tSecurity\t1\tx\t4624\t",
                "1,2018/11/30 16:09:07,0,TRAFFIC,end,", "pam_unix(sshd:auth): authentication failure; ",
                "RT_FLOW_SESSION_CREATE: session created ",
            ];
            let programs = ["x", "filterlog", "dhcpd", "sshd", "sudo", "RT_FLOW"];
            triggers.iter().all(|t| {
                programs.iter().all(|p| {
                    let line = format!("<14>Nov 22 10:00:00 h {p}: {t}{text}");
                    let ev = chain.parse(&frame(line.as_bytes()));
                    ev.raw.len() == line.len()
                })
            })
        }
    }

    #[test]
    fn every_parser_name_is_registered_for_the_store() {
        for name in Chain::new(vec![]).parser_names() {
            assert_eq!(
                crate::model::fields::parser_name(name),
                name,
                "add {name} to model::fields::PARSERS"
            );
        }
    }
}
