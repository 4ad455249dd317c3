//! piaoju (票据): a client for Chinese document-OCR web services.
//!
//! - Juhe shopping receipt OCR (购物小票) → [`ShoppingReceipt`]
//! - ChinaUMS used-car sales e-invoice OCR (二手车销售统一发票) → [`UsedCarInvoice`]
//!
//! One [`Client`] (thread-safe, connection-reusing) per configuration. Every image is checked
//! before any request is made; every failure is an [`Error`] with a stable [`ErrorCode`];
//! every result carries the [`check`]s its fields allow. Money is an exact [`Decimal`], dates
//! and times are [`Date`] and [`Time`].
//!
//! ```no_run
//! let client = piaoju::Client::new(piaoju::Config::from_json(r#"{"juhe": {"key": "..."}}"#)?)?;
//! let receipt = client.recognize_shopping_receipt(std::path::Path::new("receipt.jpg"))?;
//! if let Some(total) = receipt.total_amount {
//!     println!("{total} paid at {:?}", receipt.shop_name);
//! }
//! # Ok::<(), piaoju::Error>(())
//! ```

// Public modules: the standalone checks, the services' published facts, and the panic boundary
// of the language bindings.
pub mod batch;
pub mod boundary;
pub mod check;
pub mod spec;

// The rest is private; the chosen types are re-exported below.
mod body;
mod cache;
mod calendar;
mod chinaums;
mod config;
mod deadline;
mod decimal;
mod error;
mod fit;
mod http;
mod image;
mod juhe;
mod limit;
mod model;
mod normalize;
mod oneshot;
mod process;
mod retry;
mod wire;

#[cfg(test)]
mod ocr_corpus;
#[cfg(test)]
mod properties;

use std::fmt;
use std::sync::atomic::AtomicBool;

use deadline::Deadline;

pub use cache::{ResultStore, SqliteStore};
pub use calendar::{Date, Time};
pub use config::{
    AuthMode, CacheConfig, ChinaumsConfig, Config, Environment, JuheConfig, TlsConfig, TlsRoots,
    DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS,
};
pub use decimal::Decimal;
pub use error::{Band, Error, ErrorCode, Provider, ProviderCode, Result};
pub use fit::{ImageDescription, ImageFit, ImageReport, MAX_PIXELS};
pub use image::{ImageFormat, ImageInfo, ImageSource, MAX_IMAGE_LEN};
pub use model::{
    schema, Check, CheckStatus, Document, DocumentType, Field, Position, ReceiptItem, SchemaField,
    ShoppingReceipt, UsedCarInvoice, ValueKind,
};
pub use oneshot::call_json;
pub use retry::RetryConfig;

/// Internals measured by `examples/form_body_bench.rs` (feature `bench`; not API).
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench {
    pub use crate::chinaums::request_body;
    pub use crate::fit::{bench_fit, bench_resize};
    pub use crate::juhe::{form, form_body};
}

/// The crate version (also the C header's and the Python package's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A client for both providers. `Send + Sync`: share one between threads; it reuses connections
/// and, in access-token mode, one cached token. It dispatches each call to its provider, which
/// owns the whole flow (credentials, preflight, request, authentication, parsing, checks).
pub struct Client {
    config: Config,
    http: http::Http,
    retrier: retry::Retrier,
    cache: Option<cache::Cache>,
    juhe: juhe::Juhe,
    chinaums: chinaums::Chinaums,
}

