//! The result cache: the same image is never sent twice; failures are not kept; a writer
//! killed mid-batch leaves a cache that opens and holds only whole entries.

use std::time::Duration;

use piaoju::{Client, Config, ErrorCode, ResultStore, SqliteStore};
use piaoju_sandbox::Sandbox;

const WAIT: Duration = Duration::from_secs(1);
const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");
const INVOICE_PNG: &[u8] = include_bytes!("../../tests/fixtures/invoice.png");

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("piaoju-cache-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("cache.sqlite")
}

fn client(sb: &Sandbox, base: &str, cache: &std::path::Path) -> Client {
    let mut c: serde_json::Value =
        serde_json::from_str(&sb.client_config_json_for(base, "access_token")).unwrap();
    c["cache"] = serde_json::json!({"path": cache.to_str().unwrap()});
    Client::new(Config::from_value(c).unwrap()).unwrap()
}

#[test]
fn an_image_recognized_once_is_never_sent_again() {
    let sb = Sandbox::start().unwrap();
    let path = temp_path("hits");
    let c = client(&sb, &sb.url(), &path);
    let first = c.recognize_shopping_receipt(RECEIPT_PNG).unwrap();
    assert!(!first.cached && first.attempts == 1);
    let again = c.recognize_shopping_receipt(RECEIPT_PNG).unwrap();
    assert!(again.cached && again.attempts == 0);
    assert_eq!(again.total_amount, first.total_amount);
    assert_eq!(again.checks, first.checks);
    assert_eq!(sb.stats().juhe_requests, 1);
    // Another client (another process would do the same) shares the file.
    let other = client(&sb, &sb.url(), &path);
    assert!(
        other
            .recognize_shopping_receipt(RECEIPT_PNG)
            .unwrap()
            .cached
    );
    let inv = other.recognize_used_car_invoice(INVOICE_PNG).unwrap();
    assert!(!inv.cached);
    assert!(c.recognize_used_car_invoice(INVOICE_PNG).unwrap().cached);
    assert_eq!((sb.stats().juhe_requests, sb.stats().ocr_requests), (1, 1));
    // The same bytes as another document type are another entry.
    let as_invoice = client(&sb, &sb.url(), &path)
        .recognize_used_car_invoice(RECEIPT_PNG)
        .unwrap();
    assert!(!as_invoice.cached);
}

#[test]
fn failures_are_not_kept() {
    let sb = Sandbox::start().unwrap();
    let path = temp_path("failures");
    let quota = client(&sb, &sb.fault_url("juhe=10012"), &path);
    let e = quota.recognize_shopping_receipt(RECEIPT_PNG).unwrap_err();
    assert_eq!(e.code, ErrorCode::QuotaExceeded);
    let ok = client(&sb, &sb.url(), &path);
    assert!(!ok.recognize_shopping_receipt(RECEIPT_PNG).unwrap().cached);
    assert_eq!(sb.stats().juhe_requests, 2);
}

#[test]
fn an_unusable_cache_path_is_a_config_error() {
    let sb = Sandbox::start().unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["cache"] = serde_json::json!({"path": "/nonexistent-dir/cache.sqlite"});
    let e = Client::new(Config::from_value(c).unwrap()).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
}

/// The writer the kill test starts as a process of its own.
#[test]
#[ignore = "run by a_writer_killed_mid_batch_leaves_only_whole_entries"]
fn cache_writer() {
    let Ok(path) = std::env::var("PIAOJU_TEST_CACHE_WRITER") else {
        return;
    };
    let store = SqliteStore::open(&path).unwrap();
    for i in 0..1_000_000u64 {
        let body = format!(r#"{{"i":{i},"pad":"{}","end":{i}}}"#, "x".repeat(20_000));
        store
            .put(&format!("k{i}"), body.as_bytes(), Duration::from_secs(5))
            .unwrap();
    }
}

#[test]
fn a_writer_killed_mid_batch_leaves_only_whole_entries() {
    let path = temp_path("kill");
    SqliteStore::open(&path).unwrap();
    let mut writer = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "cache_writer", "--nocapture"])
        .env("PIAOJU_TEST_CACHE_WRITER", &path)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    writer.kill().unwrap(); // SIGKILL
    writer.wait().unwrap();
    let store = SqliteStore::open(&path).unwrap();
    let mut whole = 0;
    while let Some(body) = store.get(&format!("k{whole}"), WAIT).unwrap() {
        let v: serde_json::Value = serde_json::from_slice(&body).expect("a whole entry");
        assert_eq!(v["i"], whole);
        assert_eq!(v["end"], whole);
        assert_eq!(v["pad"].as_str().unwrap().len(), 20_000);
        whole += 1;
    }
    assert!(whole > 10, "the writer wrote for 0.8 s: {whole} entries");
    // Nothing after the first missing entry: no entry half there.
    for i in whole..whole + 100 {
        assert_eq!(store.get(&format!("k{i}"), WAIT).unwrap(), None);
    }
}

/// One of the processes of `many_processes_opening_one_new_cache_at_once_all_open_it`: waits
/// for the common start time, opens the cache, writes and reads one entry.
#[test]
#[ignore = "run by many_processes_opening_one_new_cache_at_once_all_open_it"]
fn cache_opener() {
    let Ok(path) = std::env::var("PIAOJU_TEST_CACHE_OPENER") else {
        return;
    };
    let start: u128 = std::env::var("PIAOJU_TEST_START_AT")
        .unwrap()
        .parse()
        .unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    while now() < start {
        std::thread::sleep(Duration::from_millis(1));
    }
    let store = match SqliteStore::open(&path) {
        Ok(s) => s,
        Err(e) => {
            println!("OPEN-FAILED {e}");
            std::process::exit(3);
        }
    };
    let key = format!("k{}", std::process::id());
    store.put(&key, b"{}", Duration::from_secs(10)).unwrap();
    assert_eq!(store.get(&key, WAIT).unwrap().as_deref(), Some(&b"{}"[..]));
}

#[test]
fn many_processes_opening_one_new_cache_at_once_all_open_it() {
    // As Dask or Ray workers starting together do: 32 processes open one cache file that does
    // not exist yet, at the same moment; 4 rounds.
    for round in 0..4 {
        let path = temp_path(&format!("open-{round}"));
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 1500;
        let children: Vec<_> = (0..32)
            .map(|_| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args(["--ignored", "--exact", "cache_opener", "--nocapture"])
                    .env("PIAOJU_TEST_CACHE_OPENER", &path)
                    .env("PIAOJU_TEST_START_AT", start.to_string())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let c = rusqlite::Connection::open(&path).unwrap();
        let entries: i64 = c
            .query_row("SELECT count(*) FROM answers", [], |r| r.get(0))
            .unwrap();
        assert_eq!(entries, 32, "round {round}: every process wrote its entry");
    }
}
