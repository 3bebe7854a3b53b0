//! The poller: one task per device, each on its own timer with a start offset spread over the
//! interval (so polls never bunch up) and its own session, timeout and retries, so one slow or
//! dead device never delays another. Between full polls, a cheap SNMP get checks availability
//! (every `check_secs`); three misses in a row make a device down, unless its parent is down,
//! which suppresses it. State changes become events (through the spool, like any message) and
//! each poll's result is written to the device book. Devices added, changed or removed in the
//! store or the file are picked up within seconds, without a restart.

use super::book;
use super::client::{Error as SnmpError, Session, Telemetry};
use super::credentials::Vault;
use super::device::Device;
use super::settings::Settings;
use super::walk;
use crate::model::{Frame, Transport};
use crate::snmp::message::Value;
use crate::store::devices::{DeviceBook, DeviceState};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Hands one event frame to the spool; false when it had to be dropped (queue full).
pub type Emit = Arc<dyn Fn(Frame) -> bool + Send + Sync>;

/// Consecutive failed checks that make a device down.
pub const MISSES_TO_DOWN: u32 = 3;

const SYS_DESCR: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_OBJECT_ID: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 2, 0];
const SYS_UPTIME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
const SYS_NAME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 5, 0];
/// How often interface names and speeds are read again.
const REDISCOVER: Duration = Duration::from_secs(6 * 3600);

/// The poller's counters on `/metrics`.
#[derive(Debug)]
pub struct Stats {
    /// Devices being polled.
    pub devices: Gauge,
    /// Full polls that ended with an answer.
    pub polls_ok: Counter,
    /// Full polls that failed.
    pub polls_failed: Counter,
    /// Availability checks that got no answer.
    pub checks_missed: Counter,
    /// SNMP requests sent (retries included).
    pub requests: Counter,
    /// Requests that timed out after every retry.
    pub timeouts: Counter,
    /// Poll slots skipped because the previous poll overran the interval.
    pub overruns: Counter,
    /// State-change events dropped because the intake queue was full.
    pub events_dropped: Counter,
    /// Device-state writes that failed (a full disk): counted, never waited on.
    pub state_write_errors: Counter,
    /// Rates not stored, by reason (reset, implausible, unverified_wrap …).
    pub rate_gaps: crate::telemetry::Labeled,
}

impl Default for Stats {
    fn default() -> Self {
        let rate_gaps = crate::telemetry::Labeled::new("reason");
        rate_gaps.declare(&[
            "reset",
            "discontinuity",
            "width",
            "unverified_wrap",
            "implausible",
            "stale",
        ]);
        Stats {
            devices: Gauge::default(),
            polls_ok: Counter::default(),
            polls_failed: Counter::default(),
            checks_missed: Counter::default(),
            requests: Counter::default(),
            timeouts: Counter::default(),
            overruns: Counter::default(),
            events_dropped: Counter::default(),
            state_write_errors: Counter::default(),
            rate_gaps,
        }
    }
}

impl Stats {
    /// Adds these to `/metrics`.
    pub fn register(self: &Arc<Self>, m: &crate::telemetry::Metrics) {
        m.register(
            "picket_poll_devices",
            "Devices the SNMP poller polls.",
            self.devices.clone(),
        );
        for (name, help, c) in [
            (
                "picket_poll_polls_ok_total",
                "Full SNMP polls that were answered.",
                &self.polls_ok,
            ),
            (
                "picket_poll_polls_failed_total",
                "Full SNMP polls that failed (timeout, USM error, error-status).",
                &self.polls_failed,
            ),
            (
                "picket_poll_checks_missed_total",
                "Availability checks a device did not answer.",
                &self.checks_missed,
            ),
            (
                "picket_poll_requests_total",
                "SNMP requests the poller sent, retries included.",
                &self.requests,
            ),
            (
                "picket_poll_timeouts_total",
                "SNMP requests that got no answer after every retry.",
                &self.timeouts,
            ),
            (
                "picket_poll_overruns_total",
                "Poll slots skipped because the previous poll overran its interval.",
                &self.overruns,
            ),
            (
                "picket_poll_events_dropped_total",
                "Poller state-change events dropped because the intake queue was full.",
                &self.events_dropped,
            ),
            (
                "picket_poll_state_write_errors_total",
                "Device-state writes to the store that failed.",
                &self.state_write_errors,
            ),
        ] {
            m.register(name, help, c.clone());
        }
        m.register(
            "picket_poll_rate_gaps_total",
            "Counter rates not stored (a gap instead), by reason.",
            self.rate_gaps.clone(),
        );
    }
}

