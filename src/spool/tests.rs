//! Tests of the spool: round trips, restarts at the checkpoint, torn tails, garbage files, deletion.

use super::*;
use crate::model::{Frame, Transport};
use bytes::Bytes;
use std::time::Duration;

fn frame(i: usize) -> Frame {
    Frame {
        bytes: Bytes::from(format!("<13>message {i}")),
        peer: if i % 2 == 0 {
            "127.0.0.1:514".parse().unwrap()
        } else {
            "[::1]:999".parse().unwrap()
        },
        listener: (i % 3) as u16,
        transport: if i % 2 == 0 {
            Transport::Udp
        } else {
            Transport::Tcp
        },
        received_at: 1_700_000_000_000_000 + i as i64,
        truncated: i % 5 == 0,
    }
}

fn drain(r: &mut SpoolReader) -> Vec<Frame> {
    let mut out = Vec::new();
    loop {
        let b = r.next_batch(100, Duration::from_millis(10));
        let empty = b.frames.is_empty();
        out.extend(b.frames);
        if empty {
            return out;
        }
    }
}

#[test]
fn frames_round_trip_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, mut r, _s) = open(dir.path(), SpoolPos::default(), u64::MAX).unwrap();
    for i in 0..1000 {
        w.append(&frame(i)).unwrap();
    }
    w.flush().unwrap();
    let got = drain(&mut r);
    assert_eq!(got.len(), 1000);
    for (i, f) in got.iter().enumerate() {
        let e = frame(i);
        assert_eq!(
            (
                &f.bytes,
                f.peer,
                f.listener,
                f.transport,
                f.received_at,
                f.truncated
            ),
            (
                &e.bytes,
                e.peer,
                e.listener,
                e.transport,
                e.received_at,
                e.truncated
            )
        );
    }
}

#[test]
fn restart_resumes_at_committed_position_and_reads_older_files() {
    let dir = tempfile::tempdir().unwrap();
    let committed;
    {
        let (mut w, mut r, shared) = open(dir.path(), SpoolPos::default(), u64::MAX).unwrap();
        for i in 0..10 {
            w.append(&frame(i)).unwrap();
        }
        w.flush().unwrap();
        let b = r.next_batch(4, Duration::from_millis(10));
        assert_eq!(b.frames.len(), 4);
        committed = b.end;
        shared.committed(b.end, b.bytes);
        w.finish().unwrap();
    }
    let (_w, mut r, shared) = open(dir.path(), committed, u64::MAX).unwrap();
    assert!(shared.backlog_bytes() > 0);
    let got = drain(&mut r);
    let texts: Vec<_> = got
        .iter()
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .collect();
    assert_eq!(
        texts,
        (4..10)
            .map(|i| format!("<13>message {i}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn torn_tail_after_a_crash_is_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, _r, _s) = open(dir.path(), SpoolPos::default(), u64::MAX).unwrap();
        for i in 0..3 {
            w.append(&frame(i)).unwrap();
        }
        w.finish().unwrap();
    }
    let (seq, path) = list_files(dir.path()).unwrap().pop().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let (_w, mut r, _s) = open(
        dir.path(),
        SpoolPos {
            file: seq,
            offset: 0,
        },
        u64::MAX,
    )
    .unwrap();
    let mut frames = 0;
    let mut corrupt = 0;
    for _ in 0..5 {
        let b = r.next_batch(100, Duration::from_millis(5));
        frames += b.frames.len();
        corrupt += b.corrupt;
    }
    assert_eq!((frames, corrupt), (2, 1));
}

#[test]
fn garbage_file_is_skipped_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("0000000000000001.spool"),
        vec![0xffu8; 5000],
    )
    .unwrap();
    let (_w, mut r, _s) = open(dir.path(), SpoolPos { file: 1, offset: 0 }, u64::MAX).unwrap();
    let b = r.next_batch(100, Duration::from_millis(5));
    assert!(b.frames.is_empty());
    assert_eq!(b.corrupt, 1);
}

#[test]
fn consumed_files_are_deleted_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0000000000000001.spool"), b"").unwrap();
    let (_w, _r, shared) = open(dir.path(), SpoolPos { file: 1, offset: 0 }, u64::MAX).unwrap();
    shared.committed(SpoolPos { file: 2, offset: 0 }, 0);
    assert_eq!(
        list_files(dir.path()).unwrap().len(),
        1,
        "only the writer's new file remains"
    );
}

/// An arbitrary frame: any bytes (up to a few KiB), either address family, any listener,
/// transport, time and truncation flag.
fn arbitrary_frame(bytes: Vec<u8>, port: u16, v6: bool, listener: u16, at: i64, t: bool) -> Frame {
    let ip: std::net::IpAddr = if v6 {
        std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, port, 1).into()
    } else {
        std::net::Ipv4Addr::new(127, 0, (port >> 8) as u8, port as u8).into()
    };
    Frame {
        bytes: Bytes::from(bytes),
        peer: std::net::SocketAddr::new(ip, port),
        listener,
        transport: if t { Transport::Tcp } else { Transport::Udp },
        received_at: at,
        truncated: t && port % 2 == 0,
    }
}

