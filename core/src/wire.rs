//! Reading the providers' answers: an HTTP exchange's status and body, the body as JSON (or a
//! typed error saying what it was instead), and the lenient scalar readers every answer needs
//! (services send numbers as strings and strings as numbers).

use serde_json::Value;

use crate::error::{Error, ErrorCode, Provider, Result};

/// A completed HTTP exchange: any status, and the body bytes (what the parsers read).
#[derive(Debug)]
pub(crate) struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
    /// The answer's `Retry-After`, in seconds.
    pub retry_after: Option<std::time::Duration>,
}

impl HttpAnswer {
    /// A successful answer read back from the result cache.
    pub fn ok(body: Vec<u8>) -> HttpAnswer {
        HttpAnswer {
            status: 200,
            body,
            retry_after: None,
        }
    }

    #[cfg(test)]
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> HttpAnswer {
        HttpAnswer {
            status,
            body: body.into(),
            retry_after: None,
        }
    }
}

/// An error a provider's answer gave: its code and message, the provider and the HTTP status.
pub(crate) fn provider_error(
    provider: Provider,
    code: ErrorCode,
    message: impl Into<String>,
    status: u16,
) -> Error {
    Error::new(code, message)
        .with_provider(provider)
        .with_http_status(status)
}

/// An answer whose JSON is not of the documented shape (`what` says how, "has no result"):
/// `unexpected_response`, possibly billed (the provider may have processed the request), with
/// an excerpt of the body.
pub(crate) fn unexpected(provider: Provider, answer: &HttpAnswer, what: &str) -> Error {
    provider_error(
        provider,
        ErrorCode::UnexpectedResponse,
        format!(
            "{} answered HTTP {} with JSON that {what}: {:?}",
            provider.label(),
            answer.status,
            excerpt(&answer.body)
        ),
        answer.status,
    )
    .possibly_billed()
}

/// The most objects and arrays an answer may hold. The largest real answer (a ChinaUMS page
/// with its 36 fields) has a few hundred; a body of millions of `{}` is refused before it is
/// parsed, so that it costs neither memory nor time.
pub(crate) const MAX_JSON_CONTAINERS: usize = 50_000;

/// The most characters of a provider's text kept in an error.
pub(crate) const MAX_PROVIDER_TEXT: usize = 500;

/// A provider's text, cut to [`MAX_PROVIDER_TEXT`] characters.
pub(crate) fn clip(text: String) -> String {
    match text.char_indices().nth(MAX_PROVIDER_TEXT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// How many objects and arrays a JSON text opens (strings skipped), stopping past `limit`.
fn containers(body: &[u8], limit: usize) -> usize {
    let (mut count, mut in_string, mut escaped) = (0, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    count += 1;
                    if count > limit {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    count
}

/// Parse an answer, keeping its body (for the cache) on success and its `Retry-After` (for
/// the retry policy) on failure. An error of the recognition band is the provider's verdict on
/// the image, given after processing it: possibly billed, and its body is kept for the cache.
pub(crate) fn parsed<T>(
    answer: HttpAnswer,
    parse: impl Fn(&HttpAnswer) -> Result<T>,
) -> Result<(T, Vec<u8>)> {
    match parse(&answer) {
        Ok(value) => Ok((value, answer.body)),
        Err(mut e) => {
            if e.code.band() == crate::error::Band::Recognition {
                e.possibly_billed = true;
                e.details.get_or_insert_with(Box::default).verdict = Some(answer.body);
            } else {
                // Refused for the provider's rate: not processed.
                e.refused = !e.possibly_billed
                    && matches!(e.code, ErrorCode::RateLimited | ErrorCode::IpRateLimited);
            }
            if let Some(r) = answer.retry_after {
                e.details.get_or_insert_with(Box::default).retry_after = Some(r);
            }
            Err(e)
        }
    }
}

/// A string or a number, as text.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer, or a string holding one.
pub(crate) fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A short, printable excerpt of a body for error messages.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 120;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4)]);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    if text.chars().count() > MAX || body.len() > MAX * 4 {
        out.push('…');
    }
    out
}

