//! The two providers' endpoints, as strict as their documents allow.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use piaoju::spec::{CHINAUMS_TOKEN_PATH, CHINAUMS_USED_CAR_INVOICE_PATH, JUHE_RECEIPT_PATH};
use piaoju::{ErrorCode, Provider};

use crate::http::{Reply, Request};
use crate::oracle::{beijing_stamp, sniff, FileKind, JUHE_BASE64_LIMIT, JUHE_SIDES};
use crate::{lock, parse_faults, sha256, Fault, Shared, TokenState};

/// How far a request timestamp may be from the sandbox's clock.
const CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
/// How many recent nonces are remembered to refuse replays.
const NONCE_MEMORY: usize = 4096;

/// The sandbox's own service-level codes (the real ones are not published).
pub(crate) const JUHE_IMAGE_INVALID: i64 = 223701;
pub(crate) const JUHE_IMAGE_OUT_OF_LIMITS: i64 = 223702;
pub(crate) const JUHE_REQUEST_MALFORMED: i64 = 223703;

/// The reason Juhe gives with a code: the documented text of the catalogue, or the sandbox's.
fn juhe_reason(code: i64) -> &'static str {
    let documented = ErrorCode::provider_codes()
        .find(|(_, p)| p.provider == Provider::Juhe && p.code == code)
        .map(|(_, p)| p.text);
    documented.unwrap_or(match code {
        0 => "成功",
        JUHE_IMAGE_INVALID => "图片数据错误",
        JUHE_IMAGE_OUT_OF_LIMITS => "图片尺寸或大小不符合要求",
        JUHE_REQUEST_MALFORMED => "请求参数错误",
        _ => "错误",
    })
}

fn juhe_error(code: i64) -> Reply {
    let mut v = json!({"reason": juhe_reason(code), "result": null, "error_code": code});
    if (10001..=10099).contains(&code) {
        v["resultcode"] = json!((code - 9900).to_string());
    }
    Reply::json(200, v.to_string())
}

fn chinaums_answer_text(code: i64) -> &'static str {
    ErrorCode::provider_codes()
        .find(|(_, p)| p.provider == Provider::Chinaums && p.code == code)
        .map_or("未知错误", |(_, p)| p.text)
}

fn serial_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}", nanos / 1000)
}

/// A ChinaUMS answer carrying `code` at the top level (the request itself was refused).
fn chinaums_top_error(code: i64) -> Reply {
    Reply::json(
        200,
        json!({"PageInfo": [], "ErrorCode": code, "ErrorMsg": chinaums_answer_text(code), "SerialId": serial_id()})
            .to_string(),
    )
}

/// A ChinaUMS answer carrying `code` at page level (recognition of the page failed).
fn chinaums_page_error(code: i64) -> Reply {
    Reply::json(
        200,
        json!({"PageInfo": [{"img_data": "", "PageIndex": 1, "ErrorCode": code, "Result": []}],
               "ErrorCode": 0, "SerialId": serial_id()})
        .to_string(),
    )
}

