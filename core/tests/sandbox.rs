//! End-to-end tests of the client against the in-process sandbox.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use piaoju::{CheckStatus, Client, Config, ErrorCode, Provider};
use piaoju_sandbox::{Sandbox, SandboxConfig};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn client_for(sb: &Sandbox, base: &str, auth: &str) -> Client {
    Client::new(Config::from_json(&sb.client_config_json_for(base, auth)).unwrap()).unwrap()
}

fn client(sb: &Sandbox) -> Client {
    client_for(sb, &sb.url(), "access_token")
}

#[test]
fn receipt_from_each_accepted_format() {
    let sb = Sandbox::start().unwrap();
    let c = client(&sb);
    for name in ["receipt.png", "receipt.bmp", "receipt.jpg"] {
        let r = c.recognize_shopping_receipt(&fixture(name)).unwrap();
        assert_eq!(r.shop_name.as_deref(), Some("多又好超市"), "{name}");
        assert_eq!(
            r.total_amount.map(|v| v.to_string()).as_deref(),
            Some("12.50")
        );
        assert_eq!(r.items.len(), 4);
        assert_eq!(
            r.items[0].unit_price.map(|v| v.to_string()).as_deref(),
            Some("4.50")
        );
        assert!(r.checks_passed(), "{:?}", r.checks);
    }
    assert_eq!(sb.stats().juhe_requests, 3);
}

#[test]
fn receipt_image_whose_base64_has_plus_slash_and_equals_arrives_intact() {
    let sb = Sandbox::start().unwrap();
    let mut image = std::fs::read(fixture("receipt.png")).unwrap();
    // Trailing bytes (ignored by PNG decoders) whose base64 is "++++////" and padding.
    image.extend_from_slice(&[0xFB, 0xEF, 0xBE, 0xFF, 0xFF, 0xFF, 0xFF]);
    let registered = r#"{"reason":"成功","error_code":0,"result":{"orderid":"plus-slash","data":{"total_amount":"1.00"}}}"#;
    sb.register_answer(&image, 200, registered);
    let r = client(&sb).recognize_shopping_receipt(&image).unwrap();
    // The sandbox decodes strictly: only exact bytes match the registered answer.
    assert_eq!(r.order_id.as_deref(), Some("plus-slash"));
    assert_eq!(
        r.total_amount.map(|v| v.to_string()).as_deref(),
        Some("1.00")
    );
}

#[test]
fn invoice_in_both_auth_modes_and_both_answer_forms() {
    let sb = Sandbox::start().unwrap();
    for (auth, base) in [
        ("access_token", sb.url()),
        ("body_signature", sb.url()),
        ("access_token", sb.fault_url("wrapped")),
        ("body_signature", sb.fault_url("wrapped")),
    ] {
        let c = client_for(&sb, &base, auth);
        for name in ["invoice.png", "invoice.pdf"] {
            let inv = c.recognize_used_car_invoice(&fixture(name)).unwrap();
            assert_eq!(
                inv.vin.as_deref(),
                Some("LFV3A28W6K3705006"),
                "{auth} {base} {name}"
            );
            assert_eq!(
                inv.total_price.map(|v| v.to_string()).as_deref(),
                Some("10000.00")
            );
            assert_eq!(
                inv.issue_date.map(|v| v.to_string()).as_deref(),
                Some("2025-05-22")
            );
            assert_eq!(inv.provider(), Provider::Chinaums);
            assert!(inv.checks_passed(), "{:?}", inv.checks);
            assert_eq!(
                inv.checks
                    .iter()
                    .filter(|c| c.status == CheckStatus::Pass)
                    .count(),
                8,
                "{:?}",
                inv.checks
            );
        }
    }
    // Token mode fetched one token per client (two token-mode clients), body mode none.
    assert_eq!(sb.stats().tokens_issued, 2);
}

