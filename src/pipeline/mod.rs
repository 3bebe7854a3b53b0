//! The only place that knows every stage: [`start`] creates the bounded queues, starts the
//! threads and tasks and binds the sockets (`sockets.rs`); [`Running::shutdown`] stops them in
//! order. The thread loops themselves are in `stages.rs`.
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

mod sockets;
mod stages;

use crate::config::Config;
use crate::ingest::FrameSender;
use crate::model::Event;
use crate::parse::HeaderOptions;
use crate::spool;
use crate::store::sqlite::SqliteStore;
use crate::store::{BatchLimits, EventBatch};
use crate::telemetry::Metrics;
use stages::{Room, log_reload, parse_loop, spool_loop};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::sync_channel;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
    #[error("TLS listener {listener}: {detail}")]
    Tls { listener: String, detail: String },
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
    pub syslog_tls: Vec<SocketAddr>,
    pub web: Option<SocketAddr>,
    /// The plain-HTTP port that redirects to HTTPS.
    pub web_redirect: Option<SocketAddr>,
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
        let mut line = format!(
            "picket ready syslog_udp={} syslog_tcp={} web={} snmp={}",
            join(&self.syslog_udp),
            join(&self.syslog_tcp),
            self.web.map(|a| a.to_string()).unwrap_or_default(),
            self.snmp.map(|a| a.to_string()).unwrap_or_default()
        );
        if let Some(r) = self.web_redirect {
            line.push_str(&format!(" web_redirect={r}"));
        }
        if !self.syslog_tls.is_empty() {
            line.push_str(" syslog_tls=");
            line.push_str(&join(&self.syslog_tls));
        }
        line
    }
}

/// Runs the collector until `shutdown` resolves. `on_ready` gets the bound addresses.
pub async fn serve(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
    on_ready: impl FnOnce(&Bound),
) -> Result<Arc<Metrics>, Error> {
    let running = start(config).await?;
    on_ready(&running.bound);
    shutdown.await;
    Ok(running.shutdown().await)
}

