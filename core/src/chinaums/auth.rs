//! ChinaUMS authentication: access tokens (`OPEN-ACCESS-TOKEN`) and body signatures
//! (`OPEN-BODY-SIG`).

use std::fmt;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::calendar::BeijingTime;
use crate::deadline::Deadline;
use crate::error::{Error, ErrorCode, Provider, Result};
use crate::http::Http;
use crate::wire::{self, json_body, HttpAnswer};
use crate::LOG_TARGET;

/// Lifetime assumed when the token answer has no `expiresIn` (clients are seen using 3300 s).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3300);
/// A token is renewed this long before it expires (at most a tenth of its lifetime).
const TOKEN_RENEW_MARGIN: Duration = Duration::from_secs(200);
/// A token is never kept longer than this, whatever `expiresIn` says (a day).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(86_400);

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Lowercase hex SHA-256 of `appId + timestamp + nonce + appKey` (token request signature).
pub(crate) fn token_signature(app_id: &str, timestamp: &str, nonce: &str, app_key: &str) -> String {
    let mut h = Sha256::new();
    for part in [app_id, timestamp, nonce, app_key] {
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// Lowercase hex SHA-256 of a body read as a stream.
pub(crate) fn sha256_hex_of(mut body: impl std::io::Read) -> Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = body.read(&mut buf).map_err(|e| {
            Error::new(
                ErrorCode::Internal,
                format!("cannot read the request body: {e}"),
            )
        })?;
        if n == 0 {
            return Ok(hex(&h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// `base64(HMAC-SHA256(appKey, appId + timestamp + nonce + hex(SHA-256(body))))`, from the
/// body's hex SHA-256.
pub(crate) fn body_signature(
    app_id: &str,
    timestamp: &str,
    nonce: &str,
    app_key: &str,
    body_hash: &str,
) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_key.as_bytes()).expect("HMAC takes any key length");
    for part in [app_id, timestamp, nonce, body_hash] {
        mac.update(part.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `Authorization` header value for a body-signed request (`body_hash`: the body's hex
/// SHA-256).
pub(crate) fn body_signature_header(
    app_id: &str,
    app_key: &str,
    body_hash: &str,
) -> Result<String> {
    let ts = beijing_timestamp(SystemTime::now());
    let nonce = nonce()?;
    let sig = body_signature(app_id, &ts, &nonce, app_key, body_hash);
    Ok(format!(
        "OPEN-BODY-SIG AppId=\"{app_id}\", Timestamp=\"{ts}\", Nonce=\"{nonce}\", Signature=\"{sig}\""
    ))
}

/// `yyyyMMddHHmmss` in Beijing time (UTC+8), as the platform expects.
fn beijing_timestamp(t: SystemTime) -> String {
    BeijingTime::at(t).compact()
}

/// 32 random lowercase hex characters.
pub(crate) fn nonce() -> Result<String> {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::new(
            ErrorCode::Internal,
            format!("no randomness for a nonce: {e}"),
        )
    })?;
    Ok(hex(&buf))
}

/// An issued access token. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct AccessToken {
    pub value: String,
    pub renew_at: Instant,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"<redacted>")
            .field("renew_at", &self.renew_at)
            .finish()
    }
}

/// The client's token cache. One fetch at a time: a call that needs a token while another
/// call is fetching one waits for that fetch (never past its own deadline) and shares its
/// outcome, a token or the error.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    state: Mutex<TokenState>,
    fetched: Condvar,
}

#[derive(Debug, Default)]
struct TokenState {
    token: Option<AccessToken>,
    fetching: bool,
    /// Counts finished fetches.
    generation: u64,
    /// The error of the fetch that finished as `generation`, if it failed.
    failure: Option<(u64, Error)>,
}

/// Marks the fetch as finished even if the fetching code panics, so waiters are not stuck.
struct FetchGuard<'a> {
    cache: &'a TokenCache,
    outcome: Option<Result<AccessToken>>,
}

