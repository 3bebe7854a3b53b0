//! Every parser: arbitrary bytes as a syslog frame, alone and behind each parser's trigger.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::model::{Frame, Transport};
use picket::parse::{Chain, HeaderOptions};
use std::sync::LazyLock;

static CHAIN: LazyLock<Chain> = LazyLock::new(|| Chain::new(vec![HeaderOptions::default()]));

const TRIGGERS: &[&[u8]] = &[
    b"",
    b"<189>date=2026-11-22 time=10:00:00 logid=0000000013 type=traffic ",
    b"<166>%ASA-6-302013: ",
    b"<14>Nov 22 10:00:00 h filterlog[1]: ",
    b"<14>1 2026-11-22T10:00:00Z h RT_FLOW - RT_FLOW_SESSION_CREATE ",
    b"1,2026/11/22 10:00:00,0,TRAFFIC,end,",
    b"MSWinEventLog\t1\tSecurity\t1\tx\t4624\t",
    b"CEF:0|",
    b"LEEF:2.0|",
    b"<14>Nov 22 10:00:00 h sshd[1]: ",
    b"{",
];

fuzz_target!(|data: &[u8]| {
    for t in TRIGGERS {
        let mut bytes = t.to_vec();
        bytes.extend_from_slice(data);
        let frame = Frame { bytes: bytes.into(), peer: ([127, 0, 0, 1], 514).into(), listener: 0, transport: Transport::Udp, received_at: 0, truncated: false };
        let ev = CHAIN.parse(&frame);
        let _ = ev.to_flat_json("fuzz");
    }
});