#[test]
fn every_juhe_error_code_through_the_wire() {
    // Which entry each code maps to is tested in error.rs; here, that each one arrives intact.
    let sb = Sandbox::start().unwrap();
    let documented = [
        10001, 10002, 10003, 10004, 10005, 10007, 10008, 10009, 10011, 10012, 10013, 10014, 10020,
        10021,
    ];
    for code in documented.into_iter().chain([223701]) {
        let c = client_for(&sb, &sb.fault_url(&format!("juhe={code}")), "access_token");
        let e = c
            .recognize_shopping_receipt(&fixture("receipt.png"))
            .unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::from_provider(Provider::Juhe, code),
            "{code}"
        );
        assert_eq!(e.code == ErrorCode::ProviderError, code == 223701, "{code}");
        assert_eq!(e.provider, Some(Provider::Juhe));
        assert_eq!(e.provider_code, Some(code.to_string()));
        assert!(e.provider_message.as_deref().is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn wrong_credentials() {
    let sb = Sandbox::start().unwrap();
    let config = |key: &str, app_key: &str, auth: &str| {
        let json = serde_json::json!({
            "juhe": {"key": key, "base_url": sb.url()},
            "chinaums": {"app_id": "sandbox-app-id", "app_key": app_key, "base_url": sb.url(), "auth": auth},
        });
        Client::new(Config::from_json(&json.to_string()).unwrap()).unwrap()
    };
    let e = config("WRONGKEY", "x", "access_token")
        .recognize_shopping_receipt(&fixture("receipt.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidKey);
    assert!(!e.message.contains("WRONGKEY") && !e.to_json().contains("WRONGKEY"));
    let e = config("k", "WRONGAPPKEY", "access_token")
        .recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenRequestRejected);
    assert_eq!(e.provider_code.as_deref(), Some("1005"));
    assert!(!e.to_json().contains("WRONGAPPKEY"));
    let e = config("k", "WRONGAPPKEY", "body_signature")
        .recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AuthRejected);
    assert_eq!(e.http_status, Some(401));
    assert!(!e.to_json().contains("WRONGAPPKEY"));
}

#[test]
fn every_chinaums_answer_code_through_the_wire() {
    let sb = Sandbox::start().unwrap();
    for (code, want) in [
        (1, ErrorCode::EngineLoadFailed),
        (3, ErrorCode::NoDocumentDetected),
        (4, ErrorCode::PdfConversionFailed),
        (6, ErrorCode::FileUnreadableByService),
        (9, ErrorCode::FileTypeRejected),
        (16, ErrorCode::InvalidImageData),
        (27, ErrorCode::ParametersRejected),
        (99, ErrorCode::ProviderError),
    ] {
        let c = client_for(
            &sb,
            &sb.fault_url(&format!("answer={code}")),
            "body_signature",
        );
        let e = c
            .recognize_used_car_invoice(&fixture("invoice.png"))
            .unwrap_err();
        assert_eq!(e.code, want, "{code}");
        assert_eq!(e.provider_code, Some(code.to_string()));
    }
    let c = client_for(&sb, &sb.fault_url("token=1099"), "access_token");
    let e = c
        .recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenRequestRejected);
    assert_eq!(e.provider_code.as_deref(), Some("1099"));
}

#[test]
fn transport_faults() {
    let sb = Sandbox::start().unwrap();
    for (fault, want) in [
        ("http500", ErrorCode::ServiceHttpError),
        ("http502", ErrorCode::ServiceHttpError),
        ("http503", ErrorCode::ServiceHttpError),
        ("malformed", ErrorCode::MalformedResponse),
        ("truncated", ErrorCode::ConnectionBroken),
        ("close", ErrorCode::ConnectionBroken),
    ] {
        let c = client_for(&sb, &sb.fault_url(fault), "body_signature");
        let e = c
            .recognize_shopping_receipt(&fixture("receipt.png"))
            .unwrap_err();
        assert_eq!(e.code, want, "receipt {fault}: {e}");
        assert!(
            e.retryable()
                == matches!(
                    want,
                    ErrorCode::ServiceHttpError | ErrorCode::ConnectionBroken
                )
        );
        let e = c
            .recognize_used_car_invoice(&fixture("invoice.png"))
            .unwrap_err();
        assert_eq!(e.code, want, "invoice {fault}: {e}");
    }
    let c = client_for(&sb, &sb.fault_url("http502"), "body_signature");
    let e = c
        .recognize_shopping_receipt(&fixture("receipt.png"))
        .unwrap_err();
    assert_eq!(e.http_status, Some(502));
    assert!(
        e.message.contains("HTTP 502") && e.message.contains("nginx"),
        "{}",
        e.message
    );
}

#[test]
fn deadline_is_enforced() {
    let sb = Sandbox::start().unwrap();
    let json = serde_json::json!({
        "juhe": {"key": sb.config().juhe_key, "base_url": sb.fault_url("delay=3000")},
        "timeout_ms": 300,
    });
    let c = Client::new(Config::from_json(&json.to_string()).unwrap()).unwrap();
    let started = std::time::Instant::now();
    let e = c
        .recognize_shopping_receipt(&fixture("receipt.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout, "{e}");
    assert!(e.retryable());
    // Reported well before the sandbox would have answered.
    assert!(started.elapsed() < Duration::from_millis(2900));
}

#[test]
fn connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let json = format!(r#"{{"juhe":{{"key":"k","base_url":"http://127.0.0.1:{port}"}}}}"#);
    let c = Client::new(Config::from_json(&json).unwrap()).unwrap();
    let e = c
        .recognize_shopping_receipt(&fixture("receipt.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectFailed, "{e}");
}

#[test]
fn preflight_refuses_before_any_request() {
    let sb = Sandbox::start().unwrap();
    // With image_fit "off", an over-limit image is refused (by default it would be fitted).
    let mut config: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    config["image_fit"] = "off".into();
    let c = Client::new(Config::from_value(config).unwrap()).unwrap();
    for (name, want) in [
        ("too_small.png", ErrorCode::ImageTooSmall),
        ("too_wide.png", ErrorCode::ImageDimensionsTooLarge),
        ("not_an_image.gif", ErrorCode::ImageFormatUnsupported),
        ("empty.png", ErrorCode::ImageEmpty),
        ("invoice.pdf", ErrorCode::ImageFormatUnsupported),
        ("no_such_file.png", ErrorCode::ImageUnreadable),
    ] {
        let e = c.recognize_shopping_receipt(&fixture(name)).unwrap_err();
        assert_eq!(e.code, want, "{name}");
    }
    for (name, want) in [
        ("receipt.bmp", ErrorCode::ImageFormatUnsupported),
        ("empty.png", ErrorCode::ImageEmpty),
    ] {
        let e = c.recognize_used_car_invoice(&fixture(name)).unwrap_err();
        assert_eq!(e.code, want, "{name}");
    }
    let s = sb.stats();
    assert_eq!(
        (s.juhe_requests, s.ocr_requests, s.tokens_issued),
        (0, 0, 0)
    );
}

#[test]
fn expired_token_is_renewed() {
    let sb = Sandbox::start_with(SandboxConfig {
        token_ttl: Duration::from_secs(1),
        ..SandboxConfig::default()
    })
    .unwrap();
    let c = client(&sb);
    c.recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap();
    c.recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap();
    assert_eq!(sb.stats().tokens_issued, 1);
    std::thread::sleep(Duration::from_millis(1100));
    c.recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap();
    assert_eq!(sb.stats().tokens_issued, 2);
    assert_eq!(
        sb.stats().auth_rejections,
        0,
        "renewed before expiry, not after a 401"
    );
}

#[test]
fn rejected_token_is_refreshed_once_and_the_call_retried_once() {
    let sb = Sandbox::start().unwrap();
    let c = client(&sb);
    c.recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap();
    sb.revoke_tokens();
    let inv = c
        .recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap();
    assert_eq!(inv.vin.as_deref(), Some("LFV3A28W6K3705006"));
    let s = sb.stats();
    assert_eq!(
        (s.tokens_issued, s.auth_rejections, s.ocr_requests),
        (2, 1, 3)
    );

    // The same through the sandbox's reject-token fault (as C and Python tests use it).
    let sb = Sandbox::start().unwrap();
    let c = client_for(&sb, &sb.fault_url("reject-token"), "access_token");
    c.recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap();
    let s = sb.stats();
    assert_eq!(
        (s.tokens_issued, s.auth_rejections, s.ocr_requests),
        (2, 1, 2)
    );
}

#[test]
fn a_token_that_is_always_refused_ends_in_auth_rejected() {
    let sb = Sandbox::start().unwrap();
    let c = client_for(&sb, &sb.fault_url("reject-tokens"), "access_token");
    let e = c
        .recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::AuthRejected, "{e}");
    assert_eq!(e.http_status, Some(401));
    let s = sb.stats();
    assert_eq!(
        (s.tokens_issued, s.ocr_requests),
        (2, 2),
        "one refresh, one retry"
    );
}

#[test]
fn threads_share_one_client_and_one_token() {
    let sb = Sandbox::start().unwrap();
    let c = Arc::new(client_for(&sb, &sb.fault_url("delay=50"), "access_token"));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    c.recognize_used_car_invoice(&fixture("invoice.png"))
                        .map(|d| d.vin)
                } else {
                    c.recognize_shopping_receipt(&fixture("receipt.png"))
                        .map(|d| d.shop_name)
                }
            })
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap().unwrap().is_some());
    }
    let s = sb.stats();
    assert_eq!(s.tokens_issued, 1, "one refresh, however many threads");
    assert_eq!((s.ocr_requests, s.juhe_requests), (4, 4));
}

