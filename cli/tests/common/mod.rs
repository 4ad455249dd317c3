//! What the command's test files share: scratch folders, images, the command set up for a
//! sandbox, reading results, bounded waits.
#![allow(dead_code)] // each test file uses its own part

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use piaoju_sandbox::Sandbox;

pub const RECEIPT_PNG: &[u8] = include_bytes!("../../../tests/fixtures/receipt.png");

/// A fresh directory under the system's temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("piaoju-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` distinct receipt images in `dir/images`: (path, bytes).
pub fn images(dir: &Path, n: u32) -> Vec<(PathBuf, Vec<u8>)> {
    let d = dir.join("images");
    std::fs::create_dir_all(&d).unwrap();
    (0..n)
        .map(|i| {
            let mut bytes = RECEIPT_PNG.to_vec();
            bytes.extend_from_slice(&i.to_be_bytes());
            let p = d.join(format!("r{i:04}.png"));
            std::fs::write(&p, &bytes).unwrap();
            (p, bytes)
        })
        .collect()
}

/// The command with SIGINT, SIGTERM and SIGHUP as a fresh terminal gives them (a test started
/// from a background shell or under nohup inherits some ignored, and the command keeps an
/// ignored signal ignored).
pub fn default_signals(c: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::signal(signal, libc::SIG_DFL);
            }
            Ok(())
        })
    }
}

/// The folder the command's user cache goes in (`XDG_CACHE_HOME`) in these tests: one for the
/// test process, never the real user's (entries are kept apart by the sandboxes' URLs).
pub fn user_cache_home() -> PathBuf {
    std::env::temp_dir().join(format!("piaoju-cli-xdg-{}", std::process::id()))
}

/// The user cache file the command uses by default in these tests.
pub fn user_cache() -> PathBuf {
    user_cache_home().join("piaoju").join("results.sqlite")
}

/// The command, with no PIAOJU_* variable but the sandbox's key and URL, and its user cache in
/// [`user_cache_home`].
pub fn piaoju(sb: &Sandbox) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_piaoju"));
    for (k, _) in std::env::vars() {
        if k.starts_with("PIAOJU_") {
            c.env_remove(k);
        }
    }
    c.env("PIAOJU_JUHE_KEY", &sb.config().juhe_key)
        .env("PIAOJU_JUHE_BASE_URL", sb.url())
        .env("XDG_CACHE_HOME", user_cache_home());
    c
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON Lines of a results file: every line must parse.
pub fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// Wait (bounded) for a child to end.
pub fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "the command did not end in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait (bounded) until the sandbox has answered at least `n` of `images`.
pub fn wait_for_answers(sb: &Sandbox, images: &[(PathBuf, Vec<u8>)], n: usize) {
    let start = Instant::now();
    while answered(sb, images).len() < n {
        assert!(start.elapsed() < Duration::from_secs(30), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Per image path: how many times the sandbox answered it (only those answered at least once).
pub fn answered(sb: &Sandbox, images: &[(PathBuf, Vec<u8>)]) -> HashMap<String, u64> {
    images
        .iter()
        .map(|(p, b)| (p.display().to_string(), sb.image_requests(b).1))
        .filter(|(_, n)| *n > 0)
        .collect()
}
