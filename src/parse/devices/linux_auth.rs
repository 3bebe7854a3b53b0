//! Linux authentication logs (`/var/log/auth.log`, `/var/log/secure`): sshd logins, failures
//! and invalid users, pam_unix sessions and authentication failures, sudo and su, and
//! user/group management. Field names follow Elastic's `system.auth` data stream: a login is
//! `event.action: ssh_login` with `event.outcome`, a PAM session is `logged-on`/`logged-off`.
#![warn(clippy::indexing_slicing)]

use crate::model::{Event, FieldValue, fields as f};
use crate::parse::BodyParser;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

/// The Linux auth parser.
pub struct LinuxAuth;

struct Patterns {
    ssh: Regex,
    invalid: Regex,
    disconnected: Regex,
    by_user: Regex,
    session: Regex,
    pam_fail: Regex,
    kv_user: Regex,
    sudo: Regex,
    new_account: Regex,
}

static P: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        ssh: Regex::new(r"^(Accepted|Failed) (\S+) for (?:invalid user )?(\S+) from ([0-9a-fA-F:.]+) port (\d+)").ok()?,
        invalid: Regex::new(r"^[Ii]nvalid user (\S*) from ([0-9a-fA-F:.]+)(?: port (\d+))?").ok()?,
        disconnected: Regex::new(r"^(?:Disconnected|Connection closed) (?:from|by) (?:(?:invalid |authenticating )?user (\S+) )?([0-9a-fA-F:.]+) port (\d+)").ok()?,
        by_user: Regex::new(r"(?:subsystem request for \S+ by user|for illegal user|for invalid user) (\S+)").ok()?,
        session: Regex::new(r"pam_unix\([^)]*\): session (opened|closed) for user (\S+)(?: by (\S*?)\(uid=\d+\))?").ok()?,
        pam_fail: Regex::new(r"pam_unix\([^)]*\): authentication failure;").ok()?,
        kv_user: Regex::new(r"(?:^|\s)(ruser|rhost|user)=(\S*)").ok()?,
        sudo: Regex::new(r"^\s*(\S+) : (?:(\d+) incorrect password attempts? ; )?(?:TTY=\S+ ; )?PWD=\S+ ; USER=(\S+) ; (?:COMMAND=(.*))?").ok()?,
        new_account: Regex::new(r"^new (user|group): name=([^,\s]+)").ok()?,
    })
});

const PROGRAMS: &[&str] = &[
    "sshd",
    "sudo",
    "su",
    "CRON",
    "cron",
    "crond",
    "useradd",
    "groupadd",
    "userdel",
    "groupdel",
    "usermod",
    "passwd",
    "login",
    "systemd-logind",
    "gdm-password",
];

