//! The only place that knows every stage: it binds the sockets, creates the bounded queues,
//! starts the threads and tasks, and stops them in order.
//!
//! ```text
//! UDP threads ─┐                                                      
//!              ├─▶ frames (bounded) ─▶ spool writer ─▶ spool files ─▶ parse thread
//! TCP tasks ───┘                                                          │
//!                                           store writer ◀─ batches (bounded) ◀┘
//! ```
//! Shutdown: stop accepting and receiving, let TCP connections hand over what their peers
//! already sent, close the frame queue; the spool writer flushes and says it is done; the parse
//! thread reads the spool to its end; the store writer commits the last batch. Nothing
//! accepted is lost, and anything not stored in time stays in the spool for the next start.

use crate::config::Config;
use crate::ingest::{FrameReceiver, FrameSender, tcp, udp};
use crate::parse::{Chain, HeaderOptions};

use crate::model::Event;
use crate::spool::{self, SpoolReader, SpoolWriter};
use crate::store::sqlite::SqliteStore;
use crate::store::{BatchLimits, EventBatch};
use crate::telemetry::{DropReason, Metrics};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Frame batches the receivers may queue ahead of the spool writer.
const FRAME_QUEUE_BYTES: usize = 8 << 20;
/// Event batches the parse thread may queue ahead of the store writer: twice the default
/// write batch (8,192 events), so that parsing goes on while a transaction commits (with a
/// queue shorter than a write batch the two threads took turns: measured 136k against 185k
/// msg/s end to end).
const EVENT_QUEUE: usize = 4;
/// Stored batches waiting for the rules; when full, a batch skips the rules (counted in
/// `picket_rules_dropped_total`) rather than slowing the store down. Four, not sixteen: each
/// holds up to a write batch of events, and sixteen of them were 60 MB of the peak RSS in a
/// burst; on two cores the rules fall behind a 100,000 msg/s stream either way (see
/// docs/storage.md, Memory), so the longer queue only delayed the skipping.
const RULES_QUEUE: usize = 4;
/// Frames the parse thread takes from the spool at a time.
const PARSE_BATCH: usize = 2048;