/// What a provider's call works with, handed over by [`Client`].
pub(crate) struct Call<'a> {
    pub http: &'a http::Http,
    pub retrier: &'a retry::Retrier,
    pub cache: Option<&'a cache::Cache>,
    pub deadline: Deadline,
    /// Set when the call's batch is cancelled: a request not yet sent is not sent.
    pub cancel: Option<&'a AtomicBool>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for this configuration, checked in full (URLs, proxy, timeouts, TLS files).
    pub fn new(config: Config) -> Result<Client> {
        config.validate()?;
        Ok(Client {
            http: http::Http::new(&config)?,
            retrier: retry::Retrier::new(config.retry.unwrap_or_default()),
            cache: match &config.cache {
                Some(c) => Some(cache::Cache::new(Box::new(SqliteStore::open(&c.path)?))),
                None => None,
            },
            juhe: juhe::Juhe::new(&config),
            chinaums: chinaums::Chinaums::new(&config),
            config,
        })
    }

    /// What one call works with: the shared agent, retries and cache, and its own deadline
    /// (starting now).
    fn call<'a>(&'a self, cancel: Option<&'a AtomicBool>) -> Call<'a> {
        Call {
            http: &self.http,
            retrier: &self.retrier,
            cache: self.cache.as_ref(),
            deadline: Deadline::after(self.config.timeout()),
            cancel,
        }
    }

    /// A client configured from the `PIAOJU_*` environment variables.
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Recognize a shopping receipt with Juhe, within the configured `timeout_ms`.
    pub fn recognize_shopping_receipt<'a>(
        &self,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<ShoppingReceipt> {
        self.juhe.recognize(&self.call(None), image.into())
    }

    /// Recognize a used-car sales invoice with ChinaUMS, within the configured `timeout_ms`
    /// (token fetch and refresh included).
    pub fn recognize_used_car_invoice<'a>(
        &self,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<UsedCarInvoice> {
        self.chinaums.recognize(&self.call(None), image.into())
    }

    /// `missing_credentials` when this document type's provider has no credentials configured
    /// (a batch checks this once, before its first request, instead of failing every image).
    pub fn check_credentials(&self, document_type: DocumentType) -> Result<()> {
        match document_type {
            DocumentType::ShoppingReceipt => self.juhe.credentials().map(drop),
            DocumentType::UsedCarInvoice => self.chinaums.credentials().map(drop),
        }
    }

    /// Recognize a document of the given type.
    pub fn recognize<'a>(
        &self,
        document_type: DocumentType,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<Document> {
        self.recognize_unless(document_type, image.into(), None)
    }

    /// Recognize, unless `cancel` is set before the request is sent (while waiting for the
    /// rate limit, a place in flight or a retry): then nothing more is sent, and the error is
    /// `Error::cancelled` (or, during a retry's wait, the failure being retried).
    pub(crate) fn recognize_unless(
        &self,
        document_type: DocumentType,
        image: ImageSource<'_>,
        cancel: Option<&AtomicBool>,
    ) -> Result<Document> {
        let call = self.call(cancel);
        Ok(match document_type {
            DocumentType::ShoppingReceipt => {
                Document::ShoppingReceipt(self.juhe.recognize(&call, image)?)
            }
            DocumentType::UsedCarInvoice => {
                Document::UsedCarInvoice(self.chinaums.recognize(&call, image)?)
            }
        })
    }
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
        for t in [DocumentType::ShoppingReceipt, DocumentType::UsedCarInvoice] {
            assert_eq!(
                c.check_credentials(t).unwrap_err().code,
                ErrorCode::MissingCredentials
            );
        }
        let only_juhe = Client::new(Config::from_json(r#"{"juhe":{"key":"k"}}"#).unwrap()).unwrap();
        assert!(only_juhe
            .check_credentials(DocumentType::ShoppingReceipt)
            .is_ok());
        assert!(only_juhe
            .check_credentials(DocumentType::UsedCarInvoice)
            .is_err());
    }

    #[test]
    fn tls_files_are_checked_when_the_client_is_made() {
        for (tls, what) in [
            (r#"{"ca_file":"/nonexistent/ca.pem"}"#, "cannot read"),
            (r#"{"ca_file":"Cargo.toml"}"#, "no certificate"),
        ] {
            let config = Config::from_json(&format!(r#"{{"tls":{tls}}}"#)).unwrap();
            let e = Client::new(config).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig, "{tls}");
            assert!(e.message.contains(what), "{}", e.message);
        }
    }
}

/// The README's Rust examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
