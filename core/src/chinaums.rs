//! ChinaUMS open platform: used-car sales e-invoice OCR (电子发票 二手车销售统一发票), the whole
//! flow: configuration, preflight, request body, authentication (access token with its cache
//! and one refresh on a 401, or a body signature), call, answer parsing and the checks.

pub(crate) mod auth;

use serde::Deserialize;
use serde_json::Value;

use crate::body::{Encoding, ImageBody};
use crate::call::{Call, Recognition, Sender};
use crate::config::{AuthMode, Config, Environment};
use crate::error::{Error, ErrorCode, Provider, Result};
use crate::fit::{ImageFit, Limits};
use crate::image::{self, ImageSource};
use crate::limit::Limiter;
use crate::model::{DocumentType, Field, Position, UsedCarInvoice};
use crate::outcome::{Outcome, Stop};
use crate::process::ProcessLocal;
use crate::spec::{
    CHINAUMS_PRODUCTION_BASE_URL, CHINAUMS_PRODUCTION_TOKEN_BASE_URL, CHINAUMS_TEST_BASE_URL,
    CHINAUMS_TOKEN_PATH, CHINAUMS_USED_CAR_INVOICE_PATH,
};
use crate::wire::{self, json_body, HttpAnswer};
use crate::LOG_TARGET;

use auth::TokenCache;

/// Envelope `errCode` values that mean success.
const SUCCESS_CODES: &[&str] = &["AN000000", "0000", "00000000"];

/// What an answer code the catalogue does not know is called.
const UNKNOWN_ANSWER_TEXT: &str = "未知应答码 (undocumented answer code)";

/// The ChinaUMS side of a client: credentials, endpoints, authentication mode and token cache.
#[derive(Debug)]
pub(crate) struct Chinaums {
    app_id: Option<String>,
    app_key: Option<String>,
    ocr_url: String,
    token_url: String,
    auth: AuthMode,
    fit: ImageFit,
    limits: Limits,
    limiter: Limiter,
    /// The access token, per process (a child after `fork()` fetches its own).
    tokens: ProcessLocal<TokenCache>,
}

/// The OCR and token endpoint URLs of a configuration: `token_url`, else `base_url` + path,
/// else the environment's default hosts.
fn endpoints(config: &Config) -> (String, String) {
    let c = config.chinaums.as_ref();
    let environment = c.map(|c| c.environment).unwrap_or_default();
    let base = c
        .and_then(|c| c.base_url.as_deref())
        .map(|b| b.trim_end_matches('/'));
    let ocr_base = base.unwrap_or(match environment {
        Environment::Production => CHINAUMS_PRODUCTION_BASE_URL,
        _ => CHINAUMS_TEST_BASE_URL,
    });
    let token_url = match (c.and_then(|c| c.token_url.as_deref()), base) {
        (Some(t), _) => t.trim_end_matches('/').to_string(),
        (None, Some(b)) => format!("{b}{CHINAUMS_TOKEN_PATH}"),
        (None, None) => match environment {
            Environment::Production => {
                format!("{CHINAUMS_PRODUCTION_TOKEN_BASE_URL}{CHINAUMS_TOKEN_PATH}")
            }
            _ => format!("{CHINAUMS_TEST_BASE_URL}{CHINAUMS_TOKEN_PATH}"),
        },
    };
    (
        format!("{ocr_base}{CHINAUMS_USED_CAR_INVOICE_PATH}"),
        token_url,
    )
}

fn missing(what: &str, how: &str) -> Error {
    Error::new(
        ErrorCode::MissingCredentials,
        format!("{what} is not configured: set {how}"),
    )
}

fn token_header(token: &str) -> String {
    format!("OPEN-ACCESS-TOKEN AccessToken=\"{token}\"")
}

