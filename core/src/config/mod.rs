//! Configuration: one JSON shape shared by Rust, C, Python and the environment variables, and
//! the one rule for where a configuration comes from ([`Config::resolve`]).
//!
//! A configuration is either given or read from the environment, never a mix of both: a JSON
//! object is the whole configuration (`{}` is empty, and the environment is not read); no
//! configuration at all (C `NULL`, an absent `config` in a one-shot request, Python
//! `Client.from_env()`, Rust [`Config::from_env`]) reads the `PIAOJU_*` variables. Anything
//! else (`null`, `""`, an array) is an `invalid_config` error. Every value is checked here,
//! before any client exists.

mod builder;
mod env;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::fit::ImageFit;
use crate::retry::{RetryConfig, MAX_ATTEMPTS};
use crate::text::strip_bom;

pub use builder::ConfigBuilder;

/// The default of `timeout_ms`: 15 s for a whole call.
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
/// The default of `connect_timeout_ms`: 5 s for one connection.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;
/// The longest timeout accepted (one day): larger values are configuration mistakes.
pub const MAX_TIMEOUT_MS: u64 = 86_400_000;
/// The `max_qps` values accepted: one request in 1000 s up to 10 000 a second.
pub const MAX_QPS_RANGE: std::ops::RangeInclusive<f64> = 0.001..=10_000.0;

/// Top-level configuration. Unknown keys and values of the wrong type are errors.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// Juhe (shopping receipts): its key and endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub juhe: Option<JuheConfig>,
    /// ChinaUMS (used-car invoices): its credentials, environment, endpoints and authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chinaums: Option<ChinaumsConfig>,
    /// The deadline of one whole call (token fetch, retries, every request and its answer),
    /// in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Deadline for establishing a connection, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    /// HTTP(S) proxy URL (`http://host:port`, `http://user:password@host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The `User-Agent` header (default `piaoju/VERSION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Which certificate authorities HTTPS trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Whether over-limit images are fitted to the provider's limits (default `"auto"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_fit: Option<ImageFit>,
    /// Automatic retries of requests the provider cannot have processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConfig>,
    /// At most this many requests a second to each provider, from all threads using the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_qps: Option<f64>,
    /// At most this many requests at once to each provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// Keep successful answers, so the same image is never paid for twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheConfig>,
    /// Every JSON text the C library returns for this configuration (results, errors,
    /// `pj_call`'s answers) is pure ASCII, other characters as `\uXXXX` escapes: it survives a
    /// host's code-page conversion. The same values once parsed. Default `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ascii_json: bool,
}

/// The result cache (`cache` in the configuration).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CacheConfig {
    /// The SQLite file (created if missing; shared safely by processes and threads).
    pub path: String,
}

impl CacheConfig {
    /// A cache in this SQLite file.
    pub fn at(path: impl Into<String>) -> CacheConfig {
        CacheConfig { path: path.into() }
    }
}

/// Juhe's part of the configuration (`juhe`).
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct JuheConfig {
    /// The API key (a secret: never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where the API is (default `https://apis.juhe.cn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

/// ChinaUMS's environment: which hosts serve it.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Environment {
    /// The test hosts (the default).
    #[default]
    Test,
    /// The production hosts.
    Production,
}

/// How requests to ChinaUMS are authenticated.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMode {
    /// An access token, fetched with the app key and kept until it is due for renewal.
    #[default]
    AccessToken,
    /// A signature of each request's body with the app key.
    BodySignature,
}

/// ChinaUMS's part of the configuration (`chinaums`).
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChinaumsConfig {
    /// The application's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// The application's key (a secret: never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_key: Option<String>,
    /// Test or production hosts.
    #[serde(default)]
    pub environment: Environment,
    /// Replaces the environment's hosts (OCR and token endpoints alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The token endpoint's whole URL, when it is not under `base_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// Access token (the default) or body signature.
    #[serde(default)]
    pub auth: AuthMode,
    /// A limit on the base64 text of an image (ChinaUMS publishes none); with `image_fit`
    /// `"auto"`, larger images are fitted to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_base64_bytes: Option<u64>,
    /// A limit on an image's longest side, in pixels (ChinaUMS publishes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_side: Option<u32>,
}

