//! Per-rule state kept beside the alerts: which rules are switched off, and what each rule
//! has raised (for the rules page).

use super::{Alert, Alerts, Error, State, get_in, now_micros};
use rusqlite::params;
use std::collections::{HashMap, HashSet};

/// What a rule has raised.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RuleRecord {
    /// Alerts raised.
    pub alerts: i64,
    /// Matches folded into them.
    pub matches: i64,
    /// The newest match, microseconds (0: never).
    pub last_fired: i64,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// In this state.
    pub state: Option<State>,
    /// At this level.
    pub level: Option<String>,
    /// From this rule.
    pub rule: Option<String>,
}

impl Alerts {
    /// Ids of the rules switched off.
    pub fn disabled_rules(&self) -> Result<HashSet<String>, Error> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare("SELECT rule_id FROM rule_settings WHERE enabled = 0")
            .map_err(&e)?;
        st.query_map([], |r| r.get(0))
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(e)
    }

    /// Switches a rule on or off (remembering who and when).
    pub fn set_rule_enabled(&self, rule: &str, enabled: bool, user: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT INTO rule_settings (rule_id, enabled, changed_by, changed_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(rule_id) DO UPDATE SET enabled = excluded.enabled,
                   changed_by = excluded.changed_by, changed_at = excluded.changed_at",
                params![rule, enabled, user, now_micros()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Per rule id: alerts raised, matches, last fired.
    pub fn rule_records(&self) -> Result<HashMap<String, RuleRecord>, Error> {
        let e = self.err();
        let mut st = self
            .conn
            .prepare(
                "SELECT rule_id, count(*), sum(count), max(last_seen) FROM alerts GROUP BY rule_id",
            )
            .map_err(&e)?;
        st.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                RuleRecord {
                    alerts: r.get(1)?,
                    matches: r.get(2)?,
                    last_fired: r.get(3)?,
                },
            ))
        })
        .map_err(&e)?
        .collect::<Result<_, _>>()
        .map_err(e)
    }

    /// Alerts matching the filter, newest first.
    pub fn list_filtered(&self, f: &Filter, limit: usize) -> Result<Vec<Alert>, Error> {
        let e = self.err();
        let ids: Vec<i64> = {
            let mut q = self
                .conn
                .prepare(
                    "SELECT id FROM alerts WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR level = ?2)
                     AND (?3 IS NULL OR rule_id = ?3) ORDER BY id DESC LIMIT ?4",
                )
                .map_err(&e)?;
            q.query_map(
                params![
                    f.state.map(State::as_str),
                    f.level,
                    f.rule,
                    i64::try_from(limit).unwrap_or(i64::MAX)
                ],
                |r| r.get(0),
            )
            .map_err(&e)?
            .collect::<Result<_, _>>()
            .map_err(&e)?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(a) = get_in(&self.conn, id).map_err(&e)? {
                out.push(a);
            }
        }
        Ok(out)
    }
}