impl Chinaums {
    pub fn new(config: &Config) -> Chinaums {
        let c = config.chinaums.as_ref();
        let (ocr_url, token_url) = endpoints(config);
        Chinaums {
            app_id: c.and_then(|c| c.app_id.clone()),
            app_key: c.and_then(|c| c.app_key.clone()),
            ocr_url,
            token_url,
            auth: c.map(|c| c.auth).unwrap_or_default(),
            fit: config.image_fit.unwrap_or_default(),
            // ChinaUMS publishes no limits: none unless configured.
            limits: Limits {
                max_base64: c.and_then(|c| c.max_base64_bytes).map(|n| n as usize),
                min_side: None,
                max_side: c.and_then(|c| c.max_side),
            },
            tokens: ProcessLocal::new(TokenCache::default()),
            limiter: Limiter::new(Provider::Chinaums, config.max_qps, config.max_in_flight),
        }
    }

    /// The provider's rate limits.
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// The configured appId and appKey, or `missing_credentials`.
    pub fn credentials(&self) -> Result<(&str, &str)> {
        let app_id = self.app_id.as_deref().ok_or_else(|| {
            missing(
                "the ChinaUMS appId",
                "chinaums.app_id or PIAOJU_CHINAUMS_APP_ID",
            )
        })?;
        let app_key = self.app_key.as_deref().ok_or_else(|| {
            missing(
                "the ChinaUMS appKey",
                "chinaums.app_key or PIAOJU_CHINAUMS_APP_KEY",
            )
        })?;
        Ok((app_id, app_key))
    }

    /// Recognize a used-car invoice: credentials and image are checked before anything is sent.
    pub fn recognize(&self, call: &Call<'_>, image: ImageSource<'_>) -> Outcome<UsedCarInvoice> {
        let (app_id, app_key) = self.credentials()?;
        let (bytes, report) = call.image(
            Provider::Chinaums,
            image,
            image::preflight_chinaums,
            &self.limits,
            self.fit,
        )?;
        let done = call.recognize(Recognition {
            provider: Provider::Chinaums,
            operation: DocumentType::UsedCarInvoice,
            endpoint: &self.ocr_url,
            image: &bytes,
            limiter: &self.limiter,
            parse: parse_answer,
            send: &|sender| self.send(sender, app_id, app_key, request_body(&bytes)),
        })?;
        Ok(done.into_result(report))
    }

    /// Send an OCR request, authenticated as configured. With an access token, a 401 (a token
    /// revoked or expired early) renews the token once and sends once more (every request
    /// counts as an attempt, the refresh's too); all of it within the call's deadline.
    fn send(
        &self,
        sender: &Sender<'_>,
        app_id: &str,
        app_key: &str,
        body: ImageBody<'_>,
    ) -> Outcome<HttpAnswer> {
        let (http, deadline) = (sender.http(), sender.deadline());
        let post = |authorization: &str| {
            sender.post(
                &self.ocr_url,
                "application/json",
                Some(authorization),
                body.restart(),
            )
        };
        match self.auth {
            AuthMode::BodySignature => {
                // The signature covers the body: hash it as a stream, then stream it out.
                let digest = auth::sha256_hex_of(body.restart())?;
                post(&auth::body_signature_header(app_id, app_key, &digest)?)
            }
            AuthMode::AccessToken => {
                let tokens = self.tokens.get(TokenCache::default);
                let fetch = || auth::fetch_token(http, deadline, &self.token_url, app_id, app_key);
                let token = tokens.get(None, deadline, fetch)?;
                let answer = post(&token_header(&token))?;
                if is_auth_rejection(&answer) {
                    log::info!(
                        target: LOG_TARGET,
                        "ChinaUMS refused the access token (HTTP {}): fetching a new one",
                        answer.status
                    );
                    let fresh = tokens.get(Some(&token), deadline, fetch)?;
                    match post(&token_header(&fresh)) {
                        // A request was sent and refused: that refusal is the call's outcome,
                        // not "nothing sent" (the image was not billed; it is not skipped).
                        Err(Stop::NotSent(why)) => {
                            log::debug!(
                                target: LOG_TARGET,
                                "ChinaUMS: not sent again with the new token ({why})"
                            );
                            Ok(answer)
                        }
                        sent => sent,
                    }
                } else {
                    Ok(answer)
                }
            }
        }
    }
}

