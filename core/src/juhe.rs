//! Juhe shopping receipt OCR (购物小票OCR), the whole flow: configuration, preflight, request
//! body, call, answer parsing and the receipt's checks.

use serde_json::Value;

use crate::body::{Encoding, ImageBody};
use crate::call::{Call, Recognition};
use crate::config::Config;
use crate::error::{Error, ErrorCode, Provider, Result};
use crate::fit::{ImageFit, Limits};
use crate::image::{self, ImageSource};
use crate::limit::Limiter;
use crate::model::{DocumentType, ReceiptItem, ShoppingReceipt};
use crate::outcome::Outcome;
use crate::spec::{
    JUHE_BASE_URL, JUHE_MAX_BASE64_LEN, JUHE_MAX_SIDE, JUHE_MIN_SIDE, JUHE_RECEIPT_PATH,
};
use crate::wire::{self, json_body, HttpAnswer};

/// Juhe's documented image limits.
pub(crate) const LIMITS: Limits = Limits {
    max_base64: Some(JUHE_MAX_BASE64_LEN),
    min_side: Some(JUHE_MIN_SIDE),
    max_side: Some(JUHE_MAX_SIDE),
};

/// The Juhe side of a client: its key and endpoint.
#[derive(Debug)]
pub(crate) struct Juhe {
    key: Option<String>,
    url: String,
    fit: ImageFit,
    limiter: Limiter,
}

impl Juhe {
    pub fn new(config: &Config) -> Juhe {
        let j = config.juhe.as_ref();
        let base = j
            .and_then(|j| j.base_url.as_deref())
            .unwrap_or(JUHE_BASE_URL);
        Juhe {
            key: j.and_then(|j| j.key.clone()),
            url: format!("{}{JUHE_RECEIPT_PATH}", base.trim_end_matches('/')),
            fit: config.image_fit.unwrap_or_default(),
            limiter: Limiter::new(Provider::Juhe, config.max_qps, config.max_in_flight),
        }
    }

    /// The provider's rate limits.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The configured key, or `missing_credentials`.
    pub fn credentials(&self) -> Result<&str> {
        self.key.as_deref().ok_or_else(|| {
            Error::new(
                ErrorCode::MissingCredentials,
                "the Juhe key is not configured: set juhe.key or PIAOJU_JUHE_KEY",
            )
        })
    }

    /// Recognize a shopping receipt: credentials and image are checked before anything is sent.
    pub fn recognize(&self, call: &Call<'_>, image: ImageSource<'_>) -> Outcome<ShoppingReceipt> {
        let key = self.credentials()?;
        let (bytes, report) = call.image(
            Provider::Juhe,
            image,
            image::preflight_juhe,
            &LIMITS,
            self.fit,
        )?;
        let done = call.recognize(Recognition {
            provider: Provider::Juhe,
            operation: DocumentType::ShoppingReceipt,
            endpoint: &self.url,
            image: &bytes,
            limiter: &self.limiter,
            parse: parse_answer,
            send: &|sender| {
                sender.post(
                    &self.url,
                    "application/x-www-form-urlencoded",
                    None,
                    form(key, &bytes),
                )
            },
        })?;
        Ok(done.into_result(report))
    }
}

/// Bytes a form body carries as they are (application/x-www-form-urlencoded).
fn is_form_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'*')
}

/// Append `s` form-urlencoded (UTF-8; a space becomes `+`).
fn push_form_encoded(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b if is_form_safe(b) => out.push(b),
            b' ' => out.push(b'+'),
            _ => push_percent(out, b),
        }
    }
}

fn form_encoded_len(s: &str) -> usize {
    s.bytes()
        .map(|b| if is_form_safe(b) || b == b' ' { 1 } else { 3 })
        .sum()
}

