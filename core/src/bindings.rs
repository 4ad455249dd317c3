//! What piaoju's own bindings share (the C library, the Python module, the `piaoju` command):
//! the panic boundary and the handle table, the one-shot JSON call, ASCII-only JSON, the
//! display of file names, and the result schema their result classes and CSV columns are
//! made from.
//!
//! **Not part of the Rust API**: hidden from the documentation, and it may change in any
//! release. A Rust program uses [`crate::Client`] and the typed results instead.

pub use crate::boundary::{catch_panic, Handles};
pub use crate::config::ascii_json_hint;
pub use crate::oneshot::call_json;
pub use crate::schema::{label_zh, schema, SchemaField, ValueKind};
pub use crate::text::{ascii_json, display_path};

/// The configuration as the JSON that [`crate::Config::from_json`] reads back to an equal
/// configuration, **credentials included**: for rebuilding a client elsewhere (a pickled
/// Python client). Never print or log it.
pub fn config_json_with_credentials(config: &crate::Config) -> String {
    config.to_json_with_credentials()
}
