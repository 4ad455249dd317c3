//! Validation checks: does a recognized document contradict itself?
//!
//! Every result carries the checks its fields allow. Each check is also a public function, so
//! values obtained elsewhere can be validated too. A check never changes a value; where a check
//! digit fails and exactly one single-character substitution among common OCR confusions makes it
//! pass, the check's `suggestion` gives that corrected value.

use crate::calendar::{Date, Time};
use crate::decimal::{Decimal, Rounding};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Check, ShoppingReceipt, UsedCarInvoice};
use crate::normalize;

// ---------------------------------------------------------------------------------------------
// Character-level checks with OCR-confusion suggestions

/// Groups of characters OCR commonly confuses with each other.
const CONFUSIONS: &[&str] = &["0ODQ", "1IL7", "2Z", "5S", "6G", "8B", "UV"];

/// The single-character substitutions among [`CONFUSIONS`] that make `valid` true; the
/// suggestion only when there is exactly one.
fn unique_correction(value: &str, valid: impl Fn(&str) -> bool) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    let mut found: Option<String> = None;
    for (i, &c) in chars.iter().enumerate() {
        let upper = c.to_ascii_uppercase();
        let Some(group) = CONFUSIONS.iter().find(|g| g.contains(upper)) else {
            continue;
        };
        for alt in group.chars().filter(|&a| a != upper) {
            let mut candidate = chars.clone();
            candidate[i] = alt;
            let s: String = candidate.into_iter().collect();
            if valid(&s) {
                if found.is_some() {
                    return None;
                }
                found = Some(s);
            }
        }
    }
    found
}

fn vin_value(c: char) -> Option<u32> {
    Some(match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A' | 'J' => 1,
        'B' | 'K' | 'S' => 2,
        'C' | 'L' | 'T' => 3,
        'D' | 'M' | 'U' => 4,
        'E' | 'N' | 'V' => 5,
        'F' | 'W' => 6,
        'G' | 'P' | 'X' => 7,
        'H' | 'Y' => 8,
        'R' | 'Z' => 9,
        _ => return None,
    })
}

const VIN_WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

fn vin_problem(v: &str) -> Option<String> {
    let chars: Vec<char> = v.chars().collect();
    if chars.len() != 17 {
        return Some(format!("a VIN has 17 characters, this has {}", chars.len()));
    }
    if let Some(c) = chars.iter().find(|c| matches!(c, 'I' | 'O' | 'Q')) {
        return Some(format!("a VIN never contains {c}"));
    }
    let mut sum = 0;
    for (i, &c) in chars.iter().enumerate() {
        match vin_value(c) {
            Some(n) => sum += n * VIN_WEIGHTS[i],
            None => return Some(format!("{c:?} is not a VIN character")),
        }
    }
    let expected = match sum % 11 {
        10 => 'X',
        n => char::from_digit(n, 10).expect("below 10"),
    };
    (chars[8] != expected).then(|| {
        format!(
            "the check digit (9th character) is {}, the other characters give {expected}",
            chars[8]
        )
    })
}

/// ISO 3779 / GB 16735 vehicle identification number with its check digit.
///
/// Limit: the check digit sees characters only through their transliterated values, so swapping
/// two characters of equal value (A and J, B/K/S, …, or any letter for its digit twin) is
/// invisible to it.
pub fn vin(value: &str) -> Check {
    let f = &["vin"];
    let v = value.trim().to_ascii_uppercase();
    if v.is_empty() {
        return Check::skipped("vin", f, "no VIN to check");
    }
    match vin_problem(&v) {
        None => Check::pass("vin", f, "the VIN check digit is correct"),
        Some(p) => {
            let mut c = Check::fail("vin", f, format!("VIN {v}: {p}"));
            c.suggestion = unique_correction(&v, |s| vin_problem(s).is_none());
            c
        }
    }
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

fn resident_id_problem(v: &str) -> Option<String> {
    let b = v.as_bytes();
    if b.len() != 18 {
        return Some(format!(
            "a resident ID has 18 characters, this has {}",
            v.chars().count()
        ));
    }
    if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
        return Some("a resident ID is 17 digits and a digit or X".to_string());
    }
    let (y, m, d) = (&v[6..10], &v[10..12], &v[12..14]);
    match Date::parse(&v[6..14]) {
        Some(birth) if birth.year() <= 2100 && birth <= Date::today_in_beijing() => {}
        _ => {
            return Some(format!(
                "its birth date {y}-{m}-{d} is not a plausible date"
            ))
        }
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&c, w)| u32::from(c - b'0') * w)
        .sum();
    let expected = b"10X98765432"[(sum % 11) as usize];
    (b[17] != expected).then(|| {
        format!(
            "the check character is {}, the other digits give {}",
            b[17] as char, expected as char
        )
    })
}