/// Errors starting or running the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(transparent)]
    Spool(#[from] crate::spool::Error),
    #[error("cannot start thread {name}: {source}")]
    Thread {
        name: &'static str,
        source: std::io::Error,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Web(std::io::Error),
    #[error(transparent)]
    Alerts(#[from] crate::alerts::Error),
    #[error(transparent)]
    Users(#[from] crate::auth::Error),
}

/// The addresses actually bound (port 0 resolved).
#[derive(Debug, Clone, Default)]
pub struct Bound {
    pub syslog_udp: Vec<SocketAddr>,
    pub syslog_tcp: Vec<SocketAddr>,
    pub web: Option<SocketAddr>,
    pub snmp: Option<SocketAddr>,
}

impl Bound {
    /// The one line `serve` prints when ready.
    pub fn ready_line(&self) -> String {
        let join = |v: &[SocketAddr]| {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "picket ready syslog_udp={} syslog_tcp={} web={} snmp={}",
            join(&self.syslog_udp),
            join(&self.syslog_tcp),
            self.web.map(|a| a.to_string()).unwrap_or_default(),
            self.snmp.map(|a| a.to_string()).unwrap_or_default()
        )
    }
}

/// Runs the collector until `shutdown` resolves. `on_ready` gets the bound addresses.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
    on_ready: impl FnOnce(&Bound),
) -> Result<Arc<Metrics>, Error> {
    // Listener ids: the syslog listeners in order, then the SNMP listener.
    let snmp_id = u16::try_from(config.listeners.len()).unwrap_or(u16::MAX);
    let listener_names: Vec<String> = config
        .listeners
        .iter()
        .map(|l| l.name.clone())
        .chain(config.snmp.as_ref().map(|_| "snmp".to_string()))
        .collect();
    let metrics = Arc::new(Metrics::new(listener_names.iter().cloned()));
    // The SNMP engine names its refusal reasons (shown whether SNMP is on or not).
    metrics
        .snmp_rejected
        .name(crate::snmp::receiver::Reject::ALL.map(crate::snmp::receiver::Reject::as_str));
    let data = &config.data_dir;
    std::fs::create_dir_all(data).map_err(|source| Error::DataDir {
        path: data.display().to_string(),
        source,
    })?;
    let store = SqliteStore::open(
        &data.join("store"),
        // Intake stops at the reserve, the store writer at half of it: the rest is for alerts,
        // the outbox and the security log.
        config.store_options(config.retention.reserve / 2),
    )?;
    let disk = Arc::new(crate::disk::Watch::new(data));
    // Set once shutdown begins: stages that wait for disk space give up instead.
    let stopping = Arc::new(AtomicBool::new(false));
    let (spool_w, spool_r, spool_shared) = spool::open(
        &data.join("spool"),
        store.checkpoint(),
        config.spool_max_bytes,
    )?;
    metrics
        .spool_backlog_bytes
        .store(spool_shared.backlog_bytes() as i64, Relaxed);

    // Stages, from the store backwards so each has its consumer ready.
    let writer = store.writer(listener_names.clone(), metrics.clone())?;
    let store = Arc::new(store);
    let (event_tx, event_rx) = sync_channel::<EventBatch>(EVENT_QUEUE);
    // Written batches come back to the parse thread, which frees and reuses them.
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<Event>>(2);
    let limits = BatchLimits {
        max_events: config.batch_max_events,
        max_wait: config.batch_max_wait,
    };
    // Rules after the store (events carry their ids), then back to the parse thread.
    let (wake_tx, wake_rx) = sync_channel::<()>(1);
    let disabled: crate::rules::run::Disabled = Arc::new(std::sync::RwLock::new(
        crate::alerts::open(data)?.disabled_rules()?,
    ));
    let mut book = crate::web::RuleBook {
        running: config.rules.enabled,
        disabled: disabled.clone(),
        ..crate::web::RuleBook::default()
    };
    let (rules_tx, rules_thread) = if config.rules.enabled {
        let (mut rules, problems) = crate::rules::Rules::load(&config.rules);
        book.meta = rules.meta.clone();
        book.sources = rules.sources.clone();
        book.problems = problems.clone();
        rules.set_max_links(config.rules.max_linked_events);
        for p in &problems {
            tracing::error!(problem = %p, "A rule could not be loaded; the others are in use.");
        }
        let ctx = crate::rules::run::Context {
            rules,
            settings: config.rules.clone(),
            alerts: crate::alerts::open(data)?,
            router: config.notify.clone(),
            reader: Box::new(store.reader()),
            listener_names: listener_names.clone(),
            metrics: metrics.clone(),
            wake: wake_tx.clone(),
            recycle: Some(recycle_tx.clone()),
            disabled,
        };
        let (tx, rx) = sync_channel::<crate::store::StoredBatch>(RULES_QUEUE);
        (
            Some(tx),
            Some(background("picket-rules", move || {
                crate::rules::run::run(ctx, rx)
            })?),
        )
    } else {
        (None, None)
    };
    // The dashboard's stores. On first start an `admin` user is created; its password is
    // logged once (stdout carries only the ready line).
    let users = Arc::new(crate::auth::Users::open(data)?);
    if let Some(pw) = users.ensure_admin()? {
        tracing::warn!(
            user = "admin",
            password = %pw,
            "First start: created the dashboard user admin with this password; it is not shown again (change it with `picket user passwd admin`)."
        );
    }
    let dashboard = crate::web::Dashboard {
        users,
        reader: Arc::new(store.reader()),
        alerts: Arc::new(std::sync::Mutex::new(crate::alerts::open(data)?)),
        router: config.notify.clone(),
        secure_cookie: config.web_secure_cookie,
        rules: Arc::new(book),
    };
    let stop_retention = Arc::new(AtomicBool::new(false));
    let lifecycle = crate::lifecycle::Lifecycle {
        store: store.clone(),
        alerts: crate::alerts::open(data)?,
        users: dashboard.users.clone(),
        policy: config.retention.clone(),
        disk: disk.clone(),
        metrics: metrics.clone(),
        router: config.notify.clone(),
    };
    let sr = stop_retention.clone();
    let retention_thread = background("picket-retention", move || lifecycle.run(sr))?;
    let stop_notify = Arc::new(AtomicBool::new(false));
    let (outbox, notifier, sn, m) = (
        crate::alerts::open(data)?,
        config.notify.clone(),
        stop_notify.clone(),
        metrics.clone(),
    );
    let notify_thread = thread("picket-notify", move || {
        crate::notify::run(outbox, notifier, wake_rx, sn, m)
    })?;
    drop(wake_tx);
    let (m, sh, st) = (metrics.clone(), spool_shared.clone(), stopping.clone());
    let store_thread = background("picket-store-writer", move || {
        let r = crate::store::run_writer(
            Box::new(writer),
            event_rx,
            Some(recycle_tx),
            rules_tx,
            limits,
            m.clone(),
            st,
            |cp, bytes| {
                sh.committed(cp, bytes);
                m.spool_backlog_bytes
                    .store(sh.backlog_bytes() as i64, Relaxed);
            },
        );
        if let Err(e) = &r {
            tracing::error!(error = %e, "The store writer stopped; received messages stay in the spool.");
        }
        r.is_ok()
    })?;
    let opts: Vec<HeaderOptions> = config
        .listeners
        .iter()
        .map(|l| HeaderOptions {
            tz: l.timezone,
            max_future_us: i64::try_from(config.max_future.as_micros()).unwrap_or(i64::MAX),
        })
        .collect();
    let (chain, problems) = crate::parse::configured_with(
        opts,
        &config.parsers_dir,
        config.hints.clone(),
        config.parse_body,
    );
    for p in &problems {
        tracing::error!(problem = %p, "A parser file or hint could not be used; the rest are in use.");
    }
    let mib_names = match &config.snmp {
        Some(s) => {
            let (defs, errors) = crate::snmp::mib::load_dir(&s.mibs_dir);
            for e in &errors {
                tracing::error!(problem = %e, "A MIB file could not be used; the rest are in use.");
            }
            if !defs.is_empty() {
                tracing::info!(names = defs.len(), dir = %s.mibs_dir.display(), "MIB names loaded.");
            }
            defs
        }
        None => Vec::new(),
    };
    let chain = chain.with_snmp(crate::parse::snmp::Options {
        names: Arc::new(crate::snmp::names::Names::with(mib_names)),
        severity: config
            .snmp
            .as_ref()
            .map(|s| s.severity.clone())
            .unwrap_or_default(),
    });
    tracing::info!(parsers = ?chain.parser_names(), "Parsers loaded.");
    let (enricher, problems) = crate::enrich::Shared::new(config.enrich.clone());
    for p in &problems {
        tracing::error!(problem = %p, "Enrichment data could not be used; the rest is in use.");
    }
    if let Some(o) = &config.reverse_dns {
        match crate::enrich::rdns::Rdns::start(o.clone()) {
            Ok(r) => {
                metrics.rdns.set(r.stats.clone()).unwrap_or(());
                enricher.set_rdns(r);
            }
            Err(e) => tracing::error!(problem = %e, "Reverse DNS is off."),
        }
    }
    // Files are checked every 2 s (and all reloaded on SIGHUP); a reload swaps the data in
    // without pausing the parse thread.
    let stop_watch = Arc::new(AtomicBool::new(false));
    let (sw, e2, e3) = (stop_watch.clone(), enricher.clone(), enricher.clone());
    let watch_thread = thread("picket-enrich-watch", move || {
        let mut tick = 0u64;
        while !sw.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(250));
            tick += 1;
            if tick % 8 == 0 {
                log_reload(e2.reload(false));
            }
        }
    })?;
    let m = metrics.clone();
    let parse_thread = background("picket-parse", move || {
        parse_loop(spool_r, chain, enricher, event_tx, recycle_rx, m)
    })?;
    let (frame_tx, frame_rx) = crate::ingest::frame_queue(FRAME_QUEUE_BYTES);
    let (m, dw, st) = (metrics.clone(), disk.clone(), stopping.clone());
    let reserve = config.retention.reserve;
    let spool_thread = thread("picket-spool-writer", move || {
        spool_loop(spool_w, frame_rx, m, Room { disk: dw, reserve }, st)
    })?;

    // Sockets.
    let mut bound = Bound::default();
    let stop_udp = Arc::new(AtomicBool::new(false));
    let mut udp_threads = Vec::new();
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let mut accept_tasks = Vec::new();
    for (i, l) in config.listeners.iter().enumerate() {
        let id = u16::try_from(i).unwrap_or(u16::MAX);
        if l.udp {
            let (sock, got) =
                udp::bind(l.address, config.udp_recv_buffer_bytes).map_err(|source| {
                    Error::Bind {
                        what: "syslog UDP",
                        addr: l.address,
                        source,
                    }
                })?;
            let addr = sock.local_addr().map_err(|source| Error::Bind {
                what: "syslog UDP",
                addr: l.address,
                source,
            })?;
            if got < config.udp_recv_buffer_bytes {
                tracing::warn!(listener = %l.name, requested = config.udp_recv_buffer_bytes, obtained = got, "UDP receive buffer is smaller than configured; raise net.core.rmem_max or run with CAP_NET_ADMIN.");
            }
            if let Some(lm) = metrics.listeners.get(i) {
                lm.udp_inode.store(socket_inode(&sock), Relaxed);
            }
            bound.syslog_udp.push(addr);
            let (tx, m, stop, max) = (
                frame_tx.clone(),
                metrics.clone(),
                stop_udp.clone(),
                config.max_frame_bytes,
            );
            udp_threads.push(thread("picket-udp", move || {
                udp::run(sock, id, max, tx, m, stop)
            })?);
        }
        if l.tcp {
            // With port 0, TCP takes the port UDP got when it is free, so one address serves both.
            let mut want = l.address;
            if want.port() == 0 {
                if let Some(u) = bound.syslog_udp.last().filter(|_| l.udp) {
                    want.set_port(u.port());
                }
            }
            let listener = match tokio::net::TcpListener::bind(want).await {
                Ok(x) => Ok(x),
                Err(_) if want != l.address => tokio::net::TcpListener::bind(l.address).await,
                Err(e) => Err(e),
            }
            .map_err(|source| Error::Bind {
                what: "syslog TCP",
                addr: l.address,
                source,
            })?;
            let addr = listener.local_addr().map_err(|source| Error::Bind {
                what: "syslog TCP",
                addr: l.address,
                source,
            })?;
            bound.syslog_tcp.push(addr);
            let lim = tcp::Limits {
                max_frame: config.max_frame_bytes,
                max_connections: config.max_connections,
                idle_timeout: config.idle_timeout,
            };
            accept_tasks.push(tokio::spawn(tcp::run(
                listener,
                id,
                lim,
                frame_tx.clone(),
                metrics.clone(),
                cancel.clone(),
                tracker.clone(),
            )));
        }
    }
    if let Some(sc) = &config.snmp {
        let sock = crate::ingest::snmp::bind(sc.listen, config.udp_recv_buffer_bytes).map_err(
            |source| Error::Bind {
                what: "SNMP UDP",
                addr: sc.listen,
                source,
            },
        )?;
        bound.snmp = sock.local_addr().ok();
        if let Some(lm) = metrics.listeners.get(usize::from(snmp_id)) {
            lm.udp_inode.store(socket_inode(&sock), Relaxed);
        }
        let engine = crate::snmp::receiver::OwnEngine::load_or_create(data).map_err(|source| {
            Error::DataDir {
                path: data.join("snmp-engine").display().to_string(),
                source,
            }
        })?;
        tracing::info!(engine_id = %crate::snmp::receiver::hex(&engine.id), boots = engine.boots, users = sc.users.len(), "SNMP engine.");
        let receiver =
            crate::snmp::receiver::Receiver::new(sc.users.clone(), sc.communities.clone(), engine);
        let (tx, m, stop) = (frame_tx.clone(), metrics.clone(), stop_udp.clone());
        udp_threads.push(thread("picket-snmp", move || {
            crate::ingest::snmp::run(sock, snmp_id, receiver, tx, m, stop)
        })?);
    }
    drop::<FrameSender>(frame_tx);
    let web_listener = tokio::net::TcpListener::bind(config.web_listen)
        .await
        .map_err(|source| Error::Bind {
            what: "web",
            addr: config.web_listen,
            source,
        })?;
    bound.web = web_listener.local_addr().ok();
    let app = crate::web::router(crate::web::AppState {
        metrics: metrics.clone(),
        dash: Some(dashboard),
    })
    .into_make_service_with_connect_info::<SocketAddr>();
    // Samples the listeners' counters so the overview can show rates.
    let m_rates = metrics.clone();
    let rate_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            let _sampled = m_rates.listener_rates();
        }
    });
    let web_cancel = CancellationToken::new();
    let wc = web_cancel.clone();
    let web_task = tokio::spawn(async move {
        axum::serve(web_listener, app)
            .with_graceful_shutdown(async move { wc.cancelled().await })
            .await
    });
    tracing::info!(udp = ?bound.syslog_udp, tcp = ?bound.syslog_tcp, web = ?bound.web, data_dir = %data.display(), "Picket is ready.");
    on_ready(&bound);

    let hup_task = tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading enrichment data.");
            let e = e3.clone();
            if let Ok(r) = tokio::task::spawn_blocking(move || e.reload(true)).await {
                log_reload(r);
            }
        }
    });
    shutdown.await;
    hup_task.abort();
    rate_task.abort();
    stop_watch.store(true, Relaxed);
    if watch_thread.join().is_err() {
        tracing::error!("The enrichment watcher panicked.");
    }
    tracing::info!("Shutting down: stopping listeners and draining queues.");
    stopping.store(true, Relaxed);
    // Retention feeds nothing: it is told now and joined once the pipeline has drained, so a
    // pass in progress never delays closing the listeners.
    stop_retention.store(true, Relaxed);
    cancel.cancel();
    stop_udp.store(true, Relaxed);
    for t in accept_tasks {
        if let Err(e) = t.await {
            tracing::error!(error = %e, "A TCP accept task failed.");
        }
    }
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(10), tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "Some TCP connections did not finish within 10 s; what they sent later is not taken."
        );
    }
    let join_all = move || {
        let mut ok = true;
        for t in udp_threads {
            ok &= t.join().is_ok();
        }
        // Receivers are gone: the frame queue closes, and each stage finishes in turn.
        ok &= spool_thread.join().is_ok();
        ok &= parse_thread.join().is_ok();
        ok &= store_thread.join().unwrap_or(false);
        // The store closed the rules' queue; then the notifier stops (what it has not sent
        // stays in the outbox for the next start).
        if let Some(t) = rules_thread {
            ok &= t.join().is_ok();
        }
        stop_notify.store(true, Relaxed);
        ok &= notify_thread.join().is_ok();
        if retention_thread.join().is_err() {
            tracing::error!("The retention thread panicked.");
        }
        ok
    };
    let store_ok = tokio::task::spawn_blocking(join_all).await.unwrap_or(false);
    web_cancel.cancel();
    if tokio::time::timeout(Duration::from_secs(5), web_task)
        .await
        .is_err()
    {
        tracing::warn!("The web server did not stop within 5 s.");
    }
    tracing::info!(
        received = metrics.received_total(),
        stored = metrics.stored.load(Relaxed),
        backlog_bytes = spool_shared.backlog_bytes(),
        store_ok,
        "Picket stopped."
    );
    Ok(metrics)
}

