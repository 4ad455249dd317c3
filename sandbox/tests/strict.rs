//! The sandbox refuses what the real services would refuse (so client bugs show up offline).

use base64::Engine;
use piaoju_sandbox::Sandbox;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn post(url: &str, content_type: &str, auth: Option<&str>, body: &[u8]) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.post(url).header("Content-Type", content_type);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let mut resp = req.send(body).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn receipt_png() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/receipt.png"
    ))
    .unwrap()
}

#[test]
fn juhe_refuses_an_image_whose_plus_signs_were_not_escaped() {
    let sb = Sandbox::start().unwrap();
    let url = format!("{}/shoppingReceipt/query", sb.url());
    let mut image = receipt_png();
    image.extend_from_slice(&[0xFB, 0xEF, 0xBE]); // base64 "++++"
    let b64 = base64::engine::general_purpose::STANDARD.encode(&image);
    assert!(b64.contains('+'));
    // The common bug: base64 pasted into the form body unescaped.
    let body = format!("key=sandbox-juhe-key&image={b64}");
    let (_, v) = post(
        &url,
        "application/x-www-form-urlencoded",
        None,
        body.as_bytes(),
    );
    assert_eq!(v["error_code"], 223701, "{v}");
    // Escaped properly, it is accepted.
    let escaped = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let body = format!("key=sandbox-juhe-key&image={escaped}");
    let (status, v) = post(
        &url,
        "application/x-www-form-urlencoded",
        None,
        body.as_bytes(),
    );
    assert_eq!((status, v["error_code"].as_i64()), (200, Some(0)), "{v}");
    assert_eq!(v["result"]["data"]["shop_name"], "多又好超市");
}

#[test]
fn juhe_checks_key_content_type_and_image_limits() {
    let sb = Sandbox::start().unwrap();
    let url = format!("{}/shoppingReceipt/query", sb.url());
    let (_, v) = post(
        &url,
        "application/x-www-form-urlencoded",
        None,
        b"key=nope&image=AAAA",
    );
    assert_eq!(v["error_code"], 10001);
    assert_eq!(v["resultcode"], "101");
    let (_, v) = post(&url, "application/json", None, b"{}");
    assert_eq!(v["error_code"], 223703);
    // A 10x10 PNG header: below the 15 px minimum.
    let mut tiny = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    tiny.extend_from_slice(&[0, 0, 0, 10, 0, 0, 0, 10, 8, 2, 0, 0, 0]);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&tiny);
    let body = format!(
        "key=sandbox-juhe-key&image={}",
        b64.replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    let (_, v) = post(
        &url,
        "application/x-www-form-urlencoded",
        None,
        body.as_bytes(),
    );
    assert_eq!(v["error_code"], 223702);
}

