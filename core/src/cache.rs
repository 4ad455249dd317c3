//! The result cache: a provider's answer kept under the exact image bytes sent, so that the
//! same image is never paid for twice. Successful answers are kept, and so are the provider's
//! verdicts on an image (no document detected in it, …), which a rerun would only pay for
//! again; a hit is parsed again (checks included) and says `cached: true`. The key is the
//! SHA-256 of the image bytes sent, the provider, the operation, the endpoint and the cache's
//! format version, never a credential.
//!
//! Calls of one process for the same key at the same time send once: the others wait for it
//! (within their deadline) and read its answer.
//!
//! Answers are written by one writer thread per process, off the calls' path: a call waits for
//! its own answer to be written for a moment at most ([`RECORD_WAIT`], within its deadline),
//! so that a cache file locked by another process never stalls a batch; what could not be
//! written is reported (the result's `cache_error`, a batch's summary). Answers waiting to be
//! written are read from memory.
//!
//! The store is SQLite (WAL, bounded busy waits, one connection per thread that uses it):
//! several processes and threads may share one file, a crash mid-write never leaves a torn
//! entry (a transaction is whole or absent), and a file that is not a piaoju cache is refused
//! when the client is made.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::deadline::Deadline;
use crate::error::{Error, ErrorCode, Provider, Result};
use crate::model::DocumentType;
use crate::process::ProcessLocal;
use crate::wire::HttpAnswer;

/// Bumped whenever what is stored changes meaning.
const FORMAT_VERSION: u32 = 2;

/// The longest a call waits for its own answer to be written before it returns (the writing
/// goes on in the background).
pub(crate) const RECORD_WAIT: Duration = Duration::from_millis(500);

/// How long one write may wait for another process's lock before it is tried again.
const WRITE_BUSY_WAIT: Duration = Duration::from_secs(5);

/// How often a write held by another process's lock is tried (each waits
/// [`WRITE_BUSY_WAIT`]) before it is given up.
const WRITE_TRIES: u32 = 4;

/// How long a client being dropped waits for its answers to be written.
const DROP_FLUSH: Duration = Duration::from_secs(5);

/// Where provider answers are kept (another store can implement this).
pub trait ResultStore: Send + Sync {
    /// The answer stored under `key`, if any; waiting at most `wait` for another process's
    /// lock. An error whose code is `timeout` means the store was locked for all of `wait`
    /// (the writer tries again later); any other error is final.
    fn get(&self, key: &str, wait: Duration) -> Result<Option<Vec<u8>>>;
    /// Store an answer under `key` (an existing entry is kept), waiting at most `wait` for
    /// another process's lock.
    fn put(&self, key: &str, answer: &[u8], wait: Duration) -> Result<()>;
    /// Store an answer under `key`, replacing an existing entry (a success paid for again
    /// after a recorded verdict, with `retry_failed`). The default keeps the existing one.
    fn replace(&self, key: &str, answer: &[u8], wait: Duration) -> Result<()> {
        self.put(key, answer, wait)
    }
}

/// The cache key of an image sent to a provider's endpoint for an operation. The endpoint (its
/// URL without any `user:password@`) is part of it, so that answers of a sandbox or of a test
/// environment are never returned for the production service, nor the other way round.
pub(crate) fn key(
    provider: Provider,
    operation: DocumentType,
    endpoint: &str,
    image: &[u8],
) -> String {
    let mut h = Sha256::new();
    h.update(
        format!(
            "piaoju-cache-v{FORMAT_VERSION}\0{}\0{}\0{}\0",
            provider.as_str(),
            operation.as_str(),
            crate::config::redact_url(endpoint)
        )
        .as_bytes(),
    );
    h.update(image);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What the cache could not record, for a batch's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WriteReport {
    /// Answers whose writing failed, since the cache was made.
    pub failed: u64,
    /// Answers still waiting to be written.
    pub pending: u64,
    /// Why the last write failed.
    pub last_error: Option<String>,
}