/// Parse an answer body as JSON, or explain what it was instead (the excerpt is quoted only when
/// `quote_body` is set: a token endpoint's body may hold a token and is never quoted).
pub(crate) fn json_body(
    provider: Provider,
    answer: &HttpAnswer,
    quote_body: bool,
) -> Result<Value> {
    if containers(&answer.body, MAX_JSON_CONTAINERS) > MAX_JSON_CONTAINERS {
        return Err(Error::new(
            ErrorCode::UnexpectedResponse,
            format!(
                "{} answered HTTP {} with a body of more than {MAX_JSON_CONTAINERS} JSON objects and arrays, far beyond any documented answer",
                provider.label(),
                answer.status
            ),
        )
        .with_provider(provider)
        .with_http_status(answer.status)
        .possibly_billed());
    }
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(v) => Ok(v),
        Err(_) => {
            let status = answer.status;
            let code = if status >= 500 {
                ErrorCode::ServiceHttpError
            } else if status == 429 {
                ErrorCode::RateLimited
            } else if !(200..300).contains(&status) {
                ErrorCode::UnexpectedHttpStatus
            } else {
                ErrorCode::MalformedResponse
            };
            let body = if answer.body.is_empty() {
                "an empty body".to_string()
            } else if quote_body {
                format!("body starting {:?}", excerpt(&answer.body))
            } else {
                format!("a {}-byte body", answer.body.len())
            };
            let e = Error::new(
                code,
                format!(
                    "{} answered HTTP {status} with {body}, not the expected JSON",
                    provider.label()
                ),
            )
            .with_provider(provider)
            .with_http_status(status);
            // A 429 or a 503 says the request was not processed; anything else may have been.
            Err(if matches!(status, 429 | 503) {
                e
            } else {
                e.possibly_billed()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_scalars() {
        assert_eq!(text(Some(&json!("a"))).as_deref(), Some("a"));
        assert_eq!(text(Some(&json!(12))).as_deref(), Some("12"));
        assert_eq!(text(Some(&json!(null))), None);
        assert_eq!(text(None), None);
        assert_eq!(integer(Some(&json!(" 7 "))), Some(7));
        assert_eq!(integer(Some(&json!(7))), Some(7));
        assert_eq!(integer(Some(&json!(0.5))), None);
        assert_eq!(integer(Some(&json!("x"))), None);
    }

    #[test]
    fn bodies_of_millions_of_objects_are_refused_before_parsing() {
        let mut body = b"{\"error_code\":0,\"result\":{\"data\":{\"table\":[".to_vec();
        for _ in 0..(16 << 20) / 3 {
            body.extend_from_slice(b"{},");
        }
        body.extend_from_slice(b"{}]}}}");
        let a = HttpAnswer {
            status: 200,
            body,
            retry_after: None,
        };
        let code = json_body(Provider::Juhe, &a, true)
            .map(|_| ())
            .map_err(|e| e.code);
        assert_eq!(code, Err(ErrorCode::UnexpectedResponse));
        // Brackets inside strings do not count.
        let text = format!(r#"{{"a":"{}"}}"#, "{[".repeat(MAX_JSON_CONTAINERS));
        let a = HttpAnswer {
            status: 200,
            body: text.into_bytes(),
            retry_after: None,
        };
        assert!(json_body(Provider::Juhe, &a, true).is_ok());
        assert_eq!(containers(br#"{"a":["\"{",{}]}"#, 10), 3);
    }

    #[test]
    fn provider_texts_are_clipped() {
        assert_eq!(clip("短".repeat(10)), "短".repeat(10));
        let long = clip("长".repeat(MAX_PROVIDER_TEXT * 10));
        assert_eq!(long.chars().count(), MAX_PROVIDER_TEXT + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn non_json_bodies_by_status() {
        for (status, code) in [
            (200, ErrorCode::MalformedResponse),
            (429, ErrorCode::RateLimited),
            (404, ErrorCode::UnexpectedHttpStatus),
            (502, ErrorCode::ServiceHttpError),
        ] {
            let a = HttpAnswer {
                status,
                body: b"<html>SECRET-ish</html>".to_vec(),
                retry_after: None,
            };
            let e = json_body(Provider::Juhe, &a, true).unwrap_err();
            assert_eq!(e.code, code);
            assert!(e.message.contains("SECRET-ish"));
            let e = json_body(Provider::Chinaums, &a, false).unwrap_err();
            assert!(!e.message.contains("SECRET-ish"), "{}", e.message);
        }
    }
}