#[test]
fn chinaums_requires_valid_authorization_and_body() {
    let sb = Sandbox::start().unwrap();
    let ocr = format!("{}/v1/brain/ocr/elecusedcarinvoice", sb.url());
    let pic = base64::engine::general_purpose::STANDARD.encode(receipt_png());
    let body = format!(r#"{{"picBase64":"{pic}"}}"#);
    let (status, v) = post(&ocr, "application/json", None, body.as_bytes());
    assert_eq!((status, v["errCode"].as_str()), (401, Some("1015")));
    let (status, _) = post(
        &ocr,
        "application/json",
        Some("OPEN-ACCESS-TOKEN AccessToken=\"made-up\""),
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    let (status, v) = post(&ocr, "application/json", Some("OPEN-BODY-SIG AppId=\"sandbox-app-id\", Timestamp=\"20000101000000\", Nonce=\"n\", Signature=\"x\""), body.as_bytes());
    assert_eq!(
        (status, v["errCode"].as_str()),
        (401, Some("1012")),
        "stale timestamp"
    );

    // Token endpoint: a wrong signature is refused, a right one gets a token.
    let token_url = format!("{}/v1/token/access", sb.url());
    let ts = piaoju_sandbox::beijing_timestamp(std::time::SystemTime::now());
    let bad = serde_json::json!({"appId": "sandbox-app-id", "timestamp": ts, "nonce": "n1", "signMethod": "SHA256", "signature": "00"});
    let (_, v) = post(
        &token_url,
        "application/json",
        None,
        bad.to_string().as_bytes(),
    );
    assert_eq!(v["errCode"], "1005");
    let sig = hex(&Sha256::digest(
        format!("sandbox-app-id{ts}n2sandbox-app-key").as_bytes(),
    ));
    let good = serde_json::json!({"appId": "sandbox-app-id", "timestamp": ts, "nonce": "n2", "signMethod": "SHA256", "signature": sig});
    let (_, v) = post(
        &token_url,
        "application/json",
        None,
        good.to_string().as_bytes(),
    );
    assert_eq!(v["errCode"], "0000", "{v}");
    let token = v["accessToken"].as_str().unwrap().to_string();
    // The same nonce again is a replay.
    let (_, v) = post(
        &token_url,
        "application/json",
        None,
        good.to_string().as_bytes(),
    );
    assert_eq!(v["errCode"], "1006");

    // Both header spellings are accepted (quotes and no quotes).
    for auth in [
        format!("OPEN-ACCESS-TOKEN AccessToken=\"{token}\""),
        format!("OPEN-ACCESS-TOKEN AccessToken={token}"),
    ] {
        let (status, v) = post(&ocr, "application/json", Some(&auth), body.as_bytes());
        assert_eq!((status, v["ErrorCode"].as_i64()), (200, Some(0)), "{auth}");
    }
    let auth = format!("OPEN-ACCESS-TOKEN AccessToken=\"{token}\"");
    // Body checks: answer codes 27 (parameters), 16 (base64), 9 (file type).
    let (_, v) = post(&ocr, "text/plain", Some(&auth), body.as_bytes());
    assert_eq!(v["ErrorCode"], 27);
    let (_, v) = post(&ocr, "application/json", Some(&auth), br#"{"image":"x"}"#);
    assert_eq!(v["ErrorCode"], 27);
    let (_, v) = post(
        &ocr,
        "application/json",
        Some(&auth),
        br#"{"picBase64":"not base64!"}"#,
    );
    assert_eq!(v["ErrorCode"], 16);
    let gif = base64::engine::general_purpose::STANDARD.encode(b"GIF89a\x01\x00\x01\x00");
    let (_, v) = post(
        &ocr,
        "application/json",
        Some(&auth),
        format!(r#"{{"picBase64":"{gif}"}}"#).as_bytes(),
    );
    assert_eq!(v["ErrorCode"], 9);
}

#[test]
fn body_signature_over_the_exact_bytes() {
    let sb = Sandbox::start().unwrap();
    let ocr = format!("{}/v1/brain/ocr/elecusedcarinvoice", sb.url());
    let pic = base64::engine::general_purpose::STANDARD.encode(receipt_png());
    let body = format!(r#"{{"picBase64":"{pic}"}}"#);
    let auth = body_signature_header(body.as_bytes(), "nonce-1");
    // Signed over other bytes (one space added): refused.
    let (status, v) = post(
        &ocr,
        "application/json",
        Some(&auth),
        format!("{body} ").as_bytes(),
    );
    assert_eq!((status, v["errCode"].as_str()), (401, Some("1013")));
    let auth = body_signature_header(body.as_bytes(), "nonce-2");
    // The "," separator without a space is accepted as well.
    let (status, v) = post(
        &ocr,
        "application/json",
        Some(&auth.replace("\", ", "\",")),
        body.as_bytes(),
    );
    assert_eq!((status, v["ErrorCode"].as_i64()), (200, Some(0)), "{v}");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The `OPEN-BODY-SIG` header for the sandbox's credentials, computed here from the document's
/// formula (not with the client's code).
fn body_signature_header(body: &[u8], nonce: &str) -> String {
    use hmac::{Hmac, Mac};
    let ts = piaoju_sandbox::beijing_timestamp(std::time::SystemTime::now());
    let mut mac = Hmac::<Sha256>::new_from_slice(b"sandbox-app-key").unwrap();
    mac.update(format!("sandbox-app-id{ts}{nonce}{}", hex(&Sha256::digest(body))).as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("OPEN-BODY-SIG AppId=\"sandbox-app-id\", Timestamp=\"{ts}\", Nonce=\"{nonce}\", Signature=\"{sig}\"")
}
