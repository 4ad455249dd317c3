//! Property tests: whatever a server, a configuration, a one-shot request or an image header
//! holds, piaoju gives a result or a typed error, never a panic.
//!
//! The case count is bounded for the test command (`PROPTEST_CASES`, default 256 per
//! property); a longer run: `PROPTEST_CASES=20000 cargo test -p piaoju --lib properties`.

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::Value;

use crate::wire::HttpAnswer;

const JUHE_SEED: &str = include_str!("../../tests/fixtures/juhe_receipt_answer.json");
const UMS_SEED: &str = include_str!("../../tests/fixtures/chinaums_invoice_answer.json");

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Any JSON value, a few levels deep, with the odd values servers send.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("0"),
            Just("0000"),
            Just("AN000000"),
            Just("10012"),
            Just("-1"),
            Just("18446744073709551616"),
            Just("二手车"),
            Just("CJHJ"),
            Just("1e400"),
            Just("\r\n"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Every path to a value inside `v` (object keys and array indexes).
fn paths(v: &Value, here: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let mut p = here.clone();
                p.push(k.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = here.clone();
                p.push(i.to_string());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

fn at_path<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |v, key| match v {
        Value::Object(m) => m.get_mut(key).expect("a listed path"),
        Value::Array(a) => &mut a[key.parse::<usize>().expect("an index")],
        _ => unreachable!("paths only go through containers"),
    })
}

/// The seed with up to three of its values replaced by arbitrary JSON.
fn mutated(seed: &'static str) -> impl Strategy<Value = Value> {
    let base: Value = serde_json::from_str(seed).expect("seed is JSON");
    let mut all = Vec::new();
    paths(&base, Vec::new(), &mut all);
    prop::collection::vec((0..all.len(), json()), 1..4).prop_map(move |edits| {
        let mut v = base.clone();
        for (i, replacement) in edits {
            let mut now = Vec::new();
            paths(&v, Vec::new(), &mut now);
            let path = &now[i % now.len()];
            *at_path(&mut v, path) = replacement;
        }
        v
    })
}

fn answer(status: u16, body: Vec<u8>) -> HttpAnswer {
    HttpAnswer::new(status, body)
}

fn statuses() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(401),
        Just(403),
        Just(429),
        Just(500),
        Just(503),
        100u16..600
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn juhe_answers_never_panic(v in mutated(JUHE_SEED), status in statuses()) {
        let _ = crate::juhe::parse_answer(&answer(status, v.to_string().into_bytes()));
    }

    #[test]
    fn chinaums_answers_never_panic(
        v in mutated(UMS_SEED),
        wrapped in any::<bool>(),
        status in statuses(),
    ) {
        let v = if wrapped {
            serde_json::json!({"errCode": "AN000000", "errMsg": "成功", "result": v})
        } else {
            v
        };
        let _ = crate::chinaums::parse_answer(&answer(status, v.to_string().into_bytes()));
    }

    #[test]
    fn token_answers_never_panic(v in json(), status in statuses()) {
        let r = crate::chinaums::auth::parse_token_answer(
            &answer(status, v.to_string().into_bytes()),
            std::time::Instant::now(),
        );
        if let Ok(t) = r {
            prop_assert!(!t.value.is_empty());
        }
    }

    #[test]
    fn raw_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..400), status in statuses()) {
        let _ = crate::juhe::parse_answer(&answer(status, body.clone()));
        let _ = crate::chinaums::parse_answer(&answer(status, body.clone()));
        let _ = crate::chinaums::auth::parse_token_answer(&answer(status, body), std::time::Instant::now());
    }

    #[test]
    fn configurations_never_panic(v in json(), text in ".{0,40}") {
        for candidate in [v.to_string(), text] {
            if let Ok(c) = crate::Config::from_json(&candidate) {
                let _ = crate::Client::new(c);
            }
        }
    }

    #[test]
    fn shaped_configurations_are_accepted_or_refused_cleanly(
        key in ".{0,10}",
        url in prop_oneof![Just("http://127.0.0.1:9".to_string()), ".{0,20}".prop_map(String::from)],
        timeout in any::<u64>(),
        ua in ".{0,10}",
        proxy in prop_oneof![Just("http://p:1".to_string()), Just("socks5://p:1".to_string()), ".{0,12}".prop_map(String::from)],
    ) {
        let v = serde_json::json!({
            "juhe": {"key": key, "base_url": url},
            "chinaums": {"app_id": key, "app_key": key, "base_url": url, "token_url": url},
            "timeout_ms": timeout, "connect_timeout_ms": timeout, "user_agent": ua, "proxy": proxy,
        });
        match crate::Config::from_value(v) {
            Ok(c) => {
                // Whatever validation let through, an agent can be built from it.
                prop_assert!(crate::Client::new(c).is_ok());
            }
            Err(e) => prop_assert_eq!(e.code, crate::ErrorCode::InvalidConfig),
        }
    }

    #[test]
    fn one_shot_requests_always_answer_json(v in json(), text in ".{0,60}") {
        let mut with_op = v.clone();
        if let Value::Object(m) = &mut with_op {
            m.insert("operation".into(), "shopping_receipt".into());
            m.insert("config".into(), serde_json::json!({"juhe": {"key": "k", "base_url": "http://127.0.0.1:9"}, "timeout_ms": 200}));
        }
        for request in [v.to_string(), with_op.to_string(), text] {
            let out: Value = serde_json::from_str(&crate::oneshot::call_json(&request)).expect("JSON out");
            prop_assert!(out["ok"].is_boolean());
            if out["ok"] == false {
                prop_assert!(out["error"]["code"].as_u64().is_some());
            }
        }
    }

    #[test]
    fn ascii_json_is_ascii_and_parses_to_the_same_value(s in any::<String>(), v in json()) {
        let text = serde_json::to_string(&s).unwrap();
        let ascii = crate::text::ascii_json(&text);
        prop_assert!(ascii.bytes().all(|b| b < 0x80), "{}", ascii);
        prop_assert_eq!(serde_json::from_str::<String>(&ascii).unwrap(), s);
        // (Compared with the UTF-8 text parsed the same way: serde_json's float parsing is
        // not always exact, whatever the escapes.)
        let text = v.to_string();
        let ascii = crate::text::ascii_json(&text);
        prop_assert!(ascii.is_ascii());
        prop_assert_eq!(
            serde_json::from_str::<Value>(&ascii).unwrap(),
            serde_json::from_str::<Value>(&text).unwrap()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_path_shown_in_a_message_gives_back_its_bytes(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
        use std::os::unix::ffi::OsStrExt;
        let shown = crate::text::display_path(std::path::Path::new(std::ffi::OsStr::from_bytes(&bytes)));
        // Undo the escapes: the bytes come back, so two paths never show the same.
        let mut back = Vec::new();
        let mut rest = shown.as_str();
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("\\\\") {
                back.push(b'\\');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("\\x") {
                back.push(u8::from_str_radix(&after[..2], 16).unwrap());
                rest = &after[2..];
            } else {
                let mut buf = [0; 4];
                back.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                rest = &rest[c.len_utf8()..];
            }
        }
        prop_assert_eq!(back, bytes);
        prop_assert!(!shown.contains(|c: char| c.is_control()));
    }

    #[test]
    fn form_bodies_decode_to_the_key_and_the_base64_of_the_image(
        image in prop::collection::vec(any::<u8>(), 0..20_000),
        key in ".{0,12}",
    ) {
        use base64::Engine;
        let body = String::from_utf8(crate::juhe::form_body(&key, &image)).expect("ASCII");
        let decode = |s: &str| crate::juhe::tests::form_decode(s);
        let (k, img) = body.split_once("&image=").expect("two fields");
        prop_assert_eq!(decode(k.strip_prefix("key=").unwrap()), key.as_bytes());
        prop_assert_eq!(
            decode(img),
            base64::engine::general_purpose::STANDARD.encode(&image).into_bytes()
        );
        prop_assert!(!img.contains(['+', '/', '=']));
    }

    #[test]
    fn image_headers_never_panic(
        prefix in prop_oneof![
            Just(b"\x89PNG\r\n\x1a\n".to_vec()),
            Just(vec![0xFF, 0xD8, 0xFF]),
            Just(b"BM".to_vec()),
            Just(b"%PDF-".to_vec()),
            Just(Vec::new()),
        ],
        rest in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let bytes = [prefix, rest].concat();
        if let Ok(info) = crate::image::inspect(&bytes) {
            if let Some((w, h)) = info.size {
                prop_assert!(w > 0 && h > 0);
            }
        }
        let _ = crate::image::preflight_juhe(&bytes);
        let _ = crate::image::preflight_chinaums(&bytes);
    }
}