impl Drop for FetchGuard<'_> {
    fn drop(&mut self) {
        let mut s = self.cache.lock();
        s.fetching = false;
        s.generation += 1;
        match self.outcome.take() {
            Some(Ok(t)) => {
                s.token = Some(t);
                s.failure = None;
            }
            Some(Err(e)) => s.failure = Some((s.generation, e)),
            None => {
                let e = Error::new(ErrorCode::Internal, "the access-token fetch failed");
                s.failure = Some((s.generation, e));
            }
        }
        self.cache.fetched.notify_all();
    }
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, TokenState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A valid token. With `rejected`, that token is known bad: a new one is fetched unless
    /// another call has already replaced it.
    pub fn get(
        &self,
        rejected: Option<&str>,
        deadline: &Deadline,
        fetch: impl FnOnce() -> Result<AccessToken>,
    ) -> Result<String> {
        let mut s = self.lock();
        let arrived = s.generation;
        let mut said = false;
        loop {
            if let Some(t) = &s.token {
                if Instant::now() < t.renew_at && rejected != Some(t.value.as_str()) {
                    return Ok(t.value.clone());
                }
            }
            // A fetch that finished while this call waited failed: share its error.
            if let Some((g, e)) = &s.failure {
                if *g > arrived {
                    return Err(e.clone());
                }
            }
            if !s.fetching {
                break;
            }
            if !said {
                // Said once, and not under the lock (a host's logger may take its own lock).
                said = true;
                drop(s);
                log::debug!(
                    target: LOG_TARGET,
                    "ChinaUMS: waiting for the access token another call is fetching"
                );
                s = self.lock();
                continue;
            }
            let left = deadline.remaining(
                Provider::Chinaums,
                "waiting for an access token another call is fetching",
            )?;
            s = self
                .fetched
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        s.token = None;
        s.fetching = true;
        drop(s);
        let mut guard = FetchGuard {
            cache: self,
            outcome: None,
        };
        let outcome = fetch();
        let result = outcome
            .as_ref()
            .map(|t| t.value.clone())
            .map_err(Error::clone);
        guard.outcome = Some(outcome);
        drop(guard);
        result
    }
}

/// Request a token from the token endpoint.
pub(crate) fn fetch_token(
    http: &Http,
    deadline: &Deadline,
    url: &str,
    app_id: &str,
    app_key: &str,
) -> Result<AccessToken> {
    let timestamp = beijing_timestamp(SystemTime::now());
    let nonce = nonce()?;
    let signature = token_signature(app_id, &timestamp, &nonce, app_key);
    let body = serde_json::json!({
        "appId": app_id,
        "timestamp": timestamp,
        "nonce": nonce,
        "signMethod": "SHA256",
        "signature": signature,
    })
    .to_string();
    let requested_at = Instant::now();
    let shown_url = crate::config::redact_url(url);
    log::debug!(target: LOG_TARGET, "ChinaUMS: fetching an access token from {shown_url}");
    let token = http
        .post(
            deadline,
            Provider::Chinaums,
            url,
            "application/json",
            None,
            body.as_bytes(),
        )
        .and_then(|answer| parse_token_answer(&answer, requested_at));
    match &token {
        Ok(t) => log::info!(
            target: LOG_TARGET,
            "ChinaUMS: access token fetched from {shown_url}; renewed in {} s",
            t.renew_at.saturating_duration_since(Instant::now()).as_secs()
        ),
        Err(e) => log::debug!(
            target: LOG_TARGET,
            "ChinaUMS: no access token from {shown_url}: {e}"
        ),
    }
    token
}

