//! Windows Security events forwarded as syslog in Snare's `MSWinEventLog` TAB-separated layout
//! (also with rsyslog's `#011` escaping of the TABs): criticality, channel, record number,
//! time, event id, provider, user, SID type, event type (`Success Audit`/`Failure Audit`),
//! computer, category, (empty), description, checksum.
//!
//! The description is the event's text flattened to one line: section headers (`Subject:`,
//! `New Logon:` …) and `Key:  Value` pairs. Which account is `user.name` depends on the event
//! (the new logon for 4624, the failed account for 4625, the subject otherwise), following
//! Elastic's winlog/security mapping; the account acted on goes to `user.target.name`.
//! JSON forms (NXLog, Winlogbeat-style) are mapped by [`map_json_names`].
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, fields as f};
use crate::parse::BodyParser;
use std::borrow::Cow;

/// The Snare Windows parser.
pub struct WindowsSnare;

/// `event.action` by event id, as Elastic's Windows security module names them.
pub fn action(id: u32) -> Option<&'static str> {
    Some(match id {
        4608 => "windows-started-up",
        4616 => "changed-system-time",
        4624 => "logged-in",
        4625 => "logon-failed",
        4634 | 4647 => "logged-out",
        4648 => "logged-in-explicit",
        4672 => "logged-in-special",
        4688 => "created-process",
        4689 => "exited-process",
        4720 => "added-user-account",
        4722 => "enabled-user-account",
        4723 => "changed-password",
        4724 => "reset-password",
        4725 => "disabled-user-account",
        4726 => "deleted-user-account",
        4728 | 4732 | 4756 => "added-member-to-group",
        4729 | 4733 | 4757 => "removed-member-from-group",
        4731 => "added-group-account",
        4735 => "modified-group-account",
        4738 => "modified-user-account",
        4740 => "locked-out-user-account",
        4767 => "unlocked-user-account",
        4768 => "kerberos-authentication-ticket-requested",
        4769 => "kerberos-service-ticket-requested",
        4771 => "kerberos-preauth-failed",
        4776 => "credential-validated",
        5156 => "network-connection-allowed",
        5157 => "network-connection-blocked",
        _ => return None,
    })
}

/// Section whose `Account Name` is the acting user, and section of the account acted on.
fn sections(id: u32) -> (&'static str, Option<&'static str>) {
    match id {
        4624 => ("New Logon", None),
        4625 => ("Account For Which Logon Failed", None),
        4648 => ("Subject", Some("Account Whose Credentials Were Used")),
        4720 => ("Subject", Some("New Account")),
        4740 => ("Subject", Some("Account That Was Locked Out")),
        4722..=4726 | 4738 | 4767 => ("Subject", Some("Target Account")),
        4728 | 4729 | 4732 | 4733 | 4756 | 4757 => ("Subject", Some("Member")),
        4768 | 4769 | 4771 | 4776 => ("Account Information", None),
        _ => ("Subject", None),
    }
}

