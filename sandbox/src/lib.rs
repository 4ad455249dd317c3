//! piaoju-sandbox: a local server that speaks both providers' protocols, strictly, for offline
//! development and for every test suite.
//!
//! - Juhe shopping receipt OCR: form decoding, key check, base64 and image limits.
//! - ChinaUMS access tokens: signature check, expiring tokens (TTL configurable).
//! - ChinaUMS used-car invoice OCR: both Authorization schemes, body checks.
//!
//! Answers are the examples of the specification documents, unless an answer was registered for
//! the image. Faults are chosen per request by a path prefix, `/fault/<list>/`, so that one
//! sandbox serves clients with different faults at once (see [`Fault`]), or for every request
//! with [`Sandbox::set_faults`].

mod http;
mod oracle;
mod providers;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// `yyyyMMddHHmmss` in Beijing time, by the sandbox's own clock (for tests that sign requests).
pub fn beijing_timestamp(t: std::time::SystemTime) -> String {
    oracle::beijing_stamp(t)
}

/// The Juhe answer printed in the specification document.
pub const JUHE_EXAMPLE_ANSWER: &str = include_str!("../../tests/fixtures/juhe_receipt_answer.json");
/// The ChinaUMS answer printed in the specification document (the bare form).
pub const CHINAUMS_EXAMPLE_ANSWER: &str =
    include_str!("../../tests/fixtures/chinaums_invoice_answer.json");

/// One fault, as written in a fault list (`delay=200,http500`).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `delay=MS`: wait before answering.
    Delay(Duration),
    /// `token-delay=MS`: the token endpoint waits before answering (other endpoints do not).
    TokenDelay(Duration),
    /// `http500`, `http502`, `http503`: that status with an HTML body.
    HttpError(u16),
    /// `malformed`: HTTP 200 with a body that is not JSON.
    Malformed,
    /// `truncated`: announce a longer body than is sent, then close.
    Truncated,
    /// `close`: close the connection without answering.
    Close,
    /// `juhe=CODE`: Juhe answers that `error_code`.
    JuheError(i64),
    /// `answer=CODE`: ChinaUMS answers that answer code (page-level `ErrorCode`).
    ChinaumsAnswer(i64),
    /// `token=ERRCODE`: the token endpoint refuses with that `errCode`.
    TokenError(String),
    /// `wrapped`: ChinaUMS answers in the `{errCode, errMsg, result}` envelope.
    Wrapped,
    /// `reject-token`: the first OCR request presenting a valid access token gets HTTP 401
    /// (once per sandbox), as if the token had been revoked early.
    RejectTokenOnce,
    /// `reject-tokens`: every OCR request presenting an access token gets HTTP 401.
    RejectAllTokens,
    /// `drip=MS`: the answer's body arrives one byte every MS milliseconds.
    Drip(Duration),
    /// `endless-headers`: the status line, then a header line every 10 ms, for a minute.
    EndlessHeaders,
    /// `bad-chunk`: a chunked body whose chunk size is not hexadecimal.
    BadChunk,
    /// `gzip-bomb`: `Content-Encoding: gzip`, 20 MiB of zeros compressed into a few KiB.
    GzipBomb,
    /// `redirect`: HTTP 302 to another host.
    Redirect,
    /// `huge`: a 100 MiB body.
    Huge,
    /// `reset`: part of the body, then a TCP reset.
    Reset,
    /// `flaky=P`: a share P (0 to 1) of the OCR requests is refused with HTTP 503 (deterministic:
    /// the same sequence in every run).
    Flaky(f64),
    /// `rate_limit=N`: beyond N OCR requests in one second, Juhe answers 10011 and ChinaUMS HTTP
    /// 429, both with `Retry-After: 1`.
    RateLimit(u32),
    /// `after_send=reset`: the whole request is read and processed (it counts in the stats and
    /// the per-image counters, as a provider would bill it), then the connection is reset
    /// instead of answering.
    AfterSendReset,
    /// `ocr-variants`: the example answers as real OCR prints them: the receipt's total as
    /// `12,50` and its first unit price as `单价:4.5O`; the invoice's amount in words as
    /// `⊗人民币：壹萬圓整（小写）¥10000.00`.
    OcrVariants,
    /// `token-leak=KIND`: the token endpoint answers a body holding the access token
    /// [`LEAK_TOKEN`] but not a success: `no-errcode`, `null-errcode`, `not-json` or `http500`.
    TokenLeak(String),
}

