//! The configuration from the `PIAOJU_*` environment variables (or any lookup), built with
//! the [`ConfigBuilder`] and checked as every configuration is.

use std::time::Duration;

use serde::de::{DeserializeOwned, IntoDeserializer};

use super::{config_error, Config, ConfigBuilder};
use crate::error::Result;

/// A variable's value among `options`: the variant of `T` it names (by its serde name, the same
/// as in the JSON configuration). The value is never quoted in the error: a secret set under
/// the wrong name stays unseen.
fn choice<T: DeserializeOwned>(
    name: &str,
    value: Option<String>,
    options: &[&str],
) -> Result<Option<T>> {
    let Some(v) = value else {
        return Ok(None);
    };
    if !options.contains(&v.as_str()) {
        return Err(config_error(format!(
            "{name} must be one of {options:?}, got another value ({} characters)",
            v.chars().count()
        )));
    }
    let parsed: std::result::Result<T, serde::de::value::Error> =
        T::deserialize(v.as_str().into_deserializer());
    Ok(Some(parsed.expect("the options are the type's variants")))
}

/// A whole number from a variable (`what` says of what, in the error).
fn number<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
    what: &str,
) -> Result<Option<T>> {
    value
        .map(|v| {
            v.trim().parse::<T>().map_err(|_| {
                config_error(format!(
                    "{name} must be a whole number{what}, got {} characters that are not one",
                    v.chars().count()
                ))
            })
        })
        .transpose()
}

impl Config {
    /// Like [`Config::from_env`], from any lookup (testable without touching the process env).
    /// An empty value is the same as an unset variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let ms = |name: &str| -> Result<Option<Duration>> {
            Ok(number::<u64>(name, get(name), " of milliseconds")?.map(Duration::from_millis))
        };
        let mut b = ConfigBuilder::default();
        if let Some(t) = ms("PIAOJU_TIMEOUT_MS")? {
            b = b.timeout(t);
        }
        if let Some(t) = ms("PIAOJU_CONNECT_TIMEOUT_MS")? {
            b = b.connect_timeout(t);
        }
        if let Some(p) = get("PIAOJU_PROXY") {
            b = b.proxy(p);
        }
        if let Some(ua) = get("PIAOJU_USER_AGENT") {
            b = b.user_agent(ua);
        }
        if let Some(k) = get("PIAOJU_JUHE_KEY") {
            b = b.juhe_key(k);
        }
        if let Some(u) = get("PIAOJU_JUHE_BASE_URL") {
            b = b.juhe_base_url(u);
        }
        let environment = choice(
            "PIAOJU_CHINAUMS_ENV",
            get("PIAOJU_CHINAUMS_ENV"),
            &["test", "production"],
        )?;
        let auth = choice(
            "PIAOJU_CHINAUMS_AUTH",
            get("PIAOJU_CHINAUMS_AUTH"),
            &["access_token", "body_signature"],
        )?;
        if let Some(id) = get("PIAOJU_CHINAUMS_APP_ID") {
            b = b.chinaums_app_id(id);
        }
        if let Some(k) = get("PIAOJU_CHINAUMS_APP_KEY") {
            b = b.chinaums_app_key(k);
        }
        if let Some(u) = get("PIAOJU_CHINAUMS_BASE_URL") {
            b = b.chinaums_base_url(u);
        }
        if let Some(u) = get("PIAOJU_CHINAUMS_TOKEN_URL") {
            b = b.chinaums_token_url(u);
        }
        if let Some(e) = environment {
            b = b.chinaums_environment(e);
        }
        if let Some(a) = auth {
            b = b.chinaums_auth(a);
        }
        if let Some(n) = number::<u32>("PIAOJU_MAX_ATTEMPTS", get("PIAOJU_MAX_ATTEMPTS"), "")? {
            b = b.max_attempts(n);
        }
        if let Some(path) = get("PIAOJU_CACHE") {
            b = b.cache(path);
        }
        let ascii: Option<String> = choice(
            "PIAOJU_ASCII_JSON",
            get("PIAOJU_ASCII_JSON"),
            &["1", "0", "true", "false"],
        )?;
        b = b.ascii_json(matches!(ascii.as_deref(), Some("1" | "true")));
        if let Some(fit) = choice(
            "PIAOJU_IMAGE_FIT",
            get("PIAOJU_IMAGE_FIT"),
            &["auto", "off"],
        )? {
            b = b.image_fit(fit);
        }
        if let Some(roots) = choice(
            "PIAOJU_TLS_ROOTS",
            get("PIAOJU_TLS_ROOTS"),
            &["bundled", "system"],
        )? {
            b = b.tls_roots(roots);
        }
        if let Some(f) = get("PIAOJU_CA_FILE") {
            b = b.tls_ca_file(f);
        }
        b.build()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{AuthMode, Environment, TlsRoots};
    use crate::error::ErrorCode;

    #[test]
    fn environment_variables() {
        let env: HashMap<&str, &str> = [
            ("PIAOJU_JUHE_KEY", "jk"),
            ("PIAOJU_CHINAUMS_APP_ID", "id"),
            ("PIAOJU_CHINAUMS_APP_KEY", "ak"),
            ("PIAOJU_CHINAUMS_ENV", "production"),
            ("PIAOJU_CHINAUMS_AUTH", "body_signature"),
            ("PIAOJU_TIMEOUT_MS", "1234"),
            ("PIAOJU_TLS_ROOTS", "system"),
            ("PIAOJU_CA_FILE", "/etc/ca.pem"),
        ]
        .into_iter()
        .collect();
        let c = Config::from_lookup(|n| env.get(n).map(|v| v.to_string())).unwrap();
        assert_eq!(c.juhe.as_ref().unwrap().key.as_deref(), Some("jk"));
        let u = c.chinaums.as_ref().unwrap();
        assert_eq!(u.environment, Environment::Production);
        assert_eq!(u.auth, AuthMode::BodySignature);
        assert_eq!(c.timeout_ms, Some(1234));
        let tls = c.tls.as_ref().unwrap();
        assert_eq!(tls.roots, TlsRoots::System);
        assert_eq!(tls.ca_file.as_deref(), Some("/etc/ca.pem"));

        for (name, value) in [
            ("PIAOJU_TIMEOUT_MS", "soon"),
            ("PIAOJU_CHINAUMS_ENV", "prod"),
            ("PIAOJU_TLS_ROOTS", "mine"),
            ("PIAOJU_USER_AGENT", "a\u{7}b"),
            ("PIAOJU_PROXY", "socks5://h:1"),
        ] {
            let bad = Config::from_lookup(|n| (n == name).then(|| value.into()));
            assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidConfig, "{name}");
        }
        let none = Config::from_lookup(|_| None).unwrap();
        assert_eq!(none, Config::default());
    }
}