fn chinaums_auth_error(code: &str, msg: &str) -> Reply {
    Reply::json(401, json!({"errCode": code, "errMsg": msg}).to_string())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Split `/fault/<list>/rest` into the faults and the rest of the path.
fn split_fault_prefix(path: &str) -> Result<(Vec<Fault>, &str), String> {
    match path.strip_prefix("/fault/") {
        Some(rest) => {
            let (list, tail_start) = match rest.find('/') {
                Some(i) => (&rest[..i], "/fault/".len() + i),
                None => (rest, path.len()),
            };
            let list = list.replace("%2C", ",").replace("%3D", "=");
            let tail = if tail_start < path.len() {
                &path[tail_start..]
            } else {
                "/"
            };
            Ok((parse_faults(&list)?, tail))
        }
        None => Ok((Vec::new(), path)),
    }
}

pub(crate) fn handle(shared: &Shared, req: &Request) -> Reply {
    let (mut faults, path) = match split_fault_prefix(&req.path) {
        Ok(x) => x,
        Err(e) => return Reply::json(400, json!({"error": e}).to_string()),
    };
    faults.extend(lock(&shared.faults).iter().cloned());
    for f in &faults {
        if let Fault::Delay(d) = f {
            std::thread::sleep(*d);
        }
    }
    for f in &faults {
        match f {
            Fault::HttpError(status) => {
                return Reply::Answer {
                    status: *status,
                    content_type: "text/html",
                    body: format!("<html><head><title>{status}</title></head><body><center><h1>{status} Error</h1></center><hr><center>nginx</center></body></html>").into_bytes(),
                }
            }
            Fault::Malformed => {
                return Reply::Answer {
                    status: 200,
                    content_type: "application/json",
                    body: b"{\"reason\": \"\xe6\x88\x90\xe5\x8a\x9f\", \"result\": {\"orderid\": ".to_vec(),
                }
            }
            Fault::Truncated => {
                return Reply::Truncated {
                    body: b"{\"reason\":\"ok\",\"error_code\":0,\"result\":{\"da".to_vec(),
                }
            }
            Fault::Close => return Reply::Close,
            Fault::Drip(_)
            | Fault::EndlessHeaders
            | Fault::BadChunk
            | Fault::GzipBomb
            | Fault::Redirect
            | Fault::Huge
            | Fault::Reset => return Reply::Hostile(f.clone()),
            _ => {}
        }
    }
    let path = path.split('?').next().unwrap_or(path);
    let endpoint = [
        JUHE_RECEIPT_PATH,
        CHINAUMS_TOKEN_PATH,
        CHINAUMS_USED_CAR_INVOICE_PATH,
    ]
    .contains(&path);
    let reply = match (req.method.as_str(), path) {
        ("POST", p) if p == JUHE_RECEIPT_PATH => juhe(shared, req, &faults),
        ("POST", p) if p == CHINAUMS_TOKEN_PATH => token(shared, req, &faults),
        ("POST", p) if p == CHINAUMS_USED_CAR_INVOICE_PATH => ocr(shared, req, &faults),
        _ if endpoint => Reply::json(405, r#"{"error":"method not allowed"}"#),
        ("GET", "/health") => Reply::json(200, r#"{"ok":true}"#),
        ("GET", "/stats") => {
            let mut stats = serde_json::to_value(shared.stats()).unwrap_or_default();
            let images: serde_json::Map<String, serde_json::Value> = shared
                .per_image_hex()
                .into_iter()
                .map(|(k, (received, answered))| {
                    (k, json!({"received": received, "answered": answered}))
                })
                .collect();
            stats["images"] = images.into();
            Reply::json(200, stats.to_string())
        }
        _ => Reply::json(404, r#"{"error":"not found"}"#),
    };
    // The request was processed (and counted, as a provider would bill it); its answer is lost.
    if faults.contains(&Fault::AfterSendReset) {
        return Reply::Hostile(Fault::AfterSendReset);
    }
    reply
}

fn form_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

fn juhe(shared: &Shared, req: &Request, faults: &[Fault]) -> Reply {
    shared.juhe_requests.fetch_add(1, Ordering::SeqCst);
    let form_type = req.header("Content-Type").is_some_and(|t| {
        t.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form_type {
        return juhe_error(JUHE_REQUEST_MALFORMED);
    }
    let Ok(body) = std::str::from_utf8(&req.body) else {
        return juhe_error(JUHE_REQUEST_MALFORMED);
    };
    let (mut key, mut image) = (None, None);
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(v) = form_decode(v) else {
            return juhe_error(JUHE_REQUEST_MALFORMED);
        };
        match n {
            "key" => key = Some(v),
            "image" => image = Some(v),
            _ => {}
        }
    }
    if key.as_deref() != Some(shared.config.juhe_key.as_bytes()) {
        return juhe_error(10001);
    }
    for f in faults {
        if let Fault::JuheError(code) = f {
            return juhe_error(*code);
        }
    }
    let Some(image) = image else {
        return juhe_error(JUHE_REQUEST_MALFORMED);
    };
    if image.len() > JUHE_BASE64_LIMIT {
        return juhe_error(JUHE_IMAGE_OUT_OF_LIMITS);
    }
    // Strict standard base64: a '+' decoded as a space by a careless client fails here.
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&image) else {
        return juhe_error(JUHE_IMAGE_INVALID);
    };
    if let Some(refusal) = admit(shared, &bytes, faults, true) {
        return refusal;
    }
    if let Some((status, body)) = lock(&shared.answers).get(&sha256(&bytes)).cloned() {
        return Reply::json(status, body);
    }
    match sniff(&bytes) {
        (FileKind::Jpeg | FileKind::Png | FileKind::Bmp, Some((w, h))) => {
            if !JUHE_SIDES.contains(&w.min(h)) || !JUHE_SIDES.contains(&w.max(h)) {
                return juhe_error(JUHE_IMAGE_OUT_OF_LIMITS);
            }
        }
        _ => return juhe_error(JUHE_IMAGE_INVALID),
    }
    if faults.contains(&Fault::OcrVariants) {
        let mut v: Value =
            serde_json::from_str(crate::JUHE_EXAMPLE_ANSWER).expect("fixture is JSON");
        v["result"]["data"]["total_amount"] = "12,50".into();
        v["result"]["data"]["table"][0]["unit_price"] = "单价:4.5O".into();
        return Reply::json(200, v.to_string());
    }
    Reply::json(200, crate::JUHE_EXAMPLE_ANSWER)
}

/// Count an OCR request for its image and apply the `flaky` and `rate_limit` faults: the
/// refusal to send, if any (then the request is not counted as answered).
fn admit(shared: &Shared, image: &[u8], faults: &[Fault], juhe: bool) -> Option<Reply> {
    lock(&shared.arrivals).push(shared.started.elapsed());
    let mut refusal = None;
    for f in faults {
        match *f {
            Fault::Flaky(share) => {
                let n = shared.flaky_sequence.fetch_add(1, Ordering::SeqCst);
                // A fixed sequence: a hash of the request's number against the share.
                let h = (n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64
                    / (1u64 << 53) as f64;
                if h < share {
                    refusal = Some(Reply::Throttled {
                        status: 503,
                        body: "<html><body><h1>503 Service Unavailable</h1></body></html>".into(),
                        retry_after: 0,
                    });
                }
            }
            Fault::RateLimit(limit) => {
                let now = Instant::now();
                let mut recent = lock(&shared.recent);
                while recent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                {
                    recent.pop_front();
                }
                if recent.len() >= limit as usize {
                    refusal = Some(if juhe {
                        Reply::Throttled {
                            status: 200,
                            body: json!({"reason": juhe_reason(10011), "result": null, "error_code": 10011})
                                .to_string(),
                            retry_after: 1,
                        }
                    } else {
                        Reply::Throttled {
                            status: 429,
                            body: json!({"errCode": "429", "errMsg": "请求过于频繁"}).to_string(),
                            retry_after: 1,
                        }
                    });
                } else {
                    recent.push_back(now);
                }
            }
            _ => {}
        }
    }
    let mut counts = lock(&shared.per_image);
    let entry = counts.entry(sha256(image)).or_default();
    entry.0 += 1;
    if refusal.is_none() {
        entry.1 += 1;
    }
    refusal
}

fn timestamp_fresh(ts: &str) -> bool {
    let now = SystemTime::now();
    ts.len() == 14
        && ts.bytes().all(|b| b.is_ascii_digit())
        && beijing_stamp(now - CLOCK_SKEW).as_str() <= ts
        && ts <= beijing_stamp(now + CLOCK_SKEW).as_str()
}

/// Remember a nonce; `false` if it was seen recently (a replay).
fn fresh_nonce(shared: &Shared, nonce: &str) -> bool {
    let mut seen = lock(&shared.nonces);
    if nonce.is_empty() || seen.iter().any(|n| n == nonce) {
        return false;
    }
    if seen.len() >= NONCE_MEMORY {
        seen.pop_front();
    }
    seen.push_back(nonce.to_string());
    true
}

fn token(shared: &Shared, req: &Request, faults: &[Fault]) -> Reply {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    for f in faults {
        match f {
            Fault::TokenDelay(d) => std::thread::sleep(*d),
            Fault::TokenLeak(kind) => {
                let t = crate::LEAK_TOKEN;
                return match kind.as_str() {
                    "no-errcode" => Reply::json(
                        200,
                        json!({"accessToken": t, "expiresIn": 3600}).to_string(),
                    ),
                    "null-errcode" => {
                        Reply::json(200, json!({"errCode": null, "accessToken": t}).to_string())
                    }
                    "not-json" => Reply::json(200, format!("accessToken={t}; not JSON")),
                    _ => Reply::json(500, format!("<html>500 {t}</html>")),
                };
            }
            _ => {}
        }
    }
    let refuse = |code: &str, info: &str| {
        Reply::json(200, json!({"errCode": code, "errInfo": info}).to_string())
    };
    let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
        return refuse("1001", "请求报文格式错误");
    };
    let field = |n: &str| v.get(n).and_then(Value::as_str).unwrap_or_default();
    let (app_id, ts, nonce, method, sig) = (
        field("appId"),
        field("timestamp"),
        field("nonce"),
        field("signMethod"),
        field("signature"),
    );
    let c = &shared.config;
    if app_id != c.chinaums_app_id {
        return refuse("1002", "appId不存在");
    }
    if method != "SHA256" {
        return refuse("1003", "不支持的签名方法");
    }
    if !timestamp_fresh(ts) {
        return refuse("1004", "时间戳无效或已过期");
    }
    let expected = hex(&Sha256::digest(
        format!("{app_id}{ts}{nonce}{}", c.chinaums_app_key).as_bytes(),
    ));
    if !sig.eq_ignore_ascii_case(&expected) {
        return refuse("1005", "签名校验失败");
    }
    if !fresh_nonce(shared, nonce) {
        return refuse("1006", "nonce重复");
    }
    for f in faults {
        if let Fault::TokenError(code) = f {
            return refuse(code, "令牌申请被拒绝");
        }
    }
    let mut raw = [0u8; 16];
    if getrandom::fill(&mut raw).is_err() {
        return refuse("9999", "系统错误");
    }
    let token = hex(&raw);
    let ttl = c.token_ttl;
    lock(&shared.tokens).insert(
        token.clone(),
        TokenState {
            // Far-future lifetimes saturate instead of overflowing the clock.
            expires: Instant::now()
                .checked_add(ttl)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(1 << 40)),
            revoked: false,
        },
    );
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    Reply::json(
        200,
        json!({"errCode": "0000", "errInfo": "成功", "accessToken": token,
               "expiresIn": ttl.as_secs_f64().ceil() as u64})
        .to_string(),
    )
}

/// Parse `Name="value", Name2="value2"` (quotes optional, `,` or `, ` between).
fn auth_params(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|part| {
            let (n, v) = part.trim().split_once('=')?;
            Some((n.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

fn check_authorization(shared: &Shared, req: &Request, faults: &[Fault]) -> Result<(), Reply> {
    let c = &shared.config;
    let header = req.header("Authorization").unwrap_or_default();
    if let Some(rest) = header.strip_prefix("OPEN-ACCESS-TOKEN ") {
        let params = auth_params(rest);
        let token = params
            .iter()
            .find(|(n, _)| n == "AccessToken")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let valid = lock(&shared.tokens)
            .get(token)
            .is_some_and(|t| !t.revoked && Instant::now() < t.expires);
        let reject = faults.contains(&Fault::RejectAllTokens)
            || (faults.contains(&Fault::RejectTokenOnce)
                && !shared.rejected_once.swap(true, Ordering::SeqCst));
        if valid && !reject {
            Ok(())
        } else {
            Err(chinaums_auth_error("1010", "AccessToken无效或已过期"))
        }
    } else if let Some(rest) = header.strip_prefix("OPEN-BODY-SIG ") {
        let params = auth_params(rest);
        let get = |n: &str| {
            params
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        let (app_id, ts, nonce, sig) = (
            get("AppId"),
            get("Timestamp"),
            get("Nonce"),
            get("Signature"),
        );
        if app_id != c.chinaums_app_id {
            return Err(chinaums_auth_error("1011", "AppId不存在"));
        }
        if !timestamp_fresh(ts) {
            return Err(chinaums_auth_error("1012", "时间戳无效或已过期"));
        }
        let mut mac =
            Hmac::<Sha256>::new_from_slice(c.chinaums_app_key.as_bytes()).expect("any key length");
        mac.update(format!("{app_id}{ts}{nonce}{}", hex(&Sha256::digest(&req.body))).as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        if sig != expected {
            return Err(chinaums_auth_error("1013", "签名校验失败"));
        }
        if !fresh_nonce(shared, nonce) {
            return Err(chinaums_auth_error("1014", "nonce重复"));
        }
        Ok(())
    } else {
        Err(chinaums_auth_error("1015", "缺少认证信息"))
    }
}

fn ocr(shared: &Shared, req: &Request, faults: &[Fault]) -> Reply {
    shared.ocr_requests.fetch_add(1, Ordering::SeqCst);
    if let Err(reply) = check_authorization(shared, req, faults) {
        shared.auth_rejections.fetch_add(1, Ordering::SeqCst);
        return reply;
    }
    let json_type = req
        .header("Content-Type")
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    if !json_type {
        return chinaums_top_error(27);
    }
    let Ok(v) = serde_json::from_slice::<Value>(&req.body) else {
        return chinaums_top_error(27);
    };
    let Some(pic) = v.get("picBase64").and_then(Value::as_str) else {
        return chinaums_top_error(27);
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(pic) else {
        return chinaums_top_error(16);
    };
    if let Some(refusal) = admit(shared, &bytes, faults, false) {
        return refusal;
    }
    if let Some((status, body)) = lock(&shared.answers).get(&sha256(&bytes)).cloned() {
        return Reply::json(status, body);
    }
    match sniff(&bytes) {
        (FileKind::Pdf, _) | (FileKind::Png | FileKind::Jpeg, Some(_)) => {}
        (FileKind::Bmp | FileKind::OtherImage, _) => return chinaums_top_error(9),
        _ => return chinaums_top_error(6),
    }
    for f in faults {
        if let Fault::ChinaumsAnswer(code) = f {
            return chinaums_page_error(*code);
        }
    }
    if faults.contains(&Fault::OcrVariants) {
        let mut v: Value =
            serde_json::from_str(crate::CHINAUMS_EXAMPLE_ANSWER).expect("fixture is JSON");
        let words_key = piaoju::spec::invoice_field_by_name("total_price_in_words")
            .expect("a documented field")
            .key;
        let fields = &mut v["PageInfo"][0]["Result"][0]["ResultList"][0]["FieldList"];
        for f in fields.as_array_mut().into_iter().flatten() {
            if f["key"] == words_key {
                f["value"] = "⊗人民币：壹萬圓整（小写）¥10000.00".into();
            }
        }
        return Reply::json(200, v.to_string());
    }
    if faults.contains(&Fault::Wrapped) {
        let inner: Value =
            serde_json::from_str(crate::CHINAUMS_EXAMPLE_ANSWER).expect("fixture is JSON");
        return Reply::json(
            200,
            json!({"errCode": "AN000000", "errMsg": "成功", "result": inner}).to_string(),
        );
    }
    Reply::json(200, crate::CHINAUMS_EXAMPLE_ANSWER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_prefixes() {
        let (f, rest) = split_fault_prefix("/fault/delay=5,http500/shoppingReceipt/query").unwrap();
        assert_eq!(
            f,
            vec![
                Fault::Delay(Duration::from_millis(5)),
                Fault::HttpError(500)
            ]
        );
        assert_eq!(rest, "/shoppingReceipt/query");
        let (f, rest) = split_fault_prefix("/fault/close").unwrap();
        assert_eq!((f, rest), (vec![Fault::Close], "/"));
        let (f, rest) = split_fault_prefix("/v1/token/access").unwrap();
        assert_eq!((f, rest), (vec![], "/v1/token/access"));
        assert!(split_fault_prefix("/fault/nonsense/x").is_err());
    }
}
