//! [`Client`]: one configuration, its shared agent, retries, rate limits and cache; it
//! dispatches each call to its provider.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{Cache, SqliteStore, WriteReport};
use crate::call::{BatchScope, Call};
use crate::chinaums::Chinaums;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::error::Result;
use crate::hint;
use crate::http::Http;
use crate::image::ImageSource;
use crate::juhe::Juhe;
use crate::model::{Document, DocumentType, ShoppingReceipt, UsedCarInvoice};
use crate::retry::Retrier;

/// A client for both providers. `Send + Sync`: share one between threads; it reuses connections
/// and, in access-token mode, one cached token. It dispatches each call to its provider, which
/// owns its part of the flow (credentials, preflight, request, authentication, parsing,
/// checks); the cache, the retries and the rate limits are the same pipeline for both.
pub struct Client {
    config: Config,
    http: Http,
    retrier: Retrier,
    cache: Option<Cache>,
    juhe: Juhe,
    chinaums: Chinaums,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for this configuration, checked in full (URLs, proxy, timeouts, TLS files, the
    /// cache file).
    pub fn new(config: Config) -> Result<Client> {
        config.validate()?;
        Ok(Client {
            http: Http::new(&config)?,
            retrier: Retrier::new(config.retry.unwrap_or_default()),
            cache: match &config.cache {
                Some(c) => Some(Cache::new(
                    Arc::new(SqliteStore::open(&c.path)?),
                    c.path.clone(),
                )),
                None => None,
            },
            juhe: Juhe::new(&config),
            chinaums: Chinaums::new(&config),
            config,
        })
    }

    /// What one call works with: the shared agent, retries and cache, its own deadline
    /// (starting now) and its batch, if any.
    fn call<'a>(&'a self, batch: Option<&'a BatchScope<'a>>) -> Call<'a> {
        Call {
            http: &self.http,
            retrier: &self.retrier,
            cache: self.cache.as_ref(),
            deadline: Deadline::after(self.config.timeout()),
            batch,
        }
    }

    /// A client configured from the `PIAOJU_*` environment variables.
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }

    /// The configuration the client was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Recognize a shopping receipt with Juhe, within the configured `timeout_ms`.
    pub fn recognize_shopping_receipt<'a>(
        &self,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<ShoppingReceipt> {
        let receipt = self.juhe.recognize(&self.call(None), image.into());
        receipt.map_err(|e| hint::attach(e, &self.config))
    }

    /// Recognize a used-car sales invoice with ChinaUMS, within the configured `timeout_ms`
    /// (token fetch and refresh included).
    pub fn recognize_used_car_invoice<'a>(
        &self,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<UsedCarInvoice> {
        let invoice = self.chinaums.recognize(&self.call(None), image.into());
        invoice.map_err(|e| hint::attach(e, &self.config))
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
        self.recognize_in(document_type, image.into(), None)
    }

    /// Recognize as part of `batch`: nothing is sent once the batch is cancelled (see
    /// [`crate::batch::run`]), and a possibly-billed failure is shared with the batch's other
    /// inputs of the same image.
    pub(crate) fn recognize_in(
        &self,
        document_type: DocumentType,
        image: ImageSource<'_>,
        batch: Option<&BatchScope<'_>>,
    ) -> Result<Document> {
        let call = self.call(batch);
        let document = match document_type {
            DocumentType::ShoppingReceipt => self
                .juhe
                .recognize(&call, image)
                .map(Document::ShoppingReceipt),
            DocumentType::UsedCarInvoice => self
                .chinaums
                .recognize(&call, image)
                .map(Document::UsedCarInvoice),
        };
        document.map_err(|e| hint::attach(e, &self.config))
    }

    /// How long until a request of this document type's provider could go, as far as the
    /// provider's learned rate limit says.
    pub(crate) fn ready_in(&self, document_type: DocumentType) -> Duration {
        match document_type {
            DocumentType::ShoppingReceipt => self.juhe.limiter().ready_in(),
            DocumentType::UsedCarInvoice => self.chinaums.limiter().ready_in(),
        }
    }

    /// Wait (at most `timeout`) until the cache has written every answer; what it could not
    /// write, and its name. `None` without a cache.
    pub(crate) fn flush_cache(&self, timeout: Duration) -> Option<(WriteReport, &str)> {
        self.cache.as_ref().map(|c| (c.flush(timeout), c.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

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
