//! Configuration: one JSON shape shared by Rust, C, Python and the environment variables.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, ErrorCode, Result};

pub const DEFAULT_JUHE_BASE_URL: &str = "https://apis.juhe.cn";
pub const CHINAUMS_TEST_BASE_URL: &str = "https://test-api-open.chinaums.com";
pub const CHINAUMS_PRODUCTION_BASE_URL: &str = "https://api-lob.open.chinaums.com";
pub const CHINAUMS_TEST_TOKEN_URL: &str = "https://test-api-open.chinaums.com/v1/token/access";
pub const CHINAUMS_PRODUCTION_TOKEN_URL: &str = "https://api-mop.chinaums.com/v1/token/access";
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 5_000;

/// Top-level configuration. Unknown keys and values of the wrong type are errors.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub juhe: Option<JuheConfig>,
    #[serde(default)]
    pub chinaums: Option<ChinaumsConfig>,
    /// Deadline for one whole HTTP exchange, in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Deadline for establishing a connection, in milliseconds.
    #[serde(default)]
    pub connect_timeout_ms: Option<u64>,
    /// Proxy URL (`http://host:port`, `socks5://host:port`).
    #[serde(default)]
    pub proxy: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct JuheConfig {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Test,
    Production,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    #[default]
    AccessToken,
    BodySignature,
}

#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChinaumsConfig {
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub app_key: Option<String>,
    #[serde(default)]
    pub environment: Environment,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub auth: AuthMode,
}

fn redact(s: &Option<String>) -> &'static str {
    if s.is_some() {
        "Some(<redacted>)"
    } else {
        "None"
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("juhe", &self.juhe)
            .field("chinaums", &self.chinaums)
            .field("timeout_ms", &self.timeout_ms)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("proxy", &self.proxy.as_ref().map(|p| redact_url(p)))
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl fmt::Debug for JuheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JuheConfig")
            .field("key", &format_args!("{}", redact(&self.key)))
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl fmt::Debug for ChinaumsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChinaumsConfig")
            .field("app_id", &self.app_id)
            .field("app_key", &format_args!("{}", redact(&self.app_key)))
            .field("environment", &self.environment)
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("auth", &self.auth)
            .finish()
    }
}

/// A URL with any `user:password@` part replaced, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://<redacted>@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

fn config_error(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidConfig, msg)
}

/// Check that a base URL is `http(s)://host[:port][/path]` and strip a trailing slash.
fn check_url(what: &str, url: &str) -> Result<String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
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
        _ => Ok(()),
    }
}

