//! The OCR corpus (tests/fixtures/ocr_corpus.jsonl, made by scripts/make_ocr_corpus.py, an
//! independent implementation): every amount in words, money text, receipt and invoice reads
//! as the corpus says, with no false alarm on a valid document and the expected suggestions.

use serde_json::Value;

use crate::check::amount_in_words;
use crate::model::{Check, CheckStatus};
use crate::normalize::{money, money_reading};
use crate::wire::HttpAnswer;

const CORPUS: &str = include_str!("../../tests/fixtures/ocr_corpus.jsonl");
const UMS_SEED: &str = include_str!("../../tests/fixtures/chinaums_invoice_answer.json");

fn answer(v: &Value) -> HttpAnswer {
    HttpAnswer {
        status: 200,
        body: v.to_string().into_bytes(),
        retry_after: None,
    }
}

fn text(d: Option<crate::Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

fn unreadable_checks(checks: &[Check]) -> Vec<&Check> {
    checks
        .iter()
        .filter(|c| c.name == "value_unreadable")
        .collect()
}

fn invoice_with(words: &str, total: &str) -> crate::UsedCarInvoice {
    let mut v: Value = serde_json::from_str(UMS_SEED).unwrap();
    let fields = v["PageInfo"][0]["Result"][0]["ResultList"][0]["FieldList"]
        .as_array_mut()
        .unwrap();
    for f in fields {
        match f["key"].as_str() {
            Some("CJHJDX") => f["value"] = words.into(),
            Some("CJHJ") => f["value"] = total.into(),
            _ => {}
        }
    }
    crate::chinaums::parse_answer(&answer(&v)).unwrap()
}

#[test]
fn the_corpus_reads_as_its_independent_generator_says() {
    let (mut words, mut refused, mut money_n, mut suggested) = (0, 0, 0, 0);
    let (mut receipts, mut misread_receipts, mut invoices, mut misread_invoices) = (0, 0, 0, 0);
    for (n, line) in CORPUS.lines().enumerate() {
        let case: Value = serde_json::from_str(line).unwrap();
        let at = format!("corpus line {}: {line}", n + 1);
        match case["kind"].as_str().unwrap() {
            "words" => {
                let got = amount_in_words(case["text"].as_str().unwrap());
                match case["amount"].as_str() {
                    Some(want) => {
                        assert_eq!(
                            got.map(|d| d.to_string()).ok().as_deref(),
                            Some(want),
                            "{at}"
                        );
                        words += 1;
                    }
                    None => {
                        assert!(got.is_err(), "{at}");
                        refused += 1;
                    }
                }
            }
            "money" => {
                let raw = case["text"].as_str().unwrap();
                assert_eq!(text(money(raw)).as_deref(), case["value"].as_str(), "{at}");
                let reading = money_reading(raw).map(|(d, ..)| d.to_string());
                assert_eq!(reading.as_deref(), case["suggestion"].as_str(), "{at}");
                money_n += 1;
                suggested += usize::from(reading.is_some());
            }
            "receipt" => {
                let r = crate::juhe::parse_answer(&answer(&case["answer"])).unwrap();
                let flagged = unreadable_checks(&r.checks);
                match case["unreadable"].as_object() {
                    None => {
                        // A valid receipt: no false alarm.
                        assert!(r.checks_passed(), "{at}: {:?}", r.checks);
                        assert!(flagged.is_empty(), "{at}");
                        receipts += 1;
                    }
                    Some(u) => {
                        assert_eq!(flagged.len(), 1, "{at}: {:?}", r.checks);
                        let c = flagged[0];
                        assert_eq!(c.status, CheckStatus::Fail);
                        assert_eq!(c.fields, [u["field"].as_str().unwrap()], "{at}");
                        assert_eq!(c.suggestion.as_deref(), u["suggestion"].as_str(), "{at}");
                        assert!(c.message.contains(u["text"].as_str().unwrap()), "{at}");
                        // The misread value was the true one: reading it back makes the
                        // arithmetic agree (or there is nothing to compare with).
                        assert!(!c.message.contains("disagrees"), "{at}: {}", c.message);
                        misread_receipts += 1;
                    }
                }
            }
            "invoice" => {
                let words = case["words"].as_str().unwrap();
                let total = case["total"].as_str().unwrap();
                let inv = invoice_with(words, total);
                let in_words = inv
                    .checks
                    .iter()
                    .find(|c| c.name == "total_price_in_words")
                    .unwrap();
                match case["suggestion"].as_str() {
                    None => {
                        assert_eq!(
                            in_words.status,
                            CheckStatus::Pass,
                            "{at}: {}",
                            in_words.message
                        );
                        assert!(inv.checks_passed(), "{at}: {:?}", inv.checks);
                        invoices += 1;
                    }
                    Some(s) => {
                        assert_eq!(inv.total_price, None, "{at}");
                        assert_eq!(in_words.status, CheckStatus::Skipped, "{at}");
                        let flagged = unreadable_checks(&inv.checks);
                        assert_eq!(flagged.len(), 1, "{at}");
                        assert_eq!(flagged[0].suggestion.as_deref(), Some(s), "{at}");
                        assert!(
                            flagged[0]
                                .message
                                .contains("agrees with the amount in words"),
                            "{at}"
                        );
                        misread_invoices += 1;
                    }
                }
            }
            other => panic!("unknown corpus kind {other}"),
        }
    }
    println!(
        "corpus: {words} amounts in words read exactly, {refused} refused as they must be; \
         {money_n} money texts ({suggested} with a suggestion); {receipts} valid receipts with \
         no false alarm, {misread_receipts} misread ones flagged with the right suggestion; \
         {invoices} valid invoices, {misread_invoices} misread ones"
    );
    assert!(words > 700 && receipts > 70 && misread_receipts > 60 && invoices > 90);
}
