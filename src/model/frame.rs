//! A frame: one message's bytes as a listener received them, before any parsing.

use bytes::Bytes;
use std::net::SocketAddr;

/// Index of a listener in the running configuration; names and time zones are looked up by it.
pub type ListenerId = u16;

/// The transport a frame arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A TCP stream, LF or octet-counting framed.
    Tcp,
    /// A TLS stream (RFC 5425), framed as on TCP.
    Tls,
    /// Lines read from a file by `picket replay`.
    File,
    /// An SNMP notification (UDP) the SNMP listener accepted; see `snmp::receiver::ENVELOPE`.
    Snmp,
    /// A state change the SNMP poller observed (device or port down/up), as a JSON object.
    Poll,
}

impl Transport {
    /// The `network.transport`-style name.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::File => "file",
            Transport::Snmp => "snmp",
            Transport::Poll => "poll",
        }
    }

    /// The byte used in the spool record.
    pub fn to_byte(self) -> u8 {
        match self {
            Transport::Udp => 0,
            Transport::Tcp => 1,
            Transport::File => 2,
            Transport::Snmp => 3,
            Transport::Tls => 4,
            Transport::Poll => 5,
        }
    }

    /// The inverse of [`Transport::to_byte`]; unknown bytes read as `File`.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => Transport::Udp,
            1 => Transport::Tcp,
            3 => Transport::Snmp,
            4 => Transport::Tls,
            5 => Transport::Poll,
            _ => Transport::File,
        }
    }

    /// The inverse of [`Transport::as_str`]; unknown names read as `File`.
    pub fn from_name(s: &str) -> Self {
        match s {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            "snmp" => Transport::Snmp,
            "poll" => Transport::Poll,
            _ => Transport::File,
        }
    }
}

/// One received message, exactly as it came off the socket (framing removed).
#[derive(Debug, Clone)]
pub struct Frame {
    /// The message bytes; possibly truncated to the configured maximum.
    pub bytes: Bytes,
    /// The peer that sent it: the only trustworthy statement of origin.
    pub peer: SocketAddr,
    /// Which listener took it.
    pub listener: ListenerId,
    /// How it arrived.
    pub transport: Transport,
    /// Receive time, microseconds since the Unix epoch (UTC).
    pub received_at: i64,
    /// True when the sender's frame was longer than the maximum and was cut.
    pub truncated: bool,
}

/// A position in the intake spool: a file and a byte offset in it. The store commits the
/// checkpoint of the last event of each batch in the same transaction as the batch, so a
/// restart resumes reading the spool exactly after what was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Checkpoint {
    /// The spool file's sequence number.
    pub file: u64,
    /// Bytes into the file.
    pub offset: u64,
}
