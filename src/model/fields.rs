//! ECS field names used across Picket. Parsers, the store, queries and rules use these constants
//! so that a name is spelled once.

pub const TIMESTAMP: &str = "@timestamp";
pub const EVENT_INGESTED: &str = "event.ingested";
pub const EVENT_DATASET: &str = "event.dataset";
pub const EVENT_ACTION: &str = "event.action";
pub const EVENT_OUTCOME: &str = "event.outcome";
pub const EVENT_CODE: &str = "event.code";
pub const EVENT_CATEGORY: &str = "event.category";
pub const EVENT_TYPE: &str = "event.type";
pub const OBSERVER_IP: &str = "observer.ip";
pub const LOG_SOURCE_ADDRESS: &str = "log.source.address";
pub const LOG_SYSLOG_FACILITY: &str = "log.syslog.facility.code";
pub const LOG_SYSLOG_SEVERITY: &str = "log.syslog.severity.code";
pub const LOG_SYSLOG_PRIORITY: &str = "log.syslog.priority";
pub const LOG_SYSLOG_MSGID: &str = "log.syslog.msgid";
pub const LOG_SYSLOG_VERSION: &str = "log.syslog.version";
pub const LOG_SYSLOG_STRUCTURED_DATA: &str = "log.syslog.structured_data";
pub const HOST_NAME: &str = "host.name";
pub const PROCESS_NAME: &str = "process.name";
pub const PROCESS_PID: &str = "process.pid";
pub const SOURCE_IP: &str = "source.ip";
pub const SOURCE_PORT: &str = "source.port";
pub const DESTINATION_IP: &str = "destination.ip";
pub const DESTINATION_PORT: &str = "destination.port";
pub const NETWORK_TRANSPORT: &str = "network.transport";
pub const USER_NAME: &str = "user.name";
pub const RULE_ID: &str = "rule.id";
pub const RULE_NAME: &str = "rule.name";
pub const OBSERVER_VENDOR: &str = "observer.vendor";
pub const OBSERVER_PRODUCT: &str = "observer.product";
pub const MESSAGE: &str = "message";
/// The parser that filled the event's body fields (`none` when only the header was parsed).
pub const PICKET_PARSER: &str = "picket.parser";
/// The listener that received the event.
pub const PICKET_LISTENER: &str = "picket.listener";
/// The message's own timestamp, kept when it was clamped to the receive time.
pub const PICKET_CLAMPED_TIMESTAMP: &str = "picket.clamped_timestamp";
/// Set when the frame was not valid UTF-8 (the raw bytes are kept unchanged).
pub const PICKET_INVALID_UTF8: &str = "picket.invalid_utf8";
/// Set when the frame was cut at the maximum frame size.
pub const PICKET_TRUNCATED: &str = "picket.truncated";
/// The event's stable id in the store.
pub const PICKET_ID: &str = "picket.id";

/// Every body parser's name (`picket.parser`, the `parser` metric label), so stored names map
/// back to the same static strings. `none` means only the header was parsed.
pub const PARSERS: &[&str] = &[
    "none",
    "kv",
    "fortinet.fortigate",
    "cisco.asa",
    "pfsense.log",
    "system.auth",
    "juniper.srx",
    "panw.panos",
    "windows.security",
    "cef",
    "leef",
    "json",
    "snmp",
    "poll",
];

/// The static name for a stored parser name; names no longer known read as `other`.
pub fn parser_name(stored: &str) -> &'static str {
    PARSERS
        .iter()
        .find(|p| **p == stored)
        .copied()
        .unwrap_or("other")
}