/// The root certificates HTTPS trusts.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TlsRoots {
    /// Mozilla's root certificates, compiled into piaoju.
    #[default]
    Bundled,
    /// The operating system's CA bundle (`SSL_CERT_FILE`, else the usual file of the system).
    System,
}

/// Which certificate authorities HTTPS trusts (`tls`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// A PEM file of CA certificates to trust (a company proxy's CA): with `roots` `"system"`
    /// in addition to the system's; otherwise instead of the bundled roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// The root certificates: bundled (the default) or the system's.
    #[serde(default)]
    pub roots: TlsRoots,
}

fn redact(s: &Option<String>) -> &'static str {
    if s.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

fn redact_opt_url(u: &Option<String>) -> Option<String> {
    u.as_deref().map(redact_url)
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("juhe", &self.juhe)
            .field("chinaums", &self.chinaums)
            .field("timeout_ms", &self.timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("proxy", &redact_opt_url(&self.proxy))
            .field("user_agent", &self.user_agent)
            .field("tls", &self.tls)
            .field("image_fit", &self.image_fit)
            .field("retry", &self.retry)
            .field("max_qps", &self.max_qps)
            .field("max_in_flight", &self.max_in_flight)
            .field("cache", &self.cache)
            .field("ascii_json", &self.ascii_json)
            .finish()
    }
}

impl fmt::Debug for JuheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JuheConfig")
            .field("key", &format_args!("{}", redact(&self.key)))
            .field("base_url", &redact_opt_url(&self.base_url))
            .finish()
    }
}

impl fmt::Debug for ChinaumsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChinaumsConfig")
            .field("app_id", &self.app_id)
            .field("app_key", &format_args!("{}", redact(&self.app_key)))
            .field("environment", &self.environment)
            .field("base_url", &redact_opt_url(&self.base_url))
            .field("token_url", &redact_opt_url(&self.token_url))
            .field("auth", &self.auth)
            .field("max_base64_bytes", &self.max_base64_bytes)
            .field("max_side", &self.max_side)
            .finish()
    }
}

/// A URL with any `user:password@` part replaced, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    match url[authority_start..authority_end].rfind('@') {
        Some(at) => format!(
            "{}<redacted>@{}",
            &url[..authority_start],
            &url[authority_start + at + 1..]
        ),
        None => url.to_string(),
    }
}

fn config_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidConfig, msg)
}

/// serde's message, with every value it quotes replaced: a secret put under the wrong key
/// must not come back in the error (`invalid type: string "…"`, `unknown variant `…``).
fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[i] as char;
        out.push_str(&rest[..=i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find(quote) else {
            rest = after;
            break;
        };
        let quoted = &after[..j];
        // Field names and the expected alternatives are ours; values are the caller's.
        let ours = out.ends_with("field `") || out.contains("expected");
        out.push_str(if ours { quoted } else { "…" });
        out.push(quote);
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

/// Check that a base URL is `http(s)://host[:port][/path]` and strip a trailing slash.
fn check_url(what: &str, url: &str) -> Result<String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(r)
            if !r.is_empty()
                && !r.starts_with('/')
                && !r.contains(|c: char| c.is_whitespace() || c.is_control()) =>
        {
            Ok(trimmed.to_string())
        }
        _ => Err(config_error(format!(
            "{what} must be an http:// or https:// URL with a host, got {:?}",
            redact_url(url)
        ))),
    }
}

fn nonempty(what: &str, v: &Option<String>) -> Result<()> {
    match v {
        Some(s) if s.trim().is_empty() => Err(config_error(format!("{what} is empty"))),
        Some(s) if s.contains(|c: char| c.is_control()) => {
            Err(config_error(format!("{what} contains a control character")))
        }
        _ => Ok(()),
    }
}

fn check_ms(what: &str, v: Option<u64>) -> Result<()> {
    match v {
        Some(0) => Err(config_error(format!("{what} must be greater than 0"))),
        Some(ms) if ms > MAX_TIMEOUT_MS => Err(config_error(format!(
            "{what} must be at most {MAX_TIMEOUT_MS} (one day), got {ms}"
        ))),
        _ => Ok(()),
    }
}