fn push_percent(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

/// The request body `key=<key>&image=<base64, percent-encoded>`, as a stream of exact length:
/// base64 and form escaping in one pass (see [`crate::body`]).
pub fn form<'a>(key: &str, image: &'a [u8]) -> ImageBody<'a> {
    let mut prefix = Vec::with_capacity(11 + form_encoded_len(key));
    prefix.extend_from_slice(b"key=");
    push_form_encoded(&mut prefix, key);
    prefix.extend_from_slice(b"&image=");
    ImageBody::new(prefix, image, b"", Encoding::FormEscaped)
}

/// The whole request body in one buffer (`examples/form_body_bench.rs` measures it against the
/// usual chain of `replace` calls and against base64 alone).
#[cfg(any(test, feature = "bench"))]
pub fn form_body(key: &str, image: &[u8]) -> Vec<u8> {
    form(key, image).to_vec()
}

fn juhe_err(code: ErrorCode, msg: impl Into<String>, status: u16) -> Error {
    wire::provider_error(Provider::Juhe, code, msg, status)
}

/// Parse a Juhe answer (any HTTP status) into a receipt, or the error it reports.
pub(crate) fn parse_answer(answer: &HttpAnswer) -> Result<ShoppingReceipt> {
    let status = answer.status;
    let v = json_body(Provider::Juhe, answer, true)?;
    let unexpected = |what: &str| wire::unexpected(Provider::Juhe, answer, what);
    let obj = v
        .as_object()
        .ok_or_else(|| unexpected("is not an object"))?;
    let error_code = match obj.get("error_code") {
        // Not Juhe's answer but a gateway's, with its status saying what happened.
        None if status == 429 || status >= 500 => {
            let code = if status == 429 {
                ErrorCode::RateLimited
            } else {
                ErrorCode::ServiceHttpError
            };
            let e = juhe_err(
                code,
                format!("Juhe answered HTTP {status} without an error_code"),
                status,
            );
            return Err(if matches!(status, 429 | 503) {
                e
            } else {
                e.possibly_billed()
            });
        }
        None => return Err(unexpected("has no error_code")),
        // Some hosts send numbers as strings.
        code => wire::integer(code).ok_or_else(|| unexpected("has a non-integer error_code"))?,
    };
    let reason = wire::clip(wire::text(obj.get("reason")).unwrap_or_default());
    if error_code != 0 {
        let code = ErrorCode::from_provider(Provider::Juhe, error_code);
        let msg = format!("Juhe error {error_code}: {reason}");
        return Err(
            juhe_err(code, msg, status).with_provider_answer(error_code.to_string(), reason)
        );
    }
    if !(200..300).contains(&status) {
        return Err(unexpected("claims success with a non-2xx status"));
    }
    let result = obj
        .get("result")
        .filter(|r| r.is_object())
        .ok_or_else(|| unexpected("has error_code 0 but no result object"))?;
    let data = match result.get("data") {
        Some(d @ Value::Object(_)) => d,
        _ => return Err(unexpected("has no result.data object")),
    };
    let items = match data.get("table") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rows)) => rows
            .iter()
            .map(|row| {
                if !row.is_object() {
                    return Err(unexpected("has a table row that is not an object"));
                }
                let f = |name: &str| wire::text(row.get(name)).unwrap_or_default();
                Ok(ReceiptItem::from_raw(
                    &f("product"),
                    &f("quantity"),
                    &f("unit_price"),
                    &f("subtotal_amount"),
                ))
            })
            .collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(unexpected("has a table that is not an array")),
    };
    let order_id = wire::text(result.get("orderid")).and_then(|s| crate::normalize::text(&s));
    let mut receipt = ShoppingReceipt::new(order_id, result.clone());
    for &name in ShoppingReceipt::TEXT_FIELDS {
        if let Some(raw) = wire::text(data.get(name)) {
            receipt.set_from_raw(name, &raw);
        }
    }
    receipt.table_row_num =
        wire::integer(data.get("table_row_num")).and_then(|n| u64::try_from(n).ok());
    receipt.items = items;
    receipt.checks = crate::check::receipt_checks(&receipt);
    Ok(receipt)
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn the_endpoint_is_https_by_default_and_follows_base_url() {
        let url = |b: crate::config::ConfigBuilder| Juhe::new(&b.build().unwrap()).url;
        assert_eq!(
            url(Config::builder()),
            "https://apis.juhe.cn/shoppingReceipt/query"
        );
        assert_eq!(
            url(Config::builder().juhe_base_url("http://127.0.0.1:9/")),
            "http://127.0.0.1:9/shoppingReceipt/query"
        );
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine;

    /// An independent form decoder, as a server's form parser would do it.
    pub(crate) fn form_decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        out
    }

    #[test]
    fn form_body_escapes_plus_slash_and_equals() {
        // 0xFB 0xEF 0xFF → "++//" ; 0xFF → "/w=="
        let image = [0xFBu8, 0xEF, 0xBE, 0xFF, 0xFF, 0xFF, 0xFF];
        let b64 = base64::engine::general_purpose::STANDARD.encode(image);
        assert!(
            b64.contains('+') && b64.contains('/') && b64.contains('='),
            "{b64}"
        );
        let body = String::from_utf8(form_body("k+y/=&", &image)).unwrap();
        assert_eq!(
            body,
            "key=k%2By%2F%3D%26&image=%2B%2B%2B%2B%2F%2F%2F%2F%2Fw%3D%3D"
        );
        let (k, img) = body.split_once("&image=").unwrap();
        assert_eq!(form_decode(k.strip_prefix("key=").unwrap()), b"k+y/=&");
        assert_eq!(form_decode(img), b64.as_bytes());
        assert!(!img.contains('+') && !img.contains('/') && !img.contains('='));
    }

    #[test]
    fn form_body_matches_reference_for_every_length() {
        let engine = base64::engine::general_purpose::STANDARD;
        let data: Vec<u8> = (0..600u32).map(|i| (i * 97 + 13) as u8).collect();
        for n in 0..data.len() {
            let body = form_body("abc", &data[..n]);
            let text = String::from_utf8(body).unwrap();
            let img = text.strip_prefix("key=abc&image=").unwrap();
            assert_eq!(
                form_decode(img),
                engine.encode(&data[..n]).as_bytes(),
                "n={n}"
            );
        }
    }

    #[test]
    fn form_body_of_only_escapes_is_complete() {
        let data = vec![0xFFu8; 30_000]; // all '/': the buffer grows past its estimate
        let body = form_body("key", &data);
        assert!(body.starts_with(b"key=key&image="));
        assert_eq!(body.len(), 14 + 40_000 * 3);
        assert!(body[14..].chunks(3).all(|c| c == b"%2F"));
    }

    fn answer(status: u16, body: &str) -> HttpAnswer {
        HttpAnswer::new(status, body)
    }

    pub(crate) const SEED_ANSWER: &str =
        include_str!("../../tests/fixtures/juhe_receipt_answer.json");

    #[test]
    fn parses_the_seed_example() {
        let r = parse_answer(&answer(200, SEED_ANSWER)).unwrap();
        assert_eq!(r.order_id.as_deref(), Some("JH1241217171601ZDomp"));
        assert_eq!(r.shop_name.as_deref(), Some("多又好超市"));
        assert_eq!(r.receipt_num.as_deref(), Some("NO.01202011196374"));
        assert_eq!(
            r.consumption_date.map(|d| d.to_string()).as_deref(),
            Some("2020-11-19")
        );
        assert_eq!(
            r.consumption_time.map(|t| t.to_string()).as_deref(),
            Some("17:23")
        );
        assert_eq!(
            r.total_amount.map(|d| d.to_string()).as_deref(),
            Some("12.50")
        );
        assert_eq!(r.change, None);
        assert_eq!(r.currency.as_deref(), Some("人民币"));
        assert_eq!(r.table_row_num, Some(4));
        assert_eq!(r.items.len(), 4);
        assert_eq!(r.items[0].product.as_deref(), Some("500g营养快线"));
        assert_eq!(
            r.items[0].quantity.map(|d| d.to_string()).as_deref(),
            Some("2")
        );
        assert_eq!(
            r.items[0].unit_price.map(|d| d.to_string()).as_deref(),
            Some("4.50")
        );
        assert_eq!(
            r.items[0].subtotal_amount.map(|d| d.to_string()).as_deref(),
            Some("9.00")
        );
        assert_eq!(r.items[1].unit_price, None);
        assert_eq!(r.raw["data"]["table"][0]["unit_price"], "单价:4.50");
        let j: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["document_type"], "shopping_receipt");
        assert_eq!(j["provider"], "juhe");
        assert_eq!(j["items"][3]["subtotal_amount"], "1.00");
        assert!(j["discount"].is_null());
    }

    #[test]
    fn error_envelopes() {
        let e = parse_answer(&answer(
            200,
            r#"{"reason":"错误的请求KEY","result":null,"error_code":10001,"resultcode":"101"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidKey);
        assert_eq!(e.provider_code.as_deref(), Some("10001"));
        assert_eq!(e.provider_message.as_deref(), Some("错误的请求KEY"));
        assert_eq!(e.http_status, Some(200));
        // result as a string, non-200 status, error_code as a string
        let quota = ErrorCode::QuotaExceeded.provider_code().unwrap().code;
        let e = parse_answer(&answer(
            403,
            &format!(r#"{{"reason":"超过次数","result":"","error_code":"{quota}"}}"#),
        ))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::QuotaExceeded);
        assert_eq!(e.http_status, Some(403));
        let e = parse_answer(&answer(
            200,
            r#"{"reason":"图片识别失败","result":null,"error_code":223701}"#,
        ))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::ProviderError);
        assert_eq!(e.provider_code.as_deref(), Some("223701"));
        assert!(e.message.contains("223701") && e.message.contains("图片识别失败"));
    }

    #[test]
    fn malformed_answers() {
        let cases = [
            (200, "<html>oops</html>", ErrorCode::MalformedResponse),
            (502, "<html>Bad Gateway</html>", ErrorCode::ServiceHttpError),
            (404, "not found", ErrorCode::UnexpectedHttpStatus),
            (200, "", ErrorCode::MalformedResponse),
            (200, "[]", ErrorCode::UnexpectedResponse),
            (200, r#"{"reason":"成功"}"#, ErrorCode::UnexpectedResponse),
            (
                200,
                r#"{"error_code":0,"result":null}"#,
                ErrorCode::UnexpectedResponse,
            ),
            (
                200,
                r#"{"error_code":0,"result":{"orderid":"x"}}"#,
                ErrorCode::UnexpectedResponse,
            ),
            (
                200,
                r#"{"error_code":0,"result":{"data":{"table":{}}}}"#,
                ErrorCode::UnexpectedResponse,
            ),
            (200, r#"{"error_code":0.5}"#, ErrorCode::UnexpectedResponse),
        ];
        for (status, body, code) in cases {
            let e = parse_answer(&answer(status, body)).unwrap_err();
            assert_eq!(e.code, code, "{body}: {e}");
            assert_eq!(e.http_status, Some(status));
        }
        let e = parse_answer(&answer(502, "<html>Bad Gateway</html>")).unwrap_err();
        assert!(
            e.message.contains("502") && e.message.contains("Bad Gateway"),
            "{}",
            e.message
        );
    }

    #[test]
    fn missing_optional_fields_are_not_errors() {
        let r = parse_answer(&answer(
            200,
            r#"{"error_code":0,"reason":"成功","result":{"orderid":"o","data":{}}}"#,
        ))
        .unwrap();
        assert_eq!(r.shop_name, None);
        assert!(r.items.is_empty());
        assert_eq!(r.table_row_num, None);
    }
}
