//! No secret in any message (tests/secret_cases.tsv, also run by the C, Python and CLI suites):
//! configuration errors, transport errors, token answers and provider refusals with sentinel
//! secrets; neither the error (Display, Debug, JSON), the client's Debug nor any log record
//! (target `piaoju`, every level) of the call holds "SENTINEL". And calls that succeed with
//! sentinel credentials, through retries, the cache, token fetches and refreshes and the image
//! decisions, log each of those without a secret.

use std::cell::RefCell;
use std::time::Duration;

use piaoju::{Client, Config, DocumentType, Error, LOG_TARGET};
use piaoju_sandbox::{Sandbox, SandboxConfig};

const CASES: &str = include_str!("../../tests/secret_cases.tsv");
const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");
const INVOICE_PNG: &[u8] = include_bytes!("../../tests/fixtures/invoice.png");

fn assert_clean(case: &str, shown: &str) {
    assert!(!shown.contains("SENTINEL"), "{case}: {shown}");
}

thread_local! {
    /// The records written on this thread while it captures (a call logs on its own thread).
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Keeps every record of piaoju's target, at every level, for the thread that captures.
struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with(LOG_TARGET)
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format!("{} {}: {}", record.level(), record.target(), record.args());
            CAPTURED.with(|c| {
                if let Some(lines) = c.borrow_mut().as_mut() {
                    lines.push(line);
                }
            });
        }
    }

    fn flush(&self) {}
}

/// The records `f` writes on this thread, with its outcome.
fn logged<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    static LOGGER: Capture = Capture;
    // Another test of this binary may have installed it already.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Trace);
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let out = f();
    let lines = CAPTURED.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (out, lines)
}

fn run(config: &str, operation: DocumentType) -> (Error, String) {
    let config = match Config::from_json(config) {
        Ok(c) => c,
        Err(e) => return (e, String::new()),
    };
    let client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => return (e, String::new()),
    };
    let image = match operation {
        DocumentType::ShoppingReceipt => RECEIPT_PNG,
        _ => INVOICE_PNG,
    };
    let e = client.recognize(operation, image).unwrap_err();
    (e, format!("{client:?} {:?}", client.config()))
}

#[test]
fn no_error_path_shows_a_secret() {
    let sb = Sandbox::start().unwrap();
    let (mut n, mut records) = (0, 0);
    for line in CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let [name, operation, config, expected] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("bad case line {line:?}");
        };
        let operation: DocumentType = serde_json::from_value(operation.into()).unwrap();
        let ((e, client_debug), log) =
            logged(|| run(&config.replace("{url}", &sb.url()), operation));
        assert_eq!(e.name(), expected, "{name}: {e}");
        for shown in [e.to_string(), format!("{e:?}"), e.to_json(), client_debug] {
            assert_clean(name, &shown);
        }
        for line in &log {
            assert_clean(name, line);
        }
        records += log.len();
        n += 1;
    }
    assert_eq!(n, 12);
    // The cases that reach a provider log (token fetches, refusals): the capture works.
    assert!(records >= 5, "{records} records");
}

#[test]
fn the_log_of_calls_with_secrets_shows_none() {
    let sb = Sandbox::start_with(SandboxConfig {
        juhe_key: "SENTINEL-JUHE-KEY".into(),
        chinaums_app_key: "SENTINEL-APP-KEY".into(),
        ..SandboxConfig::default()
    })
    .unwrap();
    let dir = std::env::temp_dir().join(format!("piaoju-secrets-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = sb.url();
    // A password in the URLs (never shown: the token fetch logs its URL redacted).
    let juhe_url = url.replace("http://", "http://user:SENTINEL-URL-PASS@");
    let client = Client::new(
        Config::builder()
            .juhe_key("SENTINEL-JUHE-KEY")
            // The sandbox's fixed sequence at 0.8: two requests refused with HTTP 503 (retried),
            // then one answered.
            .juhe_base_url(format!("{juhe_url}/fault/flaky=0.8"))
            .chinaums_app_id("sandbox-app-id")
            .chinaums_app_key("SENTINEL-APP-KEY")
            // The first token presented is refused: fetched again.
            .chinaums_base_url(format!("{url}/fault/reject-token"))
            .chinaums_token_url(format!("{juhe_url}/v1/token/access"))
            .retry({
                let mut r = piaoju::RetryConfig::default();
                r.max_attempts = 10;
                r.base_delay_ms = 1;
                r.max_delay_ms = 5;
                r
            })
            .max_qps(50.0)
            .timeout(Duration::from_secs(20))
            .cache(dir.join("cache.sqlite").to_str().unwrap())
            .build()
            .unwrap(),
    )
    .unwrap();
    let (outcomes, log) = logged(|| {
        let mut outcomes = Vec::new();
        for _ in 0..2 {
            outcomes.push(client.recognize_shopping_receipt(RECEIPT_PNG).map(drop));
            outcomes.push(client.recognize_used_car_invoice(INVOICE_PNG).map(drop));
        }
        outcomes
    });
    for o in outcomes {
        o.unwrap();
    }
    for line in &log {
        assert_clean("log of calls that succeed", line);
    }
    let has = |words: &[&str]| {
        assert!(
            log.iter().any(|l| words.iter().all(|w| l.contains(w))),
            "no record with {words:?} in {log:#?}"
        )
    };
    has(&["INFO", "Juhe", "retrying in"]);
    has(&[
        "Juhe shopping_receipt",
        "no answer to take from the cache",
        "sending",
    ]);
    has(&["Juhe shopping_receipt", "answered from the cache"]);
    has(&["ChinaUMS used_car_invoice", "answered from the cache"]);
    has(&["ChinaUMS: fetching an access token"]);
    has(&["ChinaUMS: access token fetched"]);
    has(&["ChinaUMS refused the access token (HTTP 401): fetching a new one"]);
    has(&[
        "Juhe: the image (png",
        "within the provider's limits: sent as given",
    ]);
    has(&["http://<redacted>@127.0.0.1"]);
    let _ = std::fs::remove_dir_all(&dir);
}
