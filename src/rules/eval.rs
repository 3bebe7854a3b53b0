//! Evaluating the compiled set: an event's fields resolved into slots once, the candidate
//! rules of its dataset matched, correlations fed into their windows, and the absence checks on
//! each tick. Time always comes from the caller.

use super::Firing;
use super::compile::{Slots, Val};
use super::set::Rules;
use crate::model::event::format_micros;
use crate::model::{Event, FieldValue, fields as f};
use std::borrow::Cow;

impl Rules {
    /// A keyed hash of the values in `slots` (a missing value hashes as such).
    pub(super) fn hash_slots(&self, slots: &Slots<'_>, which: impl Iterator<Item = u16>) -> u64 {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.group_hash.build_hasher();
        for s in which {
            match slots.vals.get(usize::from(s)).and_then(Option::as_ref) {
                Some(v) => {
                    1u8.hash(&mut h);
                    v.text().hash(&mut h);
                }
                None => 0u8.hash(&mut h),
            }
        }
        h.finish()
    }

    /// Resolves the event's fields into slots.
    pub(super) fn slots<'a>(&self, ev: &'a Event, id: i64, listener: &'a str) -> Slots<'a> {
        let mut vals: Vec<Option<Val<'a>>> = vec![None; self.fields.len()];
        let c = &self.core;
        let mut put = |slot: Option<u16>, v: Option<Val<'a>>| {
            if let (Some(s), Some(v)) = (slot, v) {
                if let Some(x) = vals.get_mut(usize::from(s)) {
                    *x = Some(v);
                }
            }
        };
        let text = |s: &'a Option<String>| s.as_deref().map(|s| Val::Str(Cow::Borrowed(s)));
        put(c.host, text(&ev.host));
        put(c.app, text(&ev.app));
        put(c.msgid, text(&ev.msgid));
        put(
            c.pid,
            ev.pid.as_deref().map(|p| match p.parse::<i64>() {
                Ok(n) => Val::Int(n),
                Err(_) => Val::Str(Cow::Borrowed(p)),
            }),
        );
        put(
            c.dataset,
            Some(Val::Str(Cow::Borrowed(ev.dataset.as_ref()))),
        );
        put(c.parser, Some(Val::Str(Cow::Borrowed(ev.parser))));
        put(c.listener, Some(Val::Str(Cow::Borrowed(listener))));
        if c.sender.is_some() {
            put(
                c.sender,
                Some(Val::Str(Cow::Owned(ev.peer.ip().to_string()))),
            );
        }
        put(c.severity, ev.severity.map(|v| Val::Int(i64::from(v))));
        put(c.facility, ev.facility.map(|v| Val::Int(i64::from(v))));
        if c.message.is_some() {
            put(c.message, Some(Val::Str(ev.message())));
        }
        if c.timestamp.is_some() {
            put(
                c.timestamp,
                Some(Val::Str(Cow::Owned(format_micros(ev.timestamp)))),
            );
        }
        put(c.id, Some(Val::Int(id)));
        let mut cache = self.key_cache.borrow_mut();
        for (k, v) in &ev.fields {
            // Most keys are static strings: their slot is cached by address, which is far
            // cheaper than hashing the name.
            let slot = match k {
                Cow::Borrowed(name) => *cache
                    .entry((name.as_ptr() as usize, name.len()))
                    .or_insert_with(|| self.fields.get(name)),
                Cow::Owned(name) => self.fields.get(name),
            };
            if let Some(s) = slot {
                if let Some(x) = vals.get_mut(usize::from(s)) {
                    if x.is_none() {
                        *x = Some(match v {
                            FieldValue::Str(t) => Val::Str(Cow::Borrowed(t.as_str())),
                            FieldValue::Int(n) => Val::Int(*n),
                            FieldValue::Bool(b) => Val::Bool(*b),
                        });
                    }
                }
            }
        }
        let mut strings = Vec::new();
        if self.keywords {
            strings.push(ev.message());
            strings.extend(
                [&ev.host, &ev.app, &ev.msgid]
                    .into_iter()
                    .flatten()
                    .map(|s| Cow::Borrowed(s.as_str())),
            );
            strings.extend(ev.fields.iter().filter_map(|(_, v)| match v {
                FieldValue::Str(t) => Some(Cow::Borrowed(t.as_str())),
                _ => None,
            }));
        }
        let lower = std::iter::repeat_with(std::cell::OnceCell::new)
            .take(self.fields.len())
            .collect();
        Slots {
            vals,
            lower,
            strings,
        }
    }

    /// Evaluates one event (stored as `id`) at `now` (microseconds on the engine's clock).
    pub fn process(&mut self, ev: &Event, id: i64, listener: &str, now: i64) -> Vec<Firing> {
        let mut out = Vec::new();
        let slots = self.slots(ev, id, listener);
        let bucket = self.buckets.get(ev.dataset.as_ref());
        let candidates = self.general.iter().chain(bucket.into_iter().flatten());
        let mut matched: Vec<u32> = Vec::new();
        for &ri in candidates {
            if self
                .rules
                .get(ri as usize)
                .is_some_and(|r| r.matcher.matches(&slots))
            {
                matched.push(ri);
            }
        }
        let text_of = |s: u16| {
            slots
                .vals
                .get(usize::from(s))
                .and_then(Option::as_ref)
                .map(|v| v.text().into_owned())
        };
        let mut hashed: Vec<(&[(String, u16)], u64)> = Vec::new();
        for ri in matched {
            let Some(r) = self.rules.get(ri as usize) else {
                continue;
            };
            if let Some(ai) = r.absence {
                if let Some(a) = self.absence.get_mut(ai) {
                    let g: Vec<String> = a
                        .slots
                        .iter()
                        .map(|s| text_of(*s).unwrap_or_default())
                        .collect();
                    a.seen(g.join("\u{1f}"), now);
                }
                continue;
            }
            if r.emits {
                let mut group: Vec<(String, String)> = r
                    .group_by
                    .iter()
                    .filter_map(|(n, s)| text_of(*s).map(|v| (n.clone(), v)))
                    .collect();
                if group.is_empty() {
                    group = vec![match &ev.host {
                        Some(h) => (f::HOST_NAME.to_string(), h.clone()),
                        None => (f::OBSERVER_IP.to_string(), ev.peer.ip().to_string()),
                    }];
                }
                out.push(Firing {
                    rule_id: r.key.clone(),
                    title: r.title.clone(),
                    level: r.level,
                    tags: r.tags.clone(),
                    kind: "detection",
                    group,
                    events: vec![id],
                    count: 1,
                    at: now,
                    trigger: id,
                });
            }
            for &(ci, pos) in &r.feeds {
                let Some(c) = self.corrs.get(ci as usize) else {
                    continue;
                };
                // Keyed per process: a sender cannot craft values that collide. Several
                // correlations usually group by the same fields: hashed once per event.
                let key = match hashed.iter().find(|(g, _)| *g == c.group_by.as_slice()) {
                    Some((_, h)) => *h,
                    None => {
                        let h = self.hash_slots(&slots, c.group_by.iter().map(|(_, s)| *s));
                        hashed.push((c.group_by.as_slice(), h));
                        h
                    }
                };
                let value = c.field.and_then(|f| {
                    slots
                        .vals
                        .get(usize::from(f))
                        .and_then(Option::as_ref)
                        .map(|_| self.hash_slots(&slots, std::iter::once(f)))
                });
                if matches!(c.kind, rsigma_parser::CorrelationType::ValueCount) && value.is_none() {
                    continue;
                }
                if let Some(fired) = self.windows.update(
                    ci,
                    c,
                    &self.corrs,
                    key,
                    pos,
                    value,
                    id,
                    now,
                    self.max_links,
                ) {
                    let group = c
                        .group_by
                        .iter()
                        .map(|(n, s)| (n.clone(), text_of(*s).unwrap_or_default()))
                        .collect();
                    if let Some(cr) = self.corr_rules.get(ci as usize) {
                        out.push(Firing {
                            rule_id: cr.key.clone(),
                            title: cr.title.clone(),
                            level: cr.level,
                            tags: cr.tags.clone(),
                            kind: "correlation",
                            group,
                            events: fired.events,
                            count: fired.count,
                            at: now,
                            trigger: id,
                        });
                    }
                }
            }
        }
        for a in &mut self.absence {
            a.clock(now);
        }
        self.evicted = self.windows.evicted;
        out
    }

    /// Absence checks at `now`, given the registry of senders; expires old windows.
    pub fn tick(&mut self, now: i64, senders: &[crate::store::SenderInfo]) -> Vec<Firing> {
        let mut out = Vec::new();
        for a in &mut self.absence {
            out.extend(a.check(now, senders));
        }
        self.windows.expire(now, &self.corrs);
        out
    }

    /// Stateless detection only (no windows): how many rules match `ev`. For benchmarks.
    pub fn detections(&self, ev: &Event) -> usize {
        let slots = self.slots(ev, 0, "bench");
        let bucket = self.buckets.get(ev.dataset.as_ref());
        self.general
            .iter()
            .chain(bucket.into_iter().flatten())
            .filter(|ri| {
                self.rules
                    .get(**ri as usize)
                    .is_some_and(|r| r.matcher.matches(&slots))
            })
            .count()
    }
}