/// What the poller needs from `serve`.
pub struct Context {
    /// `[poll]`.
    pub settings: Settings,
    /// The data directory (device book).
    pub data_dir: PathBuf,
    /// Where state-change events go.
    pub emit: Emit,
    /// Counters.
    pub stats: Arc<Stats>,
    /// The listener id poll frames carry.
    pub listener: u16,
}

/// Up or down, as last decided, shared so children can see their parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Unknown,
    Up,
    Down,
}

type Statuses = Arc<Mutex<HashMap<String, Status>>>;
/// Which device each v3 engine ID was first seen on.
type Engines = Arc<Mutex<HashMap<Vec<u8>, String>>>;
type SharedBook = Arc<Mutex<Box<dyn DeviceBook>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Runs until `cancel`.
pub async fn run(ctx: Context, cancel: CancellationToken) {
    let ctx = Arc::new(ctx);
    let opened = {
        let (key, dir) = (ctx.settings.key_file.clone(), ctx.data_dir.clone());
        tokio::task::spawn_blocking(move || -> Result<_, book::Error> {
            Ok((Vault::load_or_create(&key)?, book::open(&dir)?))
        })
        .await
    };
    let (vault, book) = match opened {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "The SNMP poller cannot read its devices; polling is off.");
            return;
        }
        Err(_) => return,
    };
    let book: SharedBook = Arc::new(Mutex::new(book));
    let vault = Arc::new(vault);
    let statuses: Statuses = Arc::default();
    let engines: Engines = Arc::default();
    let mut tasks: HashMap<String, (String, CancellationToken)> = HashMap::new();
    let mut revision = None;
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let (b, v, s) = (book.clone(), vault.clone(), ctx.settings.clone());
        let known = revision;
        // Definitions are opened and checked (v3 keys derived) only when the book changed.
        let read = tokio::task::spawn_blocking(move || {
            let g = lock(&b);
            let rev = g.revision()?;
            if known == Some(rev) {
                return Ok(None);
            }
            let devices = book::all(&s, g.as_ref(), &v)?;
            Ok::<_, book::Error>(Some((rev, devices)))
        })
        .await;
        let (rev, devices) = match read {
            Ok(Ok(Some(x))) => x,
            Ok(Ok(None)) => continue,
            Ok(Err(e)) => {
                static LIMIT: crate::telemetry::events::RateLimit =
                    crate::telemetry::events::RateLimit::new(10);
                if let Some(more) = LIMIT.occurred() {
                    tracing::error!(error = %e, suppressed = more, "Could not read the device list; polling goes on with the last one.");
                }
                continue;
            }
            Err(_) => continue,
        };
        revision = Some(rev);
        // Restart a device's task when anything in its definition changed.
        let wanted: HashMap<String, (String, Device)> = devices
            .into_iter()
            .map(|d| (d.name.clone(), (fingerprint(&d), d)))
            .collect();
        tasks.retain(|name, (fp, token)| {
            let keep = wanted.get(name).is_some_and(|(f, _)| f == fp);
            if !keep {
                token.cancel();
                lock(&statuses).remove(name);
            }
            keep
        });
        for (name, (fp, d)) in wanted {
            if tasks.contains_key(&name) {
                continue;
            }
            let token = cancel.child_token();
            lock(&statuses).insert(name.clone(), Status::Unknown);
            let task = DeviceTask {
                device: d,
                ctx: ctx.clone(),
                book: book.clone(),
                statuses: statuses.clone(),
                engines: engines.clone(),
            };
            let t = token.clone();
            tokio::spawn(async move { task.run(t).await });
            tasks.insert(name, (fp, token));
        }
        ctx.stats.devices.set(tasks.len() as i64);
    }
    for (_, (_, t)) in tasks {
        t.cancel();
    }
}

