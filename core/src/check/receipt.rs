//! The checks of a shopping receipt: each line's quantity × unit price against its subtotal,
//! the lines against the total, the paid amount, the change and the discounts, as shops print
//! them (weighed goods, 抹零, discount lines).

use super::unreadable;
use crate::calendar::{Date, Time};
use crate::decimal::{Decimal, Rounding};
use crate::model::{Check, ShoppingReceipt};
use crate::normalize;

/// Words that name a discount line (会员优惠, 满减, 优惠券 …).
const DISCOUNT_WORDS: &[&str] = &[
    "优惠", "满减", "折扣", "立减", "抵扣", "减免", "让利", "抹零", "折让", "返现",
];

/// A line's product names a discount: one of [`DISCOUNT_WORDS`], or 满 … 减 (满100减10).
fn names_a_discount(product: &str) -> bool {
    DISCOUNT_WORDS.iter().any(|w| product.contains(w))
        || product
            .split_once('满')
            .is_some_and(|(_, rest)| rest.contains('减'))
}

/// One line's figures: quantity, unit price and subtotal, their units, and whether its name
/// says it is a discount.
#[derive(Debug, Clone)]
struct Line {
    values: [Option<Decimal>; 3],
    quantity_unit: Option<String>,
    price_unit: Option<String>,
    discount_name: bool,
}

impl Line {
    /// A line named as a discount, without a unit price, whose subtotal has no minus sign: OCR
    /// may have lost the sign, or it is a product whose name says 优惠. Both are tried.
    fn unsigned_discount(&self) -> bool {
        self.discount_name
            && self.values[1].is_none()
            && self.values[2].is_some_and(|s| !s.is_negative() && s != Decimal::ZERO)
    }
}

/// The figures of a receipt that its arithmetic relates: what the arithmetic checks read, so
/// that a reading of an unreadable value can be tried on a copy.
#[derive(Debug, Clone)]
struct Figures {
    total: Option<Decimal>,
    paid: Option<Decimal>,
    change: Option<Decimal>,
    discount: Option<Decimal>,
    items: Vec<Line>,
}

/// What the items say the total is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TotalIs {
    /// The amount due: the items less their discounts (rounded down or not).
    Due,
    /// The items' sum before the `discount` field is taken off.
    BeforeDiscount,
    /// Unknown: no items to tell, or they disagree with it.
    Unknown,
}

/// `rounded` is `amount` rounded down to the jiao (by less than 0.10, to a whole number of jiao)
/// or to the yuan (by less than 1.00, to a whole yuan), as shops do (抹零): how much, and to
/// what.
fn moling(amount: Decimal, rounded: Decimal) -> Option<(Decimal, &'static str)> {
    let diff = amount.checked_sub(rounded)?;
    if diff <= Decimal::ZERO || rounded.is_negative() {
        return None;
    }
    let fen = rounded.to_fen()?;
    let diff_shown = diff.trimmed(2).with_min_scale(2);
    if diff < Decimal::new(10, 2) && fen % 10 == 0 {
        Some((diff_shown, "jiao"))
    } else if diff < Decimal::new(100, 2) && fen % 100 == 0 {
        Some((diff_shown, "yuan"))
    } else {
        None
    }
}

/// `|d|`.
fn magnitude(d: Decimal) -> Decimal {
    if d.is_negative() {
        d.checked_neg().unwrap_or(d)
    } else {
        d
    }
}

impl Figures {
    fn of(r: &ShoppingReceipt) -> Figures {
        Figures {
            total: r.total_amount,
            paid: r.paid_amount,
            change: r.change,
            discount: r.discount,
            items: r
                .items
                .iter()
                .map(|i| Line {
                    values: [i.quantity, i.unit_price, i.subtotal_amount],
                    quantity_unit: i.quantity_unit.clone(),
                    price_unit: i.price_unit.clone(),
                    discount_name: i.product.as_deref().is_some_and(names_a_discount),
                })
                .collect(),
        }
    }

    /// The slot of a field (`"total_amount"`, `"items[2].unit_price"`).
    fn slot(&mut self, field: &str) -> Option<&mut Option<Decimal>> {
        match field {
            "total_amount" => Some(&mut self.total),
            "paid_amount" => Some(&mut self.paid),
            "change" => Some(&mut self.change),
            "discount" => Some(&mut self.discount),
            _ => {
                let (index, name) = field.strip_prefix("items[")?.split_once("].")?;
                let item = self.items.get_mut(index.parse::<usize>().ok()?)?;
                let column = ["quantity", "unit_price", "subtotal_amount"]
                    .iter()
                    .position(|c| *c == name)?;
                Some(&mut item.values[column])
            }
        }
    }

