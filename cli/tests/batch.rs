//! `piaoju batch` against an in-process sandbox (the command reads its URL and key from the
//! environment): rate limits, retries that never send an answered image again, the cache that
//! makes a rerun free, Ctrl-C and kill -9 in the middle, CSV, usage errors.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use piaoju_sandbox::Sandbox;

mod common;
use common::*;

#[test]
fn two_hundred_images_within_the_rate_limit_and_a_rerun_sends_nothing() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("qps");
    let imgs = images(&dir, 200);
    let out = dir.join("results.jsonl");
    let run = || {
        piaoju(&sb)
            .args(["batch", "receipt"])
            .arg(dir.join("images"))
            .args(["--qps", "20", "--jobs", "8", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(first.stdout.is_empty(), "results go to --out only");
    let results = lines(&out);
    assert_eq!(results.len(), 200);
    let inputs: HashSet<&str> = results
        .iter()
        .map(|r| r["input"].as_str().unwrap())
        .collect();
    assert_eq!(inputs.len(), 200);
    for (p, bytes) in &imgs {
        assert!(inputs.contains(p.display().to_string().as_str()));
        assert_eq!(sb.image_requests(bytes), (1, 1), "{p:?} sent once");
    }
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["result"]["total_amount"], "12.50");
        assert_eq!(r["result"]["cached"], false);
    }
    // No one-second window holds more than 20 requests.
    let arrivals = sb.arrivals();
    assert_eq!(arrivals.len(), 200);
    for (i, start) in arrivals.iter().enumerate() {
        let in_window = arrivals[i..]
            .iter()
            .take_while(|t| **t < *start + Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 20,
            "{in_window} requests in the second from {start:?}"
        );
    }
    let summary = stderr(&first);
    assert!(
        summary.contains("200 images: 200 recognized (0 from the cache), 0 failed")
            && summary.contains("200 requests"),
        "{summary}"
    );
    // The user's cache (whatever the output's name); the same command again sends nothing.
    assert!(user_cache().exists());
    let second = run();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(sb.stats().juhe_requests, 200);
    let again = lines(&out);
    assert_eq!(again.len(), 200);
    assert!(again.iter().all(|r| r["result"]["cached"] == true));
    assert!(stderr(&second).contains("200 recognized (200 from the cache)"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flaky_service_every_image_succeeds_and_none_is_answered_twice() {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("flaky=0.2").unwrap();
    let dir = scratch("flaky");
    let imgs = images(&dir, 40);
    let out = piaoju(&sb)
        .args(["batch", "receipt", "--jobs", "8", "--no-cache"])
        .arg(dir.join("images"))
        .env("PIAOJU_MAX_ATTEMPTS", "10")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Results on stdout, one line each.
    let results: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 40);
    assert!(results.iter().all(|r| r["ok"] == true));
    let mut refused = 0;
    for (p, bytes) in &imgs {
        let (received, answered) = sb.image_requests(bytes);
        assert_eq!(answered, 1, "{p:?}");
        refused += received - answered;
    }
    assert!(refused > 0, "flaky=0.2 refused nothing");
    // --no-cache: no cache file anywhere near.
    let sqlite = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("sqlite".as_ref()))
        .count();
    assert_eq!(sqlite, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_reset_after_sending_is_not_retried_and_is_reported_possibly_billed() {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("after_send=reset").unwrap();
    let dir = scratch("reset");
    let imgs = images(&dir, 3);
    let csv = dir.join("results.csv");
    let out = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache", "--out"])
        .arg(&csv)
        .arg(dir.join("images"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 failed (3 possibly billed)"),
        "{}",
        stderr(&out)
    );
    for (_, bytes) in &imgs {
        assert_eq!(sb.image_requests(bytes).0, 1, "sent once, never again");
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows[1..] {
        assert_eq!(row.len(), header.len());
        assert_eq!(row[col("ok")], "false");
        assert_eq!(row[col("error_name")], "connection_broken");
        assert_eq!(row[col("possibly_billed")], "true");
        assert_eq!(row[col("attempts")], "1");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_finishes_the_calls_in_flight_writes_them_and_exits_130() {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("delay=300").unwrap();
    let dir = scratch("sigint");
    let imgs = images(&dir, 40);
    let out = dir.join("results.jsonl");
    let mut child = default_signals(&mut piaoju(&sb))
        .args(["batch", "receipt", "--jobs", "4", "--out"])
        .arg(&out)
        .arg(dir.join("images"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_answers(&sb, &imgs, 4);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = wait(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(130));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "{err}");
    // Every image the service answered is in the file, as a complete line; nothing else is.
    let results = lines(&out);
    let written: HashSet<String> = results
        .iter()
        .map(|r| r["input"].as_str().unwrap().to_string())
        .collect();
    let done: HashSet<String> = answered(&sb, &imgs).into_keys().collect();
    assert_eq!(written, done);
    assert!(results.iter().all(|r| r["ok"] == true));
    assert!(
        results.len() >= 4 && results.len() < 40,
        "{}",
        results.len()
    );
    assert!(!dir.join("results.jsonl.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_in_the_middle_then_a_rerun_completes_without_paying_twice() {
    let sb = Sandbox::start().unwrap();
    sb.set_faults("delay=200").unwrap();
    let dir = scratch("kill9");
    let imgs = images(&dir, 40);
    let out = dir.join("results.jsonl");
    let jobs = 4;
    let command = || {
        let mut c = piaoju(&sb);
        c.args(["batch", "receipt", "--jobs", &jobs.to_string(), "--out"])
            .arg(&out)
            .arg(dir.join("images"))
            .stderr(Stdio::null());
        c
    };
    let mut child = command().spawn().unwrap();
    wait_for_answers(&sb, &imgs, 12);
    child.kill().unwrap(); // SIGKILL
    wait(&mut child, Duration::from_secs(10));
    // The sandbox still answers (into closed connections) the requests that were in flight:
    // let their 200 ms delay pass so that they count before the snapshot.
    std::thread::sleep(Duration::from_millis(1000));
    let before = answered(&sb, &imgs);
    assert!(before.len() < 40, "killed too late");
    assert!(
        !out.exists(),
        "the results file appears only when a run ends"
    );

    sb.clear_faults();
    let rerun = command().stderr(Stdio::piped()).output().unwrap();
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    let results = lines(&out);
    assert_eq!(results.len(), 40);
    let after = answered(&sb, &imgs);
    let mut from_cache = 0;
    for r in &results {
        assert_eq!(r["ok"], true);
        let input = r["input"].as_str().unwrap();
        let (was, now) = (before.get(input).copied().unwrap_or(0), after[input]);
        if r["result"]["cached"] == true {
            // Recorded before the kill: not sent again.
            assert_eq!((was, now), (1, 1), "{input}");
            from_cache += 1;
        } else {
            // Never answered, or answered while the process was being killed (in flight).
            assert_eq!(now, was + 1, "{input}");
        }
    }
    let paid_twice = after.values().filter(|n| **n > 1).count();
    assert!(paid_twice <= jobs, "{paid_twice} images answered twice");
    assert!(from_cache >= 12 - jobs, "{from_cache} from the cache");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csv_items_and_list_inputs() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("csv");
    let imgs = images(&dir, 2);
    let list = dir.join("list.txt");
    std::fs::write(
        &list,
        format!(
            "# two receipts\n{}\n\n{}\n",
            imgs[0].0.display(),
            imgs[1].0.display()
        ),
    )
    .unwrap();
    let (csv, items) = (dir.join("r.csv"), dir.join("items.csv"));
    let out = piaoju(&sb)
        .args(["batch", "receipt", "--out"])
        .arg(&csv)
        .arg("--items-out")
        .arg(&items)
        .arg(format!("@{}", list.display()))
        .arg(&imgs[0].0) // listed twice: recognized once
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("1 input(s) named an image already listed"));
    let text = std::fs::read_to_string(&csv).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark");
    let rows: Vec<Vec<&str>> = text
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| rows[0].iter().position(|h| *h == name).unwrap();
    for row in &rows[1..] {
        assert_eq!(row[col("shop_name")], "多又好超市");
        assert_eq!(row[col("total_amount")], "12.50");
        assert_eq!(row[col("consumption_date")], "2020-11-19");
        assert_eq!(row[col("checks_passed")], "true");
    }
    let items = std::fs::read_to_string(&items).unwrap();
    let items = items
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark");
    let item_rows: Vec<&str> = items.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        item_rows[0],
        "input,input_bytes_hex,shop_name,receipt_num,consumption_date,total_amount,line,product,\
         quantity,quantity_unit,unit_price,price_unit,subtotal_amount"
    );
    assert_eq!(item_rows.len(), 1 + 2 * 4);
    // In the inputs' order, each image's four items in their order, each with its receipt.
    let mut expected = Vec::new();
    for (path, _) in &imgs {
        for item in [
            "1,500g营养快线,2,,4.50,,9.00",
            "2,30g良兴魔芋素毛肚,1,,,,1.00",
            "3,45g乡巴佬小腿王,1,,,,1.50",
            "4,乡巴佬吉利蛋,1,,,,1.00",
        ] {
            expected.push(format!(
                "{},,多又好超市,NO.01202011196374,2020-11-19,12.50,{item}",
                path.display()
            ));
        }
    }
    assert_eq!(item_rows[1..], expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors_send_nothing_and_exit_2() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("usage");
    images(&dir, 1);
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let images_dir = dir.join("images").display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "receipt".into(),
                dir.join("missing.png").display().to_string(),
            ],
            "missing.png",
        ),
        (
            vec![
                "receipt".into(),
                format!("@{}", dir.join("nolist").display()),
            ],
            "input list",
        ),
        (
            vec!["receipt".into(), dir.join("empty").display().to_string()],
            "no images found",
        ),
        (
            vec![
                "receipt".into(),
                images_dir.clone(),
                "--out".into(),
                "r.json".into(),
            ],
            ".jsonl",
        ),
        (
            vec![
                "invoice".into(),
                images_dir.clone(),
                "--items-out".into(),
                "i.csv".into(),
            ],
            "--items-out",
        ),
        (
            vec![
                "receipt".into(),
                images_dir.clone(),
                "--qps".into(),
                "0".into(),
            ],
            "from 0.001 to 10000",
        ),
        (
            vec![
                "receipt".into(),
                images_dir.clone(),
                "--jobs".into(),
                "0".into(),
            ],
            "--jobs",
        ),
        (
            vec![
                "receipt".into(),
                images_dir.clone(),
                "--cache".into(),
                "c".into(),
                "--no-cache".into(),
            ],
            "--no-cache",
        ),
        (vec!["scan".into(), images_dir.clone()], "scan"),
    ];
    for (args, expected) in cases {
        let out = piaoju(&sb)
            .current_dir(&dir)
            .arg("batch")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // No credentials: one error before anything is sent, pointing to --sandbox.
    let out = piaoju(&sb)
        .current_dir(&dir)
        .env_remove("PIAOJU_JUHE_KEY")
        .args(["batch", "receipt", &images_dir])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(e["name"], "missing_credentials");
    assert!(e["message"].as_str().unwrap().contains("--sandbox"));
    assert_eq!(sb.stats().juhe_requests, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_sandbox_flag_and_a_cache_never_mixes_sandbox_answers_with_the_service() {
    // The same images and cache file, first against --sandbox, then against another endpoint:
    // the sandbox's answers are not returned for it (the endpoint is part of the cache key).
    let sb = Sandbox::start().unwrap();
    let dir = scratch("endpoints");
    images(&dir, 2);
    let cache = dir.join("shared.sqlite");
    let run = |extra: &[&str]| {
        piaoju(&sb)
            .args(["batch", "receipt", "--cache"])
            .arg(&cache)
            .arg(dir.join("images"))
            .args(extra)
            .output()
            .unwrap()
    };
    let first = run(&["--sandbox"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        sb.stats().juhe_requests,
        0,
        "--sandbox used its own sandbox"
    );
    let second = run(&[]);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(
        sb.stats().juhe_requests,
        2,
        "not answered from the sandbox's cache entries"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