/// Everything that changes how a device is polled, secrets included (never shown).
fn fingerprint(d: &Device) -> String {
    let secret = match &d.security {
        super::client::Security::Community { community, .. } => {
            data_encoding::HEXLOWER.encode(community)
        }
        super::client::Security::Usm(u) => {
            let k = u.localize(b"fingerprint");
            format!("{:?}{:?}", k.auth.map(|a| a.1), k.privacy.map(|p| p.1))
        }
    };
    format!(
        "{}|{}|{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{secret}",
        d.host,
        d.port,
        d.security.version(),
        d.interval,
        d.timeout,
        d.retries,
        d.parent,
        d.profile,
        d.group,
        d.tags
    )
}

/// A start offset in `[0, interval)` from the name: stable across restarts, spread evenly.
fn offset(name: &str, interval: Duration) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h.finish() % ms)
}

/// A device's interface state and request sizing, kept across polls.
#[derive(Default)]
struct Polling {
    table: super::interfaces::Interfaces,
    sizer: walk::Sizer,
    discovered_at: Option<Instant>,
}

struct DeviceTask {
    device: Device,
    ctx: Arc<Context>,
    book: SharedBook,
    statuses: Statuses,
    engines: Engines,
}

/// What one full poll found.
struct Found {
    sys_descr: Option<String>,
    sys_object_id: Option<String>,
    sys_name: Option<String>,
    ports: Vec<super::interfaces::PortReport>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).trim().to_string()),
        Value::Oid(o) => Some(super::snmprec::dotted(o)),
        _ => None,
    }
}

