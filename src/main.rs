//! The `picket` binary: parse the command line, run it, print any error once, exit 0 or 2.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// mimalloc: events are built on the parse thread and freed after the store writes them, many
/// small strings each; glibc's allocator took a sixth of the parse thread's time.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match picket::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("picket: {e:#}");
            ExitCode::from(2)
        }
    }
}
