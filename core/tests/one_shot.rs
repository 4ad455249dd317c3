//! One-shot calls (`call_json`, C `pj_call`, Python `call_json`) share one client per
//! configuration: its connections, access token, rate limits and cache.

use std::time::Duration;

use piaoju::bindings::call_json;
use piaoju_sandbox::Sandbox;

const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");
const INVOICE_PNG: &[u8] = include_bytes!("../../tests/fixtures/invoice.png");

fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn call(request: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(&call_json(&request.to_string())).unwrap()
}

#[test]
fn five_invoice_calls_with_one_configuration_fetch_one_token_on_one_connection() {
    let sb = Sandbox::start().unwrap();
    let config: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    let request = serde_json::json!({
        "config": config, "operation": "used_car_invoice", "image_base64": base64(INVOICE_PNG),
    });
    for i in 0..5 {
        let out = call(&request);
        assert_eq!(out["ok"], true, "call {i}: {out}");
        assert_eq!(out["result"]["vin"], "LFV3A28W6K3705006");
    }
    let stats = sb.stats();
    assert_eq!(stats.ocr_requests, 5, "{stats:?}");
    assert_eq!(stats.token_requests, 1, "{stats:?}");
    assert_eq!(stats.tokens_issued, 1, "{stats:?}");
    assert_eq!(stats.connections, 1, "{stats:?}");

    // Another configuration (here: another auth mode) is another client.
    let mut other = request.clone();
    other["config"]["chinaums"]["auth"] = "body_signature".into();
    assert_eq!(call(&other)["ok"], true);
    assert_eq!(sb.stats().connections, 2);
    assert_eq!(sb.stats().tokens_issued, 1, "body signatures need no token");
}

#[test]
fn sixteen_threads_share_the_rate_limits_of_one_configuration() {
    // The case: 16 threads, max_qps 2, max_in_flight 1, one image.
    let sb = Sandbox::start().unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&sb.client_config_json_for(&sb.fault_url("delay=50"), "access_token"))
            .unwrap();
    config["max_qps"] = 2.into();
    config["max_in_flight"] = 1.into();
    config["timeout_ms"] = 20_000.into();
    let request = serde_json::json!({
        "config": config, "operation": "shopping_receipt", "image_base64": base64(RECEIPT_PNG),
    });
    let outs: Vec<serde_json::Value> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..16).map(|_| s.spawn(|| call(&request))).collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for out in &outs {
        assert_eq!(out["ok"], true, "{out}");
    }
    let stats = sb.stats();
    assert_eq!(stats.juhe_requests, 16, "{stats:?}");
    assert_eq!(stats.max_in_flight, 1, "{stats:?}");
    let arrivals = sb.arrivals();
    for (i, &a) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .take_while(|&&b| b < a + Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 2,
            "{in_window} requests in the second from {a:?}"
        );
    }
}

#[test]
fn the_same_image_from_sixteen_threads_is_sent_once_with_a_cache() {
    let sb = Sandbox::start().unwrap();
    let dir = std::env::temp_dir().join(format!("piaoju-one-shot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(
        &sb.client_config_json_for(&sb.fault_url("delay=300"), "access_token"),
    )
    .unwrap();
    config["cache"] = serde_json::json!({"path": dir.join("cache.sqlite").to_str().unwrap()});
    let request = serde_json::json!({
        "config": config, "operation": "shopping_receipt", "image_base64": base64(RECEIPT_PNG),
    });
    let outs: Vec<serde_json::Value> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..16).map(|_| s.spawn(|| call(&request))).collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let cached = outs
        .iter()
        .filter(|o| o["ok"] == true && o["result"]["cached"] == true)
        .count();
    let ok = outs.iter().filter(|o| o["ok"] == true).count();
    assert_eq!(
        (ok, cached),
        (16, 15),
        "answered, and of them from the cache"
    );
    assert_eq!(sb.image_requests(RECEIPT_PNG), (1, 1));
    let _ = std::fs::remove_dir_all(&dir);
}
