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
//! let client = piaoju::Client::new(piaoju::Config::builder().juhe_key("...").build()?)?;
//! let receipt = client.recognize_shopping_receipt(std::path::Path::new("receipt.jpg"))?;
//! if let Some(total) = receipt.total_amount {
//!     println!("{total} paid at {:?}", receipt.shop_name);
//! }
//! # Ok::<(), piaoju::Error>(())
//! ```

#![deny(missing_docs)]

// Public modules: batches, the standalone checks, the services' published facts.
pub mod batch;
pub mod check;
pub mod spec;

/// For piaoju's own bindings (C, Python, the command line); not API.
#[doc(hidden)]
pub mod bindings;

// The rest is private; the chosen types are re-exported below.
mod body;
mod boundary;
mod cache;
mod calendar;
mod call;
mod chinaums;
mod client;
mod config;
mod deadline;
mod decimal;
mod error;
mod fit;
mod hint;
mod http;
mod image;
mod juhe;
mod limit;
mod model;
mod normalize;
mod oneshot;
mod os_error;
mod outcome;
mod process;
mod retry;
mod schema;
mod text;
mod wire;

#[cfg(test)]
mod ocr_corpus;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod receipt_corpus;

pub use cache::ResultStore;
#[cfg(feature = "cache")]
pub use cache::{user_cache_path, CacheInfo, SqliteStore};
pub use calendar::{Date, Time};
pub use client::Client;
pub use config::{
    AuthMode, CacheConfig, ChinaumsConfig, Config, ConfigBuilder, Environment, JuheConfig,
    TlsConfig, TlsRoots, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, MAX_QPS_RANGE,
    MAX_TIMEOUT_MS,
};
pub use decimal::Decimal;
pub use error::{Band, Error, ErrorCode, Provider, ProviderCode, Result};
pub use fit::{ImageDescription, ImageFit, ImageReport, MAX_PIXELS};
pub use image::{ImageFormat, ImageInfo, ImageSource, MAX_IMAGE_LEN};
pub use model::{
    Check, CheckStatus, Document, DocumentType, Field, Position, ReceiptItem, ShoppingReceipt,
    UsedCarInvoice,
};
pub use retry::RetryConfig;

/// Internals measured by `examples/form_body_bench.rs` (feature `bench`; not API).
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench {
    pub use crate::chinaums::request_body;
    pub use crate::fit::{bench_fit, bench_resize};
    pub use crate::juhe::{form, form_body};
}

/// The target of every log record piaoju writes (the `log` crate's): retries, rate-limit waits
/// and refusals, cache hits, misses and failed writes, token fetches, fit decisions. No record
/// holds a secret (a key, an app key, a token, a URL's password). Route this target alone:
/// ureq (piaoju's HTTP client) dumps the wire, credentials included, at `trace` level under its
/// own targets.
pub const LOG_TARGET: &str = "piaoju";

/// The crate version (also the C header's and the Python package's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The README's Rust example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The Rust examples of `docs/rust.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rust.md")]
pub struct RustDocDoctests;
