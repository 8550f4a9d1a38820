//! The `abforge` binary: parses arguments, sets up logging, dispatches to a command, and
//! maps failures to exit codes (0 ok, 1 runtime failure, 2 bad input).

mod cli;
mod commands;
mod flags;
mod format;
mod progress;

use clap::Parser;

use std::io::Write;
use std::process::ExitCode;

/// Exit status of the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success.
    Ok = 0,
    /// The environment failed (I/O, a backend).
    Failure = 1,
    /// The input was bad (a blueprint, a flag, a file that does not exist).
    BadInput = 2,
    /// Stopped by SIGINT or SIGTERM (128 + 2, as shells report it).
    Interrupted = 130,
}

/// An error caused by the user's input: exit code 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// The run was stopped by a signal; what it was writing was removed.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted; nothing was written")
    }
}

impl std::error::Error for Interrupted {}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(
        cli.verbose,
        matches!(cli.command, cli::Command::Serve(_)) && !cli.quiet,
    );
    let status = match commands::run(cli) {
        Ok(()) => Status::Ok,
        Err(e) => report(&e),
    };
    ExitCode::from(status as u8)
}

fn report(e: &anyhow::Error) -> Status {
    // A closed pipe (`abforge generate --out - | head`) is not a failure.
    if e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return Status::Ok;
    }
    let mut err = std::io::stderr().lock();
    if e.chain().any(|c| c.downcast_ref::<Interrupted>().is_some()) {
        let _ = writeln!(err, "error: {e:#}");
        return Status::Interrupted;
    }
    let bad = e.chain().any(|c| {
        c.downcast_ref::<BadInput>().is_some()
            || c.downcast_ref::<abforge_synth::Error>()
                .is_some_and(abforge_synth::Error::is_user_error)
    });
    let _ = writeln!(err, "error: {e:#}");
    if bad {
        Status::BadInput
    } else {
        Status::Failure
    }
}

/// `serving`: a server logs each request by default (`info`).
fn init_logging(verbose: u8, serving: bool) {
    let default = match verbose {
        0 if serving => "info",
        0 => "warn",
        1 => "info,abforge=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal, plain text for a log file or a pipe.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