/// 18-character resident identity number (GB 11643): birth date and ISO 7064 MOD 11-2 check.
pub fn resident_id(value: &str) -> Check {
    let f = &["resident_id"];
    let v = value.trim().to_ascii_uppercase();
    if v.is_empty() {
        return Check::skipped("resident_id", f, "no ID number to check");
    }
    match resident_id_problem(&v) {
        None => Check::pass(
            "resident_id",
            f,
            "the resident ID's birth date and check character are valid",
        ),
        Some(p) => {
            let mut c = Check::fail("resident_id", f, format!("resident ID {v}: {p}"));
            c.suggestion = unique_correction(&v, |s| resident_id_problem(s).is_none());
            c
        }
    }
}

const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [usize; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_problem(v: &str) -> Option<String> {
    let chars: Vec<char> = v.chars().collect();
    if chars.len() != 18 {
        return Some(format!(
            "a unified social credit code has 18 characters, this has {}",
            chars.len()
        ));
    }
    let mut values = Vec::with_capacity(18);
    for &c in &chars {
        match USCC_ALPHABET.find(c) {
            Some(n) => values.push(n),
            None => {
                return Some(format!(
                    "{c:?} never occurs in a unified social credit code"
                ))
            }
        }
    }
    let sum: usize = values[..17]
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(v, w)| v * w)
        .sum();
    let expected = USCC_ALPHABET.as_bytes()[(31 - sum % 31) % 31] as char;
    (chars[17] != expected).then(|| {
        format!(
            "the check character is {}, the other characters give {expected}",
            chars[17]
        )
    })
}

/// Unified social credit code (GB 32100-2015) with its check character.
pub fn social_credit_code(value: &str) -> Check {
    let f = &["social_credit_code"];
    let v = value.trim().to_ascii_uppercase();
    if v.is_empty() {
        return Check::skipped("social_credit_code", f, "no code to check");
    }
    match uscc_problem(&v) {
        None => Check::pass(
            "social_credit_code",
            f,
            "the unified social credit code's check character is valid",
        ),
        Some(p) => {
            let mut c = Check::fail(
                "social_credit_code",
                f,
                format!("unified social credit code {v}: {p}"),
            );
            c.suggestion = unique_correction(&v, |s| uscc_problem(s).is_none());
            c
        }
    }
}

/// A party's ID on an invoice: an 18-character value is checked as a resident ID when it has
/// that form (17 digits and a digit or X), else as a unified social credit code.
pub fn party_id(value: &str) -> Check {
    let f = &["party_id"];
    let v = value.trim().to_ascii_uppercase();
    let n = v.chars().count();
    if n == 0 {
        return Check::skipped("party_id", f, "no ID to check");
    }
    if n != 18 {
        return Check::skipped(
            "party_id",
            f,
            format!("{v:?} has {n} characters; only 18-character resident IDs and social credit codes can be checked"),
        );
    }
    let b = v.as_bytes();
    let digits17 = b[..17].iter().all(u8::is_ascii_digit);
    if digits17 && resident_id_problem(&v).is_none() {
        return resident_id(&v);
    }
    if uscc_problem(&v).is_none() {
        return social_credit_code(&v);
    }
    // Neither passes: judge it as what it looks like. A resident ID has a birth date at
    // characters 7–14; an all-digit social credit code rarely does.
    // (17 ASCII digits make the byte slice below safe.)
    let birth = digits17 && Date::parse(&v[6..14]).is_some_and(|d| d.year() <= 2100);
    if birth && matches!(b[17], b'0'..=b'9' | b'X') {
        resident_id(&v)
    } else {
        social_credit_code(&v)
    }
}

