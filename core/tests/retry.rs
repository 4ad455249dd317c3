//! Retries that never pay twice, against the sandbox's flaky, rate-limiting and resetting
//! faults: what cannot have been processed is retried within the deadline; what may have been
//! is reported `possibly_billed` and never sent again.

use std::time::{Duration, Instant};

use piaoju::{Client, Config, ErrorCode};
use piaoju_sandbox::Sandbox;

const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");

fn client(sb: &Sandbox, faults: &str, retry: serde_json::Value) -> Client {
    let mut c: serde_json::Value =
        serde_json::from_str(&sb.client_config_json_for(&sb.fault_url(faults), "access_token"))
            .unwrap();
    c["retry"] = retry;
    c["timeout_ms"] = 20_000.into();
    Client::new(Config::from_value(c).unwrap()).unwrap()
}

/// A distinct image per call, so each one's requests can be counted.
fn image(i: u32) -> Vec<u8> {
    let mut v = RECEIPT_PNG.to_vec();
    v.extend_from_slice(&i.to_be_bytes());
    v
}

#[test]
fn a_flaky_service_is_retried_and_no_image_is_answered_twice() {
    let sb = Sandbox::start().unwrap();
    let c = client(
        &sb,
        "flaky=0.3",
        serde_json::json!({"max_attempts": 10, "base_delay_ms": 1, "max_delay_ms": 20}),
    );
    let mut retried = 0;
    for i in 0..30 {
        let img = image(i);
        let r = c.recognize_shopping_receipt(&img).unwrap();
        let (received, answered) = sb.image_requests(&img);
        assert_eq!(answered, 1, "image {i} was processed exactly once");
        assert_eq!(u64::from(r.attempts), received, "image {i}");
        retried += usize::from(r.attempts > 1);
    }
    assert!(
        retried >= 3,
        "a share of 0.3 refused: some calls needed a retry ({retried})"
    );
    // Without retries the refusal surfaces, neither billed nor retried.
    let once = client(&sb, "flaky=1", serde_json::json!({"max_attempts": 1}));
    let e = once.recognize_shopping_receipt(&image(99)).unwrap_err();
    assert_eq!(e.code, ErrorCode::ServiceHttpError);
    assert_eq!((e.attempts, e.possibly_billed), (1, false));
}

#[test]
fn a_reset_after_the_request_was_sent_is_never_retried() {
    let sb = Sandbox::start().unwrap();
    let c = client(
        &sb,
        "after_send=reset",
        serde_json::json!({"max_attempts": 5}),
    );
    let e = c.recognize_shopping_receipt(RECEIPT_PNG).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectionBroken, "{e}");
    assert!(e.possibly_billed);
    assert_eq!(e.attempts, 1);
    let json: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(json["possibly_billed"], true);
    assert_eq!(json["attempts"], 1);
}

#[test]
fn rate_limits_are_waited_out_as_retry_after_says() {
    let sb = Sandbox::start().unwrap();
    for (faults, invoice) in [("rate_limit=2", false), ("rate_limit=2", true)] {
        let c = client(
            &sb,
            faults,
            serde_json::json!({"max_attempts": 5, "base_delay_ms": 1, "max_delay_ms": 3000}),
        );
        let started = Instant::now();
        let mut attempts = 0;
        for i in 0..4 {
            let img = image(1000 + i + u32::from(invoice) * 100);
            attempts += if invoice {
                c.recognize_used_car_invoice(&img).unwrap().attempts
            } else {
                c.recognize_shopping_receipt(&img).unwrap().attempts
            };
        }
        // 4 calls at 2 a second: the limit was hit and waited out (Retry-After: 1 s).
        assert!(attempts > 4, "{faults} invoice={invoice}: {attempts}");
        assert!(started.elapsed() >= Duration::from_millis(900));
    }
}

#[test]
fn a_call_that_succeeds_at_once_says_one_attempt() {
    let sb = Sandbox::start().unwrap();
    let c = client(&sb, "delay=1", serde_json::json!({"max_attempts": 3}));
    assert_eq!(
        c.recognize_shopping_receipt(RECEIPT_PNG).unwrap().attempts,
        1
    );
    // Access token, OCR -> 401, token again, OCR: two OCR requests.
    let c = client(&sb, "reject-token", serde_json::json!({"max_attempts": 3}));
    let inv = c.recognize_used_car_invoice(RECEIPT_PNG).unwrap();
    assert_eq!(inv.attempts, 2);
}

