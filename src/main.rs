//! The `picket` binary: parse the command line, run it, print any error once, exit 0 or 2.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    match picket::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("picket: {e:#}");
            ExitCode::from(2)
        }
    }
}
