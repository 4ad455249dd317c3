//! `timeout_ms` is the deadline of the whole call: token fetch, refresh and every request.
//! Bounds are generous (timeout + 30 %), never speeds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use piaoju::{Client, Config, ErrorCode};
use piaoju_sandbox::Sandbox;

const INVOICE_PNG: &[u8] = include_bytes!("../../tests/fixtures/invoice.png");

fn client(sb: &Sandbox, faults: &str, timeout_ms: u64) -> Client {
    let mut config: serde_json::Value =
        serde_json::from_str(&sb.client_config_json_for(&sb.fault_url(faults), "access_token"))
            .unwrap();
    config["timeout_ms"] = timeout_ms.into();
    Client::new(Config::from_value(config).unwrap()).unwrap()
}

fn within(elapsed: Duration, timeout_ms: u64) {
    let bound = Duration::from_millis(timeout_ms * 13 / 10);
    assert!(elapsed <= bound, "{elapsed:?} > {bound:?}");
}

#[test]
fn a_slow_token_and_a_slow_answer_share_one_deadline() {
    let sb = Sandbox::start().unwrap();
    // Token 800 ms, then the OCR request 800 ms: 1.6 s of work for a 1 s deadline.
    let c = client(&sb, "delay=800", 1000);
    let started = Instant::now();
    let e = c.recognize_used_car_invoice(INVOICE_PNG).unwrap_err();
    within(started.elapsed(), 1000);
    assert_eq!(e.code, ErrorCode::Timeout, "{e}");
}

#[test]
fn a_refresh_after_a_401_stays_within_the_deadline() {
    let sb = Sandbox::start().unwrap();
    // token, OCR -> 401, token, OCR: four slow exchanges.
    let c = client(&sb, "delay=400,reject-token", 1000);
    let started = Instant::now();
    let e = c.recognize_used_car_invoice(INVOICE_PNG).unwrap_err();
    within(started.elapsed(), 1000);
    assert_eq!(e.code, ErrorCode::Timeout, "{e}");
}

#[test]
fn threads_waiting_on_a_hanging_token_endpoint_end_at_their_own_deadline() {
    let sb = Sandbox::start().unwrap();
    let c = Arc::new(client(&sb, "token-delay=5000", 1000));
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let e = c.recognize_used_car_invoice(INVOICE_PNG).unwrap_err();
                (e.code, started.elapsed())
            })
        })
        .collect();
    for t in threads {
        let (code, elapsed) = t.join().unwrap();
        assert_eq!(code, ErrorCode::Timeout);
        within(elapsed, 1000);
    }
    // One fetch served all eight: the others waited for it instead of queueing their own.
    assert_eq!(sb.stats().token_requests, 1);
}

#[test]
fn a_call_within_its_deadline_succeeds() {
    let sb = Sandbox::start().unwrap();
    let c = client(&sb, "delay=100", 5000);
    let inv = c.recognize_used_car_invoice(INVOICE_PNG).unwrap();
    assert_eq!(inv.vin.as_deref(), Some("LFV3A28W6K3705006"));
}

#[test]
fn a_timeout_says_what_timed_out_and_after_how_long() {
    let sb = Sandbox::start().unwrap();
    let receipt = include_bytes!("../../tests/fixtures/receipt.png");
    let late = client(&sb, "delay=3000", 400);
    let e = late.recognize_shopping_receipt(&receipt[..]).unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(
        e.message.ends_with(
            "the call's deadline of 400 ms (timeout_ms) passed while waiting for the answer \
             (the whole request was sent)"
        ),
        "{}",
        e.message
    );
    assert!(e.hint().unwrap().contains("now 400 ms"), "{:?}", e.hint());
    assert!(!e.to_string().contains("global"), "{e}");
    // The answer arrives one byte every 100 ms.
    let drip = client(&sb, "drip=100", 600);
    let e = drip.recognize_shopping_receipt(&receipt[..]).unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(
        e.message.ends_with("passed while reading the answer"),
        "{}",
        e.message
    );
}