impl Config {
    /// A builder: the configuration in Rust, key by key, checked as [`Config::from_json`]
    /// checks one.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The one rule, for every binding: `None` reads the `PIAOJU_*` environment variables; a
    /// JSON object is the whole configuration (`{}` is empty, and the environment is not
    /// read); anything else (`null`, `""`, an array, bad JSON) is an `invalid_config` error.
    pub fn resolve(json: Option<&str>) -> Result<Config> {
        match json {
            None => Config::from_env(),
            Some(text) => Config::from_json(text),
        }
    }

    /// [`Config::resolve`] for an already parsed value (a one-shot request's `config`, `None`
    /// when the key is absent).
    pub(crate) fn resolve_value(value: Option<Value>) -> Result<Config> {
        match value {
            None => Config::from_env(),
            Some(v) => Config::from_value(v),
        }
    }

    /// Parse an explicit configuration: a JSON object (a leading UTF-8 byte-order mark is
    /// ignored). The environment is not read.
    pub fn from_json(text: &str) -> Result<Config> {
        Config::from_value(parse_json(strip_bom(text))?)
    }

    /// An explicit configuration from a parsed JSON object. The environment is not read.
    pub fn from_value(value: Value) -> Result<Config> {
        if !value.is_object() {
            return Err(config_error(format!(
                "the configuration must be a JSON object, not {}",
                json_kind(&value)
            )));
        }
        let config: Config = serde_json::from_value(value)
            .map_err(|e| config_error(format!("configuration: {}", serde_message(&e))))?;
        config.validate()?;
        Ok(config)
    }

    /// Read the `PIAOJU_*` environment variables. A variable whose value is not valid UTF-8
    /// is an error (never silently ignored).
    pub fn from_env() -> Result<Config> {
        for (name, value) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("PIAOJU_") && value.to_str().is_none() {
                return Err(config_error(format!(
                    "{name} is not valid UTF-8: give its value in UTF-8"
                )));
            }
        }
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Check the values that serde cannot: URLs, empty strings, control characters, timeouts,
    /// the proxy's scheme.
    pub fn validate(&self) -> Result<()> {
        if let Some(j) = &self.juhe {
            nonempty("juhe.key", &j.key)?;
            if let Some(u) = &j.base_url {
                check_url("juhe.base_url", u)?;
            }
        }
        if let Some(c) = &self.chinaums {
            nonempty("chinaums.app_id", &c.app_id)?;
            nonempty("chinaums.app_key", &c.app_key)?;
            if let Some(u) = &c.base_url {
                check_url("chinaums.base_url", u)?;
            }
            if let Some(u) = &c.token_url {
                check_url("chinaums.token_url", u)?;
            }
            if c.max_base64_bytes == Some(0) || c.max_side.is_some_and(|s| s < 16) {
                return Err(config_error(
                    "chinaums.max_base64_bytes must be positive and chinaums.max_side at least 16",
                ));
            }
        }
        check_ms("timeout_ms", self.timeout_ms)?;
        if self.max_qps.is_some_and(|q| !MAX_QPS_RANGE.contains(&q)) {
            return Err(config_error(format!(
                "max_qps must be a number from {} to {} (requests a second)",
                MAX_QPS_RANGE.start(),
                MAX_QPS_RANGE.end()
            )));
        }
        if let Some(CacheConfig { path }) = &self.cache {
            nonempty("cache.path", &Some(path.clone()))?;
        }
        #[cfg(not(feature = "cache"))]
        if self.cache.is_some() {
            return Err(no_cache_in_this_build());
        }
        if self.max_in_flight.is_some_and(|n| !(1..=1024).contains(&n)) {
            return Err(config_error("max_in_flight must be 1 to 1024"));
        }
        if let Some(r) = &self.retry {
            if !(1..=MAX_ATTEMPTS).contains(&r.max_attempts) {
                return Err(config_error(format!(
                    "retry.max_attempts must be 1 to {MAX_ATTEMPTS}, got {}",
                    r.max_attempts
                )));
            }
            check_ms("retry.max_delay_ms", Some(r.max_delay_ms.max(1)))?;
            if r.base_delay_ms > r.max_delay_ms {
                return Err(config_error(
                    "retry.base_delay_ms must not exceed retry.max_delay_ms",
                ));
            }
        }
        check_ms("connect_timeout_ms", self.connect_timeout_ms)?;
        nonempty("user_agent", &self.user_agent)?;
        if let Some(p) = &self.proxy {
            check_url("proxy", p).map_err(|_| {
                config_error(format!(
                    "proxy must be an http:// or https:// proxy URL, got {:?}",
                    redact_url(p)
                ))
            })?;
        }
        if let Some(TlsConfig {
            ca_file: Some(f), ..
        }) = &self.tls
        {
            nonempty("tls.ca_file", &Some(f.clone()))?;
        }
        Ok(())
    }