/// Section headers and keys of Windows security event descriptions (Microsoft's event
/// documentation). Knowing them lets a description flattened with single spaces be split as
/// reliably as one that kept its layout.
const SECTIONS: &[&str] = &[
    "Subject",
    "New Logon",
    "Logon Information",
    "Network Information",
    "Account For Which Logon Failed",
    "Failure Information",
    "Process Information",
    "Detailed Authentication Information",
    "Account Whose Credentials Were Used",
    "Target Server",
    "New Account",
    "Target Account",
    "Account That Was Locked Out",
    "Member",
    "Group",
    "Attributes",
    "Additional Information",
    "Application Information",
    "Filter Information",
    "Account Information",
    "Service Information",
    "Certificate Information",
    "Changed Attributes",
    "Impersonation Level",
    "Creator Subject",
    "Target Subject",
    "Old Account",
    "Security ID Information",
];
const KEYS: &[&str] = &[
    "Security ID",
    "Account Name",
    "Account Domain",
    "Logon ID",
    "Linked Logon ID",
    "Logon Type",
    "Logon GUID",
    "Source Network Address",
    "Source Port",
    "Workstation Name",
    "Process ID",
    "Process Name",
    "New Process ID",
    "New Process Name",
    "Creator Process ID",
    "Creator Process Name",
    "Failure Reason",
    "Status",
    "Sub Status",
    "Caller Process ID",
    "Caller Process Name",
    "Logon Process",
    "Authentication Package",
    "Network Account Name",
    "Network Account Domain",
    "Client Address",
    "Client Port",
    "Ticket Options",
    "Ticket Encryption Type",
    "Pre-Authentication Type",
    "Result Code",
    "Application Name",
    "Direction",
    "Source Address",
    "Destination Address",
    "Destination Port",
    "Protocol",
    "Target Server Name",
    "Elevated Token",
    "Virtual Account",
    "Restricted Admin Mode",
    "Remote Credential Guard",
    "Key Length",
    "Transited Services",
    "Package Name (NTLM only)",
    "Privileges",
    "Service Name",
    "Service ID",
    "User ID",
    "User Principal Name",
    "Display Name",
    "SAM Account Name",
    "Token Elevation Type",
    "Mandatory Label",
    "Process Command Line",
    "Layer Name",
    "Layer Run-Time ID",
    "Filter Run-Time ID",
    "Caller Computer Name",
    "Logon Account",
    "Source Workstation",
    "Error Code",
    "Group Name",
    "Group Domain",
    "Previous Time",
    "New Time",
];

/// (section, key, value) triples from a flattened description.
pub fn description_pairs(text: &str) -> Vec<(String, String, String)> {
    // Every place a known name followed by ':' starts, at a word boundary; longest name wins.
    let mut marks: Vec<(usize, usize, &str, bool)> = Vec::new();
    let bytes = text.as_bytes();
    for (names, is_section) in [(SECTIONS, true), (KEYS, false)] {
        for name in names {
            let pat = format!("{name}:");
            for (pos, _) in text.match_indices(&pat) {
                let at_boundary = pos == 0
                    || bytes
                        .get(pos - 1)
                        .is_some_and(|b| b.is_ascii_whitespace() || *b == b'.');
                if at_boundary {
                    marks.push((pos, pos + pat.len(), name, is_section));
                }
            }
        }
    }
    marks.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut kept: Vec<(usize, usize, &str, bool)> = Vec::new();
    for m in marks {
        if kept.last().is_none_or(|k| m.0 >= k.1) {
            kept.push(m);
        }
    }
    let mut out = Vec::new();
    let mut section = String::new();
    for (i, (_, end, name, is_section)) in kept.iter().enumerate() {
        let next = kept.get(i + 1).map_or(text.len(), |n| n.0);
        let value = text
            .get(*end..next)
            .unwrap_or_default()
            .trim()
            .trim_end_matches("\\t")
            .trim();
        if *is_section && value.is_empty() {
            section = (*name).to_owned();
        } else {
            // A key, or a section name used as a key (`Group: …` in some events).
            out.push((section.clone(), (*name).to_owned(), value.to_owned()));
        }
    }
    out
}