/// A fully digital e-invoice number: 20 digits, the first two the issue year's last two digits
/// (checked when `issue_date` is given).
pub fn invoice_number(value: &str, issue_date: Option<&str>) -> Check {
    let f: &[&str] = if issue_date.is_some() {
        &["invoice_number", "issue_date"]
    } else {
        &["invoice_number"]
    };
    let v = value.trim();
    if v.is_empty() {
        return Check::skipped("invoice_number", f, "no invoice number to check");
    }
    if v.len() != 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Check::fail(
            "invoice_number",
            f,
            format!(
                "invoice number {v:?} is not 20 digits ({} characters)",
                v.chars().count()
            ),
        );
    }
    match issue_date.map(|d| (d, Date::parse(d))) {
        Some((_, Some(date))) => {
            let year = date.year();
            let yy = format!("{:02}", year % 100);
            if v[..2] == yy {
                Check::pass(
                    "invoice_number",
                    f,
                    format!("20 digits, starting with the issue year's {yy}"),
                )
            } else {
                Check::fail(
                    "invoice_number",
                    f,
                    format!(
                        "invoice number starts with {} but the invoice was issued in {year}",
                        &v[..2]
                    ),
                )
            }
        }
        Some((d, None)) => Check::skipped(
            "invoice_number",
            f,
            format!("20 digits, but the issue date {d:?} is not a date to compare its year with"),
        ),
        None => Check::pass("invoice_number", f, "20 digits"),
    }
}

