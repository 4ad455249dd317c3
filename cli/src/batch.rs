//! `piaoju batch receipt|invoice INPUT…`: every image through one client with `--jobs` workers,
//! the `--qps` limit, the client's retries and a result cache; JSON Lines (or CSV) of every
//! result; a progress bar on stderr when it is a terminal; a one-line summary at the end.
//!
//! The cache is on by default, next to the output (`FILE.cache.sqlite`; with results on stdout,
//! `piaoju-batch.cache.sqlite` in the current directory), unless `--cache FILE`, `PIAOJU_CACHE`
//! or `--no-cache` says otherwise: the same command run again after a crash or a Ctrl-C sends no
//! request for an image already recognized.
//!
//! Ctrl-C stops sending: no call starts and a call waiting to send (rate limit, retry) sends
//! nothing; the calls whose request is out finish (within their deadline), their results are
//! written, and the command exits 130. A second Ctrl-C ends it at once.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use piaoju::batch::{BatchOptions, BatchSource, BatchSummary, Progress};
use piaoju::{CacheConfig, Error, ErrorCode};

use crate::output::{CsvOptions, Sink};
use crate::{Common, Interrupt, Kind, Session, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK};

/// How a signal is called in messages.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        15 => "SIGTERM",
        _ => "interrupted",
    }
}

#[derive(Args, Debug)]
pub struct BatchArgs {
    /// What the images are.
    #[arg(value_enum)]
    kind: Kind,
    /// Image files, directories (searched recursively for the provider's image extensions) or
    /// @LIST (a file naming one input per line).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<OsString>,
    /// Calls at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// At most this many requests per second (all workers together).
    #[arg(long, value_parser = positive_rate)]
    qps: Option<f64>,
    /// Write the results here: FILE.jsonl (JSON Lines) or FILE.csv; default: JSON Lines on
    /// stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Receipts: write one CSV row per line item here.
    #[arg(long, value_name = "FILE.csv")]
    items_out: Option<PathBuf>,
    /// The result cache (SQLite); default: PIAOJU_CACHE, else the user's cache
    /// ($XDG_CACHE_HOME/piaoju/results.sqlite or ~/.cache/piaoju/results.sqlite).
    #[arg(long, value_name = "FILE", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Use no result cache (a rerun pays again for every image).
    #[arg(long)]
    no_cache: bool,
    /// Send again the images whose answer recorded in the cache is a failure (such as "no
    /// document detected"); by default a rerun returns that answer without paying again.
    #[arg(long)]
    retry_failed: bool,
    /// Send at most N requests (retries included): a budget; the images that would need more
    /// are not started (exit status 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_requests: Option<u64>,
    /// Take only the images a folder holds: its other files are not written as skipped rows
    /// (they are still counted in the summary) and do not make the exit status 1.
    #[arg(long)]
    only_images: bool,
    /// CSV files without the UTF-8 byte-order mark (for programs; Excel needs it to read
    /// UTF-8 on a Chinese Windows).
    #[arg(long)]
    no_bom: bool,
    /// The CSV column names: en (the fields' names) or zh (中文).
    #[arg(long, value_enum, default_value_t = Headers::En)]
    headers: Headers,
    #[command(flatten)]
    common: Common,
}

/// The language of CSV column names.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Headers {
    /// The fields' names (`total_amount`).
    En,
    /// Chinese names (`合计金额`).
    Zh,
}

fn positive_rate(s: &str) -> Result<f64, String> {
    let range = piaoju::MAX_QPS_RANGE;
    s.parse::<f64>()
        .ok()
        .filter(|q| range.contains(q))
        .ok_or_else(|| {
            format!(
                "{s:?} is not a number of requests per second from {} to {}",
                range.start(),
                range.end()
            )
        })
}

/// Whether two paths name the same file: the same file on disk when both exist, else the same
/// absolute path.
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return (x.dev(), x.ino()) == (y.dev(), y.ino());
        }
    }
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    absolute(a) == absolute(b)
}

/// Run a batch and return the exit status.
pub fn run(args: &BatchArgs, interrupt: Interrupt<'_>) -> i32 {
    match piaoju::bindings::catch_panic(|| execute(args, &interrupt)) {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}", e.to_json());
            crate::exit_status(&e)
        }
    }
}

fn usage(problem: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidArgument, problem.to_string())
}

/// The cache file: `--no-cache` none; else `--cache`; else `PIAOJU_CACHE` (already in the
/// configuration); else the user's cache (one for every batch, whatever its output's name).
fn cache_path(
    args: &BatchArgs,
    configured: Option<&CacheConfig>,
) -> Result<Option<PathBuf>, Error> {
    if args.no_cache {
        return Ok(None);
    }
    if let Some(p) = &args.cache {
        return Ok(Some(p.clone()));
    }
    if let Some(c) = configured {
        return Ok(Some(PathBuf::from(&c.path)));
    }
    let user = piaoju::user_cache_path()?;
    if user.is_none() {
        eprintln!(
            "piaoju: warning: no result cache (neither XDG_CACHE_HOME nor HOME is set): a rerun \
             pays again for every image; give one with --cache FILE or PIAOJU_CACHE"
        );
    }
    Ok(user)
}