/// A store, the keys being fetched by this process's threads right now, and the writer.
pub(crate) struct Cache {
    store: Arc<dyn ResultStore>,
    /// What the store is, in messages (its file).
    name: String,
    flights: ProcessLocal<Flights>,
    writer: ProcessLocal<Arc<Writer>>,
}

impl Cache {
    pub fn new(store: Arc<dyn ResultStore>, name: String) -> Cache {
        Cache {
            store,
            name,
            flights: ProcessLocal::new(Flights::default()),
            writer: ProcessLocal::new(Arc::new(Writer::default())),
        }
    }

    pub fn flights(&self) -> &Flights {
        self.flights.get(Flights::default)
    }

    fn writer(&self) -> &Arc<Writer> {
        self.writer.get(|| Arc::new(Writer::default()))
    }

    /// The answer recorded for `key`, parsed again: `Ok(Some)` for a recorded success, `Err`
    /// for a recorded verdict (unless `retry_failed`: then it is sent again), `Ok(None)` when
    /// there is none (or the store cannot be read: the image is then sent, and its answer's
    /// writing reports the problem).
    pub fn recorded<T>(
        &self,
        key: &str,
        deadline: &Deadline,
        parse: fn(&HttpAnswer) -> Result<T>,
        retry_failed: bool,
    ) -> Result<Option<T>> {
        let answer = match self.writer().pending(key) {
            Some(a) => Some(a.to_vec()),
            None => self.store.get(key, deadline.left()).ok().flatten(),
        };
        let Some(answer) = answer else {
            return Ok(None);
        };
        match parse(&HttpAnswer::ok(answer)) {
            Ok(value) => Ok(Some(value)),
            Err(_) if retry_failed => Ok(None),
            Err(mut e) => {
                e.cached = true;
                e.possibly_billed = false;
                e.attempts = 0;
                if let Some(d) = &mut e.details {
                    d.verdict = None;
                }
                e.message.push_str(
                    " (the answer recorded in the cache for this image: not sent again; \
                     --retry-failed or retry_failed=True sends it again)",
                );
                Err(e)
            }
        }
    }

    /// Record an answer. When the writer is idle, waits for it to be written (at most
    /// [`RECORD_WAIT`], within the deadline); otherwise, or after that, the writing goes on in
    /// the background. `Some(why)` when the writing failed before the call returns; a failure
    /// after that is counted for [`Cache::flush`].
    pub fn record(&self, key: &str, answer: Answer, deadline: &Deadline) -> Option<String> {
        let writer = self.writer();
        let (ticket, backlog) = writer.enqueue(key, answer);
        if !writer.ensure_thread(&self.store) {
            // No thread can be started (a thread limit): write here.
            writer.write_next(&*self.store, deadline.left());
        }
        let wait = if backlog == 0 {
            deadline.left().min(RECORD_WAIT)
        } else {
            Duration::ZERO
        };
        writer.wait_for(ticket, wait).map(|why| {
            format!(
                "the answer could not be recorded in the cache {}: {why}",
                self.name
            )
        })
    }

    /// Wait (at most `timeout`) until every answer is written; what was not.
    pub fn flush(&self, timeout: Duration) -> WriteReport {
        let writer = self.writer();
        if !writer.ensure_thread(&self.store) {
            let until = Instant::now() + timeout;
            while writer.has_queued() && Instant::now() < until {
                writer.write_next(&*self.store, until - Instant::now());
            }
        }
        writer.flush(timeout)
    }

    /// The cache's name in messages (its file).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.flush(DROP_FLUSH);
        self.writer().stop();
    }
}

/// The writer of one process: a queue of answers, written in order by one thread.
#[derive(Default)]
struct Writer {
    state: Mutex<WriterState>,
    changed: Condvar,
}

/// An answer to write: its ticket, key, body and the tries so far.
type Entry = (u64, String, Arc<[u8]>, u32, bool);

