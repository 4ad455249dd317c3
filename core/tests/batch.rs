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
