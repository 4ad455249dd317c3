//! [`ConfigBuilder`]: a configuration in Rust, typed, without JSON.

use std::fmt;
use std::time::Duration;

use super::{
    AuthMode, CacheConfig, ChinaumsConfig, Config, Environment, JuheConfig, TlsConfig, TlsRoots,
};
use crate::error::Result;
use crate::fit::ImageFit;
use crate::retry::RetryConfig;

/// Builds a [`Config`] key by key, each setter named and typed after its key of the JSON
/// configuration (docs/configuration.md); [`ConfigBuilder::build`] checks the whole as
/// [`Config::from_json`] does (the same rules, the same errors). What is not set keeps its
/// default. Made by [`Config::builder`], or from a configuration with `ConfigBuilder::from`
/// (to change some keys of it).
///
/// ```
/// use std::time::Duration;
/// use piaoju::{AuthMode, Config};
///
/// let config = Config::builder()
///     .juhe_key("my-juhe-key")
///     .chinaums_app_id("my-app-id")
///     .chinaums_app_key("my-app-key")
///     .chinaums_auth(AuthMode::BodySignature)
///     .timeout(Duration::from_secs(20))
///     .max_qps(5.0)
///     .build()?;
/// assert_eq!(config.timeout(), Duration::from_secs(20));
/// # Ok::<(), piaoju::Error>(())
/// ```
#[derive(Clone, Default, PartialEq)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

impl fmt::Debug for ConfigBuilder {
    /// As the configuration's `Debug`: secrets never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ConfigBuilder").field(&self.config).finish()
    }
}

impl From<Config> for ConfigBuilder {
    /// A builder holding this configuration, to change some of its keys.
    fn from(config: Config) -> ConfigBuilder {
        ConfigBuilder { config }
    }
}

/// Whole milliseconds, rounded up (so that a positive duration is never 0 ms), at most
/// `u64::MAX`.
fn millis(d: Duration) -> u64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

impl ConfigBuilder {
    fn juhe(&mut self) -> &mut JuheConfig {
        self.config.juhe.get_or_insert_with(JuheConfig::default)
    }

    fn chinaums(&mut self) -> &mut ChinaumsConfig {
        self.config
            .chinaums
            .get_or_insert_with(ChinaumsConfig::default)
    }

    fn tls(&mut self) -> &mut TlsConfig {
        self.config.tls.get_or_insert_with(TlsConfig::default)
    }

    /// `juhe.key`: the Juhe API key (a secret: never shown in `Debug` or an error).
    pub fn juhe_key(mut self, key: impl Into<String>) -> Self {
        self.juhe().key = Some(key.into());
        self
    }

    /// `juhe.base_url`: where the Juhe API is (`http(s)://host[:port][/path]`; default
    /// `https://apis.juhe.cn`), for a sandbox or a gateway.
    pub fn juhe_base_url(mut self, url: impl Into<String>) -> Self {
        self.juhe().base_url = Some(url.into());
        self
    }

    /// `chinaums.app_id`: the ChinaUMS application's id.
    pub fn chinaums_app_id(mut self, app_id: impl Into<String>) -> Self {
        self.chinaums().app_id = Some(app_id.into());
        self
    }

    /// `chinaums.app_key`: the ChinaUMS application's key (a secret: never shown in `Debug`
    /// or an error).
    pub fn chinaums_app_key(mut self, app_key: impl Into<String>) -> Self {
        self.chinaums().app_key = Some(app_key.into());
        self
    }

    /// `chinaums.environment`: ChinaUMS's test or production hosts (default test).
    pub fn chinaums_environment(mut self, environment: Environment) -> Self {
        self.chinaums().environment = environment;
        self
    }

    /// `chinaums.base_url`: replaces the environment's hosts, of the OCR and the token
    /// endpoints alike.
    pub fn chinaums_base_url(mut self, url: impl Into<String>) -> Self {
        self.chinaums().base_url = Some(url.into());
        self
    }

    /// `chinaums.token_url`: the whole URL of the token endpoint, when it is not under
    /// `base_url`.
    pub fn chinaums_token_url(mut self, url: impl Into<String>) -> Self {
        self.chinaums().token_url = Some(url.into());
        self
    }