#[test]
fn max_qps_holds_for_every_one_second_window_and_max_in_flight_for_every_moment() {
    let sb = Sandbox::start().unwrap();
    let mut c: serde_json::Value = serde_json::from_str(&sb.client_config_json()).unwrap();
    c["max_qps"] = 5.into();
    let client = std::sync::Arc::new(Client::new(Config::from_value(c).unwrap()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = std::sync::Arc::clone(&client);
            std::thread::spawn(move || {
                for i in 0..4 {
                    client
                        .recognize_shopping_receipt(&image(5000 + t * 10 + i))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let arrivals = sb.arrivals();
    assert_eq!(arrivals.len(), 16);
    for (i, &a) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .take_while(|&&b| b < a + Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 5,
            "{in_window} requests in the second from {a:?}"
        );
    }

    // A sandbox of its own: its max_in_flight counts from its start, and the burst above may
    // have had several requests at once.
    let sb = Sandbox::start().unwrap();
    let mut c: serde_json::Value = serde_json::from_str(
        &sb.client_config_json_for(&sb.fault_url("delay=200"), "access_token"),
    )
    .unwrap();
    c["max_in_flight"] = 2.into();
    let client = std::sync::Arc::new(Client::new(Config::from_value(c).unwrap()).unwrap());
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let client = std::sync::Arc::clone(&client);
            std::thread::spawn(move || client.recognize_shopping_receipt(RECEIPT_PNG).unwrap())
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(sb.stats().max_in_flight <= 2, "{:?}", sb.stats());
}

#[test]
fn attempts_count_the_requests_sent_not_the_tries_that_sent_nothing() {
    // A port nobody listens on: every try fails before anything is sent.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(
        Config::from_value(serde_json::json!({
            "juhe": {"key": "k", "base_url": format!("http://127.0.0.1:{port}")},
            "retry": {"max_attempts": 3, "base_delay_ms": 1, "max_delay_ms": 5},
        }))
        .unwrap(),
    )
    .unwrap();
    let e = c.recognize_shopping_receipt(RECEIPT_PNG).unwrap_err();
    assert_eq!(e.code, ErrorCode::ConnectFailed);
    assert_eq!((e.attempts, e.possibly_billed), (0, false), "{e}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&e.to_json()).unwrap()["attempts"],
        0
    );
}

/// A server that answers every request with `status`, `headers` and `body` (after reading the
/// whole request), on 127.0.0.1; its URL.
fn answering(status: &str, headers: &'static str, body: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let status = status.to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(5) {
            let Ok(mut s) = stream else { return };
            let mut got = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                let n = s.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if got.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_huge_retry_after_is_no_panic() {
    let url = answering(
        "429 Too Many Requests",
        "Retry-After: 18446744073709551615\r\n",
        "{}",
    );
    let c = Client::new(
        Config::from_value(serde_json::json!({
            "juhe": {"key": "k", "base_url": url}, "retry": {"max_attempts": 1}
        }))
        .unwrap(),
    )
    .unwrap();
    let e = c.recognize_shopping_receipt(RECEIPT_PNG).unwrap_err();
    assert_eq!(e.code, ErrorCode::RateLimited);
    // The next call waits for the (capped) pause within its own deadline, then gives up
    // without sending: still no panic.
    let e = c.recognize_shopping_receipt(&image(1)).unwrap_err();
    assert_eq!((e.code, e.attempts), (ErrorCode::Timeout, 0), "{e}");
}

#[test]
fn a_connection_never_made_is_not_possibly_billed() {
    // A listener whose accept queue is full: later connections are never answered.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        held.push(s);
        assert!(held.len() < 5000);
    }
    let c = Client::new(
        Config::from_value(serde_json::json!({
            "juhe": {"key": "k", "base_url": format!("http://{addr}")},
            "timeout_ms": 1500, "retry": {"max_attempts": 1},
        }))
        .unwrap(),
    )
    .unwrap();
    let e = c.recognize_shopping_receipt(RECEIPT_PNG).unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout, "{e}");
    assert!(!e.possibly_billed && e.attempts == 0, "{e:?}");
    assert!(
        e.message.contains("before any of the image was sent"),
        "{e}"
    );
    drop(listener);
}