fn execute(args: &BatchArgs, interrupt: &Interrupt<'_>) -> Result<i32, Error> {
    let document_type = args.kind.document_type();
    if args.items_out.is_some() && args.kind != Kind::Receipt {
        return Err(usage(
            "--items-out is for receipts (invoices have no line items)",
        ));
    }
    if let Some(out) = &args.out {
        crate::output::Format::of(out).map_err(usage)?;
        if args.items_out.as_deref() == Some(out.as_path()) {
            return Err(usage("--out and --items-out name the same file"));
        }
    }
    let inputs = crate::inputs::expand(&args.inputs, document_type).map_err(usage)?;
    if inputs.images().next().is_none() {
        return Err(usage(format!(
            "no images found in the inputs (directories are searched for .{}){}",
            crate::inputs::extensions(document_type).join(", ."),
            match inputs.skipped().count() {
                0 => String::new(),
                n => format!("; {n} other files: {}", skipped_list(&inputs)),
            }
        )));
    }
    let mut cache = None;
    let session = Session::start(&args.common, |config| {
        if let Some(q) = args.qps {
            config.max_qps = Some(q);
        }
        cache = cache_path(args, config.cache.as_ref())?;
        // Before the cache is opened: opening it would turn the results file into SQLite.
        if let Some(cache) = &cache {
            for (flag, path) in [("--out", &args.out), ("--items-out", &args.items_out)] {
                if path.as_deref().is_some_and(|p| same_file(p, cache)) {
                    return Err(usage(format!(
                        "the result cache {} is the file {flag} names: give the cache another \
                         name (--cache FILE) or leave it out",
                        cache.display()
                    )));
                }
            }
        }
        config.cache = match &cache {
            Some(p) => {
                Some(CacheConfig::at(p.to_str().ok_or_else(|| {
                    usage(format!("the cache path {p:?} is not UTF-8"))
                })?))
            }
            None => None,
        };
        Ok(())
    })?;
    // No credentials: one clear error now rather than one per image.
    session
        .client
        .check_credentials(document_type)
        .map_err(|e| session.explain(e))?;
    let mut sink = Sink::open(
        document_type,
        args.out.as_deref(),
        args.items_out.as_deref(),
        CsvOptions {
            bom: !args.no_bom,
            chinese: args.headers == Headers::Zh,
        },
    )
    .map_err(|e| Error::new(ErrorCode::InvalidArgument, e))?;
    if inputs.duplicates > 0 {
        eprintln!(
            "piaoju: {} input(s) named an image already listed; each image is recognized once",
            inputs.duplicates
        );
    }

    let paths: Vec<PathBuf> = inputs
        .entries
        .iter()
        .map(|e| e.path().to_path_buf())
        .collect();
    let names = crate::inputs::input_names(&paths);
    // Each image's place among the inputs (the results are written in that order).
    let places: Vec<usize> = inputs.images().map(|(i, _)| i).collect();
    let items: Vec<_> = inputs
        .images()
        .map(|(_, p)| (document_type, BatchSource::Path(p.to_path_buf())))
        .collect();
    let skipped = inputs.skipped().count();
    if !args.only_images {
        for (i, _, why) in inputs.skipped() {
            sink.write_skipped(i, &names[i], why).map_err(|e| {
                Error::new(
                    ErrorCode::InvalidArgument,
                    format!("cannot write the results: {e}"),
                )
            })?;
        }
    }
    let bar = progress_bar(items.len());
    let write_error: std::cell::RefCell<Option<std::io::Error>> = Default::default();
    let mut told = false;
    (interrupt.arm)();
    let summary = piaoju::batch::run(
        &session.client,
        &items,
        BatchOptions::default()
            .workers(usize::from(args.jobs))
            .retry_failed(args.retry_failed)
            .max_requests(args.max_requests),
        interrupt.flag,
        |i, outcome| {
            if write_error.borrow().is_some() {
                return ControlFlow::Break(());
            }
            // With results on a terminal too, the bar steps aside for each line.
            let place = places[i];
            match bar.suspend(|| sink.write(place, &names[place], &outcome)) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    *write_error.borrow_mut() = Some(e);
                    // Nothing more can be recorded: stop sending.
                    ControlFlow::Break(())
                }
            }
        },
        |p: Progress| {
            let signal = interrupt.signal.load(Ordering::SeqCst);
            if signal != 0 && !told && write_error.borrow().is_none() {
                told = true;
                bar.suspend(|| {
                    eprintln!(
                        "piaoju: {}; waiting for the calls in flight (again to quit now)",
                        signal_name(signal)
                    )
                });
            }
            bar.set_position(p.done as u64);
            bar.set_message(format!(
                "{} failed, {} from cache, {} in flight",
                p.failed, p.cached, p.in_flight
            ));
        },
    );
    bar.finish_and_clear();
    let destination = sink.describe();
    if let Some(e) = write_error.into_inner() {
        eprintln!("piaoju: cannot write the results to {destination}: {e}; stopped");
        eprintln!("{}", summary_line(&summary, "nowhere", cache.as_deref()));
        if let Some(warning) = cache_warning(&summary, cache.as_deref()) {
            eprintln!("{warning}");
        }
        return Ok(EXIT_FAILED);
    }
    if let Err(e) = sink.finish() {
        eprintln!("piaoju: cannot finish writing the results to {destination}: {e}");
        return Ok(EXIT_FAILED);
    }
    if skipped > 0 {
        eprintln!(
            "piaoju: {skipped} file{} {}: {}",
            if skipped == 1 { "" } else { "s" },
            if args.only_images {
                "that are not images ignored (--only-images)"
            } else {
                "skipped (written as skipped rows)"
            },
            skipped_list(&inputs)
        );
    }
    eprintln!("{}", summary_line(&summary, &destination, cache.as_deref()));
    if let Some(warning) = cache_warning(&summary, cache.as_deref()) {
        eprintln!("{warning}");
    }
    let signal = interrupt.signal.load(Ordering::SeqCst);
    Ok(if signal != 0 {
        128 + signal
    } else if summary.cancelled && interrupt.flag.load(Ordering::SeqCst) {
        EXIT_INTERRUPTED
    } else if summary.failed > 0 || summary.skipped > 0 || (skipped > 0 && !args.only_images) {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}

/// `b-scan.pdf (receipts take jpg, jpeg, png, bmp), c.HEIC (HEIC is not accepted: …)`: the
/// first ten skipped files by name, and how many more.
fn skipped_list(inputs: &crate::inputs::Inputs) -> String {
    let mut listed: Vec<String> = inputs
        .skipped()
        .take(10)
        .map(|(_, path, why)| {
            let name = path.file_name().map_or_else(
                || piaoju::bindings::display_path(path),
                |n| piaoju::bindings::display_path(Path::new(n)),
            );
            format!("{name} ({why})")
        })
        .collect();
    let more = inputs.skipped().count().saturating_sub(10);
    if more > 0 {
        listed.push(format!("and {more} more"));
    }
    listed.join(", ")
}

fn progress_bar(total: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg} (eta {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// `piaoju: warning: 12 answers could not be recorded in the cache c.sqlite (disk full): a rerun
/// would pay for them again; their results are in the output.`
fn cache_warning(s: &BatchSummary, cache: Option<&Path>) -> Option<String> {
    if s.cache_failures == 0 {
        return None;
    }
    Some(format!(
        "piaoju: warning: {} answer{} could not be recorded in the cache {} ({}): a rerun would \
         pay for {} again; the results are in the output",
        s.cache_failures,
        if s.cache_failures == 1 { "" } else { "s" },
        cache.map_or_else(|| "?".into(), |p| p.display().to_string()),
        s.cache_error.as_deref().unwrap_or("unknown reason"),
        if s.cache_failures == 1 { "it" } else { "them" },
    ))
}

/// `piaoju: 200 images: 198 recognized (12 from the cache), 2 failed (1 possibly billed), 0 not
/// started; 215 requests (203 may have been billed, 12 refused for the provider's rate) in
/// 10.4 s; results in out.jsonl; cache ~/.cache/piaoju/results.sqlite`
fn summary_line(s: &BatchSummary, destination: &str, cache: Option<&Path>) -> String {
    let cache = match cache {
        Some(p) if s.cache_failures > 0 => format!(
            "cache {} ({} answers could not be recorded: {})",
            p.display(),
            s.cache_failures,
            s.cache_error.as_deref().unwrap_or("unknown reason")
        ),
        Some(p) => format!("cache {}", p.display()),
        None => "no cache".into(),
    };
    let stopped = if s.budget_spent {
        " (the budget of --max-requests is spent)"
    } else if s.cancelled {
        " (interrupted)"
    } else {
        ""
    };
    format!(
        "piaoju: {} images: {} recognized ({} from the cache), {} failed ({} possibly billed), \
         {} not started{stopped}; {} requests ({} may have been billed, {} refused for the \
         provider's rate) in {:.1} s; results in {destination}; {cache}",
        s.total,
        s.succeeded,
        s.cached,
        s.failed,
        s.possibly_billed_failures,
        s.skipped,
        s.requests,
        s.possibly_billed_requests,
        s.refused_requests,
        s.wall.as_secs_f64(),
    )
}
