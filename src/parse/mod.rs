//! Frame → Event: the syslog header first, then a chain of body parsers until one matches.
//!
//! A message no body parser understands is not an error: it keeps its header fields and raw
//! bytes and is counted under `parser="none"`. Parsers are pure functions of the event; they
//! never do I/O.

pub mod cef;
pub mod header;
pub mod json;
pub mod kv;
pub mod leef;
pub mod vendor;

use crate::model::{Event, Frame};
pub use header::HeaderOptions;

/// A body parser: looks at an event whose header is parsed and, if the body is its format,
/// fills fields and returns true.
pub trait BodyParser: Send + Sync {
    /// The parser's name, as in `picket.parser` and the `parser` metric label.
    fn name(&self) -> &'static str;
    /// Tries to parse the event's message; returns true when it matched.
    fn parse(&self, event: &mut Event) -> bool;
}

/// The whole parse stage: header options per listener plus the body parser chain.
pub struct Chain {
    listeners: Vec<HeaderOptions>,
    parsers: Vec<Box<dyn BodyParser>>,
}

impl Chain {
    /// A chain with per-listener header options (indexed by `ListenerId`) and the built-in parsers.
    pub fn new(listeners: Vec<HeaderOptions>) -> Self {
        Chain {
            listeners,
            parsers: vec![
                Box::new(vendor::fortigate::FortiGate),
                Box::new(vendor::cisco_asa::CiscoAsa),
                Box::new(vendor::pfsense::PfSense),
                Box::new(vendor::juniper_srx::JuniperSrx),
                Box::new(vendor::panos::PanOs),
                Box::new(vendor::windows::WindowsSnare),
                Box::new(cef::CefParser),
                Box::new(leef::LeefParser),
                Box::new(json::JsonParser),
                Box::new(vendor::linux_auth::LinuxAuth),
                Box::new(kv::KeyValue),
            ],
        }
    }

    /// Every parser's name, in the order tried.
    pub fn parser_names(&self) -> Vec<&'static str> {
        self.parsers.iter().map(|p| p.name()).collect()
    }

    /// Parses one frame into an event.
    pub fn parse(&self, frame: &Frame) -> Event {
        let opts = self
            .listeners
            .get(usize::from(frame.listener))
            .copied()
            .unwrap_or_default();
        let mut ev = header::parse(frame, &opts);
        for p in &self.parsers {
            if p.parse(&mut ev) {
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
