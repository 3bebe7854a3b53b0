//! Tests of the alert book and outbox through their traits (suppression, replays, state
//! changes, escalation, evidence): a second backend must pass the same ones.

use super::*;
use crate::model::alert::{Firing, Level};

fn firing(trigger: i64, at: i64) -> Firing {
    Firing {
        rule_id: "r1".into(),
        title: "SSH brute force".into(),
        level: Level::High,
        tags: vec!["attack.t1110".into()],
        kind: "correlation",
        group: vec![("source.ip".into(), "203.0.113.7".into())],
        events: vec![trigger - 1, trigger],
        count: 5,
        at,
        trigger,
    }
}

struct To(&'static str);
impl Router for To {
    fn channels(&self, _: &Alert, n: Notice) -> Vec<String> {
        vec![format!("{}-{}", self.0, n.as_str())]
    }
}

#[test]
fn suppression_folds_matches_into_one_alert_and_replays_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = crate::alerts::open(dir.path()).unwrap();
    let s = 1_000_000;
    assert_eq!(
        a.record(&firing(10, 100 * s), 600 * s, 50, &To("x"))
            .unwrap(),
        Recorded::Raised(1)
    );
    assert_eq!(
        a.record(&firing(11, 200 * s), 600 * s, 50, &To("x"))
            .unwrap(),
        Recorded::Updated(1)
    );
    // A replay of an already counted event.
    assert_eq!(
        a.record(&firing(11, 200 * s), 600 * s, 50, &To("x"))
            .unwrap(),
        Recorded::Ignored
    );
    let al = a.get(1).unwrap().unwrap();
    assert_eq!(
        (al.count, al.first_seen, al.last_seen),
        (6, 100 * s, 200 * s)
    );
    assert_eq!(al.events, vec![9, 10, 11]);
    // Past the suppression period: a new alert.
    assert_eq!(
        a.record(&firing(12, 900 * s), 600 * s, 50, &To("x"))
            .unwrap(),
        Recorded::Raised(2)
    );
    // One notification per raised alert, in the same transaction.
    let due = a.due(i64::MAX, 10).unwrap();
    assert_eq!(
        due.iter().map(|o| o.channel.as_str()).collect::<Vec<_>>(),
        ["x-raised", "x-raised"]
    );
    let payload: serde_json::Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(payload["title"], "SSH brute force");
}

#[test]
fn lifecycle_with_audit_trail_and_resolved_notice() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = crate::alerts::open(dir.path()).unwrap();
    let Recorded::Raised(id) = a.record(&firing(1, 1), 0, 50, &NoRoutes).unwrap() else {
        panic!()
    };
    a.set_state(id, State::Acknowledged, "alice", Some("looking"), &To("y"))
        .unwrap();
    assert!(matches!(
        a.set_state(id, State::Acknowledged, "bob", None, &To("y")),
        Err(Error::Transition { .. })
    ));
    let al = a
        .set_state(
            id,
            State::Resolved,
            "bob",
            Some("blocked at edge"),
            &To("y"),
        )
        .unwrap();
    assert_eq!(al.state, "resolved");
    let trail = a.audit(id).unwrap();
    let actions: Vec<_> = trail
        .iter()
        .map(|t| (t.actor.as_str(), t.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("picket", "raised"),
            ("alice", "acknowledged"),
            ("bob", "resolved")
        ]
    );
    assert_eq!(trail[2].comment.as_deref(), Some("blocked at edge"));
    let due = a.due(i64::MAX, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].channel, "y-resolved");
    // A resolved alert is not updated by new matches: they raise a new one.
    assert!(matches!(
        a.record(&firing(5, 2), 600_000_000, 50, &NoRoutes).unwrap(),
        Recorded::Raised(_)
    ));
}

#[test]
fn escalation_after_time_or_growth() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = crate::alerts::open(dir.path()).unwrap();
    let s = 1_000_000;
    a.record(&firing(1, 0), 3600 * s, 50, &NoRoutes).unwrap();
    assert_eq!(a.escalate(100 * s, 3600 * s, 0, &To("esc")).unwrap(), 0);
    assert_eq!(a.escalate(3601 * s, 3600 * s, 0, &To("esc")).unwrap(), 1);
    let al = a.get(1).unwrap().unwrap();
    assert_eq!(al.level, "critical");
    assert!(al.escalated);
    // Only once.
    assert_eq!(a.escalate(9999 * s, 3600 * s, 0, &To("esc")).unwrap(), 0);
    // Growth: count reaches 2x the raised count.
    let mut f = firing(100, 10 * s);
    f.rule_id = "r2".into();
    f.count = 2;
    a.record(&f, 3600 * s, 50, &NoRoutes).unwrap();
    f.trigger = 101;
    a.record(&f, 3600 * s, 50, &NoRoutes).unwrap();
    assert_eq!(a.escalate(11 * s, 0, 2, &To("esc")).unwrap(), 0);
    f.trigger = 102;
    a.record(&f, 3600 * s, 50, &NoRoutes).unwrap();
    assert_eq!(a.escalate(12 * s, 0, 2, &To("esc")).unwrap(), 1);
    assert_eq!(a.due(i64::MAX, 10).unwrap().len(), 2);
}

#[test]
fn outbox_retry_dead_letter_and_requeue() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = crate::alerts::open(dir.path()).unwrap();
    let id = a.enqueue_test("hook").unwrap();
    a.failed(id, "HTTP 500", Some(50)).unwrap();
    assert!(a.due(49, 10).unwrap().is_empty());
    assert_eq!(a.due(50, 10).unwrap()[0].attempts, 1);
    a.failed(id, "HTTP 500", None).unwrap();
    assert!(a.due(i64::MAX, 10).unwrap().is_empty());
    let dead = a.dead_letters(10).unwrap();
    assert_eq!(dead[0].last_error.as_deref(), Some("HTTP 500"));
    assert!(a.retry_dead(id).unwrap());
    a.sent(id).unwrap();
    assert!(a.dead_letters(10).unwrap().is_empty());
}

#[test]
fn trimming_evidence_removes_the_oldest_copies_down_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = crate::alerts::open(dir.path()).unwrap();
    let kept: Vec<(i64, Kept)> = (0..3000)
        .map(|i| {
            (
                1 + i % 7,
                Kept {
                    event_id: i,
                    ts: 1_000 + i,
                    sender: "192.0.2.1".into(),
                    fields: format!("{{\"message\":\"event {i}\"}}"),
                    raw: vec![b'x'; 200],
                },
            )
        })
        .collect();
    assert_eq!(a.keep(&kept).unwrap(), 3000);
    let all = a.evidence_bytes().unwrap();
    assert_eq!(a.trim_evidence(all).unwrap(), 0);
    let removed = a.trim_evidence(all / 2).unwrap();
    assert!((1000..3000).contains(&removed), "{removed}");
    assert!(a.evidence_bytes().unwrap() <= all / 2);
    // The oldest went, the newest stay.
    assert!(a.kept_event(0).unwrap().is_none());
    assert!(a.kept_event(2999).unwrap().is_some());
}