fn thread<T: Send + 'static>(
    name: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, Error> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|source| Error::Thread { name, source })
}

/// A thread behind the spool: it yields the CPU to intake (`crate::priority`).
fn background<T: Send + 'static>(
    name: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, Error> {
    thread(name, move || {
        crate::priority::background();
        f()
    })
}

/// The spool writer thread: appends every frame batch. It flushes (publishing to the parse
/// thread) once 256 KiB are buffered or the queue has been empty for a millisecond, so that a
/// stream of single datagrams does not cost a write and a wake-up each.
///
/// A full disk never drops a frame here: while less than the reserve is free, or while a write
/// fails, the thread holds the frame and retries every 100 ms without taking more from its
/// queue. The queue then fills: TCP connections stop being read (their senders wait and lose
/// nothing) and UDP datagrams and SNMP notifications are dropped, counted as `disk_full`.
/// Only at shutdown does a frame still held give up (counted as `spool_error`).
fn spool_loop(
    mut w: SpoolWriter,
    mut rx: FrameReceiver,
    metrics: Arc<Metrics>,
    room: Room,
    stopping: Arc<AtomicBool>,
) {
    let fail = |n: usize, e: &spool::Error| {
        static LIMIT: crate::telemetry::events::RateLimit =
            crate::telemetry::events::RateLimit::new(10);
        metrics.add_dropped(DropReason::SpoolError, n as u64);
        if let Some(more) = LIMIT.occurred() {
            tracing::error!(error = %e, frames = n, suppressed = more, "Could not write to the spool at shutdown; frames lost.");
        }
    };
    // Runs `op` until it succeeds (and there is room), or shutdown gives up on it.
    let hold = |w: &mut SpoolWriter,
                op: &mut dyn FnMut(&mut SpoolWriter) -> Result<(), spool::Error>|
     -> Result<(), spool::Error> {
        static LIMIT: crate::telemetry::events::RateLimit =
            crate::telemetry::events::RateLimit::new(10);
        let mut waited = false;
        loop {
            let outcome = if room.ok() {
                op(w)
            } else {
                Err(spool::Error::Io {
                    path: room.disk.dir().to_path_buf(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::StorageFull,
                        format!("less than the reserve ({} bytes) is free", room.reserve),
                    ),
                })
            };
            match outcome {
                Ok(()) => {
                    if waited {
                        metrics.disk_full.store(false, Relaxed);
                        tracing::info!("Disk space is back; intake resumes.");
                    }
                    return Ok(());
                }
                Err(e) => {
                    if !waited {
                        metrics.disk_full.store(true, Relaxed);
                        waited = true;
                    }
                    if let Some(more) = LIMIT.occurred() {
                        tracing::error!(error = %e, suppressed = more, "The disk is full: intake waits (TCP senders are held, UDP and SNMP drop as disk_full) until space is freed.");
                    }
                    if stopping.load(Relaxed) {
                        metrics.disk_full.store(false, Relaxed);
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    room.disk.refresh();
                }
            }
        }
    };
    const FLUSH_BYTES: u64 = 256 << 10;
    const LINGER: Duration = Duration::from_millis(1);
    while let Some(first) = rx.blocking_recv() {
        if !w.wait_for_room(Duration::ZERO) {
            metrics.spool_full.store(true, Relaxed);
            tracing::warn!(
                "The spool is full; waiting for the store to catch up (TCP senders are slowed, UDP drops)."
            );
            while !w.wait_for_room(Duration::from_secs(1)) {}
            metrics.spool_full.store(false, Relaxed);
            tracing::info!("The spool has room again.");
        }
        let mut next = Some(first);
        let mut idle_since: Option<std::time::Instant> = None;
        loop {
            if let Some(batch) = next.take() {
                idle_since = None;
                let mut bytes = 0u64;
                // Room is checked once per batch (the reading is cached anyway); a frame is
                // held only when there is none or its append fails.
                if !room.ok() {
                    // Publish what is buffered before waiting, so the store can go on; a
                    // failed flush keeps it buffered for the next one.
                    let _kept_buffered = w.flush();
                    if let Err(e) = hold(&mut w, &mut |_| Ok(())) {
                        fail(0, &e);
                    }
                }
                for f in &batch.frames {
                    let done = match w.append(f) {
                        Ok(()) => Ok(()),
                        Err(_) => hold(&mut w, &mut |w| w.append(f)),
                    };
                    match done {
                        Ok(()) => bytes += f.bytes.len() as u64,
                        Err(e) => fail(1, &e),
                    }
                }
                metrics.spool_written_bytes.fetch_add(bytes, Relaxed);
                drop(batch);
                if w.unpublished_bytes() >= FLUSH_BYTES {
                    if let Err(e) = hold(&mut w, &mut |w| w.flush()) {
                        fail(0, &e);
                    }
                }
            }
            match rx.try_recv() {
                Ok(b) => next = Some(b),
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                    let since = *idle_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() >= LINGER {
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(100));
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        if let Err(e) = hold(&mut w, &mut |w| w.flush()) {
            fail(0, &e);
        }
    }
    if let Err(e) = w.finish() {
        fail(0, &e);
    }
}

/// Free space the spool writer leaves on the data directory's file system.
struct Room {
    disk: Arc<crate::disk::Watch>,
    reserve: u64,
}

impl Room {
    fn ok(&self) -> bool {
        self.disk.has(self.reserve)
    }
}

/// The parse thread: spool → events → store writer.
fn log_reload((files, problems): (Vec<std::path::PathBuf>, Vec<String>)) {
    for p in &problems {
        tracing::error!(problem = %p, "Enrichment reload: a file could not be used.");
    }
    if !files.is_empty() {
        tracing::info!(files = ?files, "Enrichment data reloaded.");
    }
}

fn parse_loop(
    mut r: SpoolReader,
    chain: Chain,
    enricher: Arc<crate::enrich::Shared>,
    tx: SyncSender<EventBatch>,
    recycled: Receiver<Vec<Event>>,
    metrics: Arc<Metrics>,
) {
    loop {
        let batch = r.next_batch(PARSE_BATCH, Duration::from_millis(200));
        if batch.corrupt > 0 {
            metrics.add_dropped(DropReason::SpoolCorrupt, batch.corrupt);
        }
        let enrich = enricher.get();
        let mut counts: Vec<(&'static str, u64)> = Vec::new();
        // A vector the store writer is done with, or a new one; either way any events still
        // in it are freed here, by the thread that allocated them.
        let mut events = match recycled.try_recv() {
            Ok(mut v) => {
                v.clear();
                v
            }
            Err(_) => Vec::with_capacity(batch.frames.len()),
        };
        while let Ok(more) = recycled.try_recv() {
            drop(more);
        }
        let (mut invalid, mut clamped) = (0u64, 0u64);
        for f in &batch.frames {
            let mut ev = chain.parse(f);
            enrich.enrich(&mut ev);
            match counts.iter_mut().find(|(p, _)| *p == ev.parser) {
                Some((_, n)) => *n += 1,
                None => counts.push((ev.parser, 1)),
            }
            invalid += u64::from(ev.invalid_utf8);
            clamped += u64::from(ev.clamped_from.is_some());
            events.push(ev);
        }
        metrics.add_parsed(&counts);
        metrics.invalid_utf8.fetch_add(invalid, Relaxed);
        metrics.clamped.fetch_add(clamped, Relaxed);
        if !events.is_empty() || batch.bytes > 0 {
            let out = EventBatch {
                events,
                checkpoint: batch.end,
                spool_bytes: batch.bytes,
            };
            if tx.send(out).is_err() {
                tracing::error!("The store writer is gone; stopping the parse stage.");
                return;
            }
        }
        if batch.finished {
            return;
        }
    }
}

/// The inode of a socket, to find its kernel counters in /proc/net/udp.
fn socket_inode(sock: &std::net::UdpSocket) -> u64 {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd())).map_or(0, |m| m.ino())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
