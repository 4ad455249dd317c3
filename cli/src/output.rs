//! Where a batch's results go: JSON Lines (one object per input: `input`, `ok`, `result` or
//! `error`) or CSV (one row per document, the scalar fields of the result schema, then
//! `checks_passed`, `failed_checks` and the error's fields), on stdout or in a file; receipts'
//! items optionally in a second CSV. A file is written as `FILE.partial` and renamed to `FILE`
//! when the batch ends, so a crash never leaves a half-written `FILE` (nor clobbers the one of an
//! earlier run).

use std::fs::File;
use std::io::{self, BufWriter, Write};
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

/// One output: a file written under a temporary name, or stdout.
struct Destination {
    writer: Box<dyn Write>,
    /// (temporary, final) names of a file.
    file: Option<(PathBuf, PathBuf)>,
}

impl Destination {
    fn stdout() -> Destination {
        Destination {
            writer: Box::new(LineFlushing(io::stdout())),
            file: None,
        }
    }

    fn file(path: &Path) -> Result<Destination, String> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let f = File::create(&partial).map_err(|e| format!("cannot create {partial:?}: {e}"))?;
        Ok(Destination {
            writer: Box::new(BufWriter::new(f)),
            file: Some((partial, path.to_path_buf())),
        })
    }

    fn finish(mut self) -> io::Result<()> {
        self.writer.flush()?;
        drop(self.writer);
        if let Some((partial, path)) = self.file {
            std::fs::rename(partial, path)?;
        }
        Ok(())
    }
}

/// Stdout flushed at each line, so that a pipe sees each result as it finishes.
struct LineFlushing(io::Stdout);

impl Write for LineFlushing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut out = self.0.lock();
        out.write_all(buf)?;
        out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The results of a batch, written as they come.
pub struct Sink {
    format: Format,
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

/// After the result's columns (a failed call's `attempts` go in the schema's column).
const ERROR_COLUMNS: [&str; 4] = [
    "error_code",
    "error_name",
    "error_message",
    "possibly_billed",
];

impl Sink {
    /// `out` None is stdout (JSON Lines); `items` is a CSV path for receipts' items.
    pub fn open(
        document_type: DocumentType,
        out: Option<&Path>,
        items: Option<&Path>,
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
            main: match out {
                Some(p) => Destination::file(p)?,
                None => Destination::stdout(),
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
        if self.format == Format::Csv {
            let mut header: Vec<&str> = vec!["input", "input_bytes_hex", "ok"];
            header.extend(self.columns.iter().map(|(n, _)| *n));
            header.extend(["checks_passed", "failed_checks"]);
            header.extend(ERROR_COLUMNS);
            csv_row(&mut self.main.writer, header.iter().map(|h| Cell::Plain(h)))?;
        }
        if let Some(items) = &mut self.items {
            let mut header: Vec<&str> = vec!["input", "input_bytes_hex", "line"];
            header.extend(self.item_columns.iter().map(|(n, _)| *n));
            csv_row(&mut items.writer, header.iter().map(|h| Cell::Plain(h)))?;
        }
        Ok(())
    }

    /// Write one input's outcome.
    pub fn write(
        &mut self,
        input: &InputName,
        outcome: &Result<Document, Error>,
    ) -> io::Result<()> {
        let value = match outcome {
            Ok(doc) => serde_json::to_value(doc).map_err(io::Error::other)?,
            Err(e) => serde_json::to_value(e).map_err(io::Error::other)?,
        };
        match self.format {
            Format::JsonLines => {
                let mut line = match outcome {
                    Ok(_) => json!({"input": input.text, "ok": true, "result": value}),
                    Err(_) => json!({"input": input.text, "ok": false, "error": value}),
                };
                if let Some(hex) = &input.bytes_hex {
                    line["input_bytes_hex"] = json!(hex);
                }
                let mut text = serde_json::to_string(&line).map_err(io::Error::other)?;
                text.push('\n');
                self.main.writer.write_all(text.as_bytes())?;
            }
            Format::Csv => self.write_csv_row(input, outcome, &value)?,
        }
        if let (Some(items), Ok(_)) = (&mut self.items, outcome) {
            let list = value["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            for (n, item) in list.iter().enumerate() {
                let line = (n + 1).to_string();
                let mut cells = vec![
                    Cell::Text(&input.text),
                    Cell::Plain(input.bytes_hex.as_deref().unwrap_or("")),
                    Cell::Plain(&line),
                ];
                cells.extend(
                    self.item_columns
                        .iter()
                        .map(|(name, kind)| cell(&item[*name], *kind)),
                );
                csv_row(&mut items.writer, cells.into_iter())?;
            }
        }
        Ok(())
    }

    fn write_csv_row(
        &mut self,
        input: &InputName,
        outcome: &Result<Document, Error>,
        value: &Value,
    ) -> io::Result<()> {
        let ok = if outcome.is_ok() { "true" } else { "false" };
        let mut cells = vec![
            Cell::Text(&input.text),
            Cell::Plain(input.bytes_hex.as_deref().unwrap_or("")),
            Cell::Plain(ok),
        ];
        match outcome {
            Ok(_) => {
                cells.extend(
                    self.columns
                        .iter()
                        .map(|(name, kind)| cell(&value[*name], *kind)),
                );
                let checks = value["checks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                let failed: Vec<&str> = checks
                    .iter()
                    .filter(|c| c["status"] == "fail")
                    .filter_map(|c| c["name"].as_str())
                    .collect();
                let joined = failed.join(";");
                cells.push(Cell::Plain(if failed.is_empty() {
                    "true"
                } else {
                    "false"
                }));
                cells.push(Cell::Text(&joined));
                cells.extend(ERROR_COLUMNS.iter().map(|_| Cell::Plain("")));
                csv_row(&mut self.main.writer, cells.into_iter())
            }
            Err(e) => {
                let (code, attempts) = (e.code.as_u32().to_string(), e.attempts.to_string());
                cells.extend(self.columns.iter().map(|(name, _)| {
                    Cell::Plain(if *name == "attempts" { &attempts } else { "" })
                }));
                cells.extend([Cell::Plain(""), Cell::Plain("")]);
                let billed = if e.possibly_billed { "true" } else { "false" };
                cells.extend([
                    Cell::Plain(&code),
                    Cell::Plain(e.code.name()),
                    Cell::Text(&e.message),
                    Cell::Plain(billed),
                ]);
                csv_row(&mut self.main.writer, cells.into_iter())
            }
        }
    }

    /// Flush and give every file its final name.
    pub fn finish(self) -> io::Result<()> {
        self.main.finish()?;
        if let Some(items) = self.items {
            items.finish()?;
        }
        Ok(())
    }

    /// Where the results go, for the summary.
    pub fn describe(&self) -> String {
        match &self.main.file {
            Some((_, path)) => path.display().to_string(),
            None => "stdout".into(),
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
