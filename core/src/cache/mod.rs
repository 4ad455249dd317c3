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

#[cfg(feature = "cache")]
mod sqlite;
mod writer;

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::deadline::Deadline;
use crate::error::{Provider, Result};
use crate::model::DocumentType;
use crate::process::ProcessLocal;
use crate::wire::HttpAnswer;

#[cfg(feature = "cache")]
pub use sqlite::{user_cache_path, CacheInfo, SqliteStore};
pub(crate) use writer::Answer;
use writer::Writer;

/// Bumped whenever what is stored changes meaning.
const FORMAT_VERSION: u32 = 2;

/// The longest a call waits for its own answer to be written before it returns (the writing
/// goes on in the background).
pub(crate) const RECORD_WAIT: Duration = Duration::from_millis(500);

/// How long a client being dropped waits for its answers to be written.
const DROP_FLUSH: Duration = Duration::from_secs(5);

/// Where provider answers are kept: the SQLite file of a configured `cache`
/// (`SqliteStore`, feature `cache`), or a store of one's own given to
/// [`Client::with_store`](crate::Client::with_store) (a database, a shared service, memory).
///
/// A store keeps bytes under a key (a hex SHA-256 of the image, the provider, the operation and
/// the endpoint: never a credential); an answer is stored once and never changed. It is
/// called from the calls' threads (`get`) and from one writer thread per process (`put`,
/// `replace`; from the calling thread when no thread can be started).
pub trait ResultStore: Send + Sync {
    /// The answer stored under `key`, if any; waiting at most `wait` for another process's
    /// lock. An error means the store could not be read: the image is then sent (and may be
    /// paid for again), with a warning in piaoju's log.
    fn get(&self, key: &str, wait: Duration) -> Result<Option<Vec<u8>>>;
    /// Store an answer under `key` (an existing entry is kept), waiting at most `wait` for
    /// another process's lock. An error whose code is `timeout` means the store was locked
    /// for all of `wait`: the writer tries again later, within the batch's end; any other
    /// error is final (the answer is reported as not recorded).
    fn put(&self, key: &str, answer: &[u8], wait: Duration) -> Result<()>;

    /// Store an answer under `key`, replacing an existing entry (a success paid for again
    /// after a recorded verdict, with `retry_failed`). The default keeps the existing one.
    fn replace(&self, key: &str, answer: &[u8], wait: Duration) -> Result<()> {
        self.put(key, answer, wait)
    }

    /// What the store is, in messages ("the answer could not be recorded in the cache NAME").
    fn name(&self) -> String {
        "(a result store)".to_string()
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
    /// there is none, or when the store cannot be read (logged as a warning: the image is then
    /// sent, and may be paid for again).
    pub fn recorded<T>(
        &self,
        key: &str,
        deadline: &Deadline,
        parse: fn(&HttpAnswer) -> Result<T>,
        retry_failed: bool,
    ) -> Result<Option<T>> {
        let answer = match self.writer().pending(key) {
            Some(a) => Some(a.to_vec()),
            None => match self.store.get(key, deadline.left()) {
                Ok(found) => found,
                Err(e) => {
                    log::warn!(
                        target: crate::LOG_TARGET,
                        "the cache {} could not be read ({e}): the image is sent, and may be \
                         paid for again",
                        self.name
                    );
                    None
                }
            },
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
