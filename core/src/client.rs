//! [`Client`]: one configuration, its shared agent, retries, rate limits and cache; it
//! dispatches each call to its provider.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::ResultStore;
use crate::cache::{Cache, WriteReport};
use crate::call::{BatchScope, Call};
use crate::chinaums::Chinaums;
use crate::config::Config;
use crate::deadline::Deadline;
use crate::error::{Error, ErrorCode, Result};
use crate::hint;
use crate::http::Http;
use crate::image::ImageSource;
use crate::juhe::Juhe;
use crate::model::{Document, DocumentType, ShoppingReceipt, UsedCarInvoice};
use crate::outcome::{alone, Outcome, Stop};
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

/// The configured cache's store: its SQLite file.
#[cfg(feature = "cache")]
fn open_store(c: &crate::config::CacheConfig) -> Result<Arc<dyn crate::cache::ResultStore>> {
    Ok(Arc::new(crate::cache::SqliteStore::open(&c.path)?))
}

/// Never called: without the `cache` feature a configured cache is refused by
/// [`Config::validate`].
#[cfg(not(feature = "cache"))]
fn open_store(_: &crate::config::CacheConfig) -> Result<Arc<dyn crate::cache::ResultStore>> {
    Err(crate::config::no_cache_in_this_build())
}

impl Client {
    /// A client for this configuration, checked in full (URLs, proxy, timeouts, TLS files, the
    /// cache file).
    pub fn new(config: Config) -> Result<Client> {
        Client::made(config, |config| match &config.cache {
            Some(c) => Ok(Some(Cache::new(open_store(c)?, c.path.clone()))),
            None => Ok(None),
        })
    }

    /// A client for this configuration whose answers are kept in `store`, a [`ResultStore`] of
    /// one's own (a database the application already has, a service shared by machines,
    /// memory), with everything a configured `cache` does: an image answered once is never
    /// sent again, calls for the same image at once send it once, answers are written off the
    /// calls' path. The configuration must not name a `cache` file as well
    /// (`invalid_config`). Works without the `cache` feature.
    ///
    /// The store is given here rather than in the [`Config`]: a configuration is data (it is
    /// compared, serialized, rebuilt in another process), a store is a live object.
    pub fn with_store(config: Config, store: Arc<dyn ResultStore>) -> Result<Client> {
        if config.cache.is_some() {
            return Err(Error::new(
                ErrorCode::InvalidConfig,
                "cache: the configuration names a cache file and a result store was given as \
                 well: give one of them",
            ));
        }
        let name = store.name();
        Client::made(config, |_| Ok(Some(Cache::new(store, name))))
    }

    /// The client, its configuration checked first, then its TLS files, then its cache.
    fn made(
        config: Config,
        cache: impl FnOnce(&Config) -> Result<Option<Cache>>,
    ) -> Result<Client> {
        config.validate()?;
        let http = Http::new(&config)?;
        Ok(Client {
            cache: cache(&config)?,
            http,
            retrier: Retrier::new(config.retry.unwrap_or_default()),
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
        let receipt = alone(self.juhe.recognize(&self.call(None), image.into()));
        receipt.map_err(|e| hint::attach(e, &self.config))
    }

    /// Recognize a used-car sales invoice with ChinaUMS, within the configured `timeout_ms`
    /// (token fetch and refresh included).
    pub fn recognize_used_car_invoice<'a>(
        &self,
        image: impl Into<ImageSource<'a>>,
    ) -> Result<UsedCarInvoice> {
        let invoice = alone(self.chinaums.recognize(&self.call(None), image.into()));
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
        alone(self.recognize_in(document_type, image.into(), None))
    }

    /// Recognize as part of `batch`: nothing is sent once the batch is cancelled or its budget
    /// spent (see [`crate::batch::run`]), and a possibly-billed failure is shared with the
    /// batch's other inputs of the same image.
    pub(crate) fn recognize_in(
        &self,
        document_type: DocumentType,
        image: ImageSource<'_>,
        batch: Option<&BatchScope<'_>>,
    ) -> Outcome<Document> {
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
        document.map_err(|stop| match stop {
            Stop::Failed(e) => Stop::Failed(hint::attach(e, &self.config)),
            not_sent => not_sent,
        })
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
        let only_juhe = Client::new(Config::builder().juhe_key("k").build().unwrap()).unwrap();
        assert!(only_juhe
            .check_credentials(DocumentType::ShoppingReceipt)
            .is_ok());
        assert!(only_juhe
            .check_credentials(DocumentType::UsedCarInvoice)
            .is_err());
    }

    #[test]
    fn tls_files_are_checked_when_the_client_is_made() {
        for (ca_file, what) in [
            ("/nonexistent/ca.pem", "cannot read"),
            ("Cargo.toml", "no certificate"),
        ] {
            let config = Config::builder().tls_ca_file(ca_file).build().unwrap();
            let e = Client::new(config).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidConfig, "{ca_file}");
            assert!(e.message.contains(what), "{}", e.message);
        }
    }

    /// Without the `fit` feature an over-limit image is refused, whatever `image_fit` says,
    /// as with `image_fit: "off"`; before anything is sent.
    #[cfg(not(feature = "fit"))]
    #[test]
    fn without_fit_an_image_over_the_limits_is_refused_as_with_fitting_off() {
        use crate::fit::ImageFit;
        let too_long = crate::image::tests::png_header(5000, 100);
        let refusal = |fit: ImageFit| {
            let config = Config::builder()
                .juhe_key("k")
                .juhe_base_url("http://127.0.0.1:9")
                .image_fit(fit)
                .build()
                .unwrap();
            Client::new(config)
                .unwrap()
                .recognize_shopping_receipt(&too_long)
                .unwrap_err()
        };
        let (auto, off) = (refusal(ImageFit::Auto), refusal(ImageFit::Off));
        assert_eq!(auto.code, ErrorCode::ImageDimensionsTooLarge, "{auto}");
        assert_eq!(
            (auto.message.clone(), auto.attempts),
            (
                format!(
                    "{} (this build of piaoju cannot fit images: built without the `fit` \
                     feature)",
                    off.message
                ),
                0
            )
        );
        // Its hint never suggests fitting, which this build cannot do.
        for e in [auto, off] {
            assert!(!e.hint().unwrap_or_default().contains("image_fit"), "{e}");
        }
    }

    /// Without the `cache` feature a configured cache is refused, from JSON and from the
    /// builder alike, saying why; a store of one's own can still be given.
    #[cfg(not(feature = "cache"))]
    #[test]
    fn without_cache_a_configured_cache_is_an_invalid_config() {
        for e in [
            Config::from_json(r#"{"cache":{"path":"c.sqlite"}}"#).unwrap_err(),
            Config::builder().cache("c.sqlite").build().unwrap_err(),
            Config::from_lookup(|n| (n == "PIAOJU_CACHE").then(|| "c.sqlite".into())).unwrap_err(),
        ] {
            assert_eq!(e.code, ErrorCode::InvalidConfig);
            assert!(e.message.contains("no result cache"), "{e}");
        }
    }
}