    /// The `discount` field as an amount taken off (its sign as printed does not matter);
    /// `None` when absent or zero.
    fn discount_off(&self) -> Option<Decimal> {
        self.discount.map(magnitude).filter(|d| *d != Decimal::ZERO)
    }

    /// The arithmetic checks: items add up to the total, each item, and the change.
    fn arithmetic(&self) -> Vec<Check> {
        let (sum_check, total_is) = self.items_sum_to_total();
        let mut out = vec![sum_check];
        for (i, line) in self.items.iter().enumerate() {
            out.push(item_amount(i, line));
        }
        out.push(self.change_check(total_is));
        out
    }

    /// The items' subtotals (discount lines taken off) less the `discount` field (unless it
    /// is the sum of the discount lines) give the total: exactly, or rounded down (抹零).
    fn items_sum_to_total(&self) -> (Check, TotalIs) {
        let name = "items_sum_to_total";
        let f = &["items.subtotal_amount", "total_amount", "discount"];
        let skipped = |why: &str| (Check::skipped(name, f, why), TotalIs::Unknown);
        let Some(total) = self.total else {
            return skipped("no total amount");
        };
        if self.items.is_empty() {
            return skipped("no items");
        }
        let Some(printed) = self
            .items
            .iter()
            .map(|l| l.values[2])
            .collect::<Option<Vec<_>>>()
        else {
            return skipped("an item has no subtotal");
        };
        // The subtotals as printed; then, if some line named as a discount has no minus sign,
        // with those lines taken off.
        let mut readings = vec![(printed.clone(), String::new())];
        let unsigned = self.items.iter().filter(|l| l.unsigned_discount()).count();
        if unsigned > 0 {
            let negated: Option<Vec<Decimal>> = self
                .items
                .iter()
                .zip(&printed)
                .map(|(l, &s)| {
                    if l.unsigned_discount() {
                        s.checked_neg()
                    } else {
                        Some(s)
                    }
                })
                .collect();
            if let Some(negated) = negated {
                let lines = if unsigned == 1 { "line" } else { "lines" };
                readings.push((
                    negated,
                    format!(" (the discount {lines} without a minus sign taken off)"),
                ));
            }
        }
        let mut first_failure = None;
        for (signed, note) in &readings {
            match self.sum_reading(total, signed, note) {
                Some(Ok((message, total_is))) => return (Check::pass(name, f, message), total_is),
                Some(Err(message)) => {
                    first_failure.get_or_insert(message);
                }
                None => {}
            }
        }
        match first_failure {
            Some(message) => (Check::fail(name, f, message), TotalIs::Unknown),
            None => skipped("amounts too large to add"),
        }
    }

    /// One reading of the subtotals (`signed`, discount lines negative) against the total: the
    /// pass message and what the total is, or the failure message; `None` when the amounts are
    /// too large to add.
    fn sum_reading(
        &self,
        total: Decimal,
        signed: &[Decimal],
        note: &str,
    ) -> Option<std::result::Result<(String, TotalIs), String>> {
        let sum = signed
            .iter()
            .try_fold(Decimal::ZERO, |a, &b| a.checked_add(b))?;
        let lines_off = signed
            .iter()
            .filter(|s| s.is_negative())
            .try_fold(Decimal::ZERO, |a, &b| a.checked_add(magnitude(b)))?;
        // The amount due, and how it was reached.
        let (due, how, field_off) = match self.discount_off() {
            None => (sum, format!("items add up to {sum}{note}"), None),
            Some(d) if d == lines_off => (
                sum,
                format!(
                    "items add up to {sum}{note} (their discount lines, {d}, are the discount)"
                ),
                None,
            ),
            Some(d) => {
                let due = sum.checked_sub(d)?;
                (
                    due,
                    format!("items add up to {sum}{note}, less discount {d} = {due}"),
                    Some(d),
                )
            }
        };
        if total == due {
            let msg = match field_off {
                None => format!("{how} = total"),
                Some(_) => format!("{how} = total {total}"),
            };
            return Some(Ok((msg, TotalIs::Due)));
        }
        if let Some(d) = field_off.filter(|_| total == sum) {
            return Some(Ok((
                format!("items add up to {sum}{note} = total, before the discount {d}"),
                TotalIs::BeforeDiscount,
            )));
        }
        if let Some((diff, to)) = moling(due, total) {
            return Some(Ok((
                format!("{how}, rounded down by {diff} (抹零) to the {to}: total {total}"),
                TotalIs::Due,
            )));
        }
        Some(Err(format!(
            "{how}, but the total is {total} (neither that amount nor it rounded down to the \
             jiao, {}, or to the yuan, {})",
            due.rounded(1, Rounding::Floor).with_min_scale(2),
            due.rounded(0, Rounding::Floor).with_min_scale(2)
        )))
    }

