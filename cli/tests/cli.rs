use std::process::Command;

fn piaoju() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_piaoju"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PIAOJU_") {
            c.env_remove(k);
        }
    }
    c
}

fn fixture(name: &str) -> String {
    format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn receipt_and_invoice_against_the_sandbox() {
    let out = piaoju()
        .args(["receipt", &fixture("receipt.png"), "--sandbox"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total_amount"], "12.50");
    assert_eq!(v["items"][0]["unit_price"], "4.50");
    let out = piaoju()
        .args(["invoice", &fixture("invoice.pdf"), "--sandbox"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["vin"], "LFV3A28W6K3705006");
}

#[test]
fn errors_go_to_stderr_as_json() {
    let out = piaoju()
        .args(["receipt", &fixture("too_small.png"), "--sandbox"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], 205);
    assert_eq!(v["name"], "image_too_small");
}

#[test]
fn without_credentials_it_says_what_to_set() {
    let out = piaoju()
        .args(["receipt", &fixture("receipt.png")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], 102);
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("PIAOJU_JUHE_KEY") && msg.contains("--sandbox"),
        "{msg}"
    );
}

#[test]
fn the_environment_is_read_and_flags_go_on_top() {
    // --sandbox replaces credentials and URLs; the other variables still apply.
    let out = piaoju()
        .args(["receipt", &fixture("receipt.png"), "--sandbox"])
        .env("PIAOJU_TIMEOUT_MS", "soon")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["code"], 101);
    let out = piaoju()
        .args(["receipt", &fixture("receipt.png"), "--sandbox"])
        .env("PIAOJU_JUHE_KEY", "wrong-key")
        .env("PIAOJU_JUHE_BASE_URL", "http://127.0.0.1:9")
        .env("PIAOJU_PROXY", "http://127.0.0.1:9")
        .env("PIAOJU_TIMEOUT_MS", "20000")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn no_fit_refuses_an_over_limit_image() {
    // too_wide.png is 4097 px wide: fitted by default, refused with --no-fit.
    let out = piaoju()
        .args(["receipt", &fixture("too_wide.png"), "--sandbox"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["image"]["fitted"], true);
    assert_eq!(v["image"]["sent"]["width"], 4096);
    let out = piaoju()
        .args(["receipt", &fixture("too_wide.png"), "--sandbox", "--no-fit"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["name"], "image_dimensions_too_large");
}

#[test]
fn usage_errors() {
    for args in [&["scan", "x.png"][..], &["receipt"][..], &[][..]] {
        let out = piaoju().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Usage: piaoju"),
            "{args:?}"
        );
    }
}

/// The cases of tests/secret_cases.tsv whose configuration the environment can express: the
/// error on stderr never shows a secret.
#[test]
fn no_secret_on_stderr() {
    let sb = piaoju_sandbox::Sandbox::start().unwrap();
    let cases = include_str!("../../tests/secret_cases.tsv");
    let mut ran = 0;
    for line in cases
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, operation, config, expected) = (cols[0], cols[1], cols[2], cols[3]);
        let config: serde_json::Value =
            serde_json::from_str(&config.replace("{url}", &sb.url())).unwrap();
        // The configuration as PIAOJU_* variables, or None when it cannot be one.
        let mut vars: Option<Vec<(String, String)>> = Some(Vec::new());
        for (key, value) in config.as_object().unwrap() {
            let pairs: Vec<(String, &serde_json::Value)> = match (key.as_str(), value) {
                ("proxy", v) => vec![("PIAOJU_PROXY".into(), v)],
                ("juhe" | "chinaums", serde_json::Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        (
                            format!("PIAOJU_{}_{}", key.to_uppercase(), k.to_uppercase()),
                            v,
                        )
                    })
                    .collect(),
                _ => {
                    vars = None;
                    break;
                }
            };
            for (var, v) in pairs {
                match (v.as_str(), vars.as_mut()) {
                    (Some(s), Some(list)) => list.push((var, s.to_string())),
                    _ => vars = None,
                }
            }
        }
        let Some(vars) = vars else { continue };
        let mut cmd = piaoju();
        cmd.envs(vars);
        let command = if operation == "shopping_receipt" {
            "receipt"
        } else {
            "invoice"
        };
        let image = fixture(if command == "receipt" {
            "receipt.png"
        } else {
            "invoice.png"
        });
        let out = cmd.args([command, &image]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("SENTINEL"), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        let v: serde_json::Value = serde_json::from_str(&stderr).unwrap();
        assert_eq!(v["name"], expected, "{name}");
        ran += 1;
    }
    assert!(ran >= 9, "{ran}");
}

#[test]
fn verbose_prints_what_piaoju_does_and_never_a_secret() {
    let run = |flags: &[&str]| {
        // A sandbox each: its fixed sequence of refusals starts again.
        let sb = piaoju_sandbox::Sandbox::start_with(piaoju_sandbox::SandboxConfig {
            juhe_key: "SENTINEL-JUHE-KEY".into(),
            ..Default::default()
        })
        .unwrap();
        let out = piaoju()
            .args(["receipt", &fixture("receipt.png")])
            .args(flags)
            .env("PIAOJU_JUHE_KEY", "SENTINEL-JUHE-KEY")
            // The sandbox's fixed sequence at 0.8: two requests refused (503), then answered.
            .env(
                "PIAOJU_JUHE_BASE_URL",
                format!("{}/fault/flaky=0.8", sb.url()),
            )
            .env("PIAOJU_MAX_ATTEMPTS", "10")
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("SENTINEL"), "{stderr}");
        stderr
    };
    assert_eq!(run(&[]), "");
    let v = run(&["-v"]);
    let lines: Vec<&str> = v.lines().collect();
    assert_eq!(lines.len(), 2, "{v}");
    for line in lines {
        assert!(
            line.starts_with("piaoju: info: Juhe: [603 service_http_error]")
                && line.contains("retrying in"),
            "{v}"
        );
    }
    let vv = run(&["-vv"]);
    assert!(
        vv.contains("piaoju: debug: Juhe: the image (png 96x160 px, 314 bytes) is within"),
        "{vv}"
    );
    assert!(vv.contains("piaoju: info: Juhe: [603"), "{vv}");
}
