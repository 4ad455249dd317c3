//! The result cache: a provider's answer kept under the exact image bytes sent, so that the
//! same image is never paid for twice. Only successful answers are stored; a hit is parsed
//! again (checks included) and says `cached: true`. The key is the SHA-256 of the image bytes
//! sent, the provider, the operation and the cache's format version, never a credential.
//!
//! Calls of one process for the same key at the same time send once: the others wait for it
//! (within their deadline) and read its answer from the store.
//!
//! The store is SQLite (WAL, a busy timeout): several processes and threads may share one file,
//! and a crash mid-write never leaves a torn entry (a transaction is whole or absent).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::deadline::Deadline;
use crate::error::{Error, ErrorCode, Provider, Result};
use crate::model::DocumentType;
use crate::process::ProcessLocal;
use crate::wire::HttpAnswer;

/// Bumped whenever what is stored changes meaning.
const FORMAT_VERSION: u32 = 2;

/// Where provider answers are kept (another store can implement this).
pub trait ResultStore: Send + Sync {
    /// The answer stored under `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Store an answer under `key` (an existing entry is kept).
    fn put(&self, key: &str, answer: &[u8]) -> Result<()>;
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

/// A store and the keys being fetched by this process's threads right now.
pub(crate) struct Cache {
    store: Box<dyn ResultStore>,
    flights: ProcessLocal<Flights>,
}

impl Cache {
    pub fn new(store: Box<dyn ResultStore>) -> Cache {
        Cache {
            store,
            flights: ProcessLocal::new(Flights::default()),
        }
    }
}

/// Keys in flight: a call for an image that another thread is already sending waits for that
/// call to end, then finds its answer in the store, instead of paying for the same image twice.
/// Per process (a child after `fork()` starts with none).
#[derive(Default)]
struct Flights {
    keys: Mutex<HashSet<String>>,
    landed: Condvar,
}

/// A claimed key; released (and waiters woken) when dropped, whatever the call's outcome.
struct Claim<'a> {
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
    /// Claim `key`, first waiting (within the deadline) while another thread holds it.
    /// `true` with the claim when it had to wait: the store may hold the answer now.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        deadline: &Deadline,
        provider: Provider,
    ) -> Result<(Claim<'a>, bool)> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        let mut waited = false;
        while keys.contains(key) {
            waited = true;
            let left =
                deadline.remaining(provider, "waiting for another call sending the same image")?;
            keys = self
                .landed
                .wait_timeout(keys, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        keys.insert(key.to_string());
        Ok((Claim { flights: self, key }, waited))
    }
}

/// A call through the cache: a stored answer is parsed again (`true`: cached); otherwise
/// `fetch` sends (with its retries) and gives the parsed value and the answer's body, which is
/// kept. While one thread fetches a key, another call for it waits, then reads the store. A
/// result is returned even if it cannot be kept.
pub(crate) fn through<T>(
    cache: Option<&Cache>,
    key: &str,
    deadline: &Deadline,
    provider: Provider,
    parse: impl Fn(&HttpAnswer) -> Result<T>,
    fetch: impl FnOnce() -> Result<(T, Vec<u8>)>,
) -> Result<(T, bool)> {
    let Some(cache) = cache else {
        return fetch().map(|(value, _)| (value, false));
    };
    if let Some(answer) = cache.store.get(key)? {
        return Ok((parse(&HttpAnswer::ok(answer))?, true));
    }
    let flights = cache.flights.get(Flights::default);
    let (_claim, waited) = flights.claim(key, deadline, provider)?;
    if waited {
        if let Some(answer) = cache.store.get(key)? {
            return Ok((parse(&HttpAnswer::ok(answer))?, true));
        }
    }
    let (value, answer) = fetch()?;
    let _ = cache.store.put(key, &answer);
    Ok((value, false))
}

fn cache_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidConfig,
        format!("the result cache {} cannot be used: {e}", path.display()),
    )
}

/// A SQLite file shared by processes and threads; one connection per process.
pub struct SqliteStore {
    path: PathBuf,
    connection: ProcessLocal<Mutex<Option<rusqlite::Connection>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

fn open(path: &Path) -> Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open(path).map_err(|e| cache_error(path, e))?;
    c.busy_timeout(Duration::from_secs(10))
        .map_err(|e| cache_error(path, e))?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| cache_error(path, e))?;
    c.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| cache_error(path, e))?;
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS answers (
             key TEXT PRIMARY KEY,
             answer BLOB NOT NULL,
             stored_at INTEGER NOT NULL DEFAULT (strftime('%s', 'now'))
         )",
    )
    .map_err(|e| cache_error(path, e))?;
    Ok(c)
}

impl SqliteStore {
    /// Open (or create) the cache file, checking it can be used.
    pub fn open(path: impl Into<PathBuf>) -> Result<SqliteStore> {
        let path = path.into();
        let first = open(&path)?;
        Ok(SqliteStore {
            connection: ProcessLocal::new(Mutex::new(Some(first))),
            path,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> Result<T> {
        let slot = self.connection.get(|| Mutex::new(None));
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(open(&self.path)?);
        }
        let c = guard.as_ref().expect("opened above");
        f(c).map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("the result cache {} failed: {e}", self.path.display()),
            )
        })
    }
}

impl ResultStore for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT answer FROM answers WHERE key = ?1")?;
            let mut rows = st.query([key])?;
            match rows.next()? {
                Some(row) => Ok(Some(row.get(0)?)),
                None => Ok(None),
            }
        })
    }

    fn put(&self, key: &str, answer: &[u8]) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("INSERT OR IGNORE INTO answers (key, answer) VALUES (?1, ?2)")?
                .execute(rusqlite::params![key, answer])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_by_key_and_the_first_one_stays() {
        let dir = std::env::temp_dir().join(format!("piaoju-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        const URL: &str = "https://apis.juhe.cn/shoppingReceipt/query";
        let k = key(Provider::Juhe, DocumentType::ShoppingReceipt, URL, b"image");
        assert_eq!(store.get(&k).unwrap(), None);
        store.put(&k, b"{\"a\":1}").unwrap();
        store.put(&k, b"{\"a\":2}").unwrap();
        assert_eq!(store.get(&k).unwrap().as_deref(), Some(&b"{\"a\":1}"[..]));
        // Another store on the same file sees it.
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.get(&k).unwrap().as_deref(), Some(&b"{\"a\":1}"[..]));
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
        let _ = std::fs::remove_dir_all(&dir);
        let e = SqliteStore::open("/nonexistent-dir/cache.sqlite").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
    }
}
