//! Where a batch's results go: JSON Lines (one object per input: `input`, `ok`, `result`,
//! `error` or `skipped`) or CSV (one row per document, the scalar fields of the result schema,
//! then the checks and the error's fields), on stdout or in a file; receipts' items optionally
//! in a second CSV, each row with its receipt's shop, number, date and total.
//!
//! A file is written as `FILE.partial` as results come, and when the batch ends its rows are
//! written in the order of the inputs into `FILE` (a crash never leaves a half-written `FILE`,
//! nor clobbers the one of an earlier run). CSV files start with a UTF-8 byte-order mark unless
//! asked not to, so that Excel on a Chinese Windows reads them as UTF-8, and can have Chinese
//! column names.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use piaoju::bindings::ValueKind;
use piaoju::{Document, DocumentType, Error};

use crate::inputs::InputName;
use serde_json::{json, Value};

/// The format of the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Csv,
}

impl Format {
    /// From the output file's extension: `.jsonl` (or `.ndjson`) or `.csv`.
    pub fn of(path: &Path) -> Result<Format, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("jsonl" | "ndjson") => Ok(Format::JsonLines),
            Some("csv") => Ok(Format::Csv),
            _ => Err(format!(
                "--out {path:?}: the file name must end in .jsonl (JSON Lines) or .csv"
            )),
        }
    }
}

/// How CSV files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// Start with a UTF-8 byte-order mark (Excel then reads UTF-8, whatever the code page).
    pub bom: bool,
    /// Chinese column names.
    pub chinese: bool,
}

/// A file written under a temporary name, its rows recorded so that they can be put in the
/// inputs' order at the end.
struct OrderedFile {
    writer: BufWriter<File>,
    partial: PathBuf,
    path: PathBuf,
    /// What comes first (a BOM, the header row).
    head: u64,
    /// Every row: (input's place, start, length), in the order written.
    rows: Vec<(usize, u64, u64)>,
    written: u64,
}

/// One output: a file, or stdout.
enum Destination {
    Stdout(LineFlushing),
    File(OrderedFile),
}

impl Destination {
    fn file(path: &Path) -> Result<Destination, String> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let f = File::create(&partial).map_err(|e| format!("cannot create {partial:?}: {e}"))?;
        Ok(Destination::File(OrderedFile {
            writer: BufWriter::new(f),
            partial,
            path: path.to_path_buf(),
            head: 0,
            rows: Vec::new(),
            written: 0,
        }))
    }

    /// The start of the file: written once, before any row.
    fn head(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Destination::Stdout(out) => out.write_all(bytes),
            Destination::File(f) => {
                f.writer.write_all(bytes)?;
                f.head += bytes.len() as u64;
                f.written += bytes.len() as u64;
                Ok(())
            }
        }
    }

    /// A row of the input at place `index`.
    fn row(&mut self, index: usize, bytes: &[u8]) -> io::Result<()> {
        match self {
            Destination::Stdout(out) => out.write_all(bytes),
            Destination::File(f) => {
                f.writer.write_all(bytes)?;
                f.rows.push((index, f.written, bytes.len() as u64));
                f.written += bytes.len() as u64;
                Ok(())
            }
        }
    }

    /// Write the file's rows in the inputs' order under its final name.
    fn finish(self) -> io::Result<()> {
        let Destination::File(mut f) = self else {
            return Ok(());
        };
        f.writer.flush()?;
        drop(f.writer);
        let mut from = File::open(&f.partial)?;
        let mut ordering = f.partial.clone().into_os_string();
        ordering.push(".ordered");
        let ordering = PathBuf::from(ordering);
        let mut to = BufWriter::new(File::create(&ordering)?);
        let mut copy = |start: u64, len: u64| -> io::Result<()> {
            from.seek(SeekFrom::Start(start))?;
            io::copy(&mut (&mut from).take(len), &mut to)?;
            Ok(())
        };
        copy(0, f.head)?;
        // A stable sort: the rows of one input (its items) keep their order.
        f.rows.sort_by_key(|(index, _, _)| *index);
        for (_, start, len) in &f.rows {
            copy(*start, *len)?;
        }
        to.flush()?;
        to.get_ref().sync_all()?;
        drop(to);
        std::fs::rename(&ordering, &f.path)?;
        std::fs::remove_file(&f.partial)
    }
}