type FrameSeed = (Vec<u8>, u16, bool, u16, i64, bool);

fn frames_of(seeds: Vec<FrameSeed>) -> Vec<Frame> {
    seeds
        .into_iter()
        .take(64)
        .map(|(b, p, v6, l, at, t)| {
            let b = b.into_iter().take(4096).collect();
            arbitrary_frame(b, p, v6, l, at, t)
        })
        .collect()
}

fn key(f: &Frame) -> (Bytes, std::net::SocketAddr, u16, Transport, i64, bool) {
    (
        f.bytes.clone(),
        f.peer,
        f.listener,
        f.transport,
        f.received_at,
        f.truncated,
    )
}

/// A spool holding `frames`, its writer finished.
fn written(frames: &[Frame]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _r, _s) = open(dir.path(), SpoolPos::default(), u64::MAX).unwrap();
    for f in frames {
        w.append(f).unwrap();
    }
    w.finish().unwrap();
    dir
}

/// Reads the spool from the start of its one file, for at most a few batches.
fn read_back(dir: &std::path::Path) -> (Vec<Frame>, u64) {
    let (seq, _) = list_files(dir).unwrap().pop().unwrap();
    let (_w, mut r, _s) = open(
        dir,
        SpoolPos {
            file: seq,
            offset: 0,
        },
        u64::MAX,
    )
    .unwrap();
    let (mut frames, mut corrupt) = (Vec::new(), 0);
    for _ in 0..8 {
        let b = r.next_batch(1000, Duration::from_millis(2));
        corrupt += b.corrupt;
        let empty = b.frames.is_empty();
        frames.extend(b.frames);
        if empty {
            break;
        }
    }
    (frames, corrupt)
}

/// Whatever the frames hold, they come back exactly, in order.
fn prop_any_frames_round_trip(seeds: Vec<FrameSeed>) -> bool {
    let frames = frames_of(seeds);
    let dir = written(&frames);
    let (got, corrupt) = read_back(dir.path());
    corrupt == 0 && got.iter().map(key).eq(frames.iter().map(key))
}

/// A file cut anywhere (a crash mid-write) gives back a prefix of what was written, never
/// a frame that was not, and never panics.
fn prop_a_cut_file_gives_a_prefix(seeds: Vec<FrameSeed>, cut: u16) -> bool {
    let frames = frames_of(seeds);
    let dir = written(&frames);
    let (_, path) = list_files(dir.path()).unwrap().pop().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let keep = if len == 0 {
        0
    } else {
        u64::from(cut) % (len + 1)
    };
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(keep)
        .unwrap();
    let (got, _) = read_back(dir.path());
    got.len() <= frames.len()
        && got
            .iter()
            .map(key)
            .eq(frames.iter().take(got.len()).map(key))
}

/// Bytes overwritten anywhere in a file: the reader skips what it cannot trust, counts it,
/// and never panics or invents a frame out of the damage (every frame it returns is one that
/// was written, in the order written).
fn prop_overwritten_bytes_never_invent_frames(
    seeds: Vec<FrameSeed>,
    at: u16,
    junk: Vec<u8>,
) -> bool {
    let frames = frames_of(seeds);
    let dir = written(&frames);
    let (_, path) = list_files(dir.path()).unwrap().pop().unwrap();
    let mut data = std::fs::read(&path).unwrap();
    if !data.is_empty() {
        let start = usize::from(at) % data.len();
        for (i, b) in junk.iter().take(64).enumerate() {
            if let Some(x) = data.get_mut(start + i) {
                *x = *b;
            }
        }
    }
    std::fs::write(&path, &data).unwrap();
    let (got, _) = read_back(dir.path());
    let written: Vec<_> = frames.iter().map(key).collect();
    let mut next = 0;
    got.iter().map(key).all(|k| {
        match written
            .get(next..)
            .and_then(|rest| rest.iter().position(|w| *w == k))
        {
            Some(p) => {
                next += p + 1;
                true
            }
            None => false,
        }
    })
}

#[test]
fn any_frames_round_trip() {
    // Each case writes and syncs a spool file: 25 cases keep it to a few seconds.
    quickcheck::QuickCheck::new()
        .tests(25)
        .quickcheck(prop_any_frames_round_trip as fn(Vec<FrameSeed>) -> bool);
}

#[test]
fn a_cut_file_gives_a_prefix() {
    // Each case writes and syncs a spool file: 25 cases keep it to a few seconds.
    quickcheck::QuickCheck::new()
        .tests(25)
        .quickcheck(prop_a_cut_file_gives_a_prefix as fn(Vec<FrameSeed>, u16) -> bool);
}

#[test]
fn overwritten_bytes_never_invent_frames() {
    // Each case writes and syncs a spool file: 25 cases keep it to a few seconds.
    quickcheck::QuickCheck::new().tests(40).quickcheck(
        prop_overwritten_bytes_never_invent_frames as fn(Vec<FrameSeed>, u16, Vec<u8>) -> bool,
    );
}
