//! `--format text`: a document in a dozen lines for a person (who issued it, when, the total,
//! the items, the checks that failed with their suggestions), and an error with what to do.

use std::fmt::Write;

use piaoju::{Check, CheckStatus, Document, Error, ShoppingReceipt, UsedCarInvoice};

/// What the sandbox's answers are, said under every document it gave.
const SANDBOX_NOTE: &str = "(sandbox: the same example answer for every image)";

/// A document for a person; `sandbox` adds that its answer is the sandbox's.
pub fn document(doc: &Document, sandbox: bool) -> String {
    let mut out = match doc {
        Document::ShoppingReceipt(r) => receipt(r),
        Document::UsedCarInvoice(i) => invoice(i),
        _ => String::new(),
    };
    let (checks, cached) = match doc {
        Document::ShoppingReceipt(r) => (&r.checks, r.cached),
        Document::UsedCarInvoice(i) => (&i.checks, i.cached),
        _ => return out,
    };
    out.push_str(&checks_text(checks));
    if cached {
        out.push_str("(from the result cache: no request was sent)\n");
    }
    if sandbox {
        out.push_str(SANDBOX_NOTE);
        out.push('\n');
    }
    out
}

fn or_dash<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

fn receipt(r: &ShoppingReceipt) -> String {
    let mut out = String::new();
    let when = [
        r.consumption_date.map(|d| d.to_string()),
        r.consumption_time.map(|t| t.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let _ = writeln!(
        out,
        "{}  {}",
        r.shop_name.as_deref().unwrap_or("(shop not recognized)"),
        if when.is_empty() { "-" } else { &when }
    );
    let mut numbers = Vec::new();
    if let Some(n) = &r.receipt_num {
        numbers.push(format!("receipt {n}"));
    }
    if let Some(m) = &r.machine_num {
        numbers.push(format!("machine {m}"));
    }
    if let Some(e) = &r.employee_num {
        numbers.push(format!("cashier {e}"));
    }
    if !numbers.is_empty() {
        let _ = writeln!(out, "{}", numbers.join(" · "));
    }
    for item in &r.items {
        let quantity = match (&item.quantity, &item.quantity_unit) {
            (Some(q), Some(u)) => format!("{q}{u}"),
            (Some(q), None) => q.to_string(),
            (None, _) => String::new(),
        };
        let price = match (&item.unit_price, &item.price_unit) {
            (Some(p), Some(u)) => format!(" × {p}/{u}"),
            (Some(p), None) => format!(" × {p}"),
            (None, _) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {} {:>16} {:>10}",
            pad(item.product.as_deref().unwrap_or("-"), 24),
            format!("{quantity}{price}"),
            or_dash(&item.subtotal_amount)
        );
    }
    let mut total = format!("Total {}", or_dash(&r.total_amount));
    if let Some(d) = &r.discount {
        let _ = write!(total, " (discount {d})");
    }
    if let Some(p) = &r.paid_amount {
        let _ = write!(total, ", paid {p}");
    }
    if let Some(c) = &r.change {
        let _ = write!(total, ", change {c}");
    }
    let _ = writeln!(out, "{total}");
    out
}

/// Columns a terminal gives `c`: two for the wide characters of Chinese, Japanese and Korean
/// text and full-width forms, one for the others.
fn columns(c: char) -> usize {
    match u32::from(c) {
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// `text` padded with spaces to `width` terminal columns.
fn pad(text: &str, width: usize) -> String {
    let used: usize = text.chars().map(columns).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

fn invoice(i: &UsedCarInvoice) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Used-car sales invoice {} No. {}, issued {}",
        or_dash(&i.invoice_code),
        or_dash(&i.invoice_number),
        or_dash(&i.issue_date)
    );
    let _ = writeln!(
        out,
        "Seller {} · buyer {} ({})",
        or_dash(&i.seller_name),
        or_dash(&i.buyer_name),
        or_dash(&i.buyer_id)
    );
    let _ = writeln!(
        out,
        "Vehicle {} · VIN {} · plate {}",
        or_dash(&i.brand_model),
        or_dash(&i.vin),
        or_dash(&i.plate_number)
    );
    let _ = writeln!(
        out,
        "Total {} ({})",
        or_dash(&i.total_price),
        or_dash(&i.total_price_in_words)
    );
    out
}

fn checks_text(checks: &[Check]) -> String {
    let failed: Vec<&Check> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    if failed.is_empty() {
        let skipped = checks
            .iter()
            .filter(|c| c.status == CheckStatus::Skipped)
            .count();
        return match skipped {
            0 => "Checks: all passed\n".to_string(),
            n => format!("Checks: none failed ({n} skipped: a value they need is missing)\n"),
        };
    }
    let mut out = format!("Checks: {} failed\n", failed.len());
    for c in failed {
        let _ = write!(out, "  ✗ {}: {}", c.fields.join(", "), c.message);
        if let Some(s) = &c.suggestion {
            let _ = write!(out, " (suggestion: {s})");
        }
        out.push('\n');
    }
    out
}

/// An error for a person: what happened, and what to do.
pub fn error(e: &Error) -> String {
    let mut out = format!("piaoju: [{} {}] {}\n", e.code.as_u32(), e.name(), e.message);
    if let Some(hint) = e.hint() {
        let _ = writeln!(out, "  hint: {hint}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_are_padded_by_the_columns_they_take() {
        assert_eq!(pad("营养快线", 10), "营养快线  ");
        assert_eq!(pad("500g营养快线", 12), "500g营养快线");
        assert_eq!(pad("abc", 5), "abc  ");
    }

    #[test]
    fn an_error_shows_its_hint() {
        let e = Error::new(piaoju::ErrorCode::Timeout, "late").with_hint("raise PIAOJU_TIMEOUT_MS");
        assert_eq!(
            error(&e),
            "piaoju: [301 timeout] late\n  hint: raise PIAOJU_TIMEOUT_MS\n"
        );
    }
}
