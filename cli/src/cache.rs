//! `piaoju cache info|clear|prune --older-than DAYS`: the result cache that batches use (the
//! user's, unless `--cache FILE` or `PIAOJU_CACHE` names another), shown and trimmed.

use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use piaoju::{Error, ErrorCode, SqliteStore};

use crate::EXIT_OK;

#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Action,
    /// The cache file; default: PIAOJU_CACHE, else the user's cache.
    #[arg(long, value_name = "FILE", global = true)]
    cache: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Where the cache is, how many answers it keeps, its size and their age.
    Info,
    /// Remove every answer (a rerun then pays again for every image).
    Clear,
    /// Remove the answers kept more than DAYS days ago.
    Prune {
        /// Remove answers older than this many days.
        #[arg(long, value_name = "DAYS")]
        older_than: u32,
    },
}

/// Run `piaoju cache …` and return the exit status.
pub fn run(args: &CacheArgs) -> i32 {
    match piaoju::bindings::catch_panic(|| execute(args)) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}", e.to_json());
            crate::exit_status(&e)
        }
    }
}

fn path(args: &CacheArgs) -> Result<PathBuf, Error> {
    if let Some(p) = &args.cache {
        return Ok(p.clone());
    }
    if let Some(c) = piaoju::Config::from_env()?.cache {
        return Ok(PathBuf::from(c.path));
    }
    piaoju::user_cache_path()?.ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidArgument,
            "there is no user cache (neither XDG_CACHE_HOME nor HOME is set): name one with --cache FILE",
        )
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `3 days ago`, `today`.
fn age(stored_at: i64) -> String {
    match (now() - stored_at).max(0) / 86_400 {
        0 => "today".into(),
        1 => "1 day ago".into(),
        n => format!("{n} days ago"),
    }
}

fn execute(args: &CacheArgs) -> Result<(), Error> {
    let path = path(args)?;
    if !path.exists() {
        if let Action::Info = args.action {
            println!(
                "piaoju cache: {} (not made yet: no answer kept)",
                path.display()
            );
            return Ok(());
        }
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("there is no cache file {}", path.display()),
        ));
    }
    let store = SqliteStore::open(&path)?;
    match &args.action {
        Action::Info => {
            let info = store.info()?;
            println!("piaoju cache: {}", path.display());
            let span = match (info.oldest, info.newest) {
                (Some(o), Some(n)) => format!(", kept from {} to {}", age(o), age(n)),
                _ => String::new(),
            };
            println!(
                "  {} answers, {:.1} MB{span}",
                info.entries,
                info.bytes as f64 / 1e6
            );
        }
        Action::Clear => {
            let removed = store.remove_older_than(i64::MAX)?;
            println!(
                "piaoju cache: removed {removed} answers from {}",
                path.display()
            );
        }
        Action::Prune { older_than } => {
            let before = now() - i64::from(*older_than) * 86_400;
            let removed = store.remove_older_than(before)?;
            println!(
                "piaoju cache: removed {removed} answers kept more than {older_than} days ago from {}",
                path.display()
            );
        }
    }
    Ok(())
}