/// Stdout flushed at each line, so that a pipe sees each result as it finishes.
struct LineFlushing(io::Stdout);

impl LineFlushing {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut out = self.0.lock();
        out.write_all(buf)?;
        out.flush()
    }
}

/// The results of a batch, written as they come.
pub struct Sink {
    format: Format,
    csv: CsvOptions,
    main: Destination,
    items: Option<Destination>,
    /// CSV: the scalar fields of the document's schema record.
    columns: Vec<(&'static str, ValueKind)>,
    /// `--items-out`: the scalar fields of a receipt item.
    item_columns: Vec<(&'static str, ValueKind)>,
}

/// The scalar fields of a schema record, in schema order (`document_type` and `provider` are
/// the same on every row and left out).
fn scalar_columns(record: &str) -> Vec<(&'static str, ValueKind)> {
    let fields = piaoju::bindings::schema()
        .into_iter()
        .find(|(name, _)| *name == record)
        .map(|(_, fields)| fields)
        .unwrap_or_default();
    fields
        .iter()
        .filter(|f| !matches!(f.name, "document_type" | "provider"))
        .filter(|f| {
            matches!(
                f.kind,
                ValueKind::Text
                    | ValueKind::Decimal
                    | ValueKind::Date
                    | ValueKind::Time
                    | ValueKind::Integer
                    | ValueKind::Boolean
                    | ValueKind::Float
            )
        })
        .map(|f| (f.name, f.kind))
        .collect()
}

/// The command's own columns, with their Chinese names (the result's fields are named by the
/// table beside the schema, `piaoju::bindings::label_zh`).
const OWN_COLUMNS_ZH: &[(&str, &str)] = &[
    ("input", "文件"),
    ("input_bytes_hex", "文件名字节"),
    ("ok", "成功"),
    ("skipped", "跳过原因"),
    ("line", "行号"),
    ("checks_passed", "校验通过"),
    ("failed_checks", "未通过的校验"),
    ("suggestions", "更正建议"),
    ("error_code", "错误码"),
    ("error_name", "错误名称"),
    ("error_message", "错误信息"),
    ("error_hint", "处理建议"),
    ("possibly_billed", "可能已计费"),
];

/// Before the result's columns.
const LEAD_COLUMNS: [&str; 4] = ["input", "input_bytes_hex", "ok", "skipped"];
/// After the result's columns (a failed call's `attempts` go in the schema's column).
const TAIL_COLUMNS: [&str; 8] = [
    "checks_passed",
    "failed_checks",
    "suggestions",
    "error_code",
    "error_name",
    "error_message",
    "error_hint",
    "possibly_billed",
];
/// The receipt's fields on each item row, after the input's.
const ITEM_RECEIPT_COLUMNS: [&str; 4] = [
    "shop_name",
    "receipt_num",
    "consumption_date",
    "total_amount",
];

/// A column's name in the header: the field's own, or its Chinese name.
fn header(name: &'static str, chinese: bool) -> &'static str {
    if !chinese {
        return name;
    }
    OWN_COLUMNS_ZH
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, zh)| *zh)
        .or_else(|| piaoju::bindings::label_zh(name))
        .unwrap_or(name)
}

/// The checks that failed: `fields: message (suggestion: …)`, and the suggestions alone
/// (`field → reading`), each joined with ` | `.
fn failed_checks(value: &Value) -> (String, String) {
    let checks = value["checks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut failed = Vec::new();
    let mut suggestions = Vec::new();
    for c in checks.iter().filter(|c| c["status"] == "fail") {
        let fields: Vec<&str> = c["fields"]
            .as_array()
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let what = if fields.is_empty() {
            c["name"].as_str().unwrap_or("").to_string()
        } else {
            fields.join(", ")
        };
        let message = c["message"].as_str().unwrap_or("");
        match c["suggestion"].as_str() {
            Some(s) => {
                failed.push(format!("{what}: {message} (suggestion: {s})"));
                suggestions.push(format!("{} → {s}", fields.first().unwrap_or(&"")));
            }
            None => failed.push(format!("{what}: {message}")),
        }
    }
    (failed.join(" | "), suggestions.join(" | "))
}

impl Sink {
    /// `out` None is stdout (JSON Lines); `items` is a CSV path for receipts' items.
    pub fn open(
        document_type: DocumentType,
        out: Option<&Path>,
        items: Option<&Path>,
        csv: CsvOptions,
    ) -> Result<Sink, String> {
        let format = match out {
            Some(p) => Format::of(p)?,
            None => Format::JsonLines,
        };
        let record = match document_type {
            DocumentType::UsedCarInvoice => "UsedCarInvoice",
            _ => "ShoppingReceipt",
        };
        let mut sink = Sink {
            format,
            csv,
            main: match out {
                Some(p) => Destination::file(p)?,
                None => Destination::Stdout(LineFlushing(io::stdout())),
            },
            items: items.map(Destination::file).transpose()?,
            columns: scalar_columns(record),
            item_columns: scalar_columns("ReceiptItem"),
        };
        sink.write_headers()
            .map_err(|e| format!("cannot write the results: {e}"))?;
        Ok(sink)
    }

    fn write_headers(&mut self) -> io::Result<()> {
        let chinese = self.csv.chinese;
        let bom: &[u8] = if self.csv.bom { b"\xEF\xBB\xBF" } else { b"" };
        if self.format == Format::Csv {
            let mut names: Vec<&str> = LEAD_COLUMNS.to_vec();
            names.extend(self.columns.iter().map(|(n, _)| *n));
            names.extend(TAIL_COLUMNS);
            let mut head = bom.to_vec();
            csv_row(
                &mut head,
                names.into_iter().map(|n| Cell::Plain(header(n, chinese))),
            )?;
            self.main.head(&head)?;
        }
        if let Some(items) = &mut self.items {
            let mut names: Vec<&str> = vec!["input", "input_bytes_hex"];
            names.extend(ITEM_RECEIPT_COLUMNS);
            names.push("line");
            names.extend(self.item_columns.iter().map(|(n, _)| *n));
            let mut head = bom.to_vec();
            csv_row(
                &mut head,
                names.into_iter().map(|n| Cell::Plain(header(n, chinese))),
            )?;
            items.head(&head)?;
        }
        Ok(())
    }

    /// Write the outcome of the input at place `index` among the inputs.
    pub fn write(
        &mut self,
        index: usize,
        input: &InputName,
        outcome: &Result<Document, Error>,
    ) -> io::Result<()> {
        let value = match outcome {
            Ok(doc) => serde_json::to_value(doc).map_err(io::Error::other)?,
            Err(e) => serde_json::to_value(e).map_err(io::Error::other)?,
        };
        match self.format {
            Format::JsonLines => {
                let line = match outcome {
                    Ok(_) => json!({"input": input.text, "ok": true, "result": value}),
                    Err(_) => json!({"input": input.text, "ok": false, "error": value}),
                };
                self.write_json_line(index, input, line)?;
            }
            Format::Csv => self.write_csv_row(index, input, outcome, &value)?,
        }
        if let (Some(items), Ok(_)) = (&mut self.items, outcome) {
            let list = value["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            let kind = |name: &str| {
                self.columns
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(ValueKind::Text, |(_, k)| *k)
            };
            let receipt: Vec<Cell> = ITEM_RECEIPT_COLUMNS
                .iter()
                .map(|name| cell(&value[*name], kind(name)))
                .collect();
            let mut rows = Vec::new();
            for (n, item) in list.iter().enumerate() {
                let line = (n + 1).to_string();
                let mut cells = vec![
                    Cell::Text(&input.text),
                    Cell::Plain(input.bytes_hex.as_deref().unwrap_or("")),
                ];
                cells.extend(receipt.iter().map(Cell::again));
                cells.push(Cell::Plain(&line));
                cells.extend(
                    self.item_columns
                        .iter()
                        .map(|(name, kind)| cell(&item[*name], *kind)),
                );
                csv_row(&mut rows, cells.into_iter())?;
            }
            items.row(index, &rows)?;
        }
        Ok(())
    }

    /// Write a file a folder holds that was not sent, and why.
    pub fn write_skipped(&mut self, index: usize, input: &InputName, why: &str) -> io::Result<()> {
        match self.format {
            Format::JsonLines => self.write_json_line(
                index,
                input,
                json!({"input": input.text, "ok": false, "skipped": why}),
            ),
            Format::Csv => {
                let mut cells = vec![
                    Cell::Text(&input.text),
                    Cell::Plain(input.bytes_hex.as_deref().unwrap_or("")),
                    Cell::Plain("false"),
                    Cell::Text(why),
                ];
                cells.extend((0..self.columns.len() + TAIL_COLUMNS.len()).map(|_| Cell::Plain("")));
                let mut row = Vec::new();
                csv_row(&mut row, cells.into_iter())?;
                self.main.row(index, &row)
            }
        }
    }

    fn write_json_line(
        &mut self,
        index: usize,
        input: &InputName,
        mut line: Value,
    ) -> io::Result<()> {
        if let Some(hex) = &input.bytes_hex {
            line["input_bytes_hex"] = json!(hex);
        }
        let mut text = serde_json::to_string(&line).map_err(io::Error::other)?;
        text.push('\n');
        self.main.row(index, text.as_bytes())
    }

    fn write_csv_row(
        &mut self,
        index: usize,
        input: &InputName,
        outcome: &Result<Document, Error>,
        value: &Value,
    ) -> io::Result<()> {
        let ok = if outcome.is_ok() { "true" } else { "false" };
        let mut cells = vec![
            Cell::Text(&input.text),
            Cell::Plain(input.bytes_hex.as_deref().unwrap_or("")),
            Cell::Plain(ok),
            Cell::Plain(""),
        ];
        let mut row = Vec::new();
        match outcome {
            Ok(_) => {
                cells.extend(
                    self.columns
                        .iter()
                        .map(|(name, kind)| cell(&value[*name], *kind)),
                );
                let (failed, suggestions) = failed_checks(value);
                cells.push(Cell::Plain(if failed.is_empty() {
                    "true"
                } else {
                    "false"
                }));
                cells.push(Cell::Owned(failed, true));
                cells.push(Cell::Owned(suggestions, true));
                cells.extend((0..5).map(|_| Cell::Plain("")));
                csv_row(&mut row, cells.into_iter())?;
            }
            Err(e) => {
                let (code, attempts) = (e.code.as_u32().to_string(), e.attempts.to_string());
                cells.extend(self.columns.iter().map(|(name, _)| {
                    Cell::Plain(if *name == "attempts" { &attempts } else { "" })
                }));
                cells.extend([Cell::Plain(""), Cell::Plain(""), Cell::Plain("")]);
                let billed = if e.possibly_billed { "true" } else { "false" };
                cells.extend([
                    Cell::Plain(&code),
                    Cell::Plain(e.code.name()),
                    Cell::Text(&e.message),
                    Cell::Text(e.hint().unwrap_or("")),
                    Cell::Plain(billed),
                ]);
                csv_row(&mut row, cells.into_iter())?;
            }
        }
        self.main.row(index, &row)
    }

    /// Write every file in the inputs' order under its final name.
    pub fn finish(self) -> io::Result<()> {
        self.main.finish()?;
        if let Some(items) = self.items {
            items.finish()?;
        }
        Ok(())
    }

    /// Where the results go, for the summary.
    pub fn describe(&self) -> String {
        match &self.main {
            Destination::File(f) => f.path.display().to_string(),
            Destination::Stdout(_) => "stdout".into(),
        }
    }
}

/// A CSV cell: recognized or user text (guarded against spreadsheet formulas), or a value we
/// produced (numbers, booleans, names).
enum Cell<'a> {
    Text(&'a str),
    Plain(&'a str),
    Owned(String, bool),
}

impl Cell<'_> {
    /// The same cell, borrowed again (for the receipt's columns on each of its items' rows).
    fn again(&self) -> Cell<'_> {
        match self {
            Cell::Text(t) => Cell::Text(t),
            Cell::Plain(t) => Cell::Plain(t),
            Cell::Owned(t, guard) => Cell::Owned(t.clone(), *guard),
        }
    }
}

fn cell(v: &Value, kind: ValueKind) -> Cell<'static> {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    };
    Cell::Owned(text, kind == ValueKind::Text)
}

