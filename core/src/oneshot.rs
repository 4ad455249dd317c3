//! One JSON string in, one JSON string out (C `pj_call`, Python `call_json`), for hosts that
//! can only pass strings.

use base64::Engine;

use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Document, DocumentType};
use crate::Client;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OneShotRequest {
    /// Absent: the environment; present (even `null`): exactly that ([`Config::resolve_value`]).
    #[serde(default, deserialize_with = "present")]
    config: Option<serde_json::Value>,
    operation: DocumentType,
    #[serde(default)]
    image_path: Option<String>,
    #[serde(default)]
    image_base64: Option<String>,
}

/// A key that is present is `Some`, even when its value is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidRequest, msg)
}

/// Decode `image_base64`, tolerating what ERP hosts produce: a data-URL prefix and MIME line
/// breaks.
fn decode_image(b: &str) -> Result<Vec<u8>> {
    let b = match b.find(";base64,") {
        Some(i) if b.trim_start().starts_with("data:") => &b[i + ";base64,".len()..],
        _ => b,
    };
    let compact: String = b.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| invalid(format!("image_base64 is not valid base64: {e}")))
}

fn one_shot(request_json: &str) -> Result<Document> {
    let req: OneShotRequest = serde_json::from_str(request_json).map_err(|e| {
        // Only the position: the text may quote the request, image and credentials included.
        invalid(format!(
            "the request is not a valid one-shot request (line {}, column {}): {}",
            e.line(),
            e.column(),
            match e.classify() {
                serde_json::error::Category::Data =>
                    "an unknown key or operation, or a value of the wrong type",
                _ => "not JSON",
            }
        ))
    })?;
    let client = Client::new(Config::resolve_value(req.config)?)?;
    match (req.image_path, req.image_base64) {
        (Some(p), None) => client.recognize(req.operation, std::path::Path::new(&p)),
        (None, Some(b)) => client.recognize(req.operation, &decode_image(&b)?),
        _ => Err(invalid("give exactly one of image_path and image_base64")),
    }
}

/// `{"config": {...}, "operation": "shopping_receipt"|"used_car_invoice",
/// "image_path"|"image_base64": "..."}` → `{"ok": true, "result": {...}}` or
/// `{"ok": false, "error": {...}}`.
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

    #[test]
    fn bad_requests_are_typed_errors() {
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
                r#"{"operation":"shopping_receipt","image_path":"x","config":[]}"#,
                101,
            ),
            (
                r#"{"operation":"shopping_receipt","image_path":"x","config":null}"#,
                101,
            ),
            (
                r#"{"operation":"shopping_receipt","image_path":"/nonexistent/x.png","config":{"juhe":{"key":"k"}}}"#,
                201,
            ),
            // An explicit empty configuration has no credentials, whatever the environment.
            (
                r#"{"operation":"shopping_receipt","image_path":"x","config":{}}"#,
                102,
            ),
        ] {
            let out: serde_json::Value = serde_json::from_str(&call_json(req)).unwrap();
            assert_eq!(out["ok"], false, "{req}");
            assert_eq!(out["error"]["code"], code, "{req}: {out}");
        }
    }

    #[test]
    fn request_errors_do_not_quote_the_request() {
        let out = call_json(
            r#"{"operation":"shopping_receipt","config":{"juhe":{"key":"SECRET-KEY"}},"image_path":5}"#,
        );
        assert!(out.contains("\"code\":103"), "{out}");
        assert!(!out.contains("SECRET-KEY"), "{out}");
    }

    #[test]
    fn data_url_and_line_breaks_are_accepted() {
        assert_eq!(
            decode_image("data:image/png;base64,QU\r\nJD").unwrap(),
            b"ABC"
        );
        assert_eq!(decode_image(" QUJD ").unwrap(), b"ABC");
    }
}
