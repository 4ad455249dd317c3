//! Validation checks: does a recognized document contradict itself?
//!
//! Every result carries the checks its fields allow. Each check is also a public function, so
//! values obtained elsewhere can be validated too. A check never changes a value; where a check
//! digit fails and exactly one single-character substitution among common OCR confusions makes it
//! pass, the check's `suggestion` gives that corrected value.
//!
//! By job: the identifiers on their own ([`vin`], [`resident_id`], [`social_credit_code`],
//! [`party_id`], [`invoice_number`], [`plate_number`], [`issue_date`]), amounts in words
//! (大写金额, [`amount_in_words`]), and the checks of each document ([`receipt_checks`],
//! [`invoice_checks`]).

mod invoice;
mod money_words;
mod receipt;
mod validators;

use crate::decimal::Decimal;
use crate::model::Check;

pub use invoice::invoice_checks;
pub use money_words::amount_in_words;
pub use receipt::receipt_checks;
pub use validators::{
    invoice_number, issue_date, party_id, plate_number, resident_id, social_credit_code, vin,
};

/// The reading of a value that is not a number, and what it does to the document's arithmetic:
/// a `value_unreadable` check (failed) naming the field and quoting the text.
fn unreadable(
    field: &str,
    raw: &str,
    reading: Option<(Decimal, char, char)>,
    verdict: impl FnOnce(Decimal) -> String,
) -> Check {
    let f = &[field];
    match reading {
        Some((value, from, to)) => {
            let mut c = Check::fail(
                "value_unreadable",
                f,
                format!(
                    "{field} {raw:?} is not a number; read with {from:?} as {to:?} it is {value}, {}",
                    verdict(value)
                ),
            );
            c.suggestion = Some(value.to_string());
            c
        }
        None => Check::fail(
            "value_unreadable",
            f,
            format!(
                "{field} {raw:?} is not a number, and no single common OCR confusion makes it one"
            ),
        ),
    }
}