#[test]
fn one_shot_json_call() {
    let sb = Sandbox::start().unwrap();
    let config: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    let req = serde_json::json!({
        "config": config,
        "operation": "used_car_invoice",
        "image_path": fixture("invoice.png"),
    });
    let out: serde_json::Value =
        serde_json::from_str(&piaoju::bindings::call_json(&req.to_string())).unwrap();
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["result"]["vin"], "LFV3A28W6K3705006");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(fixture("receipt.png")).unwrap());
    let req =
        serde_json::json!({"config": config, "operation": "shopping_receipt", "image_base64": b64});
    let out: serde_json::Value =
        serde_json::from_str(&piaoju::bindings::call_json(&req.to_string())).unwrap();
    assert_eq!(out["result"]["total_amount"], "12.50");
    assert_eq!(out["result"]["document_type"], "shopping_receipt");
    // A data-URL prefix and MIME line breaks are tolerated.
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    let req = serde_json::json!({"config": config, "operation": "shopping_receipt",
                                 "image_base64": format!("data:image/png;base64,{wrapped}")});
    let out: serde_json::Value =
        serde_json::from_str(&piaoju::bindings::call_json(&req.to_string())).unwrap();
    assert_eq!(out["result"]["shop_name"], "多又好超市", "{out}");
}

#[test]
fn a_refused_token_says_which_setting_to_check() {
    // A production appId tried in the default test environment: ChinaUMS's 1002.
    let sb = Sandbox::start().unwrap();
    let c = client_for(&sb, &sb.fault_url("token=1002"), "access_token");
    let e = c
        .recognize_used_car_invoice(&fixture("invoice.png"))
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::TokenRequestRejected);
    assert_eq!(e.provider_code.as_deref(), Some("1002"));
    assert_eq!(
        e.hint(),
        Some(
            "ChinaUMS does not know this appId in its test environment: a production appId \
             needs PIAOJU_CHINAUMS_ENV=production (chinaums.environment)"
        )
    );
    let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(json["hint"], e.hint().unwrap());
    assert!(e
        .to_string()
        .ends_with(&format!("(hint: {})", e.hint().unwrap())));
}
