//! `-v` and `-vv`: piaoju's log records (target `piaoju`: retries, rate-limit waits and
//! refusals, cache hits and misses, token fetches, image fitting) on stderr, one line each:
//! `piaoju: info: Juhe: … retrying in 0.42 s (attempt 2 of 3)`. Without `-v` nothing is
//! printed. Records of other targets (ureq's: its `trace` level dumps the wire, credentials
//! included) are never printed.
//!
//! The command installs [`STDERR`] as the process's logger. Where another logger is there
//! already (the Python wheel's, which hands records to Python's `logging`), that logger asks
//! [`wants`] first and hands the record to [`print()`]: `-v` prints the same in both.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The most verbose level printed: 0 none, 1 `info` and more severe (`-v`), 2 `debug`
/// (`-vv`), 3 `trace`.
static VERBOSITY: AtomicUsize = AtomicUsize::new(0);

/// The level filter for a count of `-v`.
fn filter(verbosity: u8) -> LevelFilter {
    match verbosity {
        0 => LevelFilter::Off,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// Print piaoju's records at `verbosity` (the count of `-v`) from now on.
pub(crate) fn init(verbosity: u8) {
    let level = filter(verbosity);
    VERBOSITY.store(level as usize, Ordering::SeqCst);
    if log::set_logger(&STDERR).is_ok() {
        log::set_max_level(level);
    } else if log::max_level() < level {
        // Another logger (the Python wheel's) asks `wants` first.
        log::set_max_level(level);
    }
}

/// Print no more records (the command has ended).
pub(crate) fn stop() {
    VERBOSITY.store(0, Ordering::SeqCst);
}

/// Whether the command prints this record (its target is piaoju's and `-v` asked for its
/// level).
pub fn wants(metadata: &Metadata<'_>) -> bool {
    (metadata.target() == piaoju::LOG_TARGET || metadata.target().starts_with("piaoju::"))
        && (metadata.level() as usize) <= VERBOSITY.load(Ordering::SeqCst)
}

/// Print a record on stderr (one line, `piaoju: LEVEL: message`).
pub fn print(record: &Record<'_>) {
    let level = match record.level() {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    };
    let _ = writeln!(std::io::stderr(), "piaoju: {level}: {}", record.args());
}

/// The command's logger: piaoju's records, as `-v` asks, on stderr.
pub struct Stderr;

/// The one [`Stderr`] logger.
pub static STDERR: Stderr = Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        wants(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if wants(record.metadata()) {
            print(record);
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_piaojus_records_at_the_asked_level() {
        let at = |target: &str, level: Level| {
            wants(&Metadata::builder().target(target).level(level).build())
        };
        VERBOSITY.store(filter(0) as usize, Ordering::SeqCst);
        assert!(!at("piaoju", Level::Error));
        VERBOSITY.store(filter(1) as usize, Ordering::SeqCst);
        assert!(at("piaoju", Level::Info) && at("piaoju", Level::Warn));
        assert!(!at("piaoju", Level::Debug));
        assert!(!at("ureq", Level::Info) && !at("piaojux", Level::Info));
        VERBOSITY.store(filter(2) as usize, Ordering::SeqCst);
        assert!(at("piaoju", Level::Debug) && !at("piaoju", Level::Trace));
        assert!(!at("ureq_proto::util", Level::Debug));
        VERBOSITY.store(0, Ordering::SeqCst);
    }
}
