//! Helpers shared by unit tests, integration tests and benchmarks. Not part of the product.
//!
//! Corpus files come from `../shared/corpus` (or `$PICKET_CORPUS`). A missing file is a test
//! failure, never a skip: a test that cannot read its input must not pass.

use std::path::PathBuf;

/// The corpus root.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("PICKET_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

/// The bytes of a corpus file, panicking (failing the test) when it is missing.
#[expect(
    clippy::panic,
    reason = "test helper: a missing corpus file must fail the test"
)]
pub fn corpus_bytes(rel: &str) -> Vec<u8> {
    let path = corpus_dir().join(rel);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("corpus file {} is missing: {e}", path.display()))
}

/// The lines of a corpus file (CR stripped, empty lines skipped).
pub fn corpus_lines(rel: &str) -> Vec<Vec<u8>> {
    corpus_bytes(rel)
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .filter(|l| !l.is_empty())
        .collect()
}