impl BodyParser for WindowsSnare {
    fn name(&self) -> &'static str {
        "windows.security"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let msg = ev.message();
        let Some(start) = crate::parse::find(&msg, "MSWinEventLog") else {
            return false;
        };
        let body = msg.get(start..).unwrap_or_default();
        // TABs may arrive escaped by a relay: rsyslog's `#011`, or a literal backslash-t.
        let body: Cow<'_, str> = if body.contains('\t') {
            Cow::Borrowed(body)
        } else if body.contains("#011") {
            Cow::Owned(body.replace("#011", "\t"))
        } else {
            Cow::Owned(body.replace("\\t", "\t"))
        };
        let c: Vec<&str> = body.split('\t').collect();
        let at = |i: usize| c.get(i).copied().unwrap_or_default().trim();
        let Ok(id) = at(5).parse::<u32>() else {
            return false;
        };
        let mut out: Vec<(&'static str, FieldValue)> = Vec::with_capacity(16);
        let s = |v: &str| FieldValue::Str(v.to_owned());
        out.push((f::EVENT_CODE, s(at(5))));
        if !at(6).is_empty() {
            out.push(("event.provider", s(at(6))));
        }
        if !at(2).is_empty() {
            out.push(("winlog.channel", s(at(2))));
        }
        if let Ok(n) = at(3).parse::<i64>() {
            out.push(("winlog.record_id", FieldValue::Int(n)));
        }
        match at(9) {
            "Success Audit" => out.push((f::EVENT_OUTCOME, s("success"))),
            "Failure Audit" => out.push((f::EVENT_OUTCOME, s("failure"))),
            _ => {}
        }
        if let Some(a) = action(id) {
            out.push((f::EVENT_ACTION, s(a)));
        }
        let computer = at(10).to_owned();
        let pairs = description_pairs(at(13));
        let find = |section: &str, key: &str| {
            pairs
                .iter()
                .find(|(s, k, v)| s == section && k == key && !v.is_empty() && v != "-")
                .map(|(_, _, v)| v.clone())
        };
        let anywhere = |key: &str| {
            pairs
                .iter()
                .find(|(_, k, v)| k == key && !v.is_empty() && v != "-")
                .map(|(_, _, v)| v.clone())
        };
        let (actor, target) = sections(id);
        if let Some(u) = find(actor, "Account Name").or_else(|| find(actor, "Logon Account")) {
            out.push((f::USER_NAME, FieldValue::Str(u)));
        }
        if let Some(d) = find(actor, "Account Domain") {
            out.push(("user.domain", FieldValue::Str(d)));
        }
        if let Some(t) = target.and_then(|t| find(t, "Account Name")) {
            out.push(("user.target.name", FieldValue::Str(t)));
        }
        if let Some(ip) = anywhere("Source Network Address")
            .or_else(|| anywhere("Client Address"))
            .or_else(|| anywhere("Source Address"))
        {
            let ip = ip.trim_start_matches("::ffff:").to_owned();
            if ip.parse::<std::net::IpAddr>().is_ok() {
                out.push((f::SOURCE_IP, FieldValue::Str(ip)));
            }
        }
        if let Some(p) = anywhere("Source Port")
            .or_else(|| anywhere("Client Port"))
            .and_then(|p| p.parse::<i64>().ok())
            .filter(|p| *p > 0)
        {
            out.push((f::SOURCE_PORT, FieldValue::Int(p)));
        }
        if let Some(ip) =
            anywhere("Destination Address").filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
        {
            out.push((f::DESTINATION_IP, FieldValue::Str(ip)));
        }
        if let Some(p) = anywhere("Destination Port").and_then(|p| p.parse::<i64>().ok()) {
            out.push((f::DESTINATION_PORT, FieldValue::Int(p)));
        }
        if let Some(t) = anywhere("Logon Type") {
            out.push(("winlog.logon.type", FieldValue::Str(t)));
        }
        if let Some(p) = anywhere("New Process Name")
            .or_else(|| anywhere("Process Name"))
            .or_else(|| anywhere("Application Name"))
        {
            out.push(("process.executable", FieldValue::Str(p)));
        }
        if let Some(r) = anywhere("Failure Reason") {
            out.push(("event.reason", FieldValue::Str(r)));
        }
        out.push((
            "event.category",
            s(if (4720..4800).contains(&id) {
                "iam"
            } else if (5150..5160).contains(&id) {
                "network"
            } else if matches!(id, 4688 | 4689) {
                "process"
            } else {
                "authentication"
            }),
        ));
        drop(msg);
        ev.dataset = Cow::Borrowed("windows.security");
        if !computer.is_empty() {
            ev.host = Some(computer);
        }
        for (k, v) in out {
            ev.set_field(k, v);
        }
        true
    }
}

