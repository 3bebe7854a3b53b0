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