/// An answer to record: a success (which replaces a recorded verdict) or a verdict on the image
/// (which an entry already there keeps out).
pub(crate) enum Answer {
    Success(Vec<u8>),
    Verdict(Vec<u8>),
}

#[derive(Default)]
struct WriterState {
    queue: VecDeque<Entry>,
    /// Answers queued or being written, by key: read from here until written.
    pending: HashMap<String, Arc<[u8]>>,
    next_ticket: u64,
    /// Tickets whose caller waits for them, and the outcomes of those that are done
    /// (`Some(why)` for a failure).
    waited: HashSet<u64>,
    finished: HashMap<u64, Option<String>>,
    /// An entry is being written (taken off the queue).
    writing: bool,
    failed: u64,
    last_error: Option<String>,
    thread: bool,
    stop: bool,
}

impl Writer {
    fn lock(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self, key: &str) -> Option<Arc<[u8]>> {
        self.lock().pending.get(key).cloned()
    }

    fn has_queued(&self) -> bool {
        !self.lock().queue.is_empty()
    }

    /// Queue an answer: its ticket, and how many answers were waiting before it.
    fn enqueue(&self, key: &str, answer: Answer) -> (u64, usize) {
        let (answer, replace) = match answer {
            Answer::Success(a) => (a, true),
            Answer::Verdict(a) => (a, false),
        };
        let mut st = self.lock();
        let backlog = st.queue.len() + usize::from(st.writing);
        st.next_ticket += 1;
        let ticket = st.next_ticket;
        let answer: Arc<[u8]> = answer.into();
        st.pending.insert(key.to_string(), Arc::clone(&answer));
        st.queue
            .push_back((ticket, key.to_string(), answer, 0, replace));
        st.waited.insert(ticket);
        drop(st);
        self.changed.notify_all();
        (ticket, backlog)
    }

    /// Start the writing thread if there is none; `false` if none can be started.
    fn ensure_thread(self: &Arc<Self>, store: &Arc<dyn ResultStore>) -> bool {
        let mut st = self.lock();
        if st.thread {
            return true;
        }
        let (writer, store) = (Arc::clone(self), Arc::clone(store));
        let started = std::thread::Builder::new()
            .name("piaoju-cache-writer".into())
            .spawn(move || writer.run(&*store));
        st.thread = started.is_ok();
        st.thread
    }