/// Windows event fields as NXLog and Winlogbeat name them → ECS names.
pub fn map_json_names(key: &str) -> Option<&'static str> {
    Some(match key {
        "EventID" | "EventId" | "event_id" => f::EVENT_CODE,
        "TargetUserName" => f::USER_NAME,
        "SubjectUserName" => "user.name.subject",
        "IpAddress" | "SourceAddress" => f::SOURCE_IP,
        "IpPort" | "SourcePort" => f::SOURCE_PORT,
        "DestAddress" | "DestinationAddress" => f::DESTINATION_IP,
        "DestPort" | "DestinationPort" => f::DESTINATION_PORT,
        "Hostname" | "Computer" => "host.name",
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::model::{Frame, Transport};
    use crate::parse::{Chain, HeaderOptions};

    fn parse(line: &[u8]) -> Event {
        Chain::new(vec![HeaderOptions::default()]).parse(&Frame {
            bytes: line.to_vec().into(),
            peer: "127.0.0.1:1".parse().unwrap(),
            listener: 0,
            transport: Transport::Tcp,
            received_at: 0,
            truncated: false,
        })
    }

    #[test]
    fn corpus_4624_maps_new_logon_account_and_computer() {
        let lines = crate::test_util::corpus_lines("vendors/windows_snare/snare-sample-events.log");
        let ev = parse(&lines[0]);
        assert_eq!(ev.parser, "windows.security");
        assert_eq!(
            ev.field("event.code"),
            Some(&FieldValue::Str("4624".into()))
        );
        assert_eq!(
            ev.field("user.name"),
            Some(&FieldValue::Str("ADMIN-LAPS$".into()))
        );
        assert_eq!(
            ev.field("event.outcome"),
            Some(&FieldValue::Str("success".into()))
        );
        assert_eq!(ev.host.as_deref(), Some("DC25-PREVIEW"));
    }

    #[test]
    fn every_corpus_line_gets_the_sixth_field_as_event_code() {
        for file in [
            "snare-windows2022-security.log",
            "snare-sample-events.log",
            "snare-custom-pattern.log",
        ] {
            for line in crate::test_util::corpus_lines(&format!("vendors/windows_snare/{file}")) {
                let text = String::from_utf8_lossy(&line).into_owned();
                let ev = parse(&line);
                let Some(start) = text.find("MSWinEventLog") else {
                    continue;
                };
                let want = text
                    .get(start..)
                    .unwrap()
                    .replace("#011", "\t")
                    .split('\t')
                    .nth(5)
                    .unwrap()
                    .trim()
                    .to_owned();
                assert_eq!(
                    ev.field("event.code"),
                    Some(&FieldValue::Str(want)),
                    "{file}: {text}"
                );
            }
        }
    }

    #[test]
    fn rsyslog_cases_name_the_accounts_and_addresses_they_assert() {
        let v: serde_json::Value = serde_json::from_slice(&crate::test_util::corpus_bytes(
            "vendors/windows_snare/rsyslog-mmsnareparse-cases.json",
        ))
        .unwrap();
        let mut checked = 0;
        for case in v["cases"].as_array().unwrap() {
            for input in case["inputs"].as_array().unwrap() {
                for line in input["raw"]
                    .as_str()
                    .unwrap()
                    .split("\r\n")
                    .filter(|l| l.contains("MSWinEventLog"))
                {
                    let ev = parse(line.as_bytes());
                    assert_eq!(ev.parser, "windows.security", "{line}");
                    let code = ev
                        .field("event.code")
                        .map(|v| v.as_text().into_owned())
                        .unwrap();
                    if code == "4624" {
                        assert!(ev.field("user.name").is_some(), "{line}");
                    }
                    if line.contains("Source Network Address:")
                        && !line.contains("Source Network Address:  -")
                        && !line.contains("Source Network Address: -")
                    {
                        assert!(
                            ev.field("source.ip").is_some()
                                || line.contains("Source Network Address:  ::1")
                                || line.contains("Address:  -"),
                            "{line}"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 5, "{checked}");
    }

    #[test]
    fn description_pairs_follow_sections() {
        let p = description_pairs(
            "Subject:   Security ID:  S-1-5-18   Account Name:  SYSTEM    New Logon:   Account Name:  bob   Restricted Admin Mode: -",
        );
        assert!(p.contains(&("Subject".into(), "Account Name".into(), "SYSTEM".into())));
        assert!(p.contains(&("New Logon".into(), "Account Name".into(), "bob".into())));
        assert!(p.contains(&(
            "New Logon".into(),
            "Restricted Admin Mode".into(),
            "-".into()
        )));
    }
}
