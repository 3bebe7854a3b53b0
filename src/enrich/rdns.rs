//! Reverse DNS that never blocks the pipeline: the parse thread only reads a bounded cache;
//! an address not in it is queued (bounded, dropped when full) for a resolver task, which
//! looks it up with a timeout and a cap on concurrent queries and fills the cache with the
//! answer's TTL (or a negative entry). The event that missed is stored without a name; later
//! events (and the UI) get it.

use crate::telemetry::{Counter, Metrics};
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Resolver, TokioResolver};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

/// Counters of the reverse-DNS stage (shown as `picket_rdns_*` once it has started).
#[derive(Debug, Default)]
pub struct Stats {
    /// Answers from the cache (positive or negative).
    pub hits: Counter,
    /// Addresses queued for lookup.
    pub queued: Counter,
    /// Addresses not queued because the queue was full.
    pub dropped: Counter,
    /// Lookups that gave a name.
    pub resolved: Counter,
    /// Lookups that gave none (no PTR, NXDOMAIN, timeout, error).
    pub failed: Counter,
}

impl Stats {
    /// Adds these counters to `/metrics`.
    pub fn register(&self, m: &Metrics) {
        for (name, help, c) in [
            (
                "picket_rdns_cache_hits_total",
                "Reverse-DNS answers from the cache.",
                &self.hits,
            ),
            (
                "picket_rdns_queued_total",
                "Addresses queued for a reverse lookup.",
                &self.queued,
            ),
            (
                "picket_rdns_dropped_total",
                "Addresses not looked up because the lookup queue was full.",
                &self.dropped,
            ),
            (
                "picket_rdns_resolved_total",
                "Reverse lookups that gave a name.",
                &self.resolved,
            ),
            (
                "picket_rdns_failed_total",
                "Reverse lookups that gave no name (none, timeout, error).",
                &self.failed,
            ),
        ] {
            m.register(name, help, c.clone());
        }
    }
}

/// Settings of the reverse-DNS cache and resolver.
#[derive(Debug, Clone)]
pub struct Options {
    /// The DNS server (`None`: the system's, from /etc/resolv.conf).
    pub server: Option<SocketAddr>,
    /// Per-query timeout.
    pub timeout: Duration,
    /// Queries in flight at most.
    pub concurrency: usize,
    /// Cached addresses at most.
    pub cache_max: usize,
    /// How long an address without a name is remembered.
    pub negative_ttl: Duration,
    /// Bounds on a positive answer's TTL.
    pub min_ttl: Duration,
    /// Upper bound on a positive answer's TTL.
    pub max_ttl: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            server: None,
            timeout: Duration::from_secs(2),
            concurrency: 16,
            cache_max: 100_000,
            negative_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(86_400),
        }
    }
}

struct Entry {
    name: Option<Arc<str>>,
    expires: Instant,
}

/// The cache the parse thread reads, and the queue to the resolver.
pub struct Rdns {
    cache: Mutex<HashMap<IpAddr, Entry>>,
    pending: Mutex<HashSet<IpAddr>>,
    tx: mpsc::Sender<IpAddr>,
    opts: Options,
    /// Counters (shown in /metrics as `picket_rdns_*`).
    pub stats: Stats,
}

/// Queued addresses at most.
const QUEUE: usize = 4096;

impl Rdns {
    /// The cache and its resolver task (spawned on the current Tokio runtime).
    pub fn start(opts: Options) -> Result<Arc<Rdns>, String> {
        let resolver = match opts.server {
            Some(addr) => {
                let mut cfg = ResolverConfig::new();
                cfg.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                Resolver::builder_with_config(cfg, TokioConnectionProvider::default())
            }
            None => TokioResolver::builder_tokio().map_err(|e| {
                format!("reverse DNS: cannot read the system resolver configuration: {e}")
            })?,
        };
        let mut ro = ResolverOpts::default();
        ro.timeout = opts.timeout;
        ro.attempts = 1;
        // Picket keeps its own cache (bounded, with negative entries).
        ro.cache_size = 0;
        let resolver = resolver.with_options(ro).build();
        let (tx, rx) = mpsc::channel(QUEUE);
        let me = Arc::new(Rdns {
            cache: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashSet::new()),
            tx,
            opts,
            stats: Stats::default(),
        });
        tokio::spawn(run(me.clone(), resolver, rx));
        Ok(me)
    }

    /// The cached name of `ip`; a miss queues a lookup and answers `None` at once.
    pub fn name(&self, ip: IpAddr) -> Option<Arc<str>> {
        let now = Instant::now();
        if let Ok(c) = self.cache.lock() {
            if let Some(e) = c.get(&ip).filter(|e| e.expires > now) {
                self.stats.hits.inc();
                return e.name.clone();
            }
        }
        let first = self
            .pending
            .lock()
            .map(|mut p| p.insert(ip))
            .unwrap_or(false);
        if first {
            match self.tx.try_send(ip) {
                Ok(()) => {
                    self.stats.queued.inc();
                }
                Err(_) => {
                    self.stats.dropped.inc();
                    if let Ok(mut p) = self.pending.lock() {
                        p.remove(&ip);
                    }
                }
            }
        }
        None
    }

    fn put(&self, ip: IpAddr, name: Option<Arc<str>>, ttl: Duration) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= self.opts.cache_max {
                let now = Instant::now();
                c.retain(|_, e| e.expires > now);
                if c.len() >= self.opts.cache_max {
                    c.clear();
                }
            }
            c.insert(
                ip,
                Entry {
                    name,
                    expires: Instant::now() + ttl,
                },
            );
        }
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&ip);
        }
    }
}

