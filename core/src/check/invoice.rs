//! The checks of a used-car invoice: the total price against its amount in words, the
//! identifiers' check digits, the invoice number against the issue date, the plate number.

use super::validators::{
    invoice_number, issue_date, party_id, plate_number, social_credit_code, vin,
};
use super::{amount_in_words, unreadable};
use crate::model::{Check, UsedCarInvoice};
use crate::normalize;

/// The checks of a used-car invoice.
pub fn invoice_checks(inv: &UsedCarInvoice) -> Vec<Check> {
    let mut out = Vec::new();

    let f = &["total_price_in_words", "total_price"];
    out.push(
        match (&inv.total_price_in_words, inv.raw_text("total_price")) {
            (None, _) => Check::skipped("total_price_in_words", f, "no amount in words"),
            (_, None) => Check::skipped("total_price_in_words", f, "no total price"),
            (Some(words), Some(total_raw)) => match (amount_in_words(words), inv.total_price) {
                (Err(e), _) => Check::fail(
                    "total_price_in_words",
                    f,
                    format!(
                        "{words:?} cannot be read as an amount in words: {}",
                        e.message
                    ),
                ),
                (_, None) => Check::skipped(
                    "total_price_in_words",
                    f,
                    format!("the total price {total_raw:?} is not a number (see value_unreadable)"),
                ),
                (Ok(w), Some(t)) if w == t => Check::pass(
                    "total_price_in_words",
                    f,
                    format!("{words} = {}", t.with_min_scale(2)),
                ),
                (Ok(w), Some(t)) => Check::fail(
                    "total_price_in_words",
                    f,
                    format!(
                        "{words} is {w}, but the total price is {}",
                        t.with_min_scale(2)
                    ),
                ),
            },
        },
    );

    out.push(match &inv.vin {
        Some(v) => vin(v),
        None => Check::skipped("vin", &["vin"], "no VIN"),
    });
    for (name, value) in [("buyer_id", &inv.buyer_id), ("seller_id", &inv.seller_id)] {
        out.push(match value {
            Some(v) => party_id(v).renamed(name, &[name]),
            None => Check::skipped(name, &[name], format!("no {name}")),
        });
    }
    for (name, value) in [
        ("market_tax_id", &inv.market_tax_id),
        ("dealer_tax_id", &inv.dealer_tax_id),
    ] {
        out.push(match value {
            None => Check::skipped(name, &[name], format!("no {name}")),
            Some(v) if v.chars().count() != 18 => Check::skipped(
                name,
                &[name],
                format!(
                    "{v:?} has {} characters; only 18-character social credit codes are checked",
                    v.chars().count()
                ),
            ),
            Some(v) => social_credit_code(v).renamed(name, &[name]),
        });
    }
    let raw_issue_date = inv.raw_text("issue_date");
    out.push(match &inv.invoice_number {
        Some(n) => invoice_number(n, raw_issue_date),
        None => Check::skipped(
            "invoice_number",
            &["invoice_number", "issue_date"],
            "no invoice number",
        ),
    });
    out.push(match raw_issue_date {
        Some(d) => issue_date(d),
        None => Check::skipped("issue_date", &["issue_date"], "no issue date"),
    });
    out.push(match &inv.plate_number {
        Some(p) => plate_number(p),
        None => Check::skipped("plate_number", &["plate_number"], "no plate number"),
    });

    // A total price printed but not readable as a number.
    if let (None, Some(raw)) = (inv.total_price, inv.raw_text("total_price")) {
        let words = inv
            .total_price_in_words
            .as_deref()
            .and_then(|w| amount_in_words(w).ok());
        out.push(unreadable(
            "total_price",
            raw,
            normalize::money_reading(raw),
            |v| match words {
                Some(w) if w == v => format!("which agrees with the amount in words ({w})"),
                Some(w) => format!("but the amount in words says {w}"),
                None => "and there is no amount in words to check that reading against".into(),
            },
        ));
    }
    out
}