/// Parse a fault list such as `delay=200,http500`.
pub fn parse_faults(list: &str) -> Result<Vec<Fault>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (name, arg) = match item.split_once('=') {
                Some((n, a)) => (n, Some(a)),
                None => (item, None),
            };
            let num = |a: Option<&str>| -> Result<i64, String> {
                a.and_then(|a| a.parse().ok())
                    .ok_or_else(|| format!("fault {item:?} needs a number"))
            };
            Ok(match name {
                "delay" | "token-delay" => {
                    let d = Duration::from_millis(
                        u64::try_from(num(arg)?)
                            .map_err(|_| format!("bad delay in {item:?}"))?
                            .min(60_000),
                    );
                    if name == "delay" {
                        Fault::Delay(d)
                    } else {
                        Fault::TokenDelay(d)
                    }
                }
                "http500" => Fault::HttpError(500),
                "http502" => Fault::HttpError(502),
                "http503" => Fault::HttpError(503),
                "malformed" => Fault::Malformed,
                "truncated" => Fault::Truncated,
                "close" => Fault::Close,
                "juhe" => Fault::JuheError(num(arg)?),
                "answer" => Fault::ChinaumsAnswer(num(arg)?),
                "token" => Fault::TokenError(
                    arg.filter(|a| !a.is_empty())
                        .ok_or_else(|| format!("fault {item:?} needs an errCode"))?
                        .to_string(),
                ),
                "wrapped" => Fault::Wrapped,
                "reject-token" => Fault::RejectTokenOnce,
                "reject-tokens" => Fault::RejectAllTokens,
                "drip" => Fault::Drip(Duration::from_millis(
                    u64::try_from(num(arg)?)
                        .map_err(|_| format!("bad delay in {item:?}"))?
                        .clamp(1, 10_000),
                )),
                "endless-headers" => Fault::EndlessHeaders,
                "bad-chunk" => Fault::BadChunk,
                "gzip-bomb" => Fault::GzipBomb,
                "redirect" => Fault::Redirect,
                "huge" => Fault::Huge,
                "reset" => Fault::Reset,
                "ocr-variants" => Fault::OcrVariants,
                "flaky" => Fault::Flaky(
                    arg.and_then(|a| a.parse::<f64>().ok())
                        .filter(|p| (0.0..=1.0).contains(p))
                        .ok_or_else(|| format!("fault {item:?} needs a share from 0 to 1"))?,
                ),
                "rate_limit" => Fault::RateLimit(
                    u32::try_from(num(arg)?)
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("fault {item:?} needs a positive count"))?,
                ),
                "after_send" if arg == Some("reset") => Fault::AfterSendReset,
                "token-leak" => match arg {
                    Some(k @ ("no-errcode" | "null-errcode" | "not-json" | "http500")) => {
                        Fault::TokenLeak(k.to_string())
                    }
                    _ => {
                        return Err(format!(
                            "fault {item:?} needs no-errcode, null-errcode, not-json or http500"
                        ))
                    }
                },
                _ => return Err(format!("unknown fault {item:?}")),
            })
        })
        .collect()
}

/// The longest token lifetime a sandbox accepts (about 31 700 years).
pub const MAX_TOKEN_TTL_SECS: f64 = 1e12;