    fn run(&self, store: &dyn ResultStore) {
        loop {
            {
                let mut st = self.lock();
                while st.queue.is_empty() && !st.stop {
                    st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                if st.queue.is_empty() {
                    st.thread = false;
                    return;
                }
            }
            self.write_next(store, WRITE_BUSY_WAIT);
        }
    }

    /// Write the first queued answer. One held by another process's lock goes back to the
    /// end of the queue (a few times, after a pause); any other failure is final.
    fn write_next(&self, store: &dyn ResultStore, busy_wait: Duration) {
        let Some((ticket, key, answer, tries, replace)) = ({
            let mut st = self.lock();
            let next = st.queue.pop_front();
            st.writing = next.is_some();
            next
        }) else {
            return;
        };
        let outcome = if replace {
            store.replace(&key, &answer, busy_wait)
        } else {
            store.put(&key, &answer, busy_wait)
        };
        let mut st = self.lock();
        st.writing = false;
        match outcome {
            Err(e) if e.code == ErrorCode::Timeout && tries + 1 < WRITE_TRIES && !st.stop => {
                st.queue
                    .push_back((ticket, key, answer, tries + 1, replace));
                drop(st);
                std::thread::sleep(Duration::from_millis(100));
                return;
            }
            Err(e) => {
                st.failed += 1;
                st.last_error = Some(e.message.clone());
                st.pending.remove(&key);
                if st.waited.remove(&ticket) {
                    st.finished.insert(ticket, Some(e.message));
                }
            }
            Ok(()) => {
                st.pending.remove(&key);
                if st.waited.remove(&ticket) {
                    st.finished.insert(ticket, None);
                }
            }
        }
        drop(st);
        self.changed.notify_all();
    }

    /// Wait until `ticket` is done, at most `wait`: `Some(why)` if it failed by then.
    fn wait_for(&self, ticket: u64, wait: Duration) -> Option<String> {
        let until = Instant::now() + wait;
        let mut st = self.lock();
        loop {
            if let Some(outcome) = st.finished.remove(&ticket) {
                return outcome;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // Not done yet: its outcome is only counted.
                st.waited.remove(&ticket);
                return None;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn flush(&self, timeout: Duration) -> WriteReport {
        let until = Instant::now() + timeout;
        let mut st = self.lock();
        while (!st.queue.is_empty() || st.writing) && st.thread {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        WriteReport {
            failed: st.failed,
            pending: (st.queue.len() + usize::from(st.writing)) as u64,
            last_error: st.last_error.clone(),
        }
    }

    fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}

/// Keys in flight: a call for an image that another thread is already sending waits for that
/// call to end, then reads its answer, instead of paying for the same image twice. The
/// cache's are per process (a child after `fork()` starts with none); a batch without a cache
/// has its own.
#[derive(Default)]
pub(crate) struct Flights {
    keys: Mutex<HashSet<String>>,
    landed: Condvar,
}

/// A claimed key; released (and waiters woken) when dropped, whatever the call's outcome.
pub(crate) struct Claim<'a> {
    flights: &'a Flights,
    key: &'a str,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut keys = self.flights.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.remove(self.key);
        drop(keys);
        self.flights.landed.notify_all();
    }
}

impl Flights {
    /// Claim `key`, first waiting (within the deadline) while another thread holds it (the
    /// answer may be recorded once the claim is had).
    pub fn claim<'a>(
        &'a self,
        key: &'a str,
        deadline: &Deadline,
        provider: Provider,
    ) -> Result<Claim<'a>> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        while keys.contains(key) {
            let left =
                deadline.remaining(provider, "waiting for another call sending the same image")?;
            keys = self
                .landed
                .wait_timeout(keys, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        keys.insert(key.to_string());
        Ok(Claim { flights: self, key })
    }
}

fn cache_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidConfig,
        format!("the result cache {} cannot be used: {e}", path.display()),
    )
}

/// `application_id` of a piaoju cache file ("PJCA").
const APPLICATION_ID: i32 = 0x504a_4341;

/// How long making a client waits for other processes setting up the same new cache file.
const OPEN_PATIENCE: Duration = Duration::from_secs(20);

/// A SQLite file shared by processes and threads; one connection per thread that uses it.
pub struct SqliteStore {
    path: PathBuf,
    /// Idle connections of this process.
    connections: ProcessLocal<Mutex<Vec<rusqlite::Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// What kind of file `c` is: a piaoju cache, a new (empty) file, an earlier piaoju's cache
/// (no application id yet), or something else (its tables, for the message).
enum Kind {
    Piaoju,
    Empty,
    Earlier,
    Foreign(Vec<String>),
}

fn kind(c: &rusqlite::Connection) -> rusqlite::Result<Kind> {
    let id: i32 = c.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let mut st = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
    let tables = st
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if id == APPLICATION_ID {
        return Ok(Kind::Piaoju);
    }
    if id == 0 && tables.is_empty() {
        return Ok(Kind::Empty);
    }
    if id == 0 && tables == ["answers"] {
        let mut st = c.prepare("SELECT name FROM pragma_table_info('answers') ORDER BY cid")?;
        let columns = st
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if columns == ["key", "answer", "stored_at"] {
            return Ok(Kind::Earlier);
        }
    }
    Ok(Kind::Foreign(tables))
}

/// Open the file and make sure it is a piaoju cache, creating the table in a new file (under
/// `BEGIN IMMEDIATE`, so that processes opening it at once agree).
fn try_open(path: &Path) -> std::result::Result<rusqlite::Connection, rusqlite::Error> {
    let c = rusqlite::Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(2))?;
    // Another program's database is left exactly as it is: nothing is changed before the file
    // is known to be (or to become) a piaoju cache.
    if let Kind::Foreign(_) = kind(&c)? {
        return Ok(c);
    }
    let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        c.pragma_update(None, "journal_mode", "WAL")?;
    }
    c.pragma_update(None, "synchronous", "NORMAL")?;
    if matches!(kind(&c)?, Kind::Empty | Kind::Earlier) {
        c.execute_batch("BEGIN IMMEDIATE")?;
        let set_up = (|| {
            if matches!(kind(&c)?, Kind::Empty | Kind::Earlier) {
                c.execute_batch(&format!(
                    "CREATE TABLE IF NOT EXISTS answers (
                         key TEXT PRIMARY KEY,
                         answer BLOB NOT NULL,
                         stored_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
                     );
                     PRAGMA application_id = {APPLICATION_ID};"
                ))?;
            }
            c.execute_batch("COMMIT")
        })();
        if let Err(e) = set_up {
            let _ = c.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(c)
}

