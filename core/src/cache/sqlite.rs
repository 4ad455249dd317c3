//! The SQLite store: a file shared by processes and threads (WAL, bounded busy waits, one
//! connection per thread that uses it), refused when it is not a piaoju cache.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::ResultStore;
use crate::error::{Error, ErrorCode, Result};
use crate::process::ProcessLocal;

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
    /// When the newest answer was kept (Unix seconds).
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
    fn name(&self) -> String {
        self.path.display().to_string()
    }

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

fn cache_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::InvalidConfig,
        format!("the result cache {} cannot be used: {e}", path.display()),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::key;
    use crate::error::Provider;
    use crate::model::DocumentType;

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