/// A token lifetime from seconds: positive, finite and at most [`MAX_TOKEN_TTL_SECS`].
pub fn token_ttl_from_secs(secs: f64) -> Result<Duration, String> {
    if !(secs.is_finite() && secs > 0.0 && secs <= MAX_TOKEN_TTL_SECS) {
        return Err(format!(
            "token_ttl must be a positive number of seconds, at most {MAX_TOKEN_TTL_SECS:e}, got {secs}"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The access token of the `token-leak` answers: no message of the client may quote it.
pub const LEAK_TOKEN: &str = "SENTINEL-ACCESS-TOKEN-7f3a";

/// Credentials and behaviour of a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub juhe_key: String,
    pub chinaums_app_id: String,
    pub chinaums_app_key: String,
    /// Lifetime of issued access tokens.
    pub token_ttl: Duration,
    /// Address to listen on; port 0 lets the OS pick.
    pub addr: SocketAddr,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            juhe_key: "sandbox-juhe-key".into(),
            chinaums_app_id: "sandbox-app-id".into(),
            chinaums_app_key: "sandbox-app-key".into(),
            token_ttl: Duration::from_secs(3600),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

/// Counters of what the sandbox received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub juhe_requests: u64,
    pub ocr_requests: u64,
    pub tokens_issued: u64,
    /// Requests received by the token endpoint (issued or refused).
    pub token_requests: u64,
    pub auth_rejections: u64,
    /// The most requests that were being handled at the same time.
    pub max_in_flight: u64,
    /// TCP connections accepted.
    pub connections: u64,
}

pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub faults: Mutex<Vec<Fault>>,
    pub answers: Mutex<HashMap<[u8; 32], (u16, String)>>,
    pub tokens: Mutex<HashMap<String, TokenState>>,
    pub nonces: Mutex<std::collections::VecDeque<String>>,
    pub juhe_requests: AtomicU64,
    pub ocr_requests: AtomicU64,
    pub tokens_issued: AtomicU64,
    pub token_requests: AtomicU64,
    pub auth_rejections: AtomicU64,
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    pub connections: AtomicU64,
    pub flaky_sequence: AtomicU64,
    pub recent: Mutex<std::collections::VecDeque<Instant>>,
    /// Per image (SHA-256): OCR requests received, and those answered (not throttled).
    pub per_image: Mutex<HashMap<[u8; 32], (u64, u64)>>,
    /// When each OCR request arrived, since the sandbox started.
    pub arrivals: Mutex<Vec<Duration>>,
    pub started: Instant,
    pub stop: AtomicBool,
    pub rejected_once: AtomicBool,
}

impl Shared {
    pub fn stats(&self) -> Stats {
        let s = self;
        Stats {
            juhe_requests: s.juhe_requests.load(Ordering::SeqCst),
            ocr_requests: s.ocr_requests.load(Ordering::SeqCst),
            tokens_issued: s.tokens_issued.load(Ordering::SeqCst),
            token_requests: s.token_requests.load(Ordering::SeqCst),
            auth_rejections: s.auth_rejections.load(Ordering::SeqCst),
            max_in_flight: s.max_in_flight.load(Ordering::SeqCst),
            connections: s.connections.load(Ordering::SeqCst),
        }
    }
}

impl Shared {
    pub fn per_image_hex(&self) -> HashMap<String, (u64, u64)> {
        lock(&self.per_image)
            .iter()
            .map(|(k, v)| (k.iter().map(|b| format!("{b:02x}")).collect(), *v))
            .collect()
    }
}

pub(crate) struct TokenState {
    pub expires: Instant,
    pub revoked: bool,
}

pub(crate) fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// A running sandbox. Stops when dropped.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Start on 127.0.0.1 with a free port and the default credentials.
    pub fn start() -> io::Result<Sandbox> {
        Sandbox::start_with(SandboxConfig::default())
    }

    pub fn start_with(config: SandboxConfig) -> io::Result<Sandbox> {
        let listener = TcpListener::bind(config.addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            faults: Mutex::new(Vec::new()),
            answers: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            nonces: Mutex::new(Default::default()),
            juhe_requests: AtomicU64::new(0),
            ocr_requests: AtomicU64::new(0),
            tokens_issued: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            auth_rejections: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            flaky_sequence: AtomicU64::new(0),
            recent: Mutex::new(Default::default()),
            per_image: Mutex::new(HashMap::new()),
            arrivals: Mutex::new(Vec::new()),
            started: Instant::now(),
            stop: AtomicBool::new(false),
            rejected_once: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name("piaoju-sandbox".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = conn {
                        let s = Arc::clone(&s);
                        let _ = std::thread::Builder::new()
                            .name("piaoju-sandbox-conn".into())
                            .spawn(move || http::serve_connection(stream, &s));
                    }
                }
            })?;
        Ok(Sandbox {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A base URL whose requests get the given faults (`"delay=200,http500"`).
    pub fn fault_url(&self, faults: &str) -> String {
        format!("http://{}/fault/{faults}", self.addr)
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// A piaoju configuration JSON for this sandbox (both providers, access-token mode).
    pub fn client_config_json(&self) -> String {
        self.client_config_json_for(&self.url(), "access_token")
    }

    /// A configuration JSON for `base_url` (e.g. a [`Sandbox::fault_url`]) and an auth mode.
    pub fn client_config_json_for(&self, base_url: &str, auth: &str) -> String {
        self.client_config_for(base_url, auth).to_string()
    }

    /// The configuration for `base_url` and an auth mode, as a JSON value: both providers with
    /// this sandbox's credentials, default timeouts.
    pub fn client_config_for(&self, base_url: &str, auth: &str) -> serde_json::Value {
        let c = &self.shared.config;
        serde_json::json!({
            "juhe": {"key": c.juhe_key, "base_url": base_url},
            "chinaums": {"app_id": c.chinaums_app_id, "app_key": c.chinaums_app_key,
                         "base_url": base_url, "auth": auth},
        })
    }

    /// Answer `status` and `body` (verbatim) to every request carrying exactly this image.
    pub fn register_answer(&self, image: &[u8], status: u16, body: impl Into<String>) {
        lock(&self.shared.answers).insert(sha256(image), (status, body.into()));
    }

    /// Apply these faults to every request (in addition to any in the path).
    pub fn set_faults(&self, list: &str) -> Result<(), String> {
        *lock(&self.shared.faults) = parse_faults(list)?;
        Ok(())
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Invalidate every token issued so far (the next OCR call with one gets HTTP 401).
    pub fn revoke_tokens(&self) {
        for t in lock(&self.shared.tokens).values_mut() {
            t.revoked = true;
        }
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// For this image: OCR requests received, and those answered (not refused by a `flaky`
    /// or `rate_limit` fault), so tests can prove no image was processed twice.
    pub fn image_requests(&self, image: &[u8]) -> (u64, u64) {
        lock(&self.shared.per_image)
            .get(&sha256(image))
            .copied()
            .unwrap_or((0, 0))
    }

    /// Every image seen, by the hex SHA-256 of its bytes: (OCR requests received, answered).
    pub fn per_image(&self) -> HashMap<String, (u64, u64)> {
        self.shared.per_image_hex()
    }

    /// When each OCR request arrived, since the sandbox started.
    pub fn arrivals(&self) -> Vec<Duration> {
        lock(&self.shared.arrivals).clone()
    }

    /// Stop accepting connections and wait for the acceptor to end.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_lists() {
        assert_eq!(
            parse_faults("delay=200, http500,juhe=42,answer=3,token=1000,wrapped").unwrap(),
            vec![
                Fault::Delay(Duration::from_millis(200)),
                Fault::HttpError(500),
                Fault::JuheError(42),
                Fault::ChinaumsAnswer(3),
                Fault::TokenError("1000".into()),
                Fault::Wrapped,
            ]
        );
        assert!(parse_faults("explode").is_err());
        assert!(parse_faults("delay=soon").is_err());
        assert!(parse_faults("token=").is_err());
        assert_eq!(parse_faults("").unwrap(), vec![]);
    }
}