const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// A Chinese licence plate: province character, a letter, then 5 (or 6, new-energy) letters or
/// digits; the letters I and O never occur.
pub fn plate_number(value: &str) -> Check {
    let f = &["plate_number"];
    let v: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, '·' | '•' | ' ' | '-'))
        .collect();
    if v.is_empty() {
        return Check::skipped("plate_number", f, "no plate number to check");
    }
    let chars: Vec<char> = v.chars().collect();
    let ok = PROVINCES.contains(chars[0])
        && chars.len() >= 2
        && chars[1].is_ascii_uppercase()
        && !matches!(chars[1], 'I' | 'O')
        && (chars.len() == 7 || chars.len() == 8)
        && chars[2..]
            .iter()
            .all(|c| (c.is_ascii_digit() || c.is_ascii_uppercase()) && !matches!(c, 'I' | 'O'));
    if ok {
        Check::pass("plate_number", f, "has the form of a Chinese plate")
    } else {
        Check::fail(
            "plate_number",
            f,
            format!(
                "{v:?} is not of the form: province character, letter, 5 or 6 letters or digits"
            ),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Chinese uppercase money (大写金额)

fn digit_of(c: char) -> Option<u32> {
    "零壹贰叁肆伍陆柒捌玖"
        .chars()
        .position(|d| d == c)
        .map(|p| p as u32)
}

/// One 4-digit section (below 万): `仟佰拾` units, 零 marking a gap. `leading` allows a bare 拾.
fn parse_section(chars: &[char], leading: bool) -> Option<i128> {
    if chars.is_empty() {
        return None;
    }
    let mut value: i128 = 0;
    let mut pending: Option<u32> = None;
    let mut last_unit: i128 = 10_000;
    let mut zero_seen = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == '零' {
            // A zero marks a gap, once; never two in a row, never right after a digit.
            if zero_seen || pending.is_some() {
                return None;
            }
            zero_seen = true;
            continue;
        }
        if let Some(d) = digit_of(c) {
            if pending.is_some() {
                return None;
            }
            pending = Some(d);
            continue;
        }
        if zero_seen && value == 0 {
            return None; // a section never opens with 零 here
        }
        let unit: i128 = match c {
            '仟' => 1000,
            '佰' => 100,
            '拾' => 10,
            _ => return None,
        };
        let d = match pending.take() {
            Some(0) | None if !(unit == 10 && leading && i == 0) => return None,
            Some(d) => d,
            None => 1,
        };
        if unit >= last_unit {
            return None;
        }
        // Inside a section, a skipped unit must be marked by 零 (壹仟零伍拾), and 零 only there.
        let gap = value > 0 && unit * 10 < last_unit;
        if value > 0 && gap != zero_seen {
            return None;
        }
        value += i128::from(d) * unit;
        last_unit = unit;
        zero_seen = false;
    }
    if zero_seen && value == 0 {
        return None;
    }
    match pending {
        Some(0) => return None,
        Some(d) => {
            let gap = value > 0 && last_unit > 10;
            if value > 0 && gap != zero_seen {
                return None;
            }
            value += i128::from(d);
        }
        None if zero_seen => return None, // trailing 零
        None => {}
    }
    (value > 0).then_some(value)
}

/// The yuan part: sections split by 亿 and 万.
///
/// Between a higher section H and the next one L there is a gap of zero digits when H's last
/// digit is 0, when a whole section is skipped (亿 straight to units) or when L starts below 仟.
/// A gap is written 零, which may be left out only where H's last digit (the 万 or 亿 digit) is
/// 0 (壹拾万柒仟 = 壹拾万零柒仟 = 107000; 壹万零伍佰 = 10500); without a gap 零 is wrong.
fn parse_yuan(chars: &[char]) -> Option<i128> {
    if chars == ['零'] {
        return Some(0);
    }
    let mut sections: Vec<(&[char], i128)> = Vec::new();
    let mut rest = chars;
    for (big_unit, scale) in [('亿', 100_000_000i128), ('万', 10_000)] {
        if let Some(p) = rest.iter().position(|&c| c == big_unit) {
            sections.push((&rest[..p], scale));
            rest = &rest[p + 1..];
        }
    }
    if !rest.is_empty() {
        sections.push((rest, 1));
    }
    let mut total: i128 = 0;
    let mut higher: Option<(i128, i128)> = None;
    for (i, &(sec, scale)) in sections.iter().enumerate() {
        let (sec, lead_zero) = match sec.split_first() {
            Some((&'零', tail)) if i > 0 => (tail, true),
            _ => (sec, false),
        };
        let v = parse_section(sec, i == 0)?;
        if let Some((h, h_scale)) = higher {
            let gap = h % 10 == 0 || h_scale / scale > 10_000 || v < 1000;
            if (!gap && lead_zero) || (gap && !lead_zero && h % 10 != 0) {
                return None;
            }
        }
        total = total.checked_add(v.checked_mul(scale)?)?;
        higher = Some((v, scale));
    }
    (total > 0).then_some(total)
}

/// The jiao/fen part after 元: `[零](d角)?(零?d分)?`.
fn parse_fraction(chars: &[char]) -> Option<i128> {
    let mut rest = chars;
    if rest.first() == Some(&'零') {
        rest = &rest[1..];
    }
    let mut fen: i128 = 0;
    if rest.len() >= 2 && rest[1] == '角' {
        fen += i128::from(digit_of(rest[0]).filter(|&d| d > 0)?) * 10;
        rest = &rest[2..];
        if rest.first() == Some(&'零') {
            return None;
        }
    }
    if rest.len() >= 2 && rest[1] == '分' {
        fen += i128::from(digit_of(rest[0]).filter(|&d| d > 0)?);
        rest = &rest[2..];
    }
    rest.is_empty().then_some(fen)
}

/// Traditional (and variant) forms of the numerals and units, as their standard forms.
fn standard_form(c: char) -> char {
    match c {
        '萬' => '万',
        '億' => '亿',
        '圓' => '圆',
        '貳' | '貮' => '贰',
        '參' | '叄' | '参' => '叁',
        '陸' => '陆',
        other => other,
    }
}

/// The tax-control printer's marks before an amount in words.
const MARKS: &[char] = &['⊗', 'ⓧ', '×', '⨂'];
const WORDS_PREFIXES: &[&str] = &["人民币", "（大写）", "(大写)", "大写"];
const FIGURE_MARKERS: &[&str] = &["（小写）", "(小写)", "小写"];

/// Split printed words into the amount in words and the figure printed after them, if any:
/// `"⊗人民币：壹万圆整（小写）¥10000.00"` → (`"壹万圆整"`, `Some("¥10000.00")`).
fn split_words(text: &str) -> (String, Option<String>) {
    let mut t = text.trim();
    loop {
        let before = t;
        t = t.trim_start_matches(MARKS).trim_start();
        for p in WORDS_PREFIXES {
            if let Some(rest) = t.strip_prefix(p) {
                t = rest
                    .trim_start()
                    .trim_start_matches([':', '：'])
                    .trim_start();
            }
        }
        if t == before {
            break;
        }
    }
    let figure_at = FIGURE_MARKERS
        .iter()
        .filter_map(|m| t.find(m).map(|i| (i, m.len())))
        .min()
        .or_else(|| t.find(['¥', '￥']).map(|i| (i, 0)));
    let (words, figure) = match figure_at {
        Some((i, marker)) => (&t[..i], Some(t[i + marker..].trim().to_string())),
        None => (t, None),
    };
    let words = words
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(standard_form)
        .collect();
    (words, figure)
}

fn parse_words_fen(words: &str) -> Option<i128> {
    let mut chars: Vec<char> = words.chars().collect();
    let terminated = matches!(chars.last(), Some('整' | '正'));
    if terminated {
        chars.pop();
    }
    if chars.is_empty() {
        return None;
    }
    let yuan_pos = chars.iter().position(|&c| c == '元' || c == '圆');
    let (yuan, frac) = match yuan_pos {
        Some(p) => {
            if chars[p + 1..].iter().any(|&c| c == '元' || c == '圆') {
                return None;
            }
            (parse_yuan(&chars[..p])?, &chars[p + 1..])
        }
        None => (0, &chars[..]),
    };
    let fen = parse_fraction(frac)?;
    // 整 closes an amount whose last unit is 元 or 角, never 分 alone... accepted after 分 too,
    // as seen on some printers; but an amount with neither yuan nor fraction is not one.
    if yuan_pos.is_none() && fen == 0 {
        return None;
    }
    if frac.is_empty() && !terminated && yuan_pos.is_none() {
        return None;
    }
    yuan.checked_mul(100)?.checked_add(fen)
}

/// Parse Chinese uppercase money (`"壹万圆整"` → 10000.00), as invoices and OCR print it: every
/// variant of PROTOCOLS.md §3 (元 or 圆, 整 or 正, optional 零 where the 万 or 元 digit is zero),
/// traditional numerals and units (壹萬圓整, 陸佰元整, 貳仟零伍拾元整), a leading printer mark
/// (⊗, ⓧ, ×) and a `人民币` / `大写` prefix with or without a colon. A figure printed after the
/// words (`（小写）¥10000.00`, `¥10000.00`) is read too and must agree with them, or this is an
/// error saying so. Never a guess: anything ambiguous is refused.
pub fn amount_in_words(text: &str) -> Result<Decimal> {
    let refuse = |why: String| Error::new(ErrorCode::InvalidArgument, why);
    let (words, figure) = split_words(text);
    let amount = parse_words_fen(&words)
        .map(|fen| Decimal::new(fen, 2))
        .ok_or_else(|| {
            refuse(format!(
                "{:?} is not an amount in Chinese uppercase money",
                text.trim()
            ))
        })?;
    if let Some(figure) = figure {
        match crate::normalize::money(&figure) {
            Some(f) if f == amount => {}
            Some(f) => {
                return Err(refuse(format!(
                    "the words say {amount} but the figure printed after them says {f}"
                )))
            }
            None => {
                return Err(refuse(format!(
                    "the figure {figure:?} printed after the words ({amount}) is not an amount"
                )))
            }
        }
    }
    Ok(amount)
}

// ---------------------------------------------------------------------------------------------
// Document checks

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

/// An issue date: a valid date, not in the future (Beijing time).
pub fn issue_date(value: &str) -> Check {
    let f = &["issue_date"];
    let v = value.trim();
    if v.is_empty() {
        return Check::skipped("issue_date", f, "no issue date");
    }
    match Date::parse(v) {
        None => Check::fail("issue_date", f, format!("{v:?} is not a valid date")),
        Some(d) if d > Date::today_in_beijing() => {
            Check::fail("issue_date", f, format!("{d} is in the future"))
        }
        Some(d) => Check::pass("issue_date", f, format!("{d} is a valid past date")),
    }
}

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
