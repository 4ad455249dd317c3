//! One JSON string in, one JSON string out (C `pj_call`, Python `call_json`), for hosts that
//! can only pass strings.
//!
//! Clients are kept, by configuration, for the next calls: [`CLIENTS`] of them, the least
//! recently used going first. Repeated one-shot calls with one configuration share one
//! client's connections, access token, rate limits (`max_qps`, `max_in_flight`), retry budget
//! and cache (with its same-image de-duplication), as calls on one client do. A client evicted
//! while calls use it lives until they end.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use base64::Engine;

use crate::config::{ascii_json_from_env, ascii_json_of, Config};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Document, DocumentType};
use crate::process::{ForkSafeLock, ProcessLocal};
use crate::text::{ascii_json, strip_bom};
use crate::Client;

/// How many clients one-shot calls keep (one per configuration).
pub(crate) const CLIENTS: usize = 16;

/// A kept configuration's client, made once: the first call for a configuration makes it
/// while the others for the same configuration wait (so 16 threads starting together make one
/// client, open its cache once and fetch one token). Per process: a child after `fork()`
/// makes its own, never waiting on a lock its parent's thread held.
type Slot = Arc<ProcessLocal<Mutex<Option<Arc<Client>>>>>;

/// The kept configurations, the most recently used last. A child process after `fork()` may
/// start with none (see [`ForkSafeLock`]).
static KEPT: ForkSafeLock<Vec<(Config, Slot)>> = ForkSafeLock::new(Vec::new());

/// The kept client of this configuration, made (and kept) if there is none.
fn client_for(config: Config) -> Result<Arc<Client>> {
    let (slot, evicted) = KEPT.with(true, Vec::new, |kept| {
        let entry = match kept.iter().position(|(c, _)| *c == config) {
            Some(i) => kept.remove(i),
            None => (
                config.clone(),
                Arc::new(ProcessLocal::new(Mutex::new(None))),
            ),
        };
        let slot = Arc::clone(&entry.1);
        kept.push(entry);
        let evicted = (kept.len() > CLIENTS).then(|| kept.remove(0));
        (slot, evicted)
    });
    // Dropped outside the lock; calls still using its client keep it alive.
    drop(evicted);
    let mut made = slot
        .get(|| Mutex::new(None))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(client) = &*made {
        return Ok(Arc::clone(client));
    }
    // Made outside KEPT's lock (it may read CA files and open the cache). On failure nothing
    // is kept: the next call tries again (and reports its own error).
    match Client::new(config) {
        Ok(client) => {
            let client = Arc::new(client);
            *made = Some(Arc::clone(&client));
            Ok(client)
        }
        Err(e) => {
            drop(made);
            let forgotten = KEPT.with(true, Vec::new, |kept| {
                let i = kept.iter().position(|(_, s)| Arc::ptr_eq(s, &slot))?;
                Some(kept.remove(i))
            });
            drop(forgotten);
            Err(e)
        }
    }
}

/// How many clients one-shot calls keep right now (tests).
#[cfg(test)]
pub(crate) fn kept_clients() -> usize {
    KEPT.with(false, Vec::new, |kept| kept.len())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OneShotRequest {
    /// Absent: the environment; present (even `null`): exactly that ([`Config::resolve_value`]).
    #[serde(default, deserialize_with = "present")]
    config: Option<serde_json::Value>,
    operation: DocumentType,
    #[serde(default)]
    image_path: Option<String>,
    /// The path's bytes in hexadecimal, for a file name that is not UTF-8 (Unix file names
    /// are bytes; JSON text is UTF-8).
    #[serde(default)]
    image_path_hex: Option<String>,
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

/// `image_path_hex` as a path: its bytes on Unix; UTF-8 elsewhere (Windows paths are Unicode).
fn path_from_hex(hex: &str) -> Result<PathBuf> {
    let digits = hex.as_bytes();
    if digits.is_empty() || digits.len() % 2 != 0 {
        return Err(invalid(
            "image_path_hex must be an even number of hexadecimal digits",
        ));
    }
    let bytes = digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| {
                    invalid("image_path_hex holds a character that is not a hexadecimal digit")
                })
        })
        .collect::<Result<Vec<u8>>>()?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        Ok(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
    #[cfg(not(unix))]
    {
        String::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|_| invalid("image_path_hex must be UTF-8 on this system"))
    }
}

/// Whether the answer to this request should be ASCII, known even when the request is not
/// valid: its configuration's `ascii_json` (when that is a boolean), else, without a
/// `"config"` or when the request is not JSON, `PIAOJU_ASCII_JSON`.
fn ascii_hint(request_json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(request_json)
        .ok()
        .and_then(|v| v.get("config").and_then(ascii_json_of))
        .unwrap_or_else(ascii_json_from_env)
}

/// The call, and whether its answer is to be ASCII.
fn one_shot(request_json: &str) -> (Result<Document>, bool) {
    let req: OneShotRequest = match parse_request(request_json) {
        Ok(req) => req,
        Err(e) => return (Err(e), ascii_hint(request_json)),
    };
    let config = match Config::resolve_value(req.config) {
        Ok(config) => config,
        Err(e) => return (Err(e), ascii_hint(request_json)),
    };
    let ascii = config.ascii_json;
    let outcome = client_for(config).and_then(|client| {
        match (req.image_path, req.image_path_hex, req.image_base64) {
            (Some(p), None, None) => client.recognize(req.operation, std::path::Path::new(&p)),
            (None, Some(h), None) => client.recognize(req.operation, &path_from_hex(&h)?),
            (None, None, Some(b)) => client.recognize(req.operation, &decode_image(&b)?),
            _ => Err(invalid(
                "give exactly one of image_path, image_path_hex and image_base64",
            )),
        }
    });
    (outcome, ascii)
}

