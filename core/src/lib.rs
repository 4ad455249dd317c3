//! piaoju (票据): a client for Chinese document-OCR web services.
//!
//! - Juhe shopping receipt OCR (购物小票) → [`ShoppingReceipt`]
//! - ChinaUMS used-car sales e-invoice OCR (二手车销售统一发票) → [`UsedCarInvoice`]
//!
//! One [`Client`] (thread-safe, connection-reusing) per configuration. Every image is checked
//! before any request is made; every failure is an [`Error`] with a stable [`ErrorCode`];
//! every result carries the [`check`]s its fields allow.
//!
//! ```no_run
//! let client = piaoju::Client::new(piaoju::Config::from_json(r#"{"juhe": {"key": "..."}}"#)?)?;
//! let receipt = client.recognize_shopping_receipt(std::path::Path::new("receipt.jpg"))?;
//! println!("{} paid at {:?}", receipt.total_amount.unwrap_or_default(), receipt.shop_name);
//! # Ok::<(), piaoju::Error>(())
//! ```

pub mod check;
pub mod chinaums;
pub mod config;
pub mod decimal;
pub mod error;
mod http;
pub mod image;
pub mod juhe;
pub mod model;

use std::fmt;

pub use check::{Check, CheckStatus};
pub use config::{AuthMode, ChinaumsConfig, Config, Environment, JuheConfig};
pub use decimal::Decimal;
pub use error::{Band, Error, ErrorCode, Provider, Result};
pub use http::HttpAnswer;
pub use image::{ImageFormat, ImageInfo, ImageSource};
pub use model::{Field, Position, ReceiptItem, ShoppingReceipt, UsedCarInvoice};

use chinaums::auth::{self, TokenCache};

/// The crate version (also the C header's and the Python package's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A client for both providers. `Send + Sync`: share one between threads; it reuses connections
/// and, in access-token mode, one cached token.
pub struct Client {
    config: Config,
    agent: ureq::Agent,
    tokens: TokenCache,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn missing(what: &str, how: &str) -> Error {
    Error::new(
        ErrorCode::MissingCredentials,
        format!("{what} is not configured: set {how}"),
    )
}

impl Client {
    pub fn new(config: Config) -> Result<Client> {
        config.validate()?;
        let agent = http::agent(&config)?;
        Ok(Client {
            config,
            agent,
            tokens: TokenCache::default(),
        })
    }

    /// A client configured from the `PIAOJU_*` environment variables.
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn juhe_key(&self) -> Result<&str> {
        self.config
            .juhe
            .as_ref()
            .and_then(|j| j.key.as_deref())
            .ok_or_else(|| missing("the Juhe key", "juhe.key or PIAOJU_JUHE_KEY"))
    }

    fn chinaums_credentials(&self) -> Result<(&str, &str)> {
        let c = self.config.chinaums.as_ref();
        let id = c.and_then(|c| c.app_id.as_deref()).ok_or_else(|| {
            missing(
                "the ChinaUMS appId",
                "chinaums.app_id or PIAOJU_CHINAUMS_APP_ID",
            )
        })?;
        let key = c.and_then(|c| c.app_key.as_deref()).ok_or_else(|| {
            missing(
                "the ChinaUMS appKey",
                "chinaums.app_key or PIAOJU_CHINAUMS_APP_KEY",
            )
        })?;
        Ok((id, key))
    }

    /// Recognize a shopping receipt with Juhe.
    pub fn recognize_shopping_receipt<'a>(
        &self,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<ShoppingReceipt> {
        let key = self.juhe_key()?;
        let bytes = image.into().load()?;
        image::preflight_juhe(&bytes)?;
        let body = juhe::form_body(key, &bytes);
        drop(bytes);
        let answer = http::post(
            &self.agent,
            Provider::Juhe,
            &self.config.juhe_url(),
            "application/x-www-form-urlencoded",
            None,
            &body,
        )?;
        juhe::parse_answer(&answer)
    }

    /// Recognize a used-car sales invoice with ChinaUMS.
    pub fn recognize_used_car_invoice<'a>(
        &self,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<UsedCarInvoice> {
        let (app_id, app_key) = self.chinaums_credentials()?;
        let bytes = image.into().load()?;
        image::preflight_chinaums(&bytes)?;
        let body = chinaums::request_body(&bytes);
        drop(bytes);
        let url = self.config.chinaums_ocr_url();
        let mode = self
            .config
            .chinaums
            .as_ref()
            .map(|c| c.auth)
            .unwrap_or_default();
        let send = |authorization: &str| {
            http::post(
                &self.agent,
                Provider::Chinaums,
                &url,
                "application/json",
                Some(authorization),
                &body,
            )
        };
        let answer = match mode {
            AuthMode::BodySignature => send(&auth::body_signature_header(app_id, app_key, &body)?)?,
            AuthMode::AccessToken => {
                let token_url = self.config.chinaums_token_url();
                let fetch = || auth::fetch_token(&self.agent, &token_url, app_id, app_key);
                let token = self.tokens.get(None, fetch)?;
                let answer = send(&token_header(&token))?;
                if chinaums::is_auth_rejection(&answer) {
                    // The token was revoked or expired early: renew it once and retry once.
                    let fresh = self.tokens.get(Some(&token), fetch)?;
                    send(&token_header(&fresh))?
                } else {
                    answer
                }
            }
        };
        chinaums::parse_answer(&answer)
    }
}

fn token_header(token: &str) -> String {
    format!("OPEN-ACCESS-TOKEN AccessToken=\"{token}\"")
}

/// Configuration for the bindings: `None`, empty, `"null"` or `"{}"` means "from the
/// environment"; anything else is the configuration JSON.
pub fn config_from_json_or_env(text: Option<&str>) -> Result<Config> {
    match text.map(str::trim) {
        None | Some("") | Some("{}") | Some("null") => Config::from_env(),
        Some(t) => Config::from_json(t),
    }
}

/// A recognized document of either type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
// Returned once and matched at once; boxing would only add an allocation per call.
#[allow(clippy::large_enum_variant)]
pub enum Document {
    ShoppingReceipt(ShoppingReceipt),
    UsedCarInvoice(UsedCarInvoice),
}

impl Document {
    /// Serialize to the documented JSON schema.
    pub fn to_json(&self) -> String {
        match self {
            Document::ShoppingReceipt(r) => r.to_json(),
            Document::UsedCarInvoice(i) => i.to_json(),
        }
    }
}

/// The document types, by their names in one-shot requests and results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    ShoppingReceipt,
    UsedCarInvoice,
}

