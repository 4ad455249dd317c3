//! ChinaUMS open platform: used-car sales e-invoice OCR (电子发票 二手车销售统一发票).

pub mod auth;

use serde_json::Value;

use crate::error::{Error, ErrorCode, Provider, Result};
use crate::http::{excerpt, json_body, HttpAnswer};
use crate::model::{Field, Position, UsedCarInvoice};

/// Envelope `errCode` values that mean success.
const SUCCESS_CODES: &[&str] = &["AN000000", "0000", "00000000"];

/// The OCR request body: `{"picBase64": "<standard base64>"}`.
pub fn request_body(image: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(crate::image::base64_len(image.len()) + 16);
    out.extend_from_slice(b"{\"picBase64\":\"");
    crate::image::append_base64(&mut out, image);
    out.extend_from_slice(b"\"}");
    out
}

fn ums_err(code: ErrorCode, msg: impl Into<String>, status: u16) -> Error {
    Error::new(code, msg)
        .with_provider(Provider::Chinaums)
        .with_http_status(status)
}

fn code_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn string_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether an answer says the credentials (token or signature) were refused.
pub(crate) fn is_auth_rejection(answer: &HttpAnswer) -> bool {
    answer.status == 401
}

/// The error for an answer that refused our credentials.
pub(crate) fn auth_rejected(answer: &HttpAnswer) -> Error {
    let v: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let code = v.as_ref().and_then(|v| string_of(v.get("errCode")));
    let msg = v
        .as_ref()
        .and_then(|v| string_of(v.get("errMsg")).or_else(|| string_of(v.get("errInfo"))));
    let mut e = ums_err(
        ErrorCode::AuthRejected,
        format!(
            "ChinaUMS refused the credentials (HTTP {}){}",
            answer.status,
            msg.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
        ),
        answer.status,
    );
    if let Some(c) = code {
        e = e.with_provider_answer(c, msg.unwrap_or_default());
    }
    e
}

/// The meaning of an answer code, as the document gives it.
pub fn answer_code_text(code: i64) -> &'static str {
    match code {
        0 => "识别成功 (recognized)",
        1 => "识别引擎加载错误 (the recognition engine failed to load)",
        3 => "图像分类失败;图片未检测到证件 (no document detected in the image)",
        4 => "PDF引擎加载错误 (the PDF could not be turned into an image)",
        6 => "文件读取错误 (the file could not be read or its type not told)",
        9 => "不支持的文件类型 (unsupported file type: png, jpg and pdf only)",
        16 => "图片格式或是base64不正确 (the image format or its base64 is invalid)",
        27 => "参数输入有误 (wrong request headers or parameters)",
        _ => "未知应答码 (undocumented answer code)",
    }
}

fn answer_error(code: i64, what: &str, status: u16) -> Error {
    let ec = ErrorCode::from_chinaums_answer(code).unwrap_or(ErrorCode::ProviderError);
    let text = answer_code_text(code);
    ums_err(
        ec,
        format!("ChinaUMS answer code {code} ({what}): {text}"),
        status,
    )
    .with_provider_answer(code.to_string(), text)
}