    /// paid − change is what was charged: the total, or the total rounded down (抹零); or,
    /// when the total is the items' sum before the `discount` field, the total less it.
    fn change_check(&self, total_is: TotalIs) -> Check {
        let name = "change";
        let f = &["paid_amount", "total_amount", "change"];
        let (Some(paid), Some(total), Some(change)) = (self.paid, self.total, self.change) else {
            return Check::skipped(name, f, "paid amount, total or change missing");
        };
        let (Some(diff), Some(charged)) = (paid.checked_sub(total), paid.checked_sub(change))
        else {
            return Check::skipped(name, f, "amounts too large");
        };
        if diff == change {
            return Check::pass(
                name,
                f,
                format!("paid {paid} − total {total} = change {change}"),
            );
        }
        let charged_is = format!("paid {paid} − change {change} = {charged}");
        if let Some((by, _)) = moling(total, charged) {
            return Check::pass(
                name,
                f,
                format!("{charged_is}: the total {total} rounded down by {by} (抹零)"),
            );
        }
        let less_discount = self
            .discount_off()
            .filter(|_| total_is != TotalIs::Due)
            .and_then(|d| Some((d, total.checked_sub(d)?)));
        if let Some((d, due)) = less_discount {
            if charged == due {
                return Check::pass(
                    name,
                    f,
                    format!("{charged_is}: the total {total} less discount {d}"),
                );
            }
            if let Some((by, _)) = moling(due, charged) {
                return Check::pass(
                    name,
                    f,
                    format!(
                        "{charged_is}: the total {total} less discount {d} = {due}, rounded \
                         down by {by} (抹零)"
                    ),
                );
            }
        }
        Check::fail(
            name,
            f,
            format!("paid {paid} − total {total} = {diff}, but the change is {change}"),
        )
    }
}

/// A quantity or price with its unit, for messages: `1.5 斤`, `15.80/kg`.
fn with_unit(value: Decimal, unit: Option<&str>, per: bool) -> String {
    match (unit, per) {
        (None, _) => value.to_string(),
        (Some(u), false) => format!("{value} {u}"),
        (Some(u), true) => format!("{value}/{u}"),
    }
}

/// Quantity × unit price = subtotal, the units converted (a price per kg with a quantity in
/// grams or 斤), the product exact or rounded to the fen half up or cut.
fn item_amount(i: usize, line: &Line) -> Check {
    let name = "item_amount";
    let fq = format!("items[{i}].quantity");
    let fp = format!("items[{i}].unit_price");
    let fs = format!("items[{i}].subtotal_amount");
    let f: &[&str] = &[&fq, &fp, &fs];
    let n = i + 1;
    let [Some(q), Some(p), Some(s)] = line.values else {
        return Check::skipped(
            name,
            f,
            format!("item {n}: quantity, unit price or subtotal missing"),
        );
    };
    let (qu, pu) = (line.quantity_unit.as_deref(), line.price_unit.as_deref());
    // How many price units one quantity unit is.
    let factor = match (qu, pu) {
        (Some(a), Some(b)) if a != b => match (normalize::grams(a), normalize::per_gram(b)) {
            (Some(g), Some(per)) => g.checked_mul(per),
            _ => {
                return Check::skipped(
                    name,
                    f,
                    format!("item {n}: a quantity in {a} and a price per {b} cannot be compared"),
                )
            }
        },
        _ => Some(Decimal::new(1, 0)),
    };
    let Some(amount) = factor
        .and_then(|k| q.checked_mul(p)?.checked_mul(k))
        .map(|a| a.trimmed(2))
    else {
        return Check::skipped(name, f, format!("item {n}: amounts too large"));
    };
    let shown = format!(
        "item {n}: {} × {} = {amount}",
        with_unit(q, qu, false),
        with_unit(p, pu, true)
    );
    if amount == s {
        return Check::pass(name, f, shown);
    }
    let half = amount.rounded(2, Rounding::HalfUp);
    let cut = amount.rounded(2, Rounding::Down);
    match (s == half, s == cut) {
        (true, true) => Check::pass(
            name,
            f,
            format!("{shown}, to the fen {s} (rounded half up or cut alike)"),
        ),
        (true, false) => Check::pass(name, f, format!("{shown}, rounded half up to the fen: {s}")),
        (false, true) => Check::pass(name, f, format!("{shown}, cut to the fen: {s}")),
        (false, false) if half != amount => Check::fail(
            name,
            f,
            format!(
                "{shown} ({} rounded half up, {} cut to the fen), but its subtotal is {s}",
                half.with_min_scale(2),
                cut.with_min_scale(2)
            ),
        ),
        (false, false) => Check::fail(name, f, format!("{shown}, but its subtotal is {s}")),
    }
}

