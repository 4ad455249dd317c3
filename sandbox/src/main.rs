//! `piaoju-sandbox`: run the sandbox server until killed (or for `--exit-after` seconds).

use std::io::Write;
use std::time::{Duration, Instant};

use piaoju_sandbox::{Sandbox, SandboxConfig};

const USAGE: &str = "usage: piaoju-sandbox [--host 127.0.0.1] [--port 0] [--token-ttl SECONDS]
                      [--juhe-key KEY] [--app-id ID] [--app-key KEY]
                      [--faults LIST] [--url-file PATH] [--exit-after SECONDS]
                      [--answer IMAGE=ANSWER.json]...

Serves the Juhe receipt and ChinaUMS used-car invoice OCR protocols on one port.
--answer: answer the image file IMAGE with the body of ANSWER.json (HTTP 200).
Prints its URL and credentials as one JSON line on stdout, then serves until killed.";

fn main() {
    if let Err(e) = run() {
        eprintln!("piaoju-sandbox: {e}\n\n{USAGE}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut config = SandboxConfig::default();
    let (mut host, mut port) = ("127.0.0.1".to_string(), 0u16);
    let (mut url_file, mut exit_after, mut faults) = (None, None, None);
    let mut answers: Vec<(Vec<u8>, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            return Ok(());
        }
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let secs = |v: String| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| format!("{flag} takes a positive number of seconds, got {v:?}"))
        };
        match flag.as_str() {
            "--host" => host = value()?,
            "--port" => {
                port = value()?
                    .parse()
                    .map_err(|_| "--port takes a port number".to_string())?
            }
            "--token-ttl" => {
                config.token_ttl = piaoju_sandbox::token_ttl_from_secs(secs(value()?)?)?
            }
            "--juhe-key" => config.juhe_key = value()?,
            "--app-id" => config.chinaums_app_id = value()?,
            "--app-key" => config.chinaums_app_key = value()?,
            "--faults" => faults = Some(value()?),
            "--url-file" => url_file = Some(value()?),
            "--exit-after" => {
                exit_after = Some(
                    Duration::try_from_secs_f64(secs(value()?)?)
                        .map_err(|_| "--exit-after is out of range".to_string())?,
                )
            }
            "--answer" => {
                let v = value()?;
                let (image, answer) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--answer takes IMAGE=ANSWER.json, got {v:?}"))?;
                let read = |p: &str| std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"));
                let answer = String::from_utf8(read(answer)?)
                    .map_err(|_| format!("{answer} is not UTF-8"))?;
                answers.push((read(image)?, answer));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    config.addr = format!("{host}:{port}")
        .parse()
        .map_err(|_| format!("{host}:{port} is not an address"))?;
    let sandbox = Sandbox::start_with(config).map_err(|e| format!("cannot listen: {e}"))?;
    if let Some(f) = faults {
        sandbox.set_faults(&f)?;
    }
    for (image, answer) in answers {
        sandbox.register_answer(&image, 200, answer);
    }
    let c = sandbox.config();
    let line = serde_json::json!({
        "url": sandbox.url(),
        "juhe_key": c.juhe_key,
        "chinaums_app_id": c.chinaums_app_id,
        "chinaums_app_key": c.chinaums_app_key,
    });
    if let Some(path) = url_file {
        // Write then rename, so a reader never sees half a URL.
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, sandbox.url()).map_err(|e| format!("cannot write {tmp}: {e}"))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    println!("{line}");
    let _ = std::io::stdout().flush();
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if exit_after.is_some_and(|d| started.elapsed() >= d) {
            return Ok(());
        }
    }
}
