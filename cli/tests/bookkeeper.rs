//! `piaoju` as a bookkeeper and a new user meet it: a CSV Excel opens (a byte-order mark, the
//! inputs' order, the checks' messages and suggestions, items with their receipt, Chinese
//! column names), nothing skipped silently, a view for a person, errors that say what to do.

use std::process::Stdio;

use piaoju_sandbox::Sandbox;

mod common;
use common::*;

/// A CSV as Excel on a Chinese Windows reads it: the byte-order mark says UTF-8 (without it,
/// the code page 936 would turn every Chinese field into mojibake), then RFC 4180 rows.
fn excel_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("a UTF-8 byte-order mark first");
    let text = std::str::from_utf8(body).expect("UTF-8 after the mark");
    let mut rows = vec![vec![String::new()]];
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        let row = rows.last_mut().unwrap();
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                row.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(String::new()),
            ('\r', false) => {}
            ('\n', false) => rows.push(vec![String::new()]),
            (c, _) => row.last_mut().unwrap().push(c),
        }
    }
    rows.retain(|r| r.len() > 1 || !r[0].is_empty());
    rows
}

fn column(rows: &[Vec<String>], name: &str) -> usize {
    rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", rows[0]))
}

#[test]
fn a_csv_excel_reads_in_the_inputs_order_with_what_failed_and_what_to_do() {
    // Answers come back in an order of their own (8 workers); rows follow the inputs.
    let sb = Sandbox::start().unwrap();
    sb.set_faults("ocr-variants").unwrap();
    let dir = scratch("excel");
    let imgs = images(&dir, 20);
    let (csv, items) = (dir.join("r.csv"), dir.join("items.csv"));
    let run = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache", "--jobs", "8", "--out"])
        .arg(&csv)
        .arg("--items-out")
        .arg(&items)
        .arg(dir.join("images"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let rows = excel_rows(&std::fs::read(&csv).unwrap());
    assert_eq!(rows.len(), 21);
    let inputs: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    let expected: Vec<String> = imgs.iter().map(|(p, _)| p.display().to_string()).collect();
    assert_eq!(inputs, expected, "rows in the inputs' order");
    let row = &rows[1];
    assert_eq!(row[column(&rows, "shop_name")], "多又好超市");
    assert_eq!(row[column(&rows, "checks_passed")], "false");
    // "12,50" is read as no number; the check says why and what it would read.
    let failed = &row[column(&rows, "failed_checks")];
    assert!(
        failed.contains("total_amount: ") && failed.contains("(suggestion: 12.50)"),
        "{failed}"
    );
    assert!(
        row[column(&rows, "suggestions")].contains("total_amount → 12.50"),
        "{:?}",
        row[column(&rows, "suggestions")]
    );
    // Item rows carry their receipt's shop, number, date and total.
    let items = excel_rows(&std::fs::read(&items).unwrap());
    assert_eq!(items.len(), 1 + 20 * 4);
    assert_eq!(items[1][column(&items, "shop_name")], "多又好超市");
    assert_eq!(items[1][column(&items, "receipt_num")], "NO.01202011196374");
    assert_eq!(items[1][column(&items, "consumption_date")], "2020-11-19");
    assert_eq!(items[1][0], expected[0]);
    assert_eq!(items[80][0], expected[19]);
}

#[test]
fn chinese_headers_no_bom_for_programs_and_hints_in_error_rows() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("zh");
    images(&dir, 2);
    let csv = dir.join("r.csv");
    let run = piaoju(&sb)
        .env("PIAOJU_JUHE_BASE_URL", sb.fault_url("juhe=10012"))
        .args(["batch", "receipt", "--no-cache", "--headers", "zh", "--out"])
        .arg(&csv)
        .arg(dir.join("images"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let rows = excel_rows(&std::fs::read(&csv).unwrap());
    for name in [
        "文件",
        "成功",
        "合计金额",
        "店铺名称",
        "处理建议",
        "车价合计小写",
    ] {
        if name == "车价合计小写" {
            assert!(
                !rows[0].iter().any(|h| h == name),
                "an invoice column on receipts"
            );
        } else {
            column(&rows, name);
        }
    }
    let hint = &rows[1][column(&rows, "处理建议")];
    assert!(hint.contains("quota is used up"), "{hint}");
    // For programs: no byte-order mark.
    let plain = dir.join("plain.csv");
    let run = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache", "--no-bom", "--out"])
        .arg(&plain)
        .arg(dir.join("images"))
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(std::fs::read(&plain)
        .unwrap()
        .starts_with(b"input,input_bytes_hex,ok,skipped,"));
}

#[test]
fn files_a_folder_holds_that_are_not_taken_are_listed_never_skipped_silently() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("mixed");
    images(&dir, 3);
    let folder = dir.join("images");
    std::fs::write(folder.join("b-scan.pdf"), b"%PDF-1.7\n...").unwrap();
    let heic = [&[0, 0, 0, 0x18][..], b"ftypheic", &[0; 12]].concat();
    std::fs::write(folder.join("c.HEIC"), heic).unwrap();
    let out = dir.join("r.jsonl");
    let run = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache", "--out"])
        .arg(&out)
        .arg(&folder)
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("2 files skipped")
            && err
                .contains("b-scan.pdf (PDF is not accepted: export the PDF's page as PNG or JPEG")
            && err.contains("c.HEIC (HEIC is not accepted: export it as JPEG"),
        "{err}"
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 5);
    let skipped: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["ok"] == false)
        .map(|l| {
            let input = l["input"].as_str().unwrap();
            (
                &input[input.rfind('/').unwrap() + 1..],
                l["skipped"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0].0, "b-scan.pdf");
    assert_eq!(skipped[1].0, "c.HEIC");
    assert!(skipped[1].1.starts_with("HEIC is not accepted"));
    // Asked for images only: the others are counted, not written, and do not fail the run.
    let run = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache", "--only-images", "--out"])
        .arg(&out)
        .arg(&folder)
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(
        err.contains("2 files that are not images ignored (--only-images)"),
        "{err}"
    );
    assert_eq!(lines_of(&out), 3);
    assert_eq!(sb.stats().juhe_requests, 6);
}

fn lines_of(path: &std::path::Path) -> usize {
    lines(path).len()
}

#[test]
fn a_person_sees_the_document_in_a_dozen_lines_and_an_error_with_its_hint() {
    let dir = scratch("view");
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_piaoju"))
        .env("XDG_CACHE_HOME", user_cache_home())
        .args(["receipt", "--sandbox", "--format", "text"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/receipt.png"
        ))
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let out = String::from_utf8(text.stdout).unwrap();
    assert!(out.starts_with("多又好超市  2020-11-19 17:23\n"), "{out}");
    assert!(out.contains("Total 12.50"), "{out}");
    assert!(out.contains("500g营养快线"), "{out}");
    assert!(
        out.ends_with("(sandbox: the same example answer for every image)\n"),
        "{out}"
    );
    assert!(out.lines().count() <= 12, "{out}");
    // A pipe gets the JSON.
    let json = std::process::Command::new(env!("CARGO_BIN_EXE_piaoju"))
        .args(["receipt", "--sandbox"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/receipt.png"
        ))
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["total_amount"], "12.50");
    // An iPhone photo: named, with how to make it one that is taken.
    let heic = dir.join("photo.heic");
    std::fs::write(
        &heic,
        [&[0, 0, 0, 0x18][..], b"ftypheic", &[0; 12]].concat(),
    )
    .unwrap();
    let err = std::process::Command::new(env!("CARGO_BIN_EXE_piaoju"))
        .args(["receipt", "--sandbox", "--format", "text"])
        .arg(&heic)
        .output()
        .unwrap();
    assert_eq!(err.status.code(), Some(1));
    let text = stderr(&err);
    assert!(
        text.starts_with("piaoju: [202 image_format_unsupported] this image is HEIC:")
            && text.contains("\n  hint: export it as JPEG"),
        "{text}"
    );
    let json = std::process::Command::new(env!("CARGO_BIN_EXE_piaoju"))
        .args(["receipt", "--sandbox", "--format", "json"])
        .arg(&heic)
        .output()
        .unwrap();
    let e: serde_json::Value = serde_json::from_slice(&json.stderr).unwrap();
    assert!(
        e["hint"].as_str().unwrap().starts_with("export it as JPEG"),
        "{e}"
    );
}

#[test]
fn a_named_pipe_in_a_folder_is_skipped_without_being_opened() {
    let sb = Sandbox::start().unwrap();
    let dir = scratch("fifo");
    images(&dir, 2);
    let pipe = dir.join("images").join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = piaoju(&sb)
        .args(["batch", "receipt", "--no-cache"])
        .arg(dir.join("images"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening the pipe would wait for a writer forever.
    let status = wait(&mut child, std::time::Duration::from_secs(30));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("pipe (not a regular file"), "{err}");
    assert!(err.contains("2 recognized"), "{err}");
}