/// What a reading does to the receipt's arithmetic checks that involve `field`.
fn receipt_verdict(figures: &Figures, field: &str, value: Decimal) -> String {
    let mut tried = figures.clone();
    if let Some(slot) = tried.slot(field) {
        *slot = Some(value);
    }
    let item = field
        .strip_prefix("items[")
        .and_then(|s| s.split_once(']'))
        .map(|(i, _)| format!("items[{i}]."));
    let relevant: Vec<Check> = tried
        .arithmetic()
        .into_iter()
        .filter(|c| match c.name.as_str() {
            "item_amount" => item
                .as_deref()
                .is_some_and(|p| c.fields.first().is_some_and(|f| f.starts_with(p))),
            "items_sum_to_total" => {
                field.ends_with("subtotal_amount") || field == "total_amount" || field == "discount"
            }
            "change" => matches!(field, "total_amount" | "paid_amount" | "change"),
            _ => false,
        })
        .collect();
    let names = |cs: &[&Check]| {
        cs.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let failed: Vec<&Check> = relevant.iter().filter(|c| c.failed()).collect();
    let passed: Vec<&Check> = relevant.iter().filter(|c| c.passed()).collect();
    if !failed.is_empty() {
        format!(
            "but the receipt's arithmetic still disagrees with that reading ({})",
            names(&failed)
        )
    } else if !passed.is_empty() {
        format!(
            "which makes the receipt's arithmetic agree ({})",
            names(&passed)
        )
    } else {
        "and there is no other figure to check that reading against".to_string()
    }
}

/// The checks of a shopping receipt.
pub fn receipt_checks(r: &ShoppingReceipt) -> Vec<Check> {
    let figures = Figures::of(r);
    let mut out = figures.arithmetic();

    // table_row_num = number of items.
    let f = &["table_row_num", "items"];
    out.push(match r.table_row_num {
        None => Check::skipped("table_row_num", f, "no row count"),
        Some(n) if n == r.items.len() as u64 => {
            Check::pass("table_row_num", f, format!("{n} rows, {n} items"))
        }
        Some(n) => Check::fail(
            "table_row_num",
            f,
            format!("the receipt says {n} rows but has {} items", r.items.len()),
        ),
    });

    // Dates and times valid: judged on the raw text (normalization drops invalid values).
    let f = &[
        "consumption_date",
        "consumption_time",
        "print_date",
        "print_time",
    ];
    let mut bad = Vec::new();
    let mut present = 0;
    for (name, is_date) in [
        ("consumption_date", true),
        ("consumption_time", false),
        ("print_date", true),
        ("print_time", false),
    ] {
        if let Some(v) = r.raw_text(name) {
            present += 1;
            let ok = if is_date {
                Date::parse(v).is_some()
            } else {
                Time::parse(v).is_some()
            };
            if !ok {
                bad.push(format!("{name} {v:?}"));
            }
        }
    }
    out.push(if present == 0 {
        Check::skipped("dates_valid", f, "no dates or times")
    } else if bad.is_empty() {
        Check::pass(
            "dates_valid",
            f,
            format!("{present} dates and times are valid"),
        )
    } else {
        Check::fail(
            "dates_valid",
            f,
            format!("not a valid date or time: {}", bad.join(", ")),
        )
    });

    // Values printed but not readable as numbers: named, quoted, and read when one common OCR
    // confusion makes them a number (the value itself stays None).
    type Reading = fn(&str) -> Option<(Decimal, char, char)>;
    let mut fields: Vec<(String, Option<&str>, Reading)> =
        ["total_amount", "paid_amount", "change", "discount"]
            .iter()
            .map(|&f| {
                (
                    f.to_string(),
                    r.raw_text(f),
                    normalize::money_reading as Reading,
                )
            })
            .collect();
    for (i, item) in r.items.iter().enumerate() {
        for (name, reading) in [
            ("quantity", normalize::quantity_reading as Reading),
            ("unit_price", normalize::unit_price_reading),
            ("subtotal_amount", normalize::money_reading),
        ] {
            fields.push((format!("items[{i}].{name}"), item.raw_text(name), reading));
        }
    }
    for (field, raw, read_as) in fields {
        let Some(raw) = raw else { continue };
        let mut read = figures.clone();
        if read.slot(&field).is_some_and(|v| v.is_some()) {
            continue;
        }
        let reading = read_as(raw);
        out.push(unreadable(&field, raw, reading, |v| {
            receipt_verdict(&figures, &field, v)
        }));
    }
    out
}
