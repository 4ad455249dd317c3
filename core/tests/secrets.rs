//! No secret in any message (tests/secret_cases.tsv, also run by the C, Python and CLI suites):
//! configuration errors, transport errors, token answers and provider refusals with sentinel
//! secrets; neither the error (Display, Debug, JSON) nor the client's Debug holds "SENTINEL".

use piaoju::{Client, Config, DocumentType, Error};
use piaoju_sandbox::Sandbox;

const CASES: &str = include_str!("../../tests/secret_cases.tsv");
const RECEIPT_PNG: &[u8] = include_bytes!("../../tests/fixtures/receipt.png");
const INVOICE_PNG: &[u8] = include_bytes!("../../tests/fixtures/invoice.png");

fn assert_clean(case: &str, shown: &str) {
    assert!(!shown.contains("SENTINEL"), "{case}: {shown}");
}

fn run(config: &str, operation: DocumentType) -> (Error, String) {
    let config = match Config::from_json(config) {
        Ok(c) => c,
        Err(e) => return (e, String::new()),
    };
    let client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => return (e, String::new()),
    };
    let image = match operation {
        DocumentType::ShoppingReceipt => RECEIPT_PNG,
        _ => INVOICE_PNG,
    };
    let e = client.recognize(operation, image).unwrap_err();
    (e, format!("{client:?} {:?}", client.config()))
}

#[test]
fn no_error_path_shows_a_secret() {
    let sb = Sandbox::start().unwrap();
    let mut n = 0;
    for line in CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let [name, operation, config, expected] = line.split('\t').collect::<Vec<_>>()[..] else {
            panic!("bad case line {line:?}");
        };
        let operation: DocumentType = serde_json::from_value(operation.into()).unwrap();
        let (e, client_debug) = run(&config.replace("{url}", &sb.url()), operation);
        assert_eq!(e.name(), expected, "{name}: {e}");
        for shown in [e.to_string(), format!("{e:?}"), e.to_json(), client_debug] {
            assert_clean(name, &shown);
        }
        n += 1;
    }
    assert_eq!(n, 12);
}