    /// The configuration as the JSON that [`Config::from_json`] reads back to an equal
    /// configuration, **credentials included**: for rebuilding a client elsewhere (a pickled
    /// Python client, through `bindings::config_json_with_credentials`). Never print or log
    /// it; `Debug` is the printable form.
    pub(crate) fn to_json_with_credentials(&self) -> String {
        serde_json::to_string(self).expect("a configuration always serializes")
    }

    /// The deadline of one whole call (`timeout_ms`, default 15 s).
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS))
    }

    /// The deadline of one connection.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(
            self.connect_timeout_ms
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS),
        )
    }
}

/// Whether the JSON handed back about this configuration text should be ASCII
/// (the configuration's `ascii_json`), known even when the configuration is unusable (for the error
/// saying so): the text's top-level `"ascii_json"` when it is a JSON object holding a
/// boolean there; otherwise `PIAOJU_ASCII_JSON` (`1`/`true`). `None` (no configuration
/// given) reads `PIAOJU_ASCII_JSON`, as [`Config::resolve`] does.
pub fn ascii_json_hint(json: Option<&str>) -> bool {
    let given = json.and_then(|text| {
        serde_json::from_str::<Value>(strip_bom(text))
            .ok()
            .and_then(|v| ascii_json_of(&v))
    });
    given.unwrap_or_else(ascii_json_from_env)
}

/// The error for a configured cache in a build without one.
#[cfg_attr(feature = "cache", allow(dead_code))]
pub(crate) fn no_cache_in_this_build() -> Error {
    config_error(
        "cache: this build of piaoju has no result cache (it was built without the `cache` \
         feature): leave cache out of the configuration, or give the client a ResultStore of \
         your own",
    )
}

/// A configuration value's `ascii_json`, if it is an object holding a boolean there.
pub(crate) fn ascii_json_of(config: &Value) -> Option<bool> {
    config.get("ascii_json").and_then(Value::as_bool)
}

/// `PIAOJU_ASCII_JSON` is `1` or `true`.
pub(crate) fn ascii_json_from_env() -> bool {
    matches!(
        std::env::var("PIAOJU_ASCII_JSON").as_deref(),
        Ok("1") | Ok("true")
    )
}