/// Open a connection to a piaoju cache file: `invalid_config` if it is not one. Retried while
/// other processes hold the file's lock (many processes opening one new cache at once).
fn open(path: &Path) -> Result<rusqlite::Connection> {
    let until = Instant::now() + OPEN_PATIENCE;
    let mut pause = Duration::from_millis(5);
    let c = loop {
        match try_open(path) {
            Ok(c) => break c,
            Err(e) if is_busy(&e) && Instant::now() < until => {
                std::thread::sleep(pause.mul_f64(0.5 + random_fraction()));
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
                return Err(cache_error(
                    path,
                    "it is not a SQLite file (not a piaoju cache)",
                ))
            }
            Err(e) => return Err(cache_error(path, e)),
        }
    };
    match kind(&c).map_err(|e| cache_error(path, e))? {
        Kind::Piaoju => Ok(c),
        Kind::Foreign(tables) => Err(cache_error(
            path,
            format!(
                "it is not a piaoju cache (it holds the tables {}): name another file",
                tables.join(", ")
            ),
        )),
        Kind::Empty | Kind::Earlier => Err(cache_error(path, "it could not be set up")),
    }
}

fn random_fraction() -> f64 {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX)
}

/// The user's result cache for batches: `$XDG_CACHE_HOME/piaoju/results.sqlite`, else
/// `$HOME/.cache/piaoju/results.sqlite` (on Windows `%LOCALAPPDATA%\piaoju\results.sqlite`);
/// its folder is made if missing (mode 0700: results hold names and ID numbers). `None` when
/// none of those variables is set.
pub fn user_cache_path() -> Result<Option<PathBuf>> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let dir = if cfg!(windows) {
        var("LOCALAPPDATA").map(|d| d.join("piaoju"))
    } else {
        var("XDG_CACHE_HOME")
            .filter(|d| d.is_absolute())
            .or_else(|| var("HOME").map(|h| h.join(".cache")))
            .map(|d| d.join("piaoju"))
    };
    let Some(dir) = dir else {
        return Ok(None);
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .map_err(|e| cache_error(&dir, crate::os_error::describe(&e).text))?;
    Ok(Some(dir.join("results.sqlite")))
}

/// Make the file (mode 0600 on Unix: results hold names and ID numbers) if it does not exist,
/// so that SQLite (which gives its WAL and shared-memory files the database's mode) never
/// leaves it readable by others.
fn create_private(path: &Path) {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    // Already there, or no folder: opening it says what is wrong.
    let _ = options.open(path);
}

/// What a cache file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheInfo {
    /// Answers kept.
    pub entries: u64,
    /// The file's size, its write-ahead log included.
    pub bytes: u64,
    /// When the oldest and the newest answer were kept (Unix seconds).
    pub oldest: Option<i64>,
    pub newest: Option<i64>,
}