impl Config {
    /// Parse the configuration JSON. `""`, `"null"` and `"{}"` give the default configuration.
    pub fn from_json(text: &str) -> Result<Config> {
        if text.trim().is_empty() || text.trim() == "null" {
            return Ok(Config::default());
        }
        let config: Config = serde_json::from_str(text)
            .map_err(|e| config_error(format!("configuration JSON: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Deserialize from an already parsed JSON value (used by one-shot calls).
    pub fn from_value(value: serde_json::Value) -> Result<Config> {
        if value.is_null() {
            return Ok(Config::default());
        }
        let config: Config = serde_json::from_value(value)
            .map_err(|e| config_error(format!("configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Read the `PIAOJU_*` environment variables.
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], from any lookup (testable without touching the process env).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let parse_ms = |name: &str| -> Result<Option<u64>> {
            get(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        config_error(format!(
                            "{name} must be a whole number of milliseconds, got {v:?}"
                        ))
                    })
                })
                .transpose()
        };
        let mut config = Config {
            timeout_ms: parse_ms("PIAOJU_TIMEOUT_MS")?,
            connect_timeout_ms: parse_ms("PIAOJU_CONNECT_TIMEOUT_MS")?,
            proxy: get("PIAOJU_PROXY"),
            user_agent: get("PIAOJU_USER_AGENT"),
            ..Config::default()
        };
        let (key, juhe_base) = (get("PIAOJU_JUHE_KEY"), get("PIAOJU_JUHE_BASE_URL"));
        if key.is_some() || juhe_base.is_some() {
            config.juhe = Some(JuheConfig {
                key,
                base_url: juhe_base,
            });
        }
        let names = [
            "PIAOJU_CHINAUMS_APP_ID",
            "PIAOJU_CHINAUMS_APP_KEY",
            "PIAOJU_CHINAUMS_ENV",
            "PIAOJU_CHINAUMS_BASE_URL",
            "PIAOJU_CHINAUMS_TOKEN_URL",
            "PIAOJU_CHINAUMS_AUTH",
        ];
        if names.iter().any(|n| get(n).is_some()) {
            let environment = match get("PIAOJU_CHINAUMS_ENV").as_deref() {
                None | Some("test") => Environment::Test,
                Some("production") => Environment::Production,
                Some(other) => {
                    return Err(config_error(format!(
                        "PIAOJU_CHINAUMS_ENV must be \"test\" or \"production\", got {other:?}"
                    )))
                }
            };
            let auth = match get("PIAOJU_CHINAUMS_AUTH").as_deref() {
                None | Some("access_token") => AuthMode::AccessToken,
                Some("body_signature") => AuthMode::BodySignature,
                Some(other) => {
                    return Err(config_error(format!(
                        "PIAOJU_CHINAUMS_AUTH must be \"access_token\" or \"body_signature\", got {other:?}"
                    )))
                }
            };
            config.chinaums = Some(ChinaumsConfig {
                app_id: get("PIAOJU_CHINAUMS_APP_ID"),
                app_key: get("PIAOJU_CHINAUMS_APP_KEY"),
                environment,
                base_url: get("PIAOJU_CHINAUMS_BASE_URL"),
                token_url: get("PIAOJU_CHINAUMS_TOKEN_URL"),
                auth,
            });
        }
        config.validate()?;
        Ok(config)
    }

    /// Check the values that serde cannot: URLs, empty strings, zero timeouts.
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
        }
        if self.timeout_ms == Some(0) {
            return Err(config_error("timeout_ms must be greater than 0"));
        }
        if self.connect_timeout_ms == Some(0) {
            return Err(config_error("connect_timeout_ms must be greater than 0"));
        }
        if let Some(p) = &self.proxy {
            ureq::Proxy::new(p).map_err(|_| {
                config_error(format!(
                    "proxy is not a valid proxy URL: {:?}",
                    redact_url(p)
                ))
            })?;
        }
        Ok(())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS))
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(
            self.connect_timeout_ms
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS),
        )
    }

    /// The receipt endpoint URL.
    pub fn juhe_url(&self) -> String {
        let base = self
            .juhe
            .as_ref()
            .and_then(|j| j.base_url.as_deref())
            .unwrap_or(DEFAULT_JUHE_BASE_URL);
        format!("{}/shoppingReceipt/query", base.trim_end_matches('/'))
    }

    fn chinaums_base(&self) -> &str {
        let c = self.chinaums.as_ref();
        match c.and_then(|c| c.base_url.as_deref()) {
            Some(b) => b.trim_end_matches('/'),
            None => match c.map(|c| c.environment).unwrap_or_default() {
                Environment::Test => CHINAUMS_TEST_BASE_URL,
                Environment::Production => CHINAUMS_PRODUCTION_BASE_URL,
            },
        }
    }

    /// The used-car invoice OCR endpoint URL.
    pub fn chinaums_ocr_url(&self) -> String {
        format!("{}/v1/brain/ocr/elecusedcarinvoice", self.chinaums_base())
    }

    /// The token endpoint URL: `token_url`, else `base_url` + path, else the environment's default.
    pub fn chinaums_token_url(&self) -> String {
        let c = self.chinaums.as_ref();
        if let Some(t) = c.and_then(|c| c.token_url.as_deref()) {
            return t.trim_end_matches('/').to_string();
        }
        if let Some(b) = c.and_then(|c| c.base_url.as_deref()) {
            return format!("{}/v1/token/access", b.trim_end_matches('/'));
        }
        match c.map(|c| c.environment).unwrap_or_default() {
            Environment::Test => CHINAUMS_TEST_TOKEN_URL.to_string(),
            Environment::Production => CHINAUMS_PRODUCTION_TOKEN_URL.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn full_config_parses() {
        let c = Config::from_json(
            r#"{"juhe":{"key":"k1","base_url":"http://127.0.0.1:9/"},
                "chinaums":{"app_id":"a","app_key":"s","environment":"production",
                            "auth":"body_signature"},
                "timeout_ms":2000,"connect_timeout_ms":500,"user_agent":"ua"}"#,
        )
        .unwrap();
        assert_eq!(c.juhe_url(), "http://127.0.0.1:9/shoppingReceipt/query");
        assert_eq!(
            c.chinaums_ocr_url(),
            "https://api-lob.open.chinaums.com/v1/brain/ocr/elecusedcarinvoice"
        );
        assert_eq!(
            c.chinaums_token_url(),
            "https://api-mop.chinaums.com/v1/token/access"
        );
        assert_eq!(c.chinaums.as_ref().unwrap().auth, AuthMode::BodySignature);
        assert_eq!(c.timeout(), Duration::from_millis(2000));
    }

    #[test]
    fn defaults_are_https_and_test_environment() {
        let c = Config::from_json("{}").unwrap();
        assert_eq!(c.juhe_url(), "https://apis.juhe.cn/shoppingReceipt/query");
        assert_eq!(
            c.chinaums_ocr_url(),
            "https://test-api-open.chinaums.com/v1/brain/ocr/elecusedcarinvoice"
        );
        assert_eq!(
            c.chinaums_token_url(),
            "https://test-api-open.chinaums.com/v1/token/access"
        );
    }

    #[test]
    fn base_url_replaces_host_for_token_and_ocr() {
        let c =
            Config::from_json(r#"{"chinaums":{"base_url":"http://127.0.0.1:8080/x"}}"#).unwrap();
        assert_eq!(
            c.chinaums_token_url(),
            "http://127.0.0.1:8080/x/v1/token/access"
        );
        assert_eq!(
            c.chinaums_ocr_url(),
            "http://127.0.0.1:8080/x/v1/brain/ocr/elecusedcarinvoice"
        );
        let c = Config::from_json(
            r#"{"chinaums":{"base_url":"http://h:1","token_url":"http://t:2/tok"}}"#,
        )
        .unwrap();
        assert_eq!(c.chinaums_token_url(), "http://t:2/tok");
    }

    #[test]
    fn typos_and_wrong_types_are_errors() {
        for bad in [
            r#"{"juhe":{"kye":"x"}}"#,
            r#"{"timeout":5}"#,
            r#"{"timeout_ms":"5"}"#,
            r#"{"timeout_ms":-1}"#,
            r#"{"timeout_ms":0}"#,
            r#"{"chinaums":{"environment":"prod"}}"#,
            r#"{"chinaums":{"auth":"token"}}"#,
            r#"{"juhe":{"base_url":"ftp://x"}}"#,
            r#"{"juhe":{"base_url":"apis.juhe.cn"}}"#,
            r#"{"juhe":{"key":""}}"#,
            r#"{"juhe":"k"}"#,
            r#"[1]"#,
            r#"{"#,
        ] {
            let e = Config::from_json(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig, "{bad}: {e}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = Config::from_json(
            r#"{"juhe":{"key":"JUHESECRET"},"chinaums":{"app_id":"id","app_key":"UMSSECRET"},
                "proxy":"http://user:PROXYPASS@127.0.0.1:3128"}"#,
        )
        .unwrap();
        let d = format!("{c:?}");
        assert!(
            !d.contains("JUHESECRET") && !d.contains("UMSSECRET") && !d.contains("PROXYPASS"),
            "{d}"
        );
        assert!(d.contains("<redacted>"));
    }

    #[test]
    fn environment_variables() {
        let env: HashMap<&str, &str> = [
            ("PIAOJU_JUHE_KEY", "jk"),
            ("PIAOJU_CHINAUMS_APP_ID", "id"),
            ("PIAOJU_CHINAUMS_APP_KEY", "ak"),
            ("PIAOJU_CHINAUMS_ENV", "production"),
            ("PIAOJU_CHINAUMS_AUTH", "body_signature"),
            ("PIAOJU_TIMEOUT_MS", "1234"),
        ]
        .into_iter()
        .collect();
        let c = Config::from_lookup(|n| env.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(c.juhe.as_ref().unwrap().key.as_deref(), Some("jk"));
        let u = c.chinaums.as_ref().unwrap();
        assert_eq!(u.environment, Environment::Production);
        assert_eq!(u.auth, AuthMode::BodySignature);
        assert_eq!(c.timeout_ms, Some(1234));

        let bad = Config::from_lookup(|n| (n == "PIAOJU_TIMEOUT_MS").then(|| "soon".into()));
        assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidConfig);
        let bad = Config::from_lookup(|n| (n == "PIAOJU_CHINAUMS_ENV").then(|| "prod".into()));
        assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidConfig);
        let none = Config::from_lookup(|_| None).unwrap();
        assert!(none.juhe.is_none() && none.chinaums.is_none());
    }
}