/// Starts every stage, from the store backwards so each has its consumer ready, then binds the
/// sockets and the web server.
pub async fn start(config: Config) -> Result<Running, Error> {
    // Listener ids: the syslog listeners in order, then the SNMP listener.
    let snmp_id = u16::try_from(config.listeners.len()).unwrap_or(u16::MAX);
    let listener_names: Vec<String> = config
        .listeners
        .iter()
        .map(|l| l.name.clone())
        .chain(config.snmp.as_ref().map(|_| "snmp".to_string()))
        .chain(config.poll.enabled.then(|| "poll".to_string()))
        .collect();
    let poll_id = u16::try_from(listener_names.len().saturating_sub(1)).unwrap_or(u16::MAX);
    let metrics = Arc::new(Metrics::new(listener_names.iter().cloned()));
    // The SNMP engine names its refusal reasons (shown whether SNMP is on or not).
    metrics
        .snmp_rejected
        .declare(&crate::snmp::receiver::Reject::ALL.map(crate::snmp::receiver::Reject::as_str));
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
        .set(spool_shared.backlog_bytes() as i64);

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
    let tls_peers = Arc::new(crate::tls::peers::Peers::default());
    let dashboard = crate::web::Dashboard {
        tls_peers: tls_peers.clone(),
        users,
        reader: Arc::new(store.reader()),
        alerts: Arc::new(std::sync::Mutex::new(crate::alerts::open(data)?)),
        router: config.notify.clone(),
        secure_cookie: config.web_secure_cookie,
        trusted_proxies: config.web_trusted_proxies.clone(),
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
        certificates: config
            .listeners
            .iter()
            .filter_map(|l| Some((l.name.clone(), l.tls.as_ref()?.cert.clone())))
            .chain(
                config
                    .web_tls
                    .as_ref()
                    .map(|t| ("web".into(), t.cert.clone())),
            )
            .collect(),
        cert_alerts: Default::default(),
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
                m.spool_backlog_bytes.set(sh.backlog_bytes() as i64);
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
                r.stats.register(&metrics);
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
    let sockets = sockets::bind(
        &config, &tls_peers, &metrics, &frame_tx, snmp_id, &mut bound,
    )
    .await?;
    // The poller's events go through the spool like any message; shutdown takes the sender
    // back first, so a device task still waiting on an agent never holds the queue open.
    let poll_sender = Arc::new(std::sync::Mutex::new(Some(frame_tx)));
    let poll_cancel = CancellationToken::new();
    let poll_task = if config.poll.enabled {
        let stats = Arc::new(crate::poll::scheduler::Stats::default());
        stats.register(&metrics);
        let (ps, m) = (poll_sender.clone(), metrics.clone());
        let emit: crate::poll::scheduler::Emit = Arc::new(move |frame| {
            let g = match ps.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            match g.as_ref() {
                Some(tx) => match tx.try_send(vec![frame]) {
                    Ok(()) => true,
                    Err(_) => {
                        m.add_dropped(crate::telemetry::DropReason::QueueFull, 1);
                        false
                    }
                },
                None => false,
            }
        });
        let ctx = crate::poll::scheduler::Context {
            settings: config.poll.clone(),
            data_dir: config.data_dir.clone(),
            emit,
            stats,
            listener: poll_id,
        };
        Some(tokio::spawn(crate::poll::scheduler::run(
            ctx,
            poll_cancel.clone(),
        )))
    } else {
        // Without the poller the queue closes once the listeners are gone.
        drop::<Option<FrameSender>>(poll_sender.lock().ok().and_then(|mut g| g.take()));
        None
    };
    let web_listener = tokio::net::TcpListener::bind(config.web_listen)
        .await
        .map_err(|source| Error::Bind {
            what: "web",
            addr: config.web_listen,
            source,
        })?;
    bound.web = web_listener.local_addr().ok();
    let mut router = crate::web::router(crate::web::AppState {
        metrics: metrics.clone(),
        dash: Some(dashboard),
    });
    if config.web_tls.is_some() {
        router = crate::web::with_hsts(router, config.web_hsts_max_age);
    }
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
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
    let web_task = match &config.web_tls {
        None => tokio::spawn(async move {
            axum::serve(web_listener, app)
                .with_graceful_shutdown(async move { wc.cancelled().await })
                .await
        }),
        Some(s) => {
            use axum::serve::ListenerExt as _;
            let watched = crate::tls::reload::Watched::new(s.clone(), crate::tls::Purpose::Https)
                .map_err(|e| Error::Tls {
                listener: "web".into(),
                detail: e.to_string(),
            })?;
            let watched = Arc::new(watched);
            tokio::spawn(crate::tls::reload::watch(
                vec![watched.clone()],
                std::time::Duration::from_secs(2),
                web_cancel.clone(),
                |_, checked| match checked {
                    crate::tls::reload::Checked::Failed(e) => {
                        tracing::error!(error = %e, "The dashboard's TLS files changed but cannot be used; the previous certificate stays in use.")
                    }
                    _ => tracing::info!("The dashboard's TLS certificate was reloaded."),
                },
            ));
            let https =
                crate::web::https::HttpsListener::start(web_listener, watched, web_cancel.clone())
                    .map_err(|source| Error::Bind {
                        what: "web (HTTPS)",
                        addr: config.web_listen,
                        source,
                    })?;
            tokio::spawn(async move {
                axum::serve(https.tap_io(|_| {}), app)
                    .with_graceful_shutdown(async move { wc.cancelled().await })
                    .await
            })
        }
    };
    if let (Some(r), Some(web)) = (config.web_redirect_listen, bound.web) {
        let l = tokio::net::TcpListener::bind(r)
            .await
            .map_err(|source| Error::Bind {
                what: "web redirect",
                addr: r,
                source,
            })?;
        bound.web_redirect = l.local_addr().ok();
        let wc = web_cancel.clone();
        tokio::spawn(async move {
            axum::serve(l, crate::web::https::redirect_router(web.port()))
                .with_graceful_shutdown(async move { wc.cancelled().await })
                .await
                .unwrap_or(());
        });
    }
    tracing::info!(udp = ?bound.syslog_udp, tcp = ?bound.syslog_tcp, web = ?bound.web, data_dir = %data.display(), "Picket is ready.");

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
    Ok(Running {
        bound,
        metrics,
        spool_shared,
        tasks: vec![hup_task, rate_task],
        stop_watch,
        watch_thread,
        stopping,
        stop_retention,
        sockets,
        spool_thread,
        parse_thread,
        store_thread,
        rules_thread,
        stop_notify,
        notify_thread,
        retention_thread,
        web_cancel,
        web_task,
        poll_sender,
        poll_cancel,
        poll_task,
    })
}

/// A started collector: what `shutdown` stops, in order.
pub struct Running {
    /// The addresses bound.
    pub bound: Bound,
    metrics: Arc<Metrics>,
    spool_shared: Arc<spool::Shared>,
    /// Tasks with nothing to drain (SIGHUP reloads, rate sampling): aborted.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop_watch: Arc<AtomicBool>,
    watch_thread: JoinHandle<()>,
    stopping: Arc<AtomicBool>,
    stop_retention: Arc<AtomicBool>,
    sockets: sockets::Sockets,
    spool_thread: JoinHandle<()>,
    parse_thread: JoinHandle<()>,
    store_thread: JoinHandle<bool>,
    rules_thread: Option<JoinHandle<()>>,
    stop_notify: Arc<AtomicBool>,
    notify_thread: JoinHandle<()>,
    retention_thread: JoinHandle<()>,
    web_cancel: CancellationToken,
    web_task: tokio::task::JoinHandle<std::io::Result<()>>,
    poll_sender: Arc<std::sync::Mutex<Option<FrameSender>>>,
    poll_cancel: CancellationToken,
    poll_task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the collector: listeners first, then each stage once its input has drained, the
    /// web server last. Returns the counters.
    pub async fn shutdown(self) -> Arc<Metrics> {
        for t in self.tasks {
            t.abort();
        }
        self.stop_watch.store(true, Relaxed);
        if self.watch_thread.join().is_err() {
            tracing::error!("The enrichment watcher panicked.");
        }
        tracing::info!("Shutting down: stopping listeners and draining queues.");
        self.stopping.store(true, Relaxed);
        // Retention feeds nothing: it is told now and joined once the pipeline has drained, so a
        // pass in progress never delays closing the listeners.
        self.stop_retention.store(true, Relaxed);
        // The poller stops asking devices and lets go of the intake queue.
        self.poll_cancel.cancel();
        drop(match self.poll_sender.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        });
        if let Some(t) = self.poll_task {
            if tokio::time::timeout(Duration::from_secs(5), t)
                .await
                .is_err()
            {
                tracing::warn!("The SNMP poller did not stop within 5 s.");
            }
        }
        let udp_threads = self.sockets.close().await;
        let join_all = move || {
            let mut ok = true;
            for t in udp_threads {
                ok &= t.join().is_ok();
            }
            // Receivers are gone: the frame queue closes, and each stage finishes in turn.
            ok &= self.spool_thread.join().is_ok();
            ok &= self.parse_thread.join().is_ok();
            ok &= self.store_thread.join().unwrap_or(false);
            // The store closed the rules' queue; then the notifier stops (what it has not sent
            // stays in the outbox for the next start).
            if let Some(t) = self.rules_thread {
                ok &= t.join().is_ok();
            }
            self.stop_notify.store(true, Relaxed);
            ok &= self.notify_thread.join().is_ok();
            if self.retention_thread.join().is_err() {
                tracing::error!("The retention thread panicked.");
            }
            ok
        };
        let store_ok = tokio::task::spawn_blocking(join_all).await.unwrap_or(false);
        self.web_cancel.cancel();
        if tokio::time::timeout(Duration::from_secs(5), self.web_task)
            .await
            .is_err()
        {
            tracing::warn!("The web server did not stop within 5 s.");
        }
        tracing::info!(
            received = self.metrics.received_total(),
            stored = self.metrics.stored.get(),
            backlog_bytes = self.spool_shared.backlog_bytes(),
            store_ok,
            "Picket stopped."
        );
        self.metrics
    }
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