/// The OCR request body `{"picBase64": "<standard base64>"}`, as a stream of exact length.
pub fn request_body(image: &[u8]) -> ImageBody<'_> {
    ImageBody::new(
        b"{\"picBase64\":\"".to_vec(),
        image,
        b"\"}",
        Encoding::Plain,
    )
}

fn ums_err(code: ErrorCode, msg: impl Into<String>, status: u16) -> Error {
    wire::provider_error(Provider::Chinaums, code, msg, status)
}

/// Whether an answer says the credentials (token or signature) were refused.
fn is_auth_rejection(answer: &HttpAnswer) -> bool {
    answer.status == 401
}

/// The error for an answer that refused our credentials.
fn auth_rejected(answer: &HttpAnswer) -> Error {
    let v: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let code = v.as_ref().and_then(|v| wire::text(v.get("errCode")));
    let msg = v
        .as_ref()
        .and_then(|v| wire::text(v.get("errMsg")).or_else(|| wire::text(v.get("errInfo"))))
        .map(wire::clip);
    let mut e = ums_err(
        ErrorCode::AuthRejected,
        format!(
            "ChinaUMS refused the credentials (HTTP {}{}){}",
            answer.status,
            code.as_deref()
                .map(|c| format!(", errCode {c}"))
                .unwrap_or_default(),
            msg.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
        ),
        answer.status,
    );
    if let Some(c) = code {
        e = e.with_provider_answer(c, msg.unwrap_or_default());
    }
    e
}

fn answer_error(code: i64, what: &str, status: u16) -> Error {
    let ec = ErrorCode::from_provider(Provider::Chinaums, code);
    let text = ec.provider_code().map_or(UNKNOWN_ANSWER_TEXT, |p| p.text);
    ums_err(
        ec,
        format!("ChinaUMS answer code {code} ({what}): {text}"),
        status,
    )
    .with_provider_answer(code.to_string(), text)
}

