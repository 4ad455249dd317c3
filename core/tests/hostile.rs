//! Hostile servers (tests/hostile_cases.tsv, also run by the C and Python suites): every case
//! gives its documented code within the call's deadline + 10 %.

use std::time::{Duration, Instant};

use piaoju::{Client, Config};
use piaoju_sandbox::Sandbox;

const CASES: &str = include_str!("../../tests/hostile_cases.tsv");
const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");
const TIMEOUT_MS: u64 = 2000;

#[test]
fn every_hostile_answer_gives_its_code_within_the_deadline() {
    let sb = Sandbox::start().unwrap();
    let cases: Vec<(&str, &str)> = CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split_once('\t').unwrap())
        .collect();
    assert_eq!(cases.len(), 12);
    // In parallel: the slow cases take the whole deadline each.
    let threads: Vec<_> = cases
        .into_iter()
        .map(|(fault, expected)| {
            let mut config: serde_json::Value = serde_json::from_str(
                &sb.client_config_json_for(&sb.fault_url(fault), "access_token"),
            )
            .unwrap();
            config["timeout_ms"] = TIMEOUT_MS.into();
            let client = Client::new(Config::from_value(config).unwrap()).unwrap();
            std::thread::spawn(move || {
                let started = Instant::now();
                let e = client.recognize_shopping_receipt(RECEIPT_PNG).unwrap_err();
                (fault, expected, e, started.elapsed())
            })
        })
        .collect();
    for t in threads {
        let (fault, expected, e, elapsed) = t.join().unwrap();
        assert_eq!(e.name(), expected, "{fault}: {e}");
        assert!(
            elapsed <= Duration::from_millis(TIMEOUT_MS * 11 / 10),
            "{fault}: {elapsed:?}"
        );
    }
}