impl DeviceTask {
    async fn run(self, cancel: CancellationToken) {
        let d = &self.device;
        let check_every = self.ctx.settings.check_every.min(d.interval);
        let start = tokio::time::Instant::now() + offset(&d.name, check_every);
        let mut next_poll = start;
        let mut next_check = start + check_every;
        let mut session: Option<Session> = None;
        let mut ifs = Polling::default();
        let mut status = Status::Unknown;
        let mut misses = 0u32;
        // Whether a device-down event went out for the current outage (not when suppressed).
        let mut reported_down = false;
        let mut warned_duplicate = false;
        let mut state = DeviceState {
            name: d.name.clone(),
            status: "unknown".into(),
            ..DeviceState::default()
        };
        loop {
            let at = next_poll.min(next_check);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(at) => {}
            }
            let full = tokio::time::Instant::now() >= next_poll;
            if session.is_none() {
                session = self.open().await;
            }
            let Some(s) = session.as_mut() else {
                misses += 1;
                next_check += check_every;
                continue;
            };
            let before = s.telemetry;
            let started = Instant::now();
            let asked = async {
                if full {
                    self.poll(s, &mut ifs).await.map(Some)
                } else {
                    s.get(&[SYS_UPTIME.to_vec()]).await.map(|_| None)
                }
            };
            let result = tokio::select! {
                _ = cancel.cancelled() => return,
                r = asked => r,
            };
            let spent = telemetry_delta(before, s.telemetry);
            self.ctx.stats.requests.inc_by(spent.pdus);
            self.ctx.stats.timeouts.inc_by(spent.timeouts);
            for c in s.take_changes() {
                self.engine_warning(&c);
            }
            let now = tokio::time::Instant::now();
            if full {
                next_poll += d.interval;
                while next_poll <= now {
                    next_poll += d.interval;
                    self.ctx.stats.overruns.inc();
                }
                next_check = now + check_every;
            } else {
                next_check += check_every;
                while next_check <= now {
                    next_check += check_every;
                }
            }
            let error = match &result {
                Ok(found) => {
                    misses = 0;
                    if full {
                        self.ctx.stats.polls_ok.inc();
                    }
                    if let Some(f) = found {
                        state.sys_descr = f.sys_descr.clone().or(state.sys_descr.take());
                        state.sys_object_id = f.sys_object_id.clone();
                        state.sys_name = f.sys_name.clone();
                        state.ports = f.ports.len() as u64;
                        state.interfaces = f.ports.clone();
                    }
                    state.error = None;
                    None
                }
                Err(e) => {
                    misses += 1;
                    if full {
                        self.ctx.stats.polls_failed.inc();
                    } else {
                        self.ctx.stats.checks_missed.inc();
                    }
                    state.error = Some(e.label().to_string());
                    Some(e.clone())
                }
            };
            let new = match (&error, status) {
                (None, _) => Status::Up,
                // USM errors are answers: the device is there, the credentials are wrong.
                (Some(_), _) if misses >= MISSES_TO_DOWN => Status::Down,
                (Some(_), s) => s,
            };
            if new != status {
                reported_down = self.transition(new, reported_down, error.as_ref(), &mut state);
                status = new;
            } else if status == Status::Down && !reported_down && self.parent_up() {
                // Its parent came back and this one did not: now it is this device's outage.
                reported_down = self.transition(Status::Down, false, error.as_ref(), &mut state);
            }
            if full {
                state.last_poll = Some(crate::model::clock::now_micros());
                state.poll_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(0));
                state.pdus = spent.pdus;
                state.retries = spent.retries;
                state.timeouts = spent.timeouts;
                state.engine_id = s.engine().map(|e| data_encoding::HEXLOWER.encode(&e.id));
                if let Some(id) = s.engine().map(|e| e.id.clone()) {
                    self.check_duplicate(&id, &mut warned_duplicate);
                }
            }
            if full || new != Status::Unknown {
                self.save(&state).await;
            }
        }
    }

    async fn open(&self) -> Option<Session> {
        let d = &self.device;
        let addr: SocketAddr = match tokio::net::lookup_host((d.host.as_str(), d.port)).await {
            Ok(mut a) => a.next()?,
            Err(e) => {
                tracing::warn!(device = %d.name, error = %e, "The device's address does not resolve.");
                return None;
            }
        };
        match Session::open(addr, d.security.clone(), d.timeout, d.retries).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(device = %d.name, error = %e, "Could not open a socket for the device.");
                None
            }
        }
    }

    async fn poll(&self, s: &mut Session, ifs: &mut Polling) -> Result<Found, SnmpError> {
        let sys = s
            .get(&[
                SYS_DESCR.to_vec(),
                SYS_OBJECT_ID.to_vec(),
                SYS_UPTIME.to_vec(),
                SYS_NAME.to_vec(),
            ])
            .await?;
        let by = |oid: &[u32]| sys.iter().find(|(o, _)| o == oid).map(|(_, v)| v);
        let uptime = match by(&SYS_UPTIME) {
            Some(Value::TimeTicks(t)) => Some(*t),
            _ => None,
        };
        let stale = ifs.discovered_at.is_none_or(|t| t.elapsed() > REDISCOVER);
        if stale || !ifs.table.discovered() {
            ifs.table.discover(s, &mut ifs.sizer).await?;
            ifs.discovered_at = Some(Instant::now());
        }
        let polled = ifs
            .table
            .poll(s, &mut ifs.sizer, uptime, self.device.interval)
            .await?;
        for g in &polled.gaps {
            self.ctx.stats.rate_gaps.add(g.as_str(), 1);
        }
        for c in &polled.changes {
            let down = c.to != "up";
            self.emit(serde_json::json!({
                "action": if down { "port-down" } else { "port-up" },
                "device": self.device.name,
                "address": self.device.address(),
                "port": c.port,
                "severity": if down { 4 } else { 5 },
                "message": format!("Port {} on {} is {} (was {})", c.port, self.device.name, c.to, c.from),
            }));
        }
        Ok(Found {
            sys_descr: text(by(&SYS_DESCR)),
            sys_object_id: text(by(&SYS_OBJECT_ID)),
            sys_name: text(by(&SYS_NAME)),
            ports: polled.ports,
        })
    }

    /// True when the device has no parent or its parent answers. A child whose parent is down
    /// or not yet known is not reported: its outage is probably the parent's.
    fn parent_up(&self) -> bool {
        match &self.device.parent {
            None => true,
            Some(p) => lock(&self.statuses).get(p) == Some(&Status::Up),
        }
    }

    /// Records the new status and sends its event; returns whether a down is now reported.
    fn transition(
        &self,
        to: Status,
        reported_down: bool,
        error: Option<&SnmpError>,
        state: &mut DeviceState,
    ) -> bool {
        let d = &self.device;
        lock(&self.statuses).insert(d.name.clone(), to);
        match to {
            Status::Down => {
                state.status = "down".into();
                state.reason = Some("snmp".into());
                let label = error.map_or("timeout", SnmpError::label);
                if !self.parent_up() {
                    state.suppressed_by = d.parent.clone();
                    tracing::info!(device = %d.name, parent = ?d.parent, "Device unreachable while its parent is not up; not reported.");
                    return false;
                }
                state.suppressed_by = None;
                self.emit(serde_json::json!({
                    "action": "device-down",
                    "device": d.name,
                    "address": d.address(),
                    "reason": "snmp",
                    "error": label,
                    "parent": d.parent,
                    "severity": 3,
                    "message": format!("Device {} ({}) is down: SNMP {}", d.name, d.address(), label.replace('_', " ")),
                }));
                true
            }
            Status::Up => {
                state.status = "up".into();
                state.reason = None;
                state.suppressed_by = None;
                if reported_down {
                    self.emit(serde_json::json!({
                        "action": "device-up",
                        "device": d.name,
                        "address": d.address(),
                        "severity": 5,
                        "message": format!("Device {} ({}) is up again", d.name, d.address()),
                    }));
                }
                false
            }
            Status::Unknown => {
                state.status = "unknown".into();
                false
            }
        }
    }

    /// Two devices answering with one engine ID break USM's replay protection and key
    /// localisation (a cloned VM or appliance image): warned once per device.
    fn check_duplicate(&self, id: &[u8], warned: &mut bool) {
        let other = {
            let mut g = lock(&self.engines);
            let owner = g
                .entry(id.to_vec())
                .or_insert_with(|| self.device.name.clone());
            (owner != &self.device.name).then(|| owner.clone())
        };
        let Some(other) = other else {
            return;
        };
        if std::mem::replace(warned, true) {
            return;
        }
        let hex = data_encoding::HEXLOWER.encode(id);
        let message = format!(
            "Devices {} and {other} answer with the same SNMP engine ID {hex}: give each its own (a cloned image keeps it)",
            self.device.name
        );
        tracing::warn!(device = %self.device.name, other = %other, "{message}");
        self.emit(serde_json::json!({
            "action": "engine-id-duplicate",
            "device": self.device.name,
            "address": self.device.address(),
            "engine_id": hex,
            "severity": 4,
            "message": message,
        }));
    }

    fn engine_warning(&self, c: &super::client::EngineChange) {
        let d = &self.device;
        let (action, message) = match c {
            super::client::EngineChange::NewId { was } => (
                "engine-id-changed",
                format!(
                    "Device {}'s SNMP engine ID changed (was {}): it was reset or replaced",
                    d.name,
                    data_encoding::HEXLOWER.encode(was)
                ),
            ),
            super::client::EngineChange::BootsBackwards { was, now } => (
                "engine-boots-warning",
                format!(
                    "Device {}'s snmpEngineBoots went back from {was} to {now}: the agent does not keep its boot count",
                    d.name
                ),
            ),
        };
        tracing::warn!(device = %d.name, "{message}");
        self.emit(serde_json::json!({
            "action": action,
            "device": d.name,
            "address": d.address(),
            "severity": 4,
            "message": message,
        }));
    }

    fn emit(&self, v: serde_json::Value) {
        let peer = SocketAddr::from(([127, 0, 0, 1], self.device.port));
        let peer = match self.device.host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, self.device.port),
            Err(_) => peer,
        };
        let frame = Frame {
            bytes: bytes::Bytes::from(v.to_string()),
            peer,
            listener: self.ctx.listener,
            transport: Transport::Poll,
            received_at: crate::model::clock::now_micros(),
            truncated: false,
        };
        if !(self.ctx.emit)(frame) {
            self.ctx.stats.events_dropped.inc();
        }
    }

    async fn save(&self, state: &DeviceState) {
        let (b, s) = (self.book.clone(), state.clone());
        let r = tokio::task::spawn_blocking(move || lock(&b).set_state(&s)).await;
        if !matches!(r, Ok(Ok(()))) {
            self.ctx.stats.state_write_errors.inc();
        }
    }
}

fn telemetry_delta(a: Telemetry, b: Telemetry) -> Telemetry {
    Telemetry {
        pdus: b.pdus - a.pdus,
        retries: b.retries - a.retries,
        timeouts: b.timeouts - a.timeouts,
        bytes_in: b.bytes_in - a.bytes_in,
    }
}
