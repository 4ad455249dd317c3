//! `piaoju batch` where batches used to lose or waste paid answers: a thread limit, a full disk
//! under the cache, a blocked stdout, file names that are not UTF-8, a cache that is not one,
//! and configuration that used to pass or panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use piaoju_sandbox::Sandbox;

mod common;
use common::*;

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// The command run as user `nobody` under `RLIMIT_NPROC` = `threads` (what a container's thread
/// limit does), from a copy of the binary in `dir` (which `nobody` can read wherever the
/// repository is).
fn as_nobody_with_thread_limit(dir: &Path, threads: u64) -> Command {
    use std::os::unix::process::CommandExt;
    assert!(
        is_root(),
        "this test runs the command as nobody under RLIMIT_NPROC (root ignores the limit): run it as root"
    );
    let binary = dir.join("piaoju");
    std::fs::copy(env!("CARGO_BIN_EXE_piaoju"), &binary).unwrap();
    let mut c = Command::new(&binary);
    c.env_clear().env("PATH", "/usr/bin:/bin").current_dir(dir);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: threads,
                rlim_max: threads,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &limit) != 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c
}

/// A folder everybody may write in.
fn open_scratch(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = scratch(name);
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

#[test]
fn a_thread_limit_loses_no_image_and_prints_no_panic() {
    // Three threads in all for the user: the command cannot start its 8 workers, its cache
    // writer or the name-lookup threads of its HTTP client. Every image is still recognized.
    let sb = Sandbox::start().unwrap();
    let dir = open_scratch("threads");
    let imgs = images(&dir, 20);
    let out = dir.join("results.jsonl");
    let localhost = sb.url().replace("127.0.0.1", "localhost");
    let run = as_nobody_with_thread_limit(&dir, 3)
        .env("PIAOJU_JUHE_KEY", &sb.config().juhe_key)
        .env("PIAOJU_JUHE_BASE_URL", &localhost)
        .args(["batch", "receipt", "images", "--jobs", "8", "--out"])
        .arg(&out)
        .args(["--cache", "cache.sqlite"])
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(!err.contains("panic") && !err.contains("901"), "{err}");
    let results = lines(&out);
    assert_eq!(results.len(), 20, "{err}");
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
    for (_, bytes) in &imgs {
        assert_eq!(sb.image_requests(bytes), (1, 1));
    }
    assert!(err.contains("20 recognized"), "{err}");
}

#[test]
fn a_full_disk_under_the_cache_is_reported_and_no_answer_is_lost() {
    // The cache on a 64 KiB file system (a private mount): most answers cannot be recorded.
    // Every result is in --out; the command says how many were not recorded, and a rerun pays
    // for exactly those.
    assert!(
        is_root(),
        "this test mounts a tmpfs in a private mount namespace: run it as root"
    );
    let sb = Sandbox::start().unwrap();
    let dir = scratch("full");
    let imgs = images(&dir, 150);
    let small = dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let script = r#"set -e
mount -t tmpfs -o size=64k tmpfs "$1"
"$2" batch receipt "$3" --jobs 4 --out "$4/first.jsonl" --cache "$1/cache.sqlite" 2>"$4/first.err" || echo "first $?" >>"$4/status"
"$2" batch receipt "$3" --jobs 4 --out "$4/again.jsonl" --cache "$1/cache.sqlite" 2>"$4/again.err" || echo "again $?" >>"$4/status"
"#;
    let run = piaoju(&sb).get_program().to_owned();
    let mut c = Command::new("unshare");
    for (k, v) in piaoju(&sb).get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let out = c
        .args(["-m", "sh", "-c", script, "sh"])
        .arg(&small)
        .arg(&run)
        .arg(dir.join("images"))
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let first_err = std::fs::read_to_string(dir.join("first.err")).unwrap();
    assert!(!dir.join("status").exists(), "{first_err}");
    let first = lines(&dir.join("first.jsonl"));
    assert_eq!(first.len(), 150, "{first_err}");
    assert!(first.iter().all(|r| r["ok"] == true));
    // "piaoju: warning: N answers could not be recorded in the cache …"
    let not_recorded: u64 = first_err
        .lines()
        .find_map(|l| l.strip_prefix("piaoju: warning: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no warning: {first_err}"));
    assert!(not_recorded > 0 && not_recorded <= 150, "{first_err}");
    assert!(first_err.contains("could not be recorded"), "{first_err}");
    assert!(
        first_err.contains(&format!("{not_recorded} answers could not be recorded:")),
        "the summary line says it too: {first_err}"
    );
    let flagged = first
        .iter()
        .filter(|r| !r["result"]["cache_error"].is_null())
        .count() as u64;
    assert!(
        flagged > 0 && flagged <= not_recorded,
        "{flagged} of {not_recorded}"
    );
    // The rerun pays for what was not recorded, and for nothing else.
    let paid_first = imgs.len() as u64;
    let again = lines(&dir.join("again.jsonl"));
    assert_eq!(again.len(), 150);
    assert_eq!(sb.stats().juhe_requests, paid_first + not_recorded);
}

#[test]
fn a_blocked_stdout_holds_the_batch_instead_of_filling_memory() {
    // Nobody reads the command's stdout: once the pipe is full, the workers wait; the requests
    // stop at what the pipe holds plus a few per worker, not at 2000.
    let sb = Sandbox::start().unwrap();
    let dir = scratch("blocked");
    images(&dir, 2000);
    let mut child = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache", "--jobs", "8"])
        .arg(dir.join("images"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the requests stop growing for a second.
    let start = Instant::now();
    let mut last = (0, Instant::now());
    while start.elapsed() < Duration::from_secs(20) {
        let n = sb.stats().juhe_requests;
        if n != last.0 {
            last = (n, Instant::now());
        } else if n > 0 && last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = sb.stats().juhe_requests;
    child.kill().unwrap();
    child.wait().unwrap();
    // A 64 KiB pipe holds a few dozen result lines; the queue one per worker, 8 in flight.
    assert!(
        sent > 0 && sent < 200,
        "{sent} requests with nobody reading the results"
    );
}

#[test]
fn names_that_are_not_utf8_are_written_apart_with_their_bytes() {
    use std::os::unix::ffi::OsStrExt;
    // 发票1.png and 单票1.png in GBK, as unzip leaves a Windows archive: two different files.
    let sb = Sandbox::start().unwrap();
    let dir = scratch("gbk");
    let folder = dir.join("images");
    std::fs::create_dir_all(&folder).unwrap();
    let names: [&[u8]; 2] = [b"\xb7\xa2\xc6\xb11.png", b"\xb5\xa5\xc6\xb11.png"];
    for (i, name) in names.iter().enumerate() {
        let mut bytes = RECEIPT_PNG.to_vec();
        bytes.push(i as u8);
        std::fs::write(folder.join(std::ffi::OsStr::from_bytes(name)), bytes).unwrap();
    }
    let jsonl = dir.join("r.jsonl");
    let csv = dir.join("r.csv");
    for out in [&jsonl, &csv] {
        let run = piaoju(&sb)
            .args(["batch", "receipt", "--no-cache"])
            .arg(&folder)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    }
    let prefix = folder.display().to_string();
    let hex_prefix: String = folder
        .as_os_str()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut got: Vec<(String, String)> = lines(&jsonl)
        .iter()
        .map(|r| {
            (
                r["input"].as_str().unwrap().to_string(),
                r["input_bytes_hex"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                format!("{prefix}/\\xB5\\xA5\\xC6\\xB11.png"),
                format!("{hex_prefix}2fb5a5c6b1312e706e67")
            ),
            (
                format!("{prefix}/\\xB7\\xA2\\xC6\\xB11.png"),
                format!("{hex_prefix}2fb7a2c6b1312e706e67")
            ),
        ]
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rows = text.lines();
    assert!(rows
        .next()
        .unwrap()
        .starts_with("\u{feff}input,input_bytes_hex,ok,"));
    let mut inputs: Vec<&str> = rows.map(|r| r.split(',').next().unwrap()).collect();
    inputs.sort();
    assert_eq!(
        inputs,
        [
            format!("{prefix}/\\xB5\\xA5\\xC6\\xB11.png"),
            format!("{prefix}/\\xB7\\xA2\\xC6\\xB11.png")
        ]
    );
}

#[test]
fn what_would_lose_results_or_pay_again_is_refused_before_anything_is_sent() {
    use std::os::unix::ffi::OsStrExt;
    let sb = Sandbox::start().unwrap();
    let dir = scratch("refused");
    images(&dir, 2);
    let out = dir.join("r.jsonl");
    std::fs::write(&out, "").unwrap();
    let link = dir.join("link.jsonl");
    std::fs::hard_link(&out, &link).unwrap();
    let foreign = dir.join("accounts.sqlite");
    // Another program's SQLite database.
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE ledger (amount TEXT)")
        .unwrap();
    let images = dir.join("images");
    // (flags, a variable and its bytes, what the error says)
    type Case<'a> = (
        Vec<std::ffi::OsString>,
        Option<(&'a str, &'a [u8])>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            vec![
                "--out".into(),
                out.clone().into(),
                "--cache".into(),
                out.clone().into(),
            ],
            None,
            "is the file --out names",
        ),
        (
            vec![
                "--out".into(),
                out.clone().into(),
                "--cache".into(),
                link.clone().into(),
            ],
            None,
            "is the file --out names",
        ),
        (
            vec!["--qps".into(), "1e-19".into()],
            None,
            "from 0.001 to 10000",
        ),
        (
            vec!["--qps".into(), "20000".into()],
            None,
            "from 0.001 to 10000",
        ),
        (
            vec!["--cache".into(), foreign.clone().into()],
            None,
            "not a piaoju cache",
        ),
        (
            vec![],
            Some(("PIAOJU_CACHE", b"/tmp/\xb7\xa2.sqlite")),
            "PIAOJU_CACHE is not valid UTF-8",
        ),
    ];
    for (flags, env, says) in cases {
        let mut c = piaoju(&sb);
        c.args(["batch", "receipt"]).arg(&images).args(&flags);
        if let Some((name, value)) = env {
            c.env(name, std::ffi::OsStr::from_bytes(value));
        }
        let run = c.output().unwrap();
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    assert_eq!(sb.stats().juhe_requests, 0);
    assert_eq!(
        std::fs::metadata(&out).unwrap().len(),
        0,
        "the results file was not touched"
    );
}

#[test]
fn a_no_document_answer_is_not_paid_for_again_unless_asked() {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("answer=3").unwrap();
    let dir = scratch("no-document");
    let invoice = dir.join("invoice.png");
    std::fs::write(&invoice, include_bytes!("../../tests/fixtures/invoice.png")).unwrap();
    let out = dir.join("r.jsonl");
    let run = |extra: &[&str]| {
        let run = piaoju(&sb)
            .env("PIAOJU_CHINAUMS_APP_ID", &sb.config().chinaums_app_id)
            .env("PIAOJU_CHINAUMS_APP_KEY", &sb.config().chinaums_app_key)
            .env("PIAOJU_CHINAUMS_BASE_URL", sb.url())
            .args(["batch", "invoice"])
            .arg(&invoice)
            .arg("--out")
            .arg(&out)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
        lines(&out).remove(0)
    };
    let first = run(&[]);
    assert_eq!(first["error"]["name"], "no_document_detected");
    assert_eq!(first["error"]["possibly_billed"], true);
    assert_eq!(sb.stats().ocr_requests, 1);
    let again = run(&[]);
    assert_eq!(again["error"]["cached"], true);
    assert_eq!(again["error"]["attempts"], 0);
    assert_eq!(sb.stats().ocr_requests, 1);
    let asked = run(&["--retry-failed"]);
    assert_eq!(asked["error"]["cached"], false);
    assert_eq!(sb.stats().ocr_requests, 2);
}