impl SqliteStore {
    /// Open (or create, mode 0600) the cache file, checking it can be used: `invalid_config`
    /// when it cannot be opened or created, or is not a piaoju cache (another program's
    /// database).
    pub fn open(path: impl Into<PathBuf>) -> Result<SqliteStore> {
        let path = path.into();
        create_private(&path);
        let first = open(&path)?;
        Ok(SqliteStore {
            connections: ProcessLocal::new(Mutex::new(vec![first])),
            path,
        })
    }

    /// The cache's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on an idle connection of this process (a new one if none is idle), waiting at
    /// most `wait` for another process's lock.
    fn with<T>(
        &self,
        wait: Duration,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let pool = self.connections.get(|| Mutex::new(Vec::new()));
        let idle = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let c = match idle {
            Some(c) => c,
            None => open(&self.path)?,
        };
        let outcome = c.busy_timeout(wait).and_then(|()| f(&c));
        pool.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        outcome.map_err(|e| {
            let (code, what) = if is_busy(&e) {
                (
                    ErrorCode::Timeout,
                    format!("the file is locked by another process (waited {wait:.1?})"),
                )
            } else if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
                (ErrorCode::Internal, "disk full".to_string())
            } else {
                (ErrorCode::Internal, e.to_string())
            };
            Error::new(code, what)
        })
    }
}

impl SqliteStore {
    /// How many answers the file keeps, its size, and when they were kept.
    pub fn info(&self) -> Result<CacheInfo> {
        let (entries, oldest, newest) = self.with(Duration::from_secs(5), |c| {
            c.query_row(
                "SELECT count(*), min(stored_at), max(stored_at) FROM answers",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)),
            )
        })?;
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.as_os_str().to_owned();
        wal.push("-wal");
        Ok(CacheInfo {
            entries: u64::try_from(entries).unwrap_or(0),
            bytes: size(&self.path) + size(Path::new(&wal)),
            oldest,
            newest,
        })
    }

    /// Remove every answer kept before `before` (Unix seconds); how many were removed.
    pub fn remove_older_than(&self, before: i64) -> Result<u64> {
        let removed = self.with(Duration::from_secs(5), |c| {
            c.execute("DELETE FROM answers WHERE stored_at < ?1", [before])
        })?;
        self.with(Duration::from_secs(5), |c| {
            c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
        })?;
        Ok(removed as u64)
    }
}

impl ResultStore for SqliteStore {
    fn get(&self, key: &str, wait: Duration) -> Result<Option<Vec<u8>>> {
        self.with(wait, |c| {
            let mut st = c.prepare_cached("SELECT answer FROM answers WHERE key = ?1")?;
            let mut rows = st.query([key])?;
            match rows.next()? {
                Some(row) => Ok(Some(row.get(0)?)),
                None => Ok(None),
            }
        })
    }

    fn put(&self, key: &str, answer: &[u8], wait: Duration) -> Result<()> {
        self.with(wait, |c| {
            c.prepare_cached("INSERT OR IGNORE INTO answers (key, answer) VALUES (?1, ?2)")?
                .execute(rusqlite::params![key, answer])?;
            Ok(())
        })
    }