/// Parse an OCR answer, wrapped (`{errCode, errMsg, result}`) or bare (`{PageInfo, ErrorCode,
/// SerialId}`), into an invoice or the error it reports.
pub(crate) fn parse_answer(answer: &HttpAnswer) -> Result<UsedCarInvoice> {
    let status = answer.status;
    if is_auth_rejection(answer) || status == 403 {
        return Err(auth_rejected(answer));
    }
    let v = json_body(Provider::Chinaums, answer, true)?;
    let unexpected = |what: &str| wire::unexpected(Provider::Chinaums, answer, what);
    if !v.is_object() {
        return Err(unexpected("is not an object"));
    }
    let inner = match v.get("errCode") {
        Some(code_value) => {
            let code = wire::text(Some(code_value)).unwrap_or_default();
            let msg = wire::clip(
                wire::text(v.get("errMsg"))
                    .or_else(|| wire::text(v.get("errInfo")))
                    .unwrap_or_default(),
            );
            if !SUCCESS_CODES.contains(&code.as_str()) {
                let ec = match status {
                    429 => ErrorCode::RateLimited,
                    500..=599 => ErrorCode::ServiceHttpError,
                    _ => ErrorCode::ProviderError,
                };
                let e = ums_err(ec, format!("ChinaUMS error {code}: {msg}"), status)
                    .with_provider_answer(code, msg);
                return Err(if (500..=599).contains(&status) && status != 503 {
                    e.possibly_billed()
                } else {
                    e
                });
            }
            v.get("result")
                .filter(|r| r.is_object())
                .ok_or_else(|| unexpected("reports success but has no result object"))?
        }
        None => &v,
    };
    if let Some(code) = wire::integer(inner.get("ErrorCode")).filter(|&c| c != 0) {
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
        if let Some(c) = wire::integer(page.get("ErrorCode")).filter(|&c| c != 0) {
            first_error.get_or_insert_with(|| answer_error(c, "page", status));
            continue;
        }
        let results = page
            .get("Result")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for result in results {
            if let Some(c) = wire::integer(result.get("ErrorCode")).filter(|&c| c != 0) {
                first_error.get_or_insert_with(|| answer_error(c, "result", status));
                continue;
            }
            let entries = result
                .get("ResultList")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            for entry in entries {
                if let Some(c) = wire::integer(entry.get("ocr_error_code")).filter(|&c| c != 0) {
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
    let serial_id = wire::text(inner.get("SerialId")).filter(|s| !s.is_empty());
    let mut invoice = UsedCarInvoice::new(serial_id, inner.clone());
    let list = entry["FieldList"].as_array().expect("checked above");
    let mut seen = std::collections::HashSet::new();
    for item in list {
        let Some(key) = wire::text(item.get("key")) else {
            continue;
        };
        let value = wire::text(item.get("value")).unwrap_or_default();
        // The first non-empty value of a key is the one used.
        if !value.trim().is_empty() && seen.insert(key.clone()) {
            invoice.set_from_key(&key, &value);
        }
        invoice.fields.push(Field::new(
            key,
            wire::text(item.get("chn_key")),
            value,
            item.get("score").and_then(Value::as_f64),
            item.get("position")
                .and_then(|p| Position::deserialize(p).ok()),
            item.get("quad")
                .and_then(Value::as_array)
                .map(|q| q.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
        ));
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
        HttpAnswer::new(status, body)
    }

    fn check_seed_values(inv: &UsedCarInvoice) {
        let texts = [
            (&inv.serial_id, "1748324975778851906"),
            (&inv.invoice_number, "25432000000066482202"),
            (&inv.buyer_name, "张锦达"),
            (&inv.buyer_id, "430124199803279592"),
            (&inv.seller_id, "430124199103143715"),
            (&inv.plate_number, "湘ACC639"),
            (&inv.vin, "LFV3A28W6K3705006"),
            (&inv.brand_model, "奥迪牌FV7203BADBG"),
            (&inv.total_price_in_words, "壹万圆整"),
            (&inv.market_tax_id, "914301243294121313"),
            (&inv.market_phone, "13973172228"),
            (&inv.issuer, "李红梅"),
            (&inv.buyer_phone, "1"),
        ];
        for (got, want) in texts {
            assert_eq!(got.as_deref(), Some(want));
        }
        let issued = inv.issue_date.map(|d| d.to_string());
        let total = inv.total_price.map(|d| d.to_string());
        assert_eq!(issued.as_deref(), Some("2025-05-22"));
        assert_eq!(total.as_deref(), Some("10000.00"));
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
        let body = request_body(&[0xFB, 0xEF, 0xFF]).to_vec();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["picBase64"], "++//");
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    fn urls(config: crate::config::ConfigBuilder) -> (String, String) {
        endpoints(&config.build().unwrap())
    }

    fn ocr_at(base: &str) -> String {
        format!("{base}{CHINAUMS_USED_CAR_INVOICE_PATH}")
    }

    #[test]
    fn defaults_are_https_and_the_test_environment() {
        assert_eq!(
            urls(Config::builder()),
            (
                ocr_at("https://test-api-open.chinaums.com"),
                "https://test-api-open.chinaums.com/v1/token/access".into()
            )
        );
        assert_eq!(
            urls(Config::builder().chinaums_environment(Environment::Production)),
            (
                ocr_at("https://api-lob.open.chinaums.com"),
                "https://api-mop.chinaums.com/v1/token/access".into()
            )
        );
    }

    #[test]
    fn base_url_replaces_the_host_of_token_and_ocr() {
        assert_eq!(
            urls(Config::builder().chinaums_base_url("http://127.0.0.1:8080/x/")),
            (
                ocr_at("http://127.0.0.1:8080/x"),
                "http://127.0.0.1:8080/x/v1/token/access".into()
            )
        );
        let (_, token) = urls(
            Config::builder()
                .chinaums_base_url("http://h:1")
                .chinaums_token_url("http://t:2/tok"),
        );
        assert_eq!(token, "http://t:2/tok");
    }
}