fn parse_request(request_json: &str) -> Result<OneShotRequest> {
    serde_json::from_str(request_json).map_err(|e| {
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
    })
}

/// `{"config": {...}, "operation": "shopping_receipt"|"used_car_invoice",
/// "image_path"|"image_path_hex"|"image_base64": "..."}` → `{"ok": true, "result": {...}}` or
/// `{"ok": false, "error": {...}}`. A leading UTF-8 byte-order mark is ignored. The client of
/// the (resolved) configuration is kept for the next calls (see the module's documentation).
/// With `ascii_json`, the answer is pure ASCII.
pub fn call_json(request_json: &str) -> String {
    let (outcome, ascii) = one_shot(strip_bom(request_json));
    let out = match outcome {
        Ok(doc) => serde_json::json!({"ok": true, "result": doc}),
        Err(e) => serde_json::json!({"ok": false, "error": e}),
    }
    .to_string();
    if ascii {
        ascii_json(&out).into_owned()
    } else {
        out
    }
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
    fn a_byte_order_mark_before_the_request_is_ignored() {
        let out: serde_json::Value = serde_json::from_str(&call_json(
            "\u{feff}{\"operation\":\"shopping_receipt\",\"image_base64\":\"bm8gaW1hZ2U=\",\"config\":{\"juhe\":{\"key\":\"k\"}}}",
        ))
        .unwrap();
        assert_eq!(out["error"]["name"], "image_format_unsupported", "{out}");
    }

    #[test]
    fn ascii_json_makes_the_answer_ascii_even_for_a_bad_request() {
        let path = "/nonexistent/发票😀.png";
        for (config, ascii) in [
            (r#"{"juhe":{"key":"k"},"ascii_json":true}"#, true),
            (r#"{"juhe":{"key":"k"}}"#, false),
            // An invalid configuration that asks for ASCII gets its error in ASCII.
            (r#"{"juhe":{"钥匙":"x"},"ascii_json":true}"#, true),
        ] {
            let out = call_json(&format!(
                r#"{{"operation":"shopping_receipt","image_path":"{path}","config":{config}}}"#
            ));
            assert_eq!(out.is_ascii(), ascii, "{out}");
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["ok"], false);
            if v["error"]["code"] == 201 {
                assert!(
                    v["error"]["message"].as_str().unwrap().contains(path),
                    "{v}"
                );
            } else {
                assert_eq!(v["error"]["code"], 101, "{v}");
                assert!(
                    v["error"]["message"].as_str().unwrap().contains("钥匙"),
                    "{v}"
                );
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn image_path_hex_names_a_file_that_is_not_utf8() {
        use std::os::unix::ffi::OsStrExt;
        let dir = std::env::temp_dir().join(format!("piaoju-hex-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // 发票.png in GBK bytes.
        let name = std::ffi::OsStr::from_bytes(b"\xb7\xa2\xc6\xb1.png");
        std::fs::write(dir.join(name), b"not an image").unwrap();
        let hex: String = dir
            .join(name)
            .as_os_str()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let call = |field: &str, value: &str| -> serde_json::Value {
            serde_json::from_str(&call_json(&format!(
                r#"{{"operation":"shopping_receipt","{field}":"{value}","config":{{"juhe":{{"key":"k"}}}}}}"#
            )))
            .unwrap()
        };
        // Read (its bytes are no image), not "unreadable".
        let out = call("image_path_hex", &hex);
        assert_eq!(out["error"]["name"], "image_format_unsupported", "{out}");
        let out = call("image_path_hex", &format!("{hex}ff"));
        assert_eq!(out["error"]["name"], "image_unreadable", "{out}");
        assert_eq!(out["error"]["os_error"], 2, "{out}");
        let message = out["error"]["message"].as_str().unwrap();
        // A name that is not UTF-8 shows every byte that is not ASCII escaped.
        assert!(
            message.contains("\\xB7\\xA2\\xC6\\xB1.png\\xFF"),
            "{message}"
        );
        for bad in ["", "abc", "zz", "é1"] {
            let out = call("image_path_hex", bad);
            assert_eq!(out["error"]["code"], 103, "{bad:?}: {out}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn clients_are_kept_by_configuration_at_most_sixteen() {
        let request = |timeout: u32| {
            format!(
                r#"{{"operation":"shopping_receipt","image_base64":"bm8gaW1hZ2U=","config":{{"juhe":{{"key":"kept"}},"timeout_ms":{}}}}}"#,
                900_000 + timeout
            )
        };
        for round in 0..2 {
            for t in 0..(CLIENTS as u32 + 4) {
                let out: serde_json::Value = serde_json::from_str(&call_json(&request(t))).unwrap();
                assert_eq!(
                    out["error"]["name"], "image_format_unsupported",
                    "{round} {t}"
                );
                assert!(kept_clients() <= CLIENTS);
            }
        }
        assert_eq!(kept_clients(), CLIENTS);
        // A configuration whose client cannot be made is not kept.
        let unusable = Config::builder()
            .tls_ca_file("/nonexistent/ca.pem")
            .build()
            .unwrap();
        assert_eq!(
            client_for(unusable.clone()).unwrap_err().code,
            ErrorCode::InvalidConfig
        );
        assert!(KEPT.with(false, Vec::new, |kept| kept
            .iter()
            .all(|(c, _)| *c != unusable)));
        // The same configuration twice: one client.
        let config = Config::builder()
            .juhe_key("kept")
            .timeout(std::time::Duration::from_millis(900_001))
            .build()
            .unwrap();
        let a = client_for(config.clone()).unwrap();
        let b = client_for(config).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
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
