//! The `picket` binary: parse the command line, run it, print any error once, exit 0 or 2.
#![forbid(unsafe_code)]

use std::process::ExitCode;

/// mimalloc: events are built on the parse thread and freed after the store writes them, many
/// small strings each; glibc's allocator took a sixth of the parse thread's time.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // No transparent huge pages: with them the allocator's arena kept 2 MB pages that one live
    // object pins, and a 1,000,000-line run peaked at 159 MB and idled at 121 MB instead of
    // 126-137 MB and 88-96 MB (bench/memory.sh). Best effort: an old kernel just says no, and
    // Picket then runs as before.
    #[cfg(target_os = "linux")]
    nix::sys::prctl::set_thp_disable(true).unwrap_or(());
    match picket::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("picket: {e:#}");
            ExitCode::from(2)
        }
    }
}
