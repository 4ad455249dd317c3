//! Batches over one client: every result comes back with its input, failures do not stop the
//! rest, the cache makes a second run send nothing, cancelling stops starting new calls.

use std::sync::atomic::AtomicBool;

use piaoju::batch::{self, BatchOptions, BatchSource};
use piaoju::{Client, Config, DocumentType, ErrorCode};
use piaoju_sandbox::Sandbox;

const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");

fn inputs(n: u32) -> Vec<(DocumentType, BatchSource)> {
    (0..n)
        .map(|i| {
            let mut v = RECEIPT_PNG.to_vec();
            v.extend_from_slice(&i.to_be_bytes());
            (DocumentType::ShoppingReceipt, BatchSource::Bytes(v))
        })
        .collect()
}

#[test]
fn a_batch_returns_every_result_and_a_rerun_sends_nothing() {
    let sb = Sandbox::start().unwrap();
    let cache = std::env::temp_dir().join(format!("piaoju-batch-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&cache);
    let mut c: serde_json::Value = serde_json::from_str(
        &sb.client_config_json_for(&sb.fault_url("flaky=0.2"), "access_token"),
    )
    .unwrap();
    c["cache"] = serde_json::json!({"path": cache.to_str().unwrap()});
    c["max_qps"] = 50.into();
    c["retry"] = serde_json::json!({"max_attempts": 10, "base_delay_ms": 1, "max_delay_ms": 20});
    let client = Client::new(Config::from_value(c).unwrap()).unwrap();
    let items = inputs(40);
    let mut seen = vec![0; items.len()];
    let mut last_progress = None;
    let never = AtomicBool::new(false);
    let summary = batch::run(
        &client,
        &items,
        BatchOptions::default().workers(8),
        &never,
        |i, outcome| {
            seen[i] += 1;
            assert_eq!(
                outcome.unwrap().document_type(),
                DocumentType::ShoppingReceipt
            );
        },
        |p| last_progress = Some(p),
    );
    assert!(seen.iter().all(|&n| n == 1));
    assert_eq!(
        (summary.succeeded, summary.failed, summary.skipped),
        (40, 0, 0)
    );
    assert!(summary.requests >= 40);
    let p = last_progress.unwrap();
    assert_eq!((p.done, p.total, p.failed), (40, 40, 0));
    for (_, source) in &items {
        let BatchSource::Bytes(b) = source else {
            unreachable!()
        };
        assert_eq!(sb.image_requests(b).1, 1, "each image answered once");
    }
    // The same batch again: all from the cache, no request.
    let before = sb.stats().juhe_requests;
    let again = batch::run(
        &client,
        &items,
        BatchOptions::default(),
        &never,
        |_, o| assert!(o.is_ok()),
        |_| {},
    );
    assert_eq!((again.cached, again.requests), (40, 0));
    assert_eq!(sb.stats().juhe_requests, before);
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn failures_are_reported_and_stop_the_batch_only_when_asked() {
    let sb = Sandbox::start().unwrap();
    let c: serde_json::Value = serde_json::from_str(
        &sb.client_config_json_for(&sb.fault_url("after_send=reset"), "access_token"),
    )
    .unwrap();
    let client = Client::new(Config::from_value(c).unwrap()).unwrap();
    let never = AtomicBool::new(false);
    let items = inputs(6);
    let summary = batch::run(
        &client,
        &items,
        BatchOptions::default().workers(2),
        &never,
        |_, o| assert_eq!(o.unwrap_err().code, ErrorCode::ConnectionBroken),
        |_| {},
    );
    assert_eq!((summary.failed, summary.possibly_billed_failures), (6, 6));
    let stop = AtomicBool::new(false);
    let summary = batch::run(
        &client,
        &inputs(30),
        BatchOptions::default().workers(1).continue_on_error(false),
        &stop,
        |_, _| {},
        |_| {},
    );
    assert_eq!(summary.failed, 1);
    assert!(summary.cancelled && summary.skipped == 29);
}

fn cached_client(sb: &Sandbox, name: &str) -> (Client, std::path::PathBuf) {
    let cache = std::env::temp_dir().join(format!("piaoju-{name}-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&cache);
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["cache"] = serde_json::json!({"path": cache.to_str().unwrap()});
    (Client::new(Config::from_value(c).unwrap()).unwrap(), cache)
}

#[test]
fn the_same_image_twice_at_the_same_time_is_sent_once() {
    // Two inputs with the same bytes, two workers: the second call waits for the first and
    // takes its answer from the cache.
    let sb = Sandbox::start().unwrap();
    sb.set_faults("delay=300").unwrap();
    let (client, cache) = cached_client(&sb, "same-image");
    let image = inputs(1).remove(0);
    let items = vec![image.clone(), image.clone(), image.clone()];
    let never = AtomicBool::new(false);
    let mut cached = Vec::new();
    let summary = batch::run(
        &client,
        &items,
        BatchOptions::default().workers(3),
        &never,
        |_, o| match o.unwrap() {
            piaoju::Document::ShoppingReceipt(r) => cached.push((r.cached, r.attempts)),
            other => panic!("{other:?}"),
        },
        |_| {},
    );
    assert_eq!(summary.succeeded, 3);
    cached.sort();
    assert_eq!(cached, [(false, 1), (true, 0), (true, 0)]);
    let BatchSource::Bytes(bytes) = &image.1 else {
        unreachable!()
    };
    assert_eq!(sb.image_requests(bytes), (1, 1));
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn a_waiter_sends_itself_when_the_call_it_waited_for_failed() {
    let sb = Sandbox::start().unwrap();
    let (client, cache) = cached_client(&sb, "waiter-fails");
    let image = inputs(1).remove(0);
    let BatchSource::Bytes(bytes) = image.1.clone() else {
        unreachable!()
    };
    // Every request for it is refused (a Juhe error that is not retried): nothing is cached.
    sb.set_faults("delay=200").unwrap();
    sb.register_answer(
        &bytes,
        200,
        r#"{"reason":"错误的请求KEY","result":null,"error_code":10001}"#,
    );
    let never = AtomicBool::new(false);
    let summary = batch::run(
        &client,
        &[image.clone(), image.clone()],
        BatchOptions::default().workers(2),
        &never,
        |_, o| assert_eq!(o.unwrap_err().code, ErrorCode::InvalidKey),
        |_| {},
    );
    assert_eq!(summary.failed, 2);
    // One after the other, not at once: the second waited, found nothing, and sent.
    assert_eq!(sb.image_requests(&bytes).0, 2);
    assert_eq!(sb.stats().max_in_flight, 1);
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn cancelling_stops_calls_still_waiting_for_the_rate_limit() {
    // 8 workers at 2 requests a second: 2 go at once, the 6 others wait for their turn. The
    // batch is cancelled when the first 2 are done: the waiting ones send nothing.
    let sb = Sandbox::start().unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["max_qps"] = 2.into();
    let client = Client::new(Config::from_value(c).unwrap()).unwrap();
    let cancel = AtomicBool::new(false);
    let summary = batch::run(
        &client,
        &inputs(20),
        BatchOptions::default().workers(8),
        &cancel,
        |_, o| assert!(o.is_ok()),
        |p| {
            if p.done >= 2 {
                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        },
    );
    let sent = sb.stats().juhe_requests;
    assert_eq!(sent, summary.requests, "every request sent is reported");
    assert_eq!(summary.succeeded as u64, sent);
    assert!(
        (2..=3).contains(&sent),
        "{sent} requests after cancelling at 2"
    );
    assert_eq!(summary.skipped, 20 - summary.succeeded);
    assert!(summary.cancelled);
}