impl Client {
    /// Recognize a document of the given type.
    pub fn recognize<'a>(
        &self,
        op: Operation,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<Document> {
        Ok(match op {
            Operation::ShoppingReceipt => {
                Document::ShoppingReceipt(self.recognize_shopping_receipt(image)?)
            }
            Operation::UsedCarInvoice => {
                Document::UsedCarInvoice(self.recognize_used_car_invoice(image)?)
            }
        })
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OneShotRequest {
    #[serde(default)]
    config: Option<serde_json::Value>,
    operation: Operation,
    #[serde(default)]
    image_path: Option<String>,
    #[serde(default)]
    image_base64: Option<String>,
}

fn one_shot(request_json: &str) -> Result<Document> {
    use base64::Engine;
    let req: OneShotRequest = serde_json::from_str(request_json)
        .map_err(|e| Error::new(ErrorCode::InvalidRequest, format!("request JSON: {e}")))?;
    let config = match req.config {
        None | Some(serde_json::Value::Null) => Config::from_env()?,
        Some(serde_json::Value::Object(m)) if m.is_empty() => Config::from_env()?,
        Some(v) => Config::from_value(v)?,
    };
    let client = Client::new(config)?;
    match (req.image_path, req.image_base64) {
        (Some(p), None) => client.recognize(req.operation, std::path::Path::new(&p)),
        (None, Some(b)) => {
            // Tolerate what ERP hosts produce: a data-URL prefix and MIME line breaks.
            let b = match b.find(";base64,") {
                Some(i) if b.trim_start().starts_with("data:") => &b[i + ";base64,".len()..],
                _ => b.as_str(),
            };
            let compact: String = b.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|e| {
                    Error::new(
                        ErrorCode::InvalidRequest,
                        format!("image_base64 is not valid base64: {e}"),
                    )
                })?;
            client.recognize(req.operation, &bytes)
        }
        _ => Err(Error::new(
            ErrorCode::InvalidRequest,
            "give exactly one of image_path and image_base64",
        )),
    }
}

/// One JSON string in, one JSON string out, for hosts that can only pass strings:
/// `{"config": {...}, "operation": "shopping_receipt"|"used_car_invoice", "image_path"|"image_base64": "..."}`
/// → `{"ok": true, "result": {...}}` or `{"ok": false, "error": {...}}`.
pub fn call_json(request_json: &str) -> String {
    let out = match one_shot(request_json) {
        Ok(doc) => serde_json::json!({"ok": true, "result": doc}),
        Err(e) => serde_json::json!({"ok": false, "error": e}),
    };
    out.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn client_is_send_and_sync() {
        assert_send_sync::<Client>();
    }

    #[test]
    fn missing_credentials_are_reported_before_anything_else() {
        let c = Client::new(Config::default()).unwrap();
        let e = c
            .recognize_shopping_receipt(&b"not even an image"[..])
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingCredentials);
        assert!(e.message.contains("PIAOJU_JUHE_KEY"));
        let e = c.recognize_used_car_invoice(&b"x"[..]).unwrap_err();
        assert_eq!(e.code, ErrorCode::MissingCredentials);
    }

    #[test]
    fn call_json_rejects_bad_requests() {
        for (req, code) in [
            ("", 103),
            ("{", 103),
            (r#"{"operation":"passport","image_path":"x"}"#, 103),
            (r#"{"operation":"shopping_receipt"}"#, 103),
            (
                r#"{"operation":"shopping_receipt","image_path":"a","image_base64":"b"}"#,
                103,
            ),
            (
                r#"{"operation":"shopping_receipt","image_base64":"***","config":{"juhe":{"key":"k"}}}"#,
                103,
            ),
            (
                r#"{"operation":"shopping_receipt","image_path":"x","extra":1}"#,
                103,
            ),
            (
                r#"{"operation":"shopping_receipt","image_path":"x","config":{"jueh":{}}}"#,
                101,
            ),
            (
                r#"{"operation":"shopping_receipt","image_path":"/nonexistent/x.png","config":{"juhe":{"key":"k"}}}"#,
                201,
            ),
        ] {
            let out: serde_json::Value = serde_json::from_str(&call_json(req)).unwrap();
            assert_eq!(out["ok"], false, "{req}");
            assert_eq!(out["error"]["code"], code, "{req}: {out}");
        }
    }
}

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
