//! A result store of one's own (`Client::with_store`): the same pipeline as a configured cache
//! file, with no SQLite involved.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use piaoju::{Client, Config, ErrorCode, Result, ResultStore};
use piaoju_sandbox::Sandbox;

const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");

/// Answers in memory, and how often each method was called.
#[derive(Default)]
struct Memory {
    answers: Mutex<HashMap<String, Vec<u8>>>,
    gets: Mutex<u32>,
}

impl ResultStore for Memory {
    fn get(&self, key: &str, _wait: Duration) -> Result<Option<Vec<u8>>> {
        *self.gets.lock().unwrap() += 1;
        Ok(self.answers.lock().unwrap().get(key).cloned())
    }

    fn put(&self, key: &str, answer: &[u8], _wait: Duration) -> Result<()> {
        self.answers
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(|| answer.to_vec());
        Ok(())
    }

    fn name(&self) -> String {
        "in memory".into()
    }
}

fn sandbox_config(sb: &Sandbox) -> Config {
    Config::from_json(&sb.client_config_json()).unwrap()
}

#[test]
fn a_store_of_ones_own_keeps_answers_and_an_image_is_never_sent_twice() {
    let sb = Sandbox::start().unwrap();
    let store = Arc::new(Memory::default());
    let client = Client::with_store(sandbox_config(&sb), store.clone()).unwrap();
    let first = client.recognize_shopping_receipt(RECEIPT_PNG).unwrap();
    assert!(!first.cached && first.attempts == 1);
    assert_eq!(store.answers.lock().unwrap().len(), 1);
    let again = client.recognize_shopping_receipt(RECEIPT_PNG).unwrap();
    assert!(again.cached && again.attempts == 0);
    assert_eq!(again.total_amount, first.total_amount);
    assert_eq!(sb.stats().juhe_requests, 1);
    // Another client on the same store: still nothing sent.
    let other = Client::with_store(sandbox_config(&sb), store.clone()).unwrap();
    assert!(
        other
            .recognize_shopping_receipt(RECEIPT_PNG)
            .unwrap()
            .cached
    );
    assert_eq!(sb.stats().juhe_requests, 1);
    assert!(*store.gets.lock().unwrap() >= 3);
}

#[test]
fn a_store_and_a_cache_file_together_are_refused() {
    let config = Config::builder().cache("c.sqlite").build().unwrap();
    let e = Client::with_store(config, Arc::new(Memory::default())).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidConfig);
    assert!(e.message.contains("give one of them"), "{e}");
}
