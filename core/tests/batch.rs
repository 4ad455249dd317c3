//! Batches over one client: every result comes back with its input, failures do not stop the
//! rest, the cache makes a second run send nothing, cancelling stops starting new calls.

use std::ops::ControlFlow::Continue;
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
            Continue(())
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
        |_, o| {
            assert!(o.is_ok());
            Continue(())
        },
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
        |_, o| {
            assert_eq!(o.unwrap_err().code, ErrorCode::ConnectionBroken);
            Continue(())
        },
        |_| {},
    );
    assert_eq!((summary.failed, summary.possibly_billed_failures), (6, 6));
    let stop = AtomicBool::new(false);
    let summary = batch::run(
        &client,
        &inputs(30),
        BatchOptions::default().workers(1).continue_on_error(false),
        &stop,
        |_, _| Continue(()),
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
        |_, o| {
            match o.unwrap() {
                piaoju::Document::ShoppingReceipt(r) => cached.push((r.cached, r.attempts)),
                other => panic!("{other:?}"),
            }
            Continue(())
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
        |_, o| {
            assert_eq!(o.unwrap_err().code, ErrorCode::InvalidKey);
            Continue(())
        },
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
        |_, o| {
            assert!(o.is_ok());
            Continue(())
        },
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

/// Bytes whose reading panics: a bug inside one call.
struct Boom;

impl AsRef<[u8]> for Boom {
    fn as_ref(&self) -> &[u8] {
        panic!("a bug while reading this image")
    }
}

#[test]
fn a_panic_inside_a_call_is_that_images_error_and_the_batch_goes_on() {
    let sb = Sandbox::start().unwrap();
    let client = Client::new(Config::from_json(&sb.client_config_json()).unwrap()).unwrap();
    let mut items = inputs(6);
    items[2].1 = BatchSource::Shared(std::sync::Arc::new(Boom));
    let never = AtomicBool::new(false);
    let mut outcomes = vec![None; items.len()];
    let summary = batch::run(
        &client,
        &items,
        BatchOptions::default().workers(3),
        &never,
        |i, o| {
            outcomes[i] = Some(o.map(|_| ()).map_err(|e| (e.code, e.message)));
            Continue(())
        },
        |_| {},
    );
    assert_eq!(
        (summary.succeeded, summary.failed, summary.skipped),
        (5, 1, 0)
    );
    let (code, message) = outcomes[2].clone().unwrap().unwrap_err();
    assert_eq!(code, ErrorCode::Panic);
    assert!(
        message.contains("a bug while reading this image"),
        "{message}"
    );
    assert!(outcomes
        .iter()
        .enumerate()
        .all(|(i, o)| i == 2 || o == &Some(Ok(()))));
    assert_eq!(sb.stats().juhe_requests, 5);
}

#[test]
fn a_possibly_billed_failure_is_shared_with_the_same_image_and_never_sent_again() {
    // The provider processes the request, then the connection breaks: possibly billed. The
    // same bytes given three times are sent once, with or without a cache, at once or one
    // after the other.
    for (workers, cached) in [(3, false), (1, false), (3, true), (1, true)] {
        let sb = Sandbox::start().unwrap();
        sb.set_faults("delay=100,after_send=reset").unwrap();
        let (client, cache) = if cached {
            cached_client(&sb, &format!("billed-{workers}"))
        } else {
            let c = Config::from_json(&sb.client_config_json()).unwrap();
            (Client::new(c).unwrap(), std::path::PathBuf::new())
        };
        let image = inputs(1).remove(0);
        let items = vec![image.clone(), image.clone(), image.clone()];
        let never = AtomicBool::new(false);
        let mut seen = Vec::new();
        let summary = batch::run(
            &client,
            &items,
            BatchOptions::default().workers(workers),
            &never,
            |_, o| {
                let e = o.unwrap_err();
                seen.push((
                    e.code.as_u32(),
                    e.possibly_billed,
                    e.attempts,
                    e.message.contains("not sent again"),
                ));
                Continue(())
            },
            |_| {},
        );
        let BatchSource::Bytes(bytes) = &image.1 else {
            unreachable!()
        };
        assert_eq!(
            sb.image_requests(bytes).0,
            1,
            "workers {workers}, cache {cached}"
        );
        seen.sort();
        assert_eq!(
            seen,
            [
                (303, true, 0, true),
                (303, true, 0, true),
                (303, true, 1, false),
            ],
            "workers {workers}, cache {cached}"
        );
        assert_eq!((summary.failed, summary.requests), (3, 1));
        let _ = std::fs::remove_file(&cache);
    }
}

#[test]
fn a_no_document_answer_is_possibly_billed_and_a_rerun_does_not_pay_for_it_again() {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("answer=3").unwrap();
    let (client, cache) = cached_client(&sb, "no-document");
    let invoice: Vec<(DocumentType, BatchSource)> = vec![(
        DocumentType::UsedCarInvoice,
        BatchSource::Bytes(include_bytes!("../../tests/fixtures/invoice.png").to_vec()),
    )];
    let never = AtomicBool::new(false);
    let run = |options: BatchOptions| {
        let mut errors = Vec::new();
        let summary = batch::run(
            &client,
            &invoice,
            options,
            &never,
            |_, o| {
                errors.push(o.unwrap_err());
                Continue(())
            },
            |_| {},
        );
        (errors.remove(0), summary)
    };
    let (e, summary) = run(BatchOptions::default());
    assert_eq!(e.code, ErrorCode::NoDocumentDetected);
    assert!(e.possibly_billed && !e.cached && e.attempts == 1);
    assert_eq!(summary.possibly_billed_failures, 1);
    assert_eq!(sb.stats().ocr_requests, 1);
    // The rerun returns the recorded verdict without paying again.
    let (e, summary) = run(BatchOptions::default());
    assert_eq!(e.code, ErrorCode::NoDocumentDetected);
    assert!(e.cached && !e.possibly_billed && e.attempts == 0, "{e:?}");
    assert!(e.message.contains("retry"), "{}", e.message);
    assert_eq!((summary.requests, summary.possibly_billed_failures), (0, 0));
    assert_eq!(sb.stats().ocr_requests, 1);
    // Unless asked: then it is sent again.
    let (e, _) = run(BatchOptions::default().retry_failed(true));
    assert!(!e.cached && e.attempts == 1);
    assert_eq!(sb.stats().ocr_requests, 2);
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn a_cache_locked_by_another_process_never_holds_the_batch_past_its_deadline() {
    // Another process holds the cache's write lock for 1.5 s from the start of a 12-image
    // batch whose calls have a 2 s deadline. The calls are not held (each waits for its answer
    // to be written at most 0.5 s, and only when no other answer waits), the batch ends when
    // its answers are written, and a rerun sends nothing.
    let sb = Sandbox::start().unwrap();
    let (_, cache) = cached_client(&sb, "held-lock");
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["cache"] = serde_json::json!({"path": cache.to_str().unwrap()});
    c["timeout_ms"] = 2000.into();
    let client = Client::new(Config::from_value(c).unwrap()).unwrap();
    let holder = rusqlite_like::hold_write_lock(&cache, std::time::Duration::from_millis(1500));
    let items = inputs(12);
    let never = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let summary = batch::run(
        &client,
        &items,
        BatchOptions::default().workers(4),
        &never,
        |_, o| {
            assert!(o.is_ok());
            Continue(())
        },
        |_| {},
    );
    let wall = started.elapsed();
    holder.join().unwrap();
    eprintln!("held-lock batch: {wall:?} for 12 images, deadline 2 s, lock held 1.5 s");
    assert_eq!(summary.succeeded, 12);
    assert_eq!(summary.cache_failures, 0, "{:?}", summary.cache_error);
    // Deadline 2 s, plus the end of the lock and the writes: never 12 × 10 s.
    assert!(
        wall < std::time::Duration::from_millis(2000 * 13 / 10 + 1500),
        "{wall:?}"
    );
    let again = batch::run(
        &client,
        &items,
        BatchOptions::default(),
        &never,
        |_, _| Continue(()),
        |_| {},
    );
    assert_eq!((again.cached, again.requests), (12, 0));
    assert_eq!(sb.stats().juhe_requests, 12);
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn a_cache_locked_for_the_whole_batch_is_reported_not_waited_for() {
    let sb = Sandbox::start().unwrap();
    let (_, cache) = cached_client(&sb, "locked-all");
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["cache"] = serde_json::json!({"path": cache.to_str().unwrap()});
    c["timeout_ms"] = 1000.into();
    let client = Client::new(Config::from_value(c).unwrap()).unwrap();
    let holder = rusqlite_like::hold_write_lock(&cache, std::time::Duration::from_secs(6));
    let never = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let summary = batch::run(
        &client,
        &inputs(8),
        BatchOptions::default().workers(4),
        &never,
        |_, o| {
            assert!(o.is_ok());
            Continue(())
        },
        |_| {},
    );
    let wall = started.elapsed();
    assert_eq!(summary.succeeded, 8);
    assert_eq!(summary.cache_failures, 8, "{summary:?}");
    assert!(summary.cache_error.is_some());
    // The calls, one wait for a write, and the final wait of one deadline.
    assert!(
        wall < std::time::Duration::from_millis(1000 * 13 / 10 + 500 + 1000),
        "{wall:?}"
    );
    holder.join().unwrap();
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn a_slow_consumer_holds_the_workers_instead_of_filling_memory() {
    let sb = Sandbox::start().unwrap();
    let client = Client::new(Config::from_json(&sb.client_config_json()).unwrap()).unwrap();
    let never = AtomicBool::new(false);
    let mut delivered = 0u64;
    let mut most_ahead = 0u64;
    batch::run(
        &client,
        &inputs(40),
        BatchOptions::default().workers(4),
        &never,
        |_, _| {
            delivered += 1;
            std::thread::sleep(std::time::Duration::from_millis(50));
            // Sent but not yet taken: those in the queue (one per worker) and in flight.
            most_ahead = most_ahead.max(sb.stats().juhe_requests - delivered);
            Continue(())
        },
        |_| {},
    );
    assert_eq!(delivered, 40);
    assert!(
        most_ahead <= 4 + 4,
        "{most_ahead} results were ahead of the consumer"
    );
}

#[test]
fn a_consumer_that_breaks_stops_the_batch() {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("delay=50").unwrap();
    let client = Client::new(Config::from_json(&sb.client_config_json()).unwrap()).unwrap();
    let never = AtomicBool::new(false);
    let mut taken = 0;
    let summary = batch::run(
        &client,
        &inputs(30),
        BatchOptions::default().workers(2),
        &never,
        |_, _| {
            taken += 1;
            std::ops::ControlFlow::Break(())
        },
        |_| {},
    );
    let sent = sb.stats().juhe_requests;
    assert!(
        sent <= 2 + 1,
        "{sent} requests after the consumer stopped at the first"
    );
    assert_eq!(summary.requests, sent);
    assert!(summary.cancelled);
    assert_eq!(
        summary.skipped,
        30 - taken.max(summary.succeeded + summary.failed)
    );
}

mod rusqlite_like {
    //! Another connection's hold on the cache file (SQLite locks the same way between
    //! connections of one process as between processes).
    use std::path::Path;
    use std::time::Duration;

    /// Hold the write lock of `path` for `hold`; returns once it is held.
    pub fn hold_write_lock(path: &Path, hold: Duration) -> std::thread::JoinHandle<()> {
        let (held, wait) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        let holder = std::thread::spawn(move || {
            let c = rusqlite::Connection::open(&path).unwrap();
            c.execute_batch("BEGIN EXCLUSIVE").unwrap();
            held.send(()).unwrap();
            std::thread::sleep(hold);
            c.execute_batch("ROLLBACK").unwrap();
        });
        wait.recv().unwrap();
        holder
    }
}

#[test]
fn a_provider_that_allows_five_requests_a_second_is_learned_not_failed() {
    // 8 workers, no max_qps, against a provider refusing beyond 5 requests a second (Juhe
    // 10011 with Retry-After: 1): every image is recognized; the refusals are few.
    let sb = Sandbox::start().unwrap();
    sb.set_faults("rate_limit=5").unwrap();
    let client = Client::new(Config::from_json(&sb.client_config_json()).unwrap()).unwrap();
    let items = inputs(30);
    let never = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let mut attempts = 0;
    let summary = batch::run(
        &client,
        &items,
        BatchOptions::default().workers(8),
        &never,
        |_, o| {
            if let piaoju::Document::ShoppingReceipt(r) = o.unwrap() {
                attempts += u64::from(r.attempts);
            }
            Continue(())
        },
        |_| {},
    );
    let wall = started.elapsed();
    let stats = sb.stats();
    let refusals = summary.refused_requests;
    eprintln!(
        "rate_limit=5: 30 images, 8 workers: {wall:?} (ideal 6 s), {} requests, {refusals} refused",
        summary.requests
    );
    assert_eq!((summary.succeeded, summary.failed), (30, 0));
    assert_eq!(stats.juhe_requests, summary.requests);
    assert_eq!(summary.requests, 30 + refusals);
    assert_eq!(
        attempts, summary.requests,
        "every request sent is in some result's attempts"
    );
    assert_eq!(summary.possibly_billed_requests, 30);
    assert!(refusals <= 30, "{refusals} refusals for 30 images");
    for (_, source) in &items {
        let BatchSource::Bytes(b) = source else {
            unreachable!()
        };
        assert_eq!(sb.image_requests(b).1, 1, "each image answered once");
    }
    // Not a speed claim: a bound against waiting without end (the figure is printed above).
    assert!(wall < std::time::Duration::from_secs(30), "{wall:?}");
}

#[test]
fn a_budget_caps_the_requests_and_the_rest_is_not_started() {
    let sb = Sandbox::start().unwrap();
    let (client, cache) = cached_client(&sb, "budget");
    let items = inputs(30);
    let never = AtomicBool::new(false);
    // Three images already in the cache cost nothing.
    batch::run(
        &client,
        &items[27..],
        BatchOptions::default(),
        &never,
        |_, _| Continue(()),
        |_| {},
    );
    assert_eq!(sb.stats().juhe_requests, 3);
    let summary = batch::run(
        &client,
        &items,
        BatchOptions::default().workers(4).max_requests(Some(10)),
        &never,
        |_, o| {
            assert!(o.is_ok());
            Continue(())
        },
        |_| {},
    );
    assert_eq!(sb.stats().juhe_requests, 3 + 10);
    assert_eq!(summary.requests, 10);
    assert_eq!(
        (summary.succeeded, summary.cached, summary.skipped),
        (13, 3, 17)
    );
    assert!(summary.budget_spent && !summary.cancelled);
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn a_success_paid_for_with_retry_failed_replaces_the_recorded_verdict() {
    let sb = Sandbox::start().unwrap();
    let (client, cache) = cached_client(&sb, "retry-failed-success");
    let invoice = vec![(
        DocumentType::UsedCarInvoice,
        BatchSource::Bytes(include_bytes!("../../tests/fixtures/invoice.png").to_vec()),
    )];
    let never = AtomicBool::new(false);
    let run = |options: BatchOptions| {
        let mut got = Vec::new();
        batch::run(
            &client,
            &invoice,
            options,
            &never,
            |_, r| {
                got.push(r);
                Continue(())
            },
            |_| {},
        );
        got.remove(0)
    };
    sb.set_faults("answer=3").unwrap();
    assert_eq!(
        run(BatchOptions::default()).unwrap_err().code,
        ErrorCode::NoDocumentDetected
    );
    sb.clear_faults();
    assert!(run(BatchOptions::default().retry_failed(true)).is_ok());
    // The paid-for success is what the cache keeps now: a plain rerun returns it, sends nothing.
    match run(BatchOptions::default()) {
        Ok(piaoju::Document::UsedCarInvoice(i)) => assert!(i.cached),
        other => panic!("{other:?}"),
    }
    assert_eq!(sb.stats().ocr_requests, 2);
    let _ = std::fs::remove_file(&cache);
}

#[test]
fn a_max_qps_wait_past_the_deadline_goes_back_into_the_queue() {
    // 3 workers at 1 request a second with a 3 s deadline: some calls cannot get a turn in
    // time; they are sent later, not failed, and refused waits keep no turn.
    let sb = Sandbox::start().unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["max_qps"] = 1.into();
    c["timeout_ms"] = 3000.into();
    let client = Client::new(Config::from_value(c).unwrap()).unwrap();
    let never = AtomicBool::new(false);
    let summary = batch::run(
        &client,
        &inputs(10),
        BatchOptions::default().workers(3),
        &never,
        |_, o| {
            assert!(o.is_ok(), "{o:?}");
            Continue(())
        },
        |_| {},
    );
    assert_eq!(
        (summary.succeeded, summary.failed, summary.requests),
        (10, 0, 10)
    );
}

#[test]
fn a_spent_budget_does_not_wait_for_rate_turns() {
    let sb = Sandbox::start().unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["max_qps"] = 1.into();
    let client = Client::new(Config::from_value(c).unwrap()).unwrap();
    let never = AtomicBool::new(false);
    let started = std::time::Instant::now();
    let summary = batch::run(
        &client,
        &inputs(8),
        BatchOptions::default().workers(1).max_requests(Some(1)),
        &never,
        |_, _| Continue(()),
        |_| {},
    );
    assert_eq!((summary.succeeded, summary.skipped), (1, 7));
    // Not a speed claim: without the fix each unsent image waited a one-second turn.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_consumer_that_panics_stops_the_batch_and_the_panic_reaches_the_caller() {
    let sb = Sandbox::start().unwrap();
    let client = std::sync::Arc::new(
        Client::new(Config::from_json(&sb.client_config_json()).unwrap()).unwrap(),
    );
    let (done, ended) = std::sync::mpsc::channel();
    let c = std::sync::Arc::clone(&client);
    std::thread::spawn(move || {
        let items = inputs(6);
        let never = AtomicBool::new(false);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            batch::run(
                &c,
                &items,
                BatchOptions::default().workers(2),
                &never,
                |_, _| panic!("a bug in the consumer"),
                |_| {},
            )
        }));
        let _ = done.send(outcome.is_err());
    });
    let panicked = ended
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("batch::run still running after its consumer panicked");
    assert!(panicked);
    assert!(sb.stats().juhe_requests <= 3);
}

#[test]
fn a_refused_token_then_a_spent_budget_is_the_refusal_not_an_image_not_started() {
    // With an access token, the first OCR request is refused (HTTP 401, a revoked token): it
    // was sent, so it takes the budget of one request; the new token's request then has none
    // left. The image is failed with the refusal (attempts 1), never reported as not started.
    let sb = Sandbox::start().unwrap();
    sb.set_faults("reject-token").unwrap();
    let client = Client::new(Config::from_json(&sb.client_config_json()).unwrap()).unwrap();
    let invoice = vec![(
        DocumentType::UsedCarInvoice,
        BatchSource::Bytes(include_bytes!("../../tests/fixtures/invoice.png").to_vec()),
    )];
    let never = AtomicBool::new(false);
    let mut outcomes = Vec::new();
    let summary = batch::run(
        &client,
        &invoice,
        BatchOptions::default().max_requests(Some(1)),
        &never,
        |_, o| {
            outcomes.push(o);
            Continue(())
        },
        |_| {},
    );
    assert_eq!(
        (sb.stats().ocr_requests, sb.stats().auth_rejections),
        (1, 1)
    );
    assert_eq!(
        (summary.requests, summary.failed, summary.skipped),
        (1, 1, 0)
    );
    let e = outcomes.remove(0).unwrap_err();
    assert_eq!((e.code, e.attempts), (ErrorCode::AuthRejected, 1), "{e}");
}