/// Parse an OCR answer, wrapped (`{errCode, errMsg, result}`) or bare (`{PageInfo, ErrorCode,
/// SerialId}`), into an invoice or the error it reports.
pub fn parse_answer(answer: &HttpAnswer) -> Result<UsedCarInvoice> {
    let status = answer.status;
    if is_auth_rejection(answer) || status == 403 {
        return Err(auth_rejected(answer));
    }
    let v = json_body(Provider::Chinaums, answer)?;
    let unexpected = |what: &str| {
        ums_err(
            ErrorCode::UnexpectedResponse,
            format!(
                "ChinaUMS answered HTTP {status} with JSON that {what}: {:?}",
                excerpt(&answer.body)
            ),
            status,
        )
    };
    if !v.is_object() {
        return Err(unexpected("is not an object"));
    }
    let inner = match v.get("errCode") {
        Some(code_value) => {
            let code = string_of(Some(code_value)).unwrap_or_default();
            let msg = string_of(v.get("errMsg"))
                .or_else(|| string_of(v.get("errInfo")))
                .unwrap_or_default();
            if !SUCCESS_CODES.contains(&code.as_str()) {
                let ec = match status {
                    429 => ErrorCode::RateLimited,
                    500..=599 => ErrorCode::ServiceHttpError,
                    _ => ErrorCode::ProviderError,
                };
                return Err(ums_err(ec, format!("ChinaUMS error {code}: {msg}"), status)
                    .with_provider_answer(code, msg));
            }
            v.get("result")
                .filter(|r| r.is_object())
                .ok_or_else(|| unexpected("reports success but has no result object"))?
        }
        None => &v,
    };
    if let Some(code) = code_of(inner.get("ErrorCode")).filter(|&c| c != 0) {
        return Err(answer_error(code, "document", status));
    }
    if !(200..300).contains(&status) {
        return Err(unexpected("has a non-2xx status"));
    }
    let pages = match inner.get("PageInfo") {
        Some(Value::Array(p)) => p,
        _ => return Err(unexpected("has no PageInfo array")),
    };
    // The first recognized used-car invoice wins; the first error is reported if none is found.
    let mut first_error: Option<Error> = None;
    let mut fallback: Option<&Value> = None;
    let mut found: Option<&Value> = None;
    'pages: for page in pages {
        if let Some(c) = code_of(page.get("ErrorCode")).filter(|&c| c != 0) {
            first_error.get_or_insert_with(|| answer_error(c, "page", status));
            continue;
        }
        let results = page
            .get("Result")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for result in results {
            if let Some(c) = code_of(result.get("ErrorCode")).filter(|&c| c != 0) {
                first_error.get_or_insert_with(|| answer_error(c, "result", status));
                continue;
            }
            let entries = result
                .get("ResultList")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for entry in entries {
                if let Some(c) = code_of(entry.get("ocr_error_code")).filter(|&c| c != 0) {
                    first_error.get_or_insert_with(|| answer_error(c, "ocr_error_code", status));
                    continue;
                }
                if !entry.get("FieldList").is_some_and(Value::is_array) {
                    continue;
                }
                let is_used_car = entry
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains("二手车"));
                if is_used_car {
                    found = Some(entry);
                    break 'pages;
                }
                fallback.get_or_insert(entry);
            }
        }
    }
    let entry = match found.or(fallback) {
        Some(e) => e,
        None => {
            return Err(first_error.unwrap_or_else(|| {
                ums_err(
                    ErrorCode::NothingRecognized,
                    "ChinaUMS found no used-car invoice in the image",
                    status,
                )
            }))
        }
    };
    let serial_id = string_of(inner.get("SerialId")).filter(|s| !s.is_empty());
    let mut invoice = UsedCarInvoice::empty(serial_id, inner.clone());
    let list = entry["FieldList"].as_array().expect("checked above");
    let mut seen = std::collections::HashSet::new();
    for item in list {
        let Some(key) = string_of(item.get("key")) else {
            continue;
        };
        let value = string_of(item.get("value")).unwrap_or_default();
        // The first non-empty value of a key is the one used.
        if !value.trim().is_empty() && seen.insert(key.clone()) {
            invoice.set_from_key(&key, &value);
        }
        invoice.fields.push(Field {
            key,
            chn_key: string_of(item.get("chn_key")),
            value,
            score: item.get("score").and_then(Value::as_f64),
            position: item
                .get("position")
                .and_then(|p| serde_json::from_value::<Position>(p.clone()).ok()),
            quad: item
                .get("quad")
                .and_then(Value::as_array)
                .map(|q| q.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
        });
    }
    invoice.checks = crate::check::invoice_checks(&invoice);
    Ok(invoice)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SEED_ANSWER: &str =
        include_str!("../../tests/fixtures/chinaums_invoice_answer.json");

    fn answer(status: u16, body: &str) -> HttpAnswer {
        HttpAnswer {
            status,
            body: body.as_bytes().to_vec(),
        }
    }

    fn check_seed_values(inv: &UsedCarInvoice) {
        assert_eq!(inv.serial_id.as_deref(), Some("1748324975778851906"));
        assert_eq!(inv.invoice_number.as_deref(), Some("25432000000066482202"));
        assert_eq!(inv.issue_date.as_deref(), Some("2025-05-22"));
        assert_eq!(inv.buyer_name.as_deref(), Some("张锦达"));
        assert_eq!(inv.buyer_id.as_deref(), Some("430124199803279592"));
        assert_eq!(inv.seller_id.as_deref(), Some("430124199103143715"));
        assert_eq!(inv.plate_number.as_deref(), Some("湘ACC639"));
        assert_eq!(inv.vin.as_deref(), Some("LFV3A28W6K3705006"));
        assert_eq!(inv.brand_model.as_deref(), Some("奥迪牌FV7203BADBG"));
        assert_eq!(inv.total_price.as_deref(), Some("10000.00"));
        assert_eq!(inv.total_price_in_words.as_deref(), Some("壹万圆整"));
        assert_eq!(inv.market_tax_id.as_deref(), Some("914301243294121313"));
        assert_eq!(inv.market_phone.as_deref(), Some("13973172228"));
        assert_eq!(inv.issuer.as_deref(), Some("李红梅"));
        assert_eq!(inv.buyer_phone.as_deref(), Some("1"));
        assert_eq!(inv.invoice_code, None);
        assert_eq!(inv.remarks, None);
        assert_eq!(inv.has_seal, None);
        assert_eq!(inv.fields.len(), 36);
        assert_eq!(inv.fields[0].key, "FPHM");
        assert_eq!(inv.fields[0].chn_key.as_deref(), Some("发票号码"));
        assert_eq!(inv.fields[0].quad, vec![0.0; 8]);
    }

    #[test]
    fn parses_the_bare_seed_example() {
        let inv = parse_answer(&answer(200, SEED_ANSWER)).unwrap();
        check_seed_values(&inv);
        let j: Value = serde_json::from_str(&inv.to_json()).unwrap();
        assert_eq!(j["document_type"], "used_car_invoice");
        assert_eq!(j["provider"], "chinaums");
        assert_eq!(j["total_price"], "10000.00");
        assert!(j["has_seal"].is_null());
        assert_eq!(j["raw"]["SerialId"], "1748324975778851906");
    }

    #[test]
    fn parses_the_wrapped_variant() {
        let inner: Value = serde_json::from_str(SEED_ANSWER).unwrap();
        let wrapped = serde_json::json!({"errCode": "AN000000", "errMsg": "成功", "result": inner});
        let inv = parse_answer(&answer(200, &wrapped.to_string())).unwrap();
        check_seed_values(&inv);
    }

    #[test]
    fn seal_values() {
        let mut inv = UsedCarInvoice::empty(None, Value::Null);
        inv.set_from_key("FPZYZ", "1");
        assert_eq!(inv.has_seal, Some(true));
        inv.set_from_key("FPZYZ", "0");
        assert_eq!(inv.has_seal, Some(false));
    }

    #[test]
    fn answer_codes_at_every_level() {
        let inner: Value = serde_json::from_str(SEED_ANSWER).unwrap();
        for (level, code, want) in [
            ("top", 3, ErrorCode::NoDocumentDetected),
            ("page", 16, ErrorCode::InvalidImageData),
            ("result", 4, ErrorCode::PdfConversionFailed),
            ("entry", 9, ErrorCode::FileTypeRejected),
            ("entry", 1, ErrorCode::EngineLoadFailed),
            ("page", 6, ErrorCode::FileUnreadableByService),
            ("top", 27, ErrorCode::ParametersRejected),
            ("top", 42, ErrorCode::ProviderError),
        ] {
            let mut v = inner.clone();
            match level {
                "top" => v["ErrorCode"] = code.into(),
                "page" => v["PageInfo"][0]["ErrorCode"] = code.into(),
                "result" => v["PageInfo"][0]["Result"][0]["ErrorCode"] = code.into(),
                _ => v["PageInfo"][0]["Result"][0]["ResultList"][0]["ocr_error_code"] = code.into(),
            }
            let e = parse_answer(&answer(200, &v.to_string())).unwrap_err();
            assert_eq!(e.code, want, "{level} {code}");
            assert_eq!(e.provider_code, Some(code.to_string()));
            assert_eq!(e.provider, Some(Provider::Chinaums));
        }
    }

    #[test]
    fn envelope_and_malformed_answers() {
        let cases = [
            (
                200,
                r#"{"errCode":"1001","errMsg":"参数错误"}"#,
                ErrorCode::ProviderError,
            ),
            (
                500,
                r#"{"errCode":"9999","errMsg":"系统错误"}"#,
                ErrorCode::ServiceHttpError,
            ),
            (
                401,
                r#"{"errCode":"1002","errMsg":"token无效"}"#,
                ErrorCode::AuthRejected,
            ),
            (401, "", ErrorCode::AuthRejected),
            (
                200,
                r#"{"errCode":"AN000000","errMsg":"成功"}"#,
                ErrorCode::UnexpectedResponse,
            ),
            (200, r#"{"ErrorCode":0}"#, ErrorCode::UnexpectedResponse),
            (
                200,
                r#"{"PageInfo":[],"ErrorCode":0}"#,
                ErrorCode::NothingRecognized,
            ),
            (
                200,
                r#"{"PageInfo":[{"Result":[{"ResultList":[]}]}]}"#,
                ErrorCode::NothingRecognized,
            ),
            (200, "{\"PageInfo\":", ErrorCode::MalformedResponse),
            (503, "<html>503</html>", ErrorCode::ServiceHttpError),
        ];
        for (status, body, code) in cases {
            let e = parse_answer(&answer(status, body)).unwrap_err();
            assert_eq!(e.code, code, "{body}: {e}");
            assert_eq!(e.http_status, Some(status));
        }
        let e =
            parse_answer(&answer(401, r#"{"errCode":"1002","errMsg":"token无效"}"#)).unwrap_err();
        assert_eq!(e.provider_code.as_deref(), Some("1002"));
        assert_eq!(e.provider_message.as_deref(), Some("token无效"));
    }

    #[test]
    fn request_body_is_json_with_standard_base64() {
        let body = request_body(&[0xFB, 0xEF, 0xFF]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["picBase64"], "++//");
    }
}
