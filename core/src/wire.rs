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
            Err(Error::new(
                code,
                format!(
                    "{} answered HTTP {status} with {body}, not the expected JSON",
                    provider.label()
                ),
            )
            .with_provider(provider)
            .with_http_status(status))
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
            };
            let e = json_body(Provider::Juhe, &a, true).unwrap_err();
            assert_eq!(e.code, code);
            assert!(e.message.contains("SECRET-ish"));
            let e = json_body(Provider::Chinaums, &a, false).unwrap_err();
            assert!(!e.message.contains("SECRET-ish"), "{}", e.message);
        }
    }
}