    /// `chinaums.auth`: an access token (default) or a signature of each request's body.
    pub fn chinaums_auth(mut self, auth: AuthMode) -> Self {
        self.chinaums().auth = auth;
        self
    }

    /// `chinaums.max_base64_bytes`: a limit on an image's base64 text (ChinaUMS publishes
    /// none); with [`ImageFit::Auto`], larger images are fitted to it. Positive.
    pub fn chinaums_max_base64_bytes(mut self, bytes: u64) -> Self {
        self.chinaums().max_base64_bytes = Some(bytes);
        self
    }

    /// `chinaums.max_side`: a limit on an image's longest side, in pixels (at least 16).
    pub fn chinaums_max_side(mut self, pixels: u32) -> Self {
        self.chinaums().max_side = Some(pixels);
        self
    }

    /// `timeout_ms`: the deadline of one whole call (token fetch, retries, every request and
    /// its answer); default 15 s, at most a day. Kept in whole milliseconds, rounded up.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout_ms = Some(millis(timeout));
        self
    }

    /// `connect_timeout_ms`: the longest wait for one connection; default 5 s, at most a day.
    /// Kept in whole milliseconds, rounded up.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout_ms = Some(millis(timeout));
        self
    }

    /// `proxy`: an HTTP(S) proxy URL (`http://host:port`, `http://user:password@host:port`;
    /// the password is never shown).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.config.proxy = Some(url.into());
        self
    }

    /// `user_agent`: the `User-Agent` header (default `piaoju/VERSION`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.config.user_agent = Some(user_agent.into());
        self
    }

    /// `tls.roots`: the root certificates HTTPS trusts (default the bundled ones).
    pub fn tls_roots(mut self, roots: TlsRoots) -> Self {
        self.tls().roots = roots;
        self
    }

    /// `tls.ca_file`: a PEM file of CA certificates to trust (a company proxy's CA): with
    /// [`TlsRoots::System`] in addition to the system's, otherwise instead of the bundled
    /// roots. Read when the client is made.
    pub fn tls_ca_file(mut self, path: impl Into<String>) -> Self {
        self.tls().ca_file = Some(path.into());
        self
    }

    /// `image_fit`: whether over-limit images are fitted to the provider's limits
    /// ([`ImageFit::Auto`], the default) or refused ([`ImageFit::Off`]).
    pub fn image_fit(mut self, fit: ImageFit) -> Self {
        self.config.image_fit = Some(fit);
        self
    }

    /// `retry`: the automatic retries of requests the provider cannot have processed.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.config.retry = Some(retry);
        self
    }

    /// `retry.max_attempts`: requests a call may make in all, 1 to 10 (1 turns retries off);
    /// the other retry settings are kept.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        let retry = self.config.retry.get_or_insert_with(RetryConfig::default);
        retry.max_attempts = attempts;
        self
    }

    /// `retry.base_delay_ms`: the backoff before the first retry (it doubles at each retry,
    /// with full jitter, up to `retry.max_delay_ms`); whole milliseconds, the rest dropped.
    /// The other retry settings are kept.
    pub fn retry_base_delay(mut self, delay: Duration) -> Self {
        let retry = self.config.retry.get_or_insert_with(RetryConfig::default);
        retry.base_delay_ms = millis(delay);
        self
    }

    /// `retry.max_delay_ms`: the longest backoff between two requests of a call (a server's
    /// `Retry-After` included); whole milliseconds. The other retry settings are kept.
    pub fn retry_max_delay(mut self, delay: Duration) -> Self {
        let retry = self.config.retry.get_or_insert_with(RetryConfig::default);
        retry.max_delay_ms = millis(delay);
        self
    }

    /// `max_qps`: at most this many requests a second to each provider, from every thread
    /// using the client (0.001 to 10 000).
    pub fn max_qps(mut self, requests_per_second: f64) -> Self {
        self.config.max_qps = Some(requests_per_second);
        self
    }

    /// `max_in_flight`: at most this many requests at once to each provider (1 to 1024).
    pub fn max_in_flight(mut self, requests: u32) -> Self {
        self.config.max_in_flight = Some(requests);
        self
    }

    /// `cache.path`: keep the provider's answers in this SQLite file, so that an image is
    /// never paid for twice (created if missing; shared safely by processes and threads).
    pub fn cache(mut self, path: impl Into<String>) -> Self {
        self.config.cache = Some(CacheConfig::at(path));
        self
    }

    /// `ascii_json`: every JSON text the C library returns for this configuration is pure
    /// ASCII (default `false`).
    pub fn ascii_json(mut self, ascii: bool) -> Self {
        self.config.ascii_json = ascii;
        self
    }

    /// The configuration, checked as [`Config::from_json`] checks one: URLs, empty strings
    /// and control characters, timeouts and their bounds, the proxy's scheme, the retry and
    /// rate settings. An `invalid_config` error says which key is wrong, never its value.
    pub fn build(self) -> Result<Config> {
        self.config.validate()?;
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn every_key_builds_the_same_configuration_as_its_json() {
        let retry = RetryConfig {
            max_attempts: 2,
            base_delay_ms: 10,
            max_delay_ms: 100,
        };
        let built = Config::builder()
            .juhe_key("k1")
            .juhe_base_url("http://127.0.0.1:1")
            .chinaums_app_id("a")
            .chinaums_app_key("s")
            .chinaums_environment(Environment::Production)
            .chinaums_base_url("http://127.0.0.1:2")
            .chinaums_token_url("http://127.0.0.1:3/t")
            .chinaums_auth(AuthMode::BodySignature)
            .chinaums_max_base64_bytes(1000)
            .chinaums_max_side(4000)
            .timeout(Duration::from_millis(1500))
            .connect_timeout(Duration::from_millis(500))
            .proxy("http://127.0.0.1:3128")
            .user_agent("erp/1")
            .tls_roots(TlsRoots::System)
            .tls_ca_file("/tmp/ca.pem")
            .image_fit(ImageFit::Off)
            .retry(retry)
            .max_qps(0.5)
            .max_in_flight(3)
            .ascii_json(true)
            .build()
            .unwrap();
        let json = Config::from_json(
            r#"{"juhe":{"key":"k1","base_url":"http://127.0.0.1:1"},
                "chinaums":{"app_id":"a","app_key":"s","environment":"production",
                            "base_url":"http://127.0.0.1:2","token_url":"http://127.0.0.1:3/t",
                            "auth":"body_signature","max_base64_bytes":1000,"max_side":4000},
                "timeout_ms":1500,"connect_timeout_ms":500,"proxy":"http://127.0.0.1:3128",
                "user_agent":"erp/1","tls":{"roots":"system","ca_file":"/tmp/ca.pem"},
                "image_fit":"off","retry":{"max_attempts":2,"base_delay_ms":10,"max_delay_ms":100},
                "max_qps":0.5,"max_in_flight":3,"ascii_json":true}"#,
        )
        .unwrap();
        assert_eq!(built, json);
        assert_eq!(Config::builder().build().unwrap(), Config::default());
        // The cache (refused alike without the `cache` feature).
        let with_cache = Config::builder().cache("c.sqlite").build();
        let cache_json = Config::from_json(r#"{"cache":{"path":"c.sqlite"}}"#);
        assert_eq!(with_cache, cache_json);
        assert_eq!(with_cache.is_ok(), cfg!(feature = "cache"));
        // From a configuration, changing one key.
        let changed = ConfigBuilder::from(json.clone())
            .max_in_flight(4)
            .build()
            .unwrap();
        assert_eq!(changed.max_in_flight, Some(4));
        assert_eq!(changed.juhe, json.juhe);
        // max_attempts keeps the other retry settings.
        let r = ConfigBuilder::from(json)
            .max_attempts(5)
            .build()
            .unwrap()
            .retry
            .unwrap();
        assert_eq!(
            (r.max_attempts, r.base_delay_ms, r.max_delay_ms),
            (5, 10, 100)
        );
        // The retry delays: each keeps the other retry settings, as their JSON keys do.
        let delays = Config::builder()
            .max_attempts(4)
            .retry_base_delay(Duration::from_millis(250))
            .retry_max_delay(Duration::from_secs(8))
            .build()
            .unwrap();
        assert_eq!(
            delays,
            Config::from_json(
                r#"{"retry":{"max_attempts":4,"base_delay_ms":250,"max_delay_ms":8000}}"#
            )
            .unwrap()
        );
    }

    #[test]
    fn build_refuses_what_the_json_refuses_with_the_same_error() {
        let day = Duration::from_millis(86_400_000);
        let cases: Vec<(ConfigBuilder, &str)> = vec![
            (Config::builder().juhe_key(""), r#"{"juhe":{"key":""}}"#),
            (
                Config::builder().juhe_key("a\nb"),
                r#"{"juhe":{"key":"a\nb"}}"#,
            ),
            (
                Config::builder().juhe_base_url("ftp://x"),
                r#"{"juhe":{"base_url":"ftp://x"}}"#,
            ),
            (
                Config::builder().chinaums_app_key(" "),
                r#"{"chinaums":{"app_key":" "}}"#,
            ),
            (
                Config::builder().chinaums_token_url("t"),
                r#"{"chinaums":{"token_url":"t"}}"#,
            ),
            (
                Config::builder().chinaums_max_side(8),
                r#"{"chinaums":{"max_side":8}}"#,
            ),
            (
                Config::builder().chinaums_max_base64_bytes(0),
                r#"{"chinaums":{"max_base64_bytes":0}}"#,
            ),
            (
                Config::builder().timeout(Duration::ZERO),
                r#"{"timeout_ms":0}"#,
            ),
            (
                Config::builder().timeout(day + Duration::from_millis(1)),
                r#"{"timeout_ms":86400001}"#,
            ),
            (
                Config::builder().connect_timeout(Duration::MAX),
                r#"{"connect_timeout_ms":18446744073709551615}"#,
            ),
            (
                Config::builder().proxy("socks5://127.0.0.1:1080"),
                r#"{"proxy":"socks5://127.0.0.1:1080"}"#,
            ),
            (
                Config::builder().user_agent("ua\r\nX-Injected: 1"),
                r#"{"user_agent":"ua\r\nX-Injected: 1"}"#,
            ),
            (
                Config::builder().tls_ca_file(""),
                r#"{"tls":{"ca_file":""}}"#,
            ),
            (
                Config::builder().max_attempts(0),
                r#"{"retry":{"max_attempts":0}}"#,
            ),
            (
                Config::builder().max_attempts(11),
                r#"{"retry":{"max_attempts":11}}"#,
            ),
            (
                Config::builder().retry_base_delay(Duration::from_secs(30)),
                r#"{"retry":{"base_delay_ms":30000}}"#,
            ),
            (
                Config::builder().retry_max_delay(day + Duration::from_millis(1)),
                r#"{"retry":{"max_delay_ms":86400001}}"#,
            ),
            (Config::builder().max_qps(0.0), r#"{"max_qps":0}"#),
            (
                Config::builder().max_qps(10_000.5),
                r#"{"max_qps":10000.5}"#,
            ),
            (Config::builder().max_in_flight(0), r#"{"max_in_flight":0}"#),
            (
                Config::builder().max_in_flight(1025),
                r#"{"max_in_flight":1025}"#,
            ),
            (Config::builder().cache(" "), r#"{"cache":{"path":" "}}"#),
        ];
        for (builder, json) in cases {
            let from_builder = builder.build().unwrap_err();
            let from_json = Config::from_json(json).unwrap_err();
            assert_eq!(from_builder.code, ErrorCode::InvalidConfig, "{json}");
            assert_eq!(from_builder.message, from_json.message, "{json}");
        }
        // What JSON cannot even say is refused too.
        let e = Config::builder().max_qps(f64::NAN).build().unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidConfig);
        // A positive duration below a millisecond is never 0 ms.
        let c = Config::builder()
            .timeout(Duration::from_micros(10))
            .build()
            .unwrap();
        assert_eq!(c.timeout_ms, Some(1));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let b = Config::builder()
            .juhe_key("JUHESECRET")
            .chinaums_app_key("UMSSECRET")
            .proxy("http://user:PROXYPASS@127.0.0.1:3128");
        let d = format!("{b:?}");
        for secret in ["JUHESECRET", "UMSSECRET", "PROXYPASS"] {
            assert!(!d.contains(secret), "{d}");
        }
    }
}
