//! The configuration rule (tests/config_cases.tsv), as the C and Python suites run it too:
//! explicit JSON is the whole configuration; only "no configuration" reads the environment.
//! (Its own test binary: it sets PIAOJU_JUHE_KEY for the whole process.)

use piaoju::bindings::call_json;
use piaoju::{Client, Config, Error};

const CASES: &str = include_str!("../../tests/config_cases.tsv");

fn receipt_status(config: Option<&str>) -> String {
    let outcome: Result<(), Error> = Config::resolve(config)
        .and_then(Client::new)
        .and_then(|c| c.recognize_shopping_receipt(&b"no image"[..]).map(drop));
    outcome.map_or_else(|e| e.name().to_string(), |_| "ok".to_string())
}

fn one_shot_status(config: Option<&str>) -> String {
    let mut request =
        String::from(r#"{"operation":"shopping_receipt","image_base64":"bm8gaW1hZ2U=""#);
    if let Some(c) = config {
        request.push_str(&format!(r#","config":{c}"#));
    }
    request.push('}');
    let out: serde_json::Value = serde_json::from_str(&call_json(&request)).unwrap();
    out["error"]["name"].as_str().unwrap_or("ok").to_string()
}

#[test]
fn the_same_configuration_means_the_same_client_everywhere() {
    let mut n = 0;
    for line in CASES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [env, config, expected] = cols[..] else {
            panic!("bad case line {line:?}");
        };
        std::env::remove_var("PIAOJU_JUHE_KEY");
        std::env::remove_var("PIAOJU_ASCII_JSON");
        for setting in env.split('+').filter(|s| *s != "-") {
            match setting.split_once('=') {
                None if setting == "set" => {
                    std::env::set_var("PIAOJU_JUHE_KEY", "key-from-the-environment")
                }
                Some(("ascii", v)) => std::env::set_var("PIAOJU_ASCII_JSON", v),
                _ => panic!("unknown environment setting {setting:?} in {line:?}"),
            }
        }
        let config = (config != "NULL").then_some(config);
        assert_eq!(receipt_status(config), expected, "{line}");
        assert_eq!(one_shot_status(config), expected, "pj_call: {line}");
        n += 1;
    }
    assert_eq!(n, 18);
}
