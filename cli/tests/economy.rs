//! `piaoju batch` that finishes and never wastes a paid call: one cache per user whatever the
//! output's name, SIGTERM and SIGHUP handled like Ctrl-C, a budget of requests, the provider's
//! own rate limit learned; `piaoju cache info|prune|clear`.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use piaoju_sandbox::Sandbox;

mod common;
use common::*;

#[test]
fn a_second_batch_with_another_output_name_sends_nothing() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("other-name");
    images(&dir, 30);
    let home = dir.join("xdg");
    let run = |out: &str| {
        let run = piaoju(&sb)
            .env("XDG_CACHE_HOME", &home)
            .args(["batch", "receipt", "--jobs", "4", "--out"])
            .arg(dir.join(out))
            .arg(dir.join("images"))
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        stderr(&run)
    };
    run("e1.jsonl");
    assert_eq!(sb.stats().juhe_requests, 30);
    let second = run("e2.csv");
    assert_eq!(sb.stats().juhe_requests, 30, "{second}");
    assert!(
        second.contains("30 recognized (30 from the cache)"),
        "{second}"
    );
    let cache = home.join("piaoju/results.sqlite");
    assert!(second.contains(&cache.display().to_string()), "{second}");
    // Results hold names and ID numbers: the cache is the user's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o600);
    assert_eq!(mode(&home.join("piaoju")), 0o700);
}

/// Start a 40-image batch against a slow sandbox, send `signal` once 4 images are answered, and
/// check what a stopped batch promises: exit 128 + signal, every answered image written as a
/// complete line and nothing else, and a rerun that pays for no image twice.
fn a_signal_stops_the_batch_after_the_calls_in_flight(signal: &str, status: i32) {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("delay=300").unwrap();
    let dir = scratch(&format!("signal-{signal}"));
    let imgs = images(&dir, 40);
    let out = dir.join("results.jsonl");
    let home = dir.join("xdg");
    let command = || {
        let mut c = piaoju(&sb);
        c.env("XDG_CACHE_HOME", &home)
            .args(["batch", "receipt", "--jobs", "4", "--out"])
            .arg(&out)
            .arg(dir.join("images"));
        c
    };
    let mut child = default_signals(&mut command())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_answers(&sb, &imgs, 4);
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(
        wait(&mut child, Duration::from_secs(20)).code(),
        Some(status)
    );
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("waiting for the calls in flight"), "{err}");
    let results = lines(&out);
    let written: HashSet<String> = results
        .iter()
        .map(|r| r["input"].as_str().unwrap().to_string())
        .collect();
    let done: HashSet<String> = answered(&sb, &imgs).into_keys().collect();
    assert_eq!(
        written, done,
        "every answered image is written, and only those"
    );
    assert!(
        results.len() >= 4 && results.len() < 40,
        "{}",
        results.len()
    );
    // The rerun completes and pays for no image twice.
    sb.clear_faults();
    let again = command().output().unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(lines(&out).len(), 40);
    for (p, bytes) in &imgs {
        assert_eq!(sb.image_requests(bytes).1, 1, "{p:?} answered once");
    }
}

#[test]
fn sigterm_writes_every_finished_result_and_exits_143() {
    a_signal_stops_the_batch_after_the_calls_in_flight("TERM", 143);
}

#[test]
fn sighup_writes_every_finished_result_and_exits_129() {
    a_signal_stops_the_batch_after_the_calls_in_flight("HUP", 129);
}

#[test]
fn a_budget_of_ten_requests_sends_at_most_ten() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("budget");
    let imgs = images(&dir, 30);
    let out = dir.join("r.jsonl");
    let run = piaoju(&sb)
        .args([
            "batch",
            "receipt",
            "--no-cache",
            "--jobs",
            "8",
            "--max-requests",
            "10",
            "--out",
        ])
        .arg(&out)
        .arg(dir.join("images"))
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert_eq!(sb.stats().juhe_requests, 10);
    assert_eq!(lines(&out).len(), 10);
    assert!(
        err.contains("10 recognized") && err.contains("20 not started"),
        "{err}"
    );
    assert!(err.contains("budget"), "{err}");
    let answered = imgs
        .iter()
        .filter(|(_, b)| sb.image_requests(b).1 > 0)
        .count();
    assert_eq!(answered, 10);
}

#[test]
fn a_provider_allowing_five_requests_a_second_is_learned() {
    // No --qps: the command finds the provider's limit (Juhe 10011 beyond 5 a second).
    let sb = Sandbox::start().unwrap();
    sb.set_faults("rate_limit=5").unwrap();
    let dir = scratch("learned");
    let imgs = images(&dir, 30);
    let run = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache", "--jobs", "8"])
        .arg(dir.join("images"))
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    let received: u64 = imgs.iter().map(|(_, b)| sb.image_requests(b).0).sum();
    let refused = received - 30;
    assert!(refused <= 30, "{refused} refusals for 30 images");
    assert!(
        err.contains("30 recognized")
            && err.contains(&format!(
                "{received} requests (30 may have been billed, {refused} refused"
            )),
        "{err}"
    );
}

#[test]
fn cache_info_prune_and_clear() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("cache-command");
    images(&dir, 3);
    let home = dir.join("xdg");
    let cache = |args: &[&str]| {
        let run = piaoju(&sb)
            .env("XDG_CACHE_HOME", &home)
            .arg("cache")
            .args(args)
            .output()
            .unwrap();
        (
            run.status.code(),
            String::from_utf8_lossy(&run.stdout).into_owned(),
            stderr(&run),
        )
    };
    let (code, out, _) = cache(&["info"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("not made yet"), "{out}");
    let batch = piaoju(&sb)
        .env("XDG_CACHE_HOME", &home)
        .args(["batch", "receipt"])
        .arg(dir.join("images"))
        .output()
        .unwrap();
    assert_eq!(batch.status.code(), Some(0), "{}", stderr(&batch));
    let (code, out, _) = cache(&["info"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("3 answers") && out.contains("today"), "{out}");
    let (code, out, _) = cache(&["prune", "--older-than", "1"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("removed 0 answers"), "{out}");
    let (code, out, _) = cache(&["clear"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("removed 3 answers"), "{out}");
    assert!(cache(&["info"]).1.contains("0 answers"));
    // Another file, by --cache; a file that is no cache is refused.
    let other = dir.join("other.sqlite");
    let (code, _, err) = cache(&["info", "--cache", other.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    std::fs::write(dir.join("notes.txt"), "not a cache").unwrap();
    let (code, _, err) = cache(&["clear", "--cache", dir.join("notes.txt").to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("not a piaoju cache") || err.contains("not a SQLite file"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "not a cache"
    );
}

#[test]
fn a_signal_the_command_was_started_with_ignored_stays_ignored() {
    // As `nohup piaoju batch …` starts it: SIGHUP ignored. Closing the terminal (SIGHUP) must
    // not stop the batch.
    use std::os::unix::process::CommandExt;
    let sb = Sandbox::start().unwrap();
    sb.set_faults("delay=300").unwrap();
    let dir = scratch("nohup");
    let imgs = images(&dir, 8);
    let out = dir.join("r.jsonl");
    let mut command = piaoju(&sb);
    command
        .args(["batch", "receipt", "--no-cache", "--jobs", "2", "--out"])
        .arg(&out)
        .arg(dir.join("images"));
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    wait_for_answers(&sb, &imgs, 2);
    let sent = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(wait(&mut child, Duration::from_secs(30)).code(), Some(0));
    assert_eq!(lines(&out).len(), 8);
}