fn parse_json(text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Err(config_error(
            "the configuration text is empty: give a JSON object ({} for an empty configuration)",
        ));
    }
    serde_json::from_str(text)
        .map_err(|e| config_error(format!("configuration JSON: {}", serde_message(&e))))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config_parses() {
        let c = Config::from_json(
            r#"{"juhe":{"key":"k1","base_url":"http://127.0.0.1:9/"},
                "chinaums":{"app_id":"a","app_key":"s","environment":"production",
                            "auth":"body_signature"},
                "timeout_ms":2000,"connect_timeout_ms":500,"user_agent":"ua",
                "tls":{"ca_file":"/tmp/ca.pem","roots":"system"}}"#,
        )
        .unwrap();
        let u = c.chinaums.as_ref().unwrap();
        assert_eq!(u.auth, AuthMode::BodySignature);
        assert_eq!(u.environment, Environment::Production);
        assert_eq!(c.timeout(), Duration::from_millis(2000));
        let tls = c.tls.as_ref().unwrap();
        assert_eq!(tls.roots, TlsRoots::System);
        assert_eq!(tls.ca_file.as_deref(), Some("/tmp/ca.pem"));
    }

    #[test]
    fn typos_wrong_types_and_bad_values_are_errors() {
        for bad in [
            r#"{"juhe":{"kye":"x"}}"#,
            r#"{"timeout":5}"#,
            r#"{"timeout_ms":"5"}"#,
            r#"{"timeout_ms":-1}"#,
            r#"{"timeout_ms":0}"#,
            r#"{"timeout_ms":86400001}"#,
            r#"{"connect_timeout_ms":18446744073709551615}"#,
            r#"{"chinaums":{"environment":"prod"}}"#,
            r#"{"chinaums":{"auth":"token"}}"#,
            r#"{"juhe":{"base_url":"ftp://x"}}"#,
            r#"{"juhe":{"base_url":"apis.juhe.cn"}}"#,
            r#"{"juhe":{"key":""}}"#,
            r#"{"juhe":{"key":"a\nb"}}"#,
            r#"{"juhe":"k"}"#,
            r#"{"user_agent":"ua\r\nX-Injected: 1"}"#,
            r#"{"user_agent":""}"#,
            r#"{"proxy":"socks5://127.0.0.1:1080"}"#,
            r#"{"proxy":"proxy:3128"}"#,
            r#"{"tls":{"roots":"mozilla"}}"#,
            r#"{"tls":{"ca":"x"}}"#,
            r#"[1]"#,
            r#""x""#,
            r#"{"#,
            "",
            "   ",
        ] {
            let e = Config::from_json(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig, "{bad}: {e}");
        }
    }

    #[test]
    fn resolve_reads_the_environment_only_for_none_and_null() {
        // A JSON object is the whole configuration, whatever the environment says.
        let c = Config::resolve(Some("{}")).unwrap();
        assert_eq!(c, Config::default());
        let c = Config::resolve(Some(r#"{"timeout_ms":1000}"#)).unwrap();
        assert!(c.juhe.is_none());
        assert_eq!(c.timeout_ms, Some(1000));
        for bad in ["", "null", "[]", "{"] {
            assert_eq!(
                Config::resolve(Some(bad)).unwrap_err().code,
                ErrorCode::InvalidConfig,
                "{bad:?}"
            );
        }
        assert_eq!(
            Config::resolve_value(Some(Value::Null)).unwrap_err().code,
            ErrorCode::InvalidConfig
        );
        assert_eq!(
            Config::resolve_value(Some(serde_json::json!([])))
                .unwrap_err()
                .code,
            ErrorCode::InvalidConfig
        );
    }

    #[test]
    fn a_byte_order_mark_before_the_configuration_is_ignored() {
        let c =
            Config::from_json("\u{feff}{\"juhe\":{\"key\":\"k\"},\"ascii_json\":true}").unwrap();
        assert_eq!(c.juhe.unwrap().key.as_deref(), Some("k"));
        assert!(c.ascii_json);
        assert_eq!(
            Config::resolve(Some("\u{feff}{}")).unwrap(),
            Config::default()
        );
        // Only one, and only first: anything else is still not JSON.
        for bad in [
            "\u{feff}",
            "\u{feff}\u{feff}{}",
            " \u{feff}{}",
            "{}\u{feff}",
        ] {
            assert_eq!(
                Config::from_json(bad).unwrap_err().code,
                ErrorCode::InvalidConfig,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ascii_json_is_a_boolean_and_known_even_when_the_rest_fails() {
        assert!(!Config::from_json("{}").unwrap().ascii_json);
        for bad in [
            r#"{"ascii_json":1}"#,
            r#"{"ascii_json":"true"}"#,
            r#"{"ascii_json":null}"#,
        ] {
            assert_eq!(
                Config::from_json(bad).unwrap_err().code,
                ErrorCode::InvalidConfig,
                "{bad}"
            );
        }
        // The hint reads the text's own key even when the configuration is invalid.
        assert!(ascii_json_hint(Some(r#"{"ascii_json":true,"jueh":{}}"#)));
        assert!(ascii_json_hint(Some(
            "\u{feff}{\"ascii_json\":true,\"timeout_ms\":0}"
        )));
        assert!(!ascii_json_hint(Some(r#"{"ascii_json":false}"#)));
        let on = |n: &str| (n == "PIAOJU_ASCII_JSON").then(|| "1".to_string());
        assert!(Config::from_lookup(on).unwrap().ascii_json);
        let yes = |n: &str| (n == "PIAOJU_ASCII_JSON").then(|| "yes".to_string());
        assert_eq!(
            Config::from_lookup(yes).unwrap_err().code,
            ErrorCode::InvalidConfig
        );
    }

    #[test]
    fn messages_do_not_echo_values() {
        for (bad, kept) in [
            (r#"{"juhe": "MY-SECRET-KEY"}"#, "JuheConfig"),
            (r#"{"chinaums": {"auth": "MY-SECRET-KEY"}}"#, "access_token"),
            (r#"{"juhe": {"key": 12345}}"#, "string"),
            (r#"{"juhe": {"kye": "MY-SECRET-KEY"}}"#, "kye"),
        ] {
            let e = Config::from_json(bad).unwrap_err();
            assert!(!e.message.contains("MY-SECRET-KEY"), "{}", e.message);
            assert!(e.message.contains(kept), "{}", e.message);
        }
    }

    #[test]
    fn the_json_with_credentials_reads_back_to_the_same_configuration() {
        // A cache only where the build has one (without the `cache` feature it is refused).
        let cache = if cfg!(feature = "cache") {
            r#""cache":{"path":"c.sqlite"},"#
        } else {
            ""
        };
        let full = Config::from_json(&format!(
            r#"{{"juhe":{{"key":"k1","base_url":"http://127.0.0.1:1"}},
                "chinaums":{{"app_id":"a","app_key":"s","environment":"production",
                            "auth":"body_signature","max_side":4000}},
                "timeout_ms":1000,"retry":{{"max_attempts":2}},"max_qps":0.5,
                "max_in_flight":3,{cache}"image_fit":"off",
                "tls":{{"roots":"system"}},"user_agent":"erp/1"}}"#
        ))
        .unwrap();
        let text = full.to_json_with_credentials();
        assert_eq!(Config::from_json(&text).unwrap(), full, "{text}");
        assert!(text.contains("\"k1\"") && text.contains("\"s\""));
        let env = Config::from_lookup(|name| match name {
            "PIAOJU_JUHE_KEY" => Some("from-env".to_string()),
            "PIAOJU_TIMEOUT_MS" => Some("2500".to_string()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            Config::from_json(&env.to_json_with_credentials()).unwrap(),
            env
        );
        assert_eq!(Config::default().to_json_with_credentials(), "{}");
    }

    #[test]
    fn max_qps_is_refused_outside_its_range() {
        for q in ["0", "-1", "1e-19", "1e-300", "0.0009", "10000.5", "1e300"] {
            let e = Config::from_json(&format!(r#"{{"max_qps":{q}}}"#)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig, "{q}");
            assert!(e.message.contains("0.001 to 10000"), "{}", e.message);
        }
        for q in ["0.001", "0.5", "10000"] {
            assert!(
                Config::from_json(&format!(r#"{{"max_qps":{q}}}"#)).is_ok(),
                "{q}"
            );
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Config::from_json(
            r#"{"juhe":{"key":"JUHESECRET","base_url":"http://u:URLPASS@127.0.0.1:1/x@y"},
                "chinaums":{"app_id":"id","app_key":"UMSSECRET",
                            "token_url":"https://u:TOKENPASS@h/t"},
                "proxy":"http://user:PROXYPASS@127.0.0.1:3128"}"#,
        )
        .unwrap();
        let d = format!("{c:?}");
        for secret in [
            "JUHESECRET",
            "UMSSECRET",
            "PROXYPASS",
            "URLPASS",
            "TOKENPASS",
        ] {
            assert!(!d.contains(secret), "{d}");
        }
        assert!(d.contains("<redacted>"));
        assert_eq!(
            redact_url("http://u:p@h:1/a@b"),
            "http://<redacted>@h:1/a@b"
        );
        assert_eq!(redact_url("http://h/a@b"), "http://h/a@b");
    }
}