impl BodyParser for LinuxAuth {
    fn name(&self) -> &'static str {
        "system.auth"
    }

    fn parse(&self, ev: &mut Event) -> bool {
        let Some(app) = ev.app.as_deref() else {
            return false;
        };
        let app_known = PROGRAMS.contains(&app) || app.starts_with("sshd");
        let msg = ev.message();
        if !app_known && !msg.contains("pam_unix(") {
            return false;
        }
        let Some(p) = P.as_ref() else { return false };
        let text = msg.trim_start();
        let mut out: Vec<(&'static str, FieldValue)> = Vec::new();
        let s = |v: &str| FieldValue::Str(v.to_owned());
        let ip = |v: &str| v.parse::<std::net::IpAddr>().is_ok();
        let mut category = "authentication";
        if let Some(c) = p.ssh.captures(text) {
            let ok = c.get(1).is_some_and(|m| m.as_str() == "Accepted");
            out.push((f::EVENT_ACTION, s("ssh_login")));
            out.push((f::EVENT_OUTCOME, s(if ok { "success" } else { "failure" })));
            if let Some(m) = c.get(2) {
                out.push(("system.auth.ssh.method", s(m.as_str())));
            }
            if let Some(u) = c.get(3) {
                out.push((f::USER_NAME, s(u.as_str())));
            }
            if let Some(a) = c.get(4).filter(|a| ip(a.as_str())) {
                out.push((f::SOURCE_IP, s(a.as_str())));
            }
            if let Some(n) = c.get(5).and_then(|m| m.as_str().parse::<i64>().ok()) {
                out.push((f::SOURCE_PORT, FieldValue::Int(n)));
            }
        } else if let Some(c) = p.invalid.captures(text) {
            out.push((f::EVENT_ACTION, s("ssh_login")));
            out.push((f::EVENT_OUTCOME, s("failure")));
            if let Some(u) = c.get(1).filter(|u| !u.as_str().is_empty()) {
                out.push((f::USER_NAME, s(u.as_str())));
            }
            if let Some(a) = c.get(2).filter(|a| ip(a.as_str())) {
                out.push((f::SOURCE_IP, s(a.as_str())));
            }
            if let Some(n) = c.get(3).and_then(|m| m.as_str().parse::<i64>().ok()) {
                out.push((f::SOURCE_PORT, FieldValue::Int(n)));
            }
        } else if let Some(c) = p.disconnected.captures(text) {
            if let Some(u) = c.get(1) {
                out.push((f::USER_NAME, s(u.as_str())));
            }
            if let Some(a) = c.get(2).filter(|a| ip(a.as_str())) {
                out.push((f::SOURCE_IP, s(a.as_str())));
            }
            if let Some(n) = c.get(3).and_then(|m| m.as_str().parse::<i64>().ok()) {
                out.push((f::SOURCE_PORT, FieldValue::Int(n)));
            }
            category = "session";
        } else if let Some(c) = p.session.captures(text) {
            let opened = c.get(1).is_some_and(|m| m.as_str() == "opened");
            out.push((
                f::EVENT_ACTION,
                s(if opened { "logged-on" } else { "logged-off" }),
            ));
            if let Some(by) = c.get(3).filter(|m| !m.as_str().is_empty()) {
                out.push((f::USER_NAME, s(by.as_str())));
                if let Some(target) = c.get(2) {
                    out.push(("user.effective.name", s(target.as_str())));
                }
            } else if !opened {
                if let Some(u) = c.get(2) {
                    out.push((f::USER_NAME, s(u.as_str())));
                }
            }
            category = "session";
        } else if p.pam_fail.is_match(text) {
            out.push((f::EVENT_ACTION, s("authentication_failure")));
            out.push((f::EVENT_OUTCOME, s("failure")));
            for c in p.kv_user.captures_iter(text) {
                let (Some(k), Some(v)) = (c.get(1), c.get(2)) else {
                    continue;
                };
                match (k.as_str(), v.as_str()) {
                    (_, "") => {}
                    ("user", v) => out.push((f::USER_NAME, s(v))),
                    ("rhost", v) if ip(v) => out.push((f::SOURCE_IP, s(v))),
                    _ => {}
                }
            }
        } else if let Some(c) = p.sudo.captures(text).filter(|_| app == "sudo") {
            if let Some(u) = c.get(1) {
                out.push((f::USER_NAME, s(u.as_str())));
            }
            if let Some(t) = c.get(3) {
                out.push(("user.effective.name", s(t.as_str())));
            }
            if let Some(cmd) = c.get(4) {
                out.push(("process.command_line", s(cmd.as_str().trim())));
            }
            out.push((
                f::EVENT_OUTCOME,
                s(if c.get(2).is_some() {
                    "failure"
                } else {
                    "success"
                }),
            ));
            category = "process";
        } else if let Some(c) = p.new_account.captures(text) {
            let group = c.get(1).is_some_and(|m| m.as_str() == "group");
            out.push((
                f::EVENT_ACTION,
                s(if group { "added-group" } else { "added-user" }),
            ));
            out.push((f::EVENT_OUTCOME, s("success")));
            if let Some(n) = c.get(2) {
                out.push((
                    if group { "group.name" } else { f::USER_NAME },
                    s(n.as_str()),
                ));
            }
            category = "iam";
        } else if let Some(c) = p.by_user.captures(text) {
            if let Some(u) = c.get(1) {
                out.push((f::USER_NAME, s(u.as_str())));
            }
        } else if !app_known {
            return false;
        }
        out.push(("event.category", s(category)));
        drop(msg);
        ev.dataset = Cow::Borrowed("system.auth");
        for (k, v) in out {
            ev.set_field(k, v);
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        assert!(P.is_some());
    }
}