/// Read a token answer. Its body is never quoted in an error: it may hold a token.
pub(crate) fn parse_token_answer(
    answer: &HttpAnswer,
    requested_at: Instant,
) -> Result<AccessToken> {
    let status = answer.status;
    let v = json_body(Provider::Chinaums, answer, false)?;
    let err = |code: ErrorCode, msg: String| {
        Error::new(code, msg)
            .with_provider(Provider::Chinaums)
            .with_http_status(status)
    };
    let text = |name: &str| wire::text(v.get(name));
    let Some(code) = text("errCode") else {
        let code = match status {
            500..=599 => ErrorCode::ServiceHttpError,
            _ => ErrorCode::UnexpectedResponse,
        };
        return Err(err(
            code,
            format!("ChinaUMS token answer (HTTP {status}) has no errCode"),
        ));
    };
    let info = wire::clip(
        text("errInfo")
            .or_else(|| text("errMsg"))
            .unwrap_or_default(),
    );
    if code != "0000" {
        return Err(err(
            ErrorCode::TokenRequestRejected,
            format!("ChinaUMS refused to issue an access token: {code} {info}"),
        )
        .with_provider_answer(code, info));
    }
    let token = text("accessToken")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            err(
                ErrorCode::UnexpectedResponse,
                "ChinaUMS token answer reports success but has no accessToken".to_string(),
            )
        })?;
    if token.contains(|c: char| c.is_control() || c == '"') {
        return Err(err(
            ErrorCode::UnexpectedResponse,
            "ChinaUMS token answer holds an accessToken with characters a header cannot carry"
                .to_string(),
        ));
    }
    let lifetime = match v.get("expiresIn") {
        Some(Value::Number(n)) => n.as_u64().map(Duration::from_secs),
        Some(Value::String(s)) => s.trim().parse().ok().map(Duration::from_secs),
        _ => None,
    }
    .unwrap_or(DEFAULT_TOKEN_LIFETIME)
    .min(MAX_TOKEN_LIFETIME);
    let margin = TOKEN_RENEW_MARGIN.min(lifetime / 10);
    Ok(AccessToken {
        value: token,
        // Bounded above, so the addition cannot overflow an Instant.
        renew_at: requested_at + (lifetime - margin),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    // Expected values computed independently with Python's hashlib/hmac:
    //   hashlib.sha256(b"app1" b"20250522101530" b"0123456789abcdef0123456789abcdef" b"key1").hexdigest()
    //   base64.b64encode(hmac.new(b"key1", b"app1" + b"20250522101530" + b"0123456789abcdef0123456789abcdef"
    //       + hashlib.sha256(b'{"picBase64":"AAAA"}').hexdigest().encode(), hashlib.sha256).digest())
    #[test]
    fn token_signature_matches_independent_implementation() {
        assert_eq!(
            token_signature(
                "app1",
                "20250522101530",
                "0123456789abcdef0123456789abcdef",
                "key1"
            ),
            include_str!("../../../tests/fixtures/signature_vectors.txt")
                .lines()
                .next()
                .unwrap()
        );
    }

    #[test]
    fn body_signature_matches_independent_implementation() {
        assert_eq!(
            body_signature(
                "app1",
                "20250522101530",
                "0123456789abcdef0123456789abcdef",
                "key1",
                &sha256_hex_of(&br#"{"picBase64":"AAAA"}"#[..]).unwrap()
            ),
            include_str!("../../../tests/fixtures/signature_vectors.txt")
                .lines()
                .nth(1)
                .unwrap()
        );
    }

    #[test]
    fn timestamps_are_beijing_time() {
        // 2025-05-22T02:15:30Z is 10:15:30 in Beijing.
        let t = UNIX_EPOCH + Duration::from_secs(1_747_880_130);
        assert_eq!(beijing_timestamp(t), "20250522101530");
        // 2024-12-31T16:00:00Z is already 2025 in Beijing.
        let t = UNIX_EPOCH + Duration::from_secs(1_735_660_800);
        assert_eq!(beijing_timestamp(t), "20250101000000");
    }

    #[test]
    fn nonces_are_32_hex_and_differ() {
        let (a, b) = (nonce().unwrap(), nonce().unwrap());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_answers() {
        let at = Instant::now();
        let ok = |body: &str| HttpAnswer {
            status: 200,
            body: body.as_bytes().to_vec(),
            retry_after: None,
        };
        let t = parse_token_answer(
            &ok(r#"{"errCode":"0000","errInfo":"成功","accessToken":"tok","expiresIn":3600}"#),
            at,
        )
        .unwrap();
        assert_eq!(t.value, "tok");
        assert_eq!(t.renew_at, at + Duration::from_secs(3400));
        let t = parse_token_answer(
            &ok(r#"{"errCode":"0000","accessToken":"tok","expiresIn":10}"#),
            at,
        )
        .unwrap();
        assert_eq!(t.renew_at, at + Duration::from_secs(9));
        assert!(!format!("{t:?}").contains("tok\""));
        let e =
            parse_token_answer(&ok(r#"{"errCode":"1000","errInfo":"签名错误"}"#), at).unwrap_err();
        assert_eq!(e.code, ErrorCode::TokenRequestRejected);
        assert_eq!(e.provider_code.as_deref(), Some("1000"));
        assert_eq!(e.provider_message.as_deref(), Some("签名错误"));
        // Lifetimes far beyond a day (up to u64::MAX seconds) are capped, never an overflow.
        for huge in ["18446744073709551615", "\"9300000000000000000\"", "1e300"] {
            let body = format!(r#"{{"errCode":"0000","accessToken":"tok","expiresIn":{huge}}}"#);
            let t = parse_token_answer(&ok(&body), at).unwrap();
            assert!(t.renew_at <= at + MAX_TOKEN_LIFETIME, "{huge}");
        }
        // A token a header cannot carry is the service's fault, not a configuration error.
        let e = parse_token_answer(&ok(r#"{"errCode":"0000","accessToken":"a\r\nb"}"#), at)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::UnexpectedResponse);
        // A token answer is never quoted: it may hold a token.
        for body in [
            r#"{"accessToken":"SECRET-TOKEN"}"#,
            r#"{"errCode":null,"accessToken":"SECRET-TOKEN"}"#,
            "SECRET-TOKEN not json",
        ] {
            let e = parse_token_answer(&ok(body), at).unwrap_err();
            assert!(!e.message.contains("SECRET-TOKEN"), "{}", e.message);
            assert!(!e.to_json().contains("SECRET-TOKEN"));
        }
        let e = parse_token_answer(&ok(r#"{"errCode":"0000"}"#), at).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnexpectedResponse);
        let e = parse_token_answer(&ok("nope"), at).unwrap_err();
        assert_eq!(e.code, ErrorCode::MalformedResponse);
    }

    fn soon() -> Deadline {
        Deadline::after(Duration::from_secs(5))
    }

    #[test]
    fn cache_refreshes_once_for_a_rejected_token() {
        let cache = TokenCache::default();
        let far = Instant::now() + Duration::from_secs(100);
        let mk = |v: &'static str| {
            move || {
                Ok(AccessToken {
                    value: v.to_string(),
                    renew_at: far,
                })
            }
        };
        assert_eq!(cache.get(None, &soon(), mk("a")).unwrap(), "a");
        assert_eq!(cache.get(None, &soon(), mk("b")).unwrap(), "a");
        // "a" rejected: refresh.
        assert_eq!(cache.get(Some("a"), &soon(), mk("b")).unwrap(), "b");
        // A late thread reporting "a" again gets "b" without another refresh.
        assert_eq!(cache.get(Some("a"), &soon(), mk("c")).unwrap(), "b");
        // Expired: refresh.
        let cache = TokenCache::default();
        let past = Instant::now();
        cache
            .get(None, &soon(), || {
                Ok(AccessToken {
                    value: "old".into(),
                    renew_at: past,
                })
            })
            .unwrap();
        assert_eq!(cache.get(None, &soon(), mk("new")).unwrap(), "new");
    }

    /// While one call fetches, the others wait for it and share its outcome; a failed fetch
    /// fails every waiter at once instead of one fetch after another.
    #[test]
    fn waiters_share_a_fetch_and_its_failure() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        for fail in [false, true] {
            let cache = Arc::new(TokenCache::default());
            let fetches = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
                    std::thread::spawn(move || {
                        cache.get(None, &soon(), || {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(200));
                            if fail {
                                Err(Error::new(ErrorCode::TokenRequestRejected, "no"))
                            } else {
                                Ok(AccessToken {
                                    value: "shared".into(),
                                    renew_at: Instant::now() + Duration::from_secs(60),
                                })
                            }
                        })
                    })
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            // All 8 started within the first fetch's 200 ms, so one fetch served them all.
            assert_eq!(fetches.load(Ordering::SeqCst), 1, "fail={fail}");
            for r in results {
                match fail {
                    false => assert_eq!(r.unwrap(), "shared"),
                    true => assert_eq!(r.unwrap_err().code, ErrorCode::TokenRequestRejected),
                }
            }
        }
    }

    #[test]
    fn a_waiter_gives_up_at_its_own_deadline() {
        use std::sync::Arc;
        let cache = Arc::new(TokenCache::default());
        let fetcher = {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                cache.get(None, &soon(), || {
                    std::thread::sleep(Duration::from_millis(1500));
                    Err(Error::new(ErrorCode::Timeout, "slow"))
                })
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let e = cache
            .get(None, &Deadline::after(Duration::from_millis(200)), || {
                unreachable!("a fetch is in progress")
            })
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Timeout);
        // Generous bound: 200 ms + 30 %, plus scheduling.
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{:?}",
            started.elapsed()
        );
        fetcher.join().unwrap().unwrap_err();
    }

    #[test]
    fn a_panicking_fetch_releases_the_waiters() {
        let cache = TokenCache::default();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get(None, &soon(), || panic!("boom"))
        }));
        assert!(r.is_err());
        // The next call fetches again instead of waiting for a fetch that never ends.
        let t = cache.get(None, &soon(), || {
            Ok(AccessToken {
                value: "after".into(),
                renew_at: Instant::now() + Duration::from_secs(60),
            })
        });
        assert_eq!(t.unwrap(), "after");
    }
}