    fn replace(&self, key: &str, answer: &[u8], wait: Duration) -> Result<()> {
        self.with(wait, |c| {
            c.prepare_cached("INSERT OR REPLACE INTO answers (key, answer) VALUES (?1, ?2)")?
                .execute(rusqlite::params![key, answer])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(1);

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("piaoju-cache-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("cache.sqlite")
    }

    #[test]
    fn answers_are_kept_by_key_and_the_first_one_stays() {
        let path = temp("keys");
        let store = SqliteStore::open(&path).unwrap();
        const URL: &str = "https://apis.juhe.cn/shoppingReceipt/query";
        let k = key(Provider::Juhe, DocumentType::ShoppingReceipt, URL, b"image");
        assert_eq!(store.get(&k, WAIT).unwrap(), None);
        store.put(&k, b"{\"a\":1}", WAIT).unwrap();
        store.put(&k, b"{\"a\":2}", WAIT).unwrap();
        assert_eq!(
            store.get(&k, WAIT).unwrap().as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        // Another store on the same file sees it.
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(
            again.get(&k, WAIT).unwrap().as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        // Keys differ by provider, operation, endpoint and bytes; not by credentials in the URL.
        let juhe = (Provider::Juhe, DocumentType::ShoppingReceipt);
        for other in [
            key(Provider::Chinaums, juhe.1, URL, b"image"),
            key(juhe.0, DocumentType::UsedCarInvoice, URL, b"image"),
            key(
                juhe.0,
                juhe.1,
                "http://127.0.0.1:8080/shoppingReceipt/query",
                b"image",
            ),
            key(juhe.0, juhe.1, URL, b"imagf"),
        ] {
            assert_ne!(k, other);
        }
        assert_eq!(
            key(juhe.0, juhe.1, "http://u:p@127.0.0.1:1/q", b"image"),
            key(juhe.0, juhe.1, "http://v:q@127.0.0.1:1/q", b"image")
        );
        let e = SqliteStore::open("/nonexistent-dir/cache.sqlite").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
    }

    #[test]
    fn a_file_that_is_not_a_piaoju_cache_is_refused_and_left_alone() {
        // Another program's database.
        let path = temp("foreign");
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute_batch("CREATE TABLE invoices (id INTEGER); INSERT INTO invoices VALUES (7);")
            .unwrap();
        let e = SqliteStore::open(&path).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert!(e.message.contains("not a piaoju cache"), "{}", e.message);
        assert!(e.message.contains("invoices"), "{}", e.message);
        let tables: i64 = other
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 1, "nothing was added to the other program's file");
        let mode: String = other
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "its journal mode is left as it was");
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        assert!(!std::path::Path::new(&wal).exists());
        // A file that is not SQLite at all.
        let text = temp("text");
        std::fs::write(&text, "key,answer\nnot,sqlite\n".repeat(100)).unwrap();
        let e = SqliteStore::open(&text).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        assert!(e.message.contains("not a SQLite file"), "{}", e.message);
        assert_eq!(
            std::fs::read_to_string(&text).unwrap(),
            "key,answer\nnot,sqlite\n".repeat(100)
        );
    }

    #[test]
    fn an_earlier_piaojus_cache_is_adopted_with_its_answers() {
        let path = temp("earlier");
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS answers (
                 key TEXT PRIMARY KEY,
                 answer BLOB NOT NULL,
                 stored_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
             );
             INSERT INTO answers (key, answer) VALUES ('k', x'7b7d');",
        )
        .unwrap();
        drop(old);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.get("k", WAIT).unwrap().as_deref(), Some(&b"{}"[..]));
        let c = rusqlite::Connection::open(&path).unwrap();
        let id: i32 = c
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(id, APPLICATION_ID);
    }

    #[test]
    fn a_held_write_lock_fails_a_write_after_its_wait_and_reads_go_on() {
        let path = temp("locked");
        let store = SqliteStore::open(&path).unwrap();
        store.put("before", b"1", WAIT).unwrap();
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let started = Instant::now();
        let e = store
            .put("k", b"2", Duration::from_millis(300))
            .unwrap_err();
        let took = started.elapsed();
        assert!(
            e.message.contains("locked by another process"),
            "{}",
            e.message
        );
        assert!(took >= Duration::from_millis(250), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        // In WAL mode a reader is not held by the writer's lock.
        assert_eq!(
            store.get("before", Duration::from_millis(300)).unwrap(),
            Some(b"1".to_vec())
        );
        holder.execute_batch("ROLLBACK").unwrap();
        store.put("k", b"2", WAIT).unwrap();
    }
}