async fn run(me: Arc<Rdns>, resolver: TokioResolver, mut rx: mpsc::Receiver<IpAddr>) {
    let slots = Arc::new(Semaphore::new(me.opts.concurrency.max(1)));
    let resolver = Arc::new(resolver);
    while let Some(ip) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (me, resolver) = (me.clone(), resolver.clone());
        tokio::spawn(async move {
            let answer =
                tokio::time::timeout(me.opts.timeout * 2, resolver.reverse_lookup(ip)).await;
            match answer {
                Ok(Ok(r)) => {
                    let name = r
                        .iter()
                        .next()
                        .map(|n| n.to_utf8().trim_end_matches('.').to_owned());
                    let ttl = r
                        .as_lookup()
                        .valid_until()
                        .saturating_duration_since(Instant::now())
                        .clamp(me.opts.min_ttl, me.opts.max_ttl);
                    match name {
                        Some(n) if !n.is_empty() => {
                            me.stats.resolved.inc();
                            me.put(ip, Some(n.into()), ttl);
                        }
                        _ => {
                            me.stats.failed.inc();
                            me.put(ip, None, me.opts.negative_ttl);
                        }
                    }
                }
                _ => {
                    me.stats.failed.inc();
                    me.put(ip, None, me.opts.negative_ttl);
                }
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
    use hickory_resolver::proto::rr::rdata::PTR;
    use hickory_resolver::proto::rr::{Name, RData, Record};
    use std::str::FromStr;
    use std::sync::atomic::AtomicU64;
    use std::sync::atomic::Ordering::Relaxed;

    /// A DNS responder on loopback: PTR for 10.0.0.7 (TTL 600), NXDOMAIN for the rest.
    async fn responder() -> (SocketAddr, Arc<AtomicU64>) {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let queries = Arc::new(AtomicU64::new(0));
        let q2 = queries.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = sock.recv_from(&mut buf).await {
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                q2.fetch_add(1, Relaxed);
                let mut resp = Message::new();
                resp.set_id(req.id());
                resp.set_message_type(MessageType::Response);
                resp.set_op_code(req.op_code());
                resp.set_recursion_desired(req.recursion_desired());
                resp.set_recursion_available(true);
                resp.add_queries(req.queries().to_vec());
                let name = req.queries().first().map(|q| q.name().clone());
                match name {
                    Some(n) if n.to_utf8() == "7.0.0.10.in-addr.arpa." => {
                        let target = Name::from_str("host7.lab.example.").unwrap();
                        resp.add_answer(Record::from_rdata(n, 600, RData::PTR(PTR(target))));
                    }
                    _ => {
                        resp.set_response_code(ResponseCode::NXDomain);
                    }
                }
                let _sent = sock.send_to(&resp.to_vec().unwrap(), peer).await;
            }
        });
        (addr, queries)
    }

    async fn eventually(r: &Rdns, ip: IpAddr) -> Option<Arc<str>> {
        for _ in 0..100 {
            if let Some(n) = r.name(ip) {
                return Some(n);
            }
            if r.stats.failed.get() > 0 && r.cache.lock().unwrap().contains_key(&ip) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }

    #[tokio::test]
    async fn names_arrive_later_and_are_cached_positive_and_negative() {
        let (server, queries) = responder().await;
        let r = Rdns::start(Options {
            server: Some(server),
            timeout: Duration::from_millis(500),
            ..Options::default()
        })
        .unwrap();
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        // The first event is not held up: no name yet.
        assert_eq!(r.name(ip), None);
        assert_eq!(
            eventually(&r, ip).await.as_deref(),
            Some("host7.lab.example")
        );
        let before = queries.load(Relaxed);
        for _ in 0..100 {
            assert_eq!(r.name(ip).as_deref(), Some("host7.lab.example"));
        }
        assert_eq!(queries.load(Relaxed), before, "answers come from the cache");
        // No PTR: a negative entry, asked once.
        let other: IpAddr = "10.0.0.8".parse().unwrap();
        assert_eq!(eventually(&r, other).await, None);
        let asked = queries.load(Relaxed);
        for _ in 0..100 {
            assert_eq!(r.name(other), None);
        }
        assert_eq!(queries.load(Relaxed), asked, "negative answers are cached");
        assert!(r.stats.resolved.get() == 1 && r.stats.failed.get() == 1);
    }

    #[tokio::test]
    async fn a_silent_server_times_out_without_blocking_callers() {
        // A socket that never answers.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let r = Rdns::start(Options {
            server: Some(silent.local_addr().unwrap()),
            timeout: Duration::from_millis(200),
            ..Options::default()
        })
        .unwrap();
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let t = Instant::now();
        for _ in 0..1000 {
            assert_eq!(r.name(ip), None);
        }
        assert!(
            t.elapsed() < Duration::from_millis(100),
            "name() never waits"
        );
        assert_eq!(r.stats.queued.get(), 1, "one lookup in flight per address");
        for _ in 0..100 {
            if r.stats.failed.get() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(r.stats.failed.get(), 1);
    }
}