/// One CSV row (RFC 4180: quoted when needed, CRLF line ends). A text cell that a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`, tab or CR first) gets a leading `'`, as OWASP
/// advises; numbers and dates are never changed.
fn csv_row<'a>(w: &mut dyn Write, cells: impl Iterator<Item = Cell<'a>>) -> io::Result<()> {
    let mut line = String::new();
    for (i, c) in cells.enumerate() {
        if i > 0 {
            line.push(',');
        }
        let (text, guard) = match &c {
            Cell::Text(t) => (*t, true),
            Cell::Plain(t) => (*t, false),
            Cell::Owned(t, guard) => (t.as_str(), *guard),
        };
        let formula = guard && text.starts_with(['=', '+', '-', '@', '\t', '\r']);
        let quote = formula
            || text.contains([',', '"', '\n', '\r'])
            || text.starts_with(' ')
            || text.ends_with(' ');
        if quote {
            line.push('"');
            if formula {
                line.push('\'');
            }
            line.push_str(&text.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(text);
        }
    }
    line.push_str("\r\n");
    w.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: Vec<Cell<'_>>) -> String {
        let mut out = Vec::new();
        csv_row(&mut out, cells.into_iter()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quoting_and_formula_guard() {
        assert_eq!(
            row(vec![
                Cell::Text("a,b"),
                Cell::Text("say \"hi\""),
                Cell::Text("=HYPERLINK(\"x\")"),
                Cell::Owned("-12.50".into(), false),
                Cell::Text("沃尔玛"),
                Cell::Plain(""),
            ]),
            "\"a,b\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",-12.50,沃尔玛,\r\n"
        );
    }

    #[test]
    fn columns_come_from_the_schema() {
        let receipt: Vec<&str> = scalar_columns("ShoppingReceipt")
            .iter()
            .map(|c| c.0)
            .collect();
        assert!(receipt.contains(&"total_amount") && receipt.contains(&"cached"));
        assert!(!receipt.contains(&"items") && !receipt.contains(&"raw"));
        let invoice = scalar_columns("UsedCarInvoice");
        assert!(invoice.iter().any(|c| c.0 == "vin"));
        assert_eq!(
            scalar_columns("ReceiptItem")
                .iter()
                .map(|c| c.0)
                .collect::<Vec<_>>(),
            [
                "product",
                "quantity",
                "quantity_unit",
                "unit_price",
                "price_unit",
                "subtotal_amount"
            ]
        );
    }

    #[test]
    fn output_names() {
        assert_eq!(Format::of(Path::new("r.JSONL")), Ok(Format::JsonLines));
        assert_eq!(Format::of(Path::new("r.csv")), Ok(Format::Csv));
        assert!(Format::of(Path::new("r.json"))
            .unwrap_err()
            .contains(".jsonl"));
    }
}
