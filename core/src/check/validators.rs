//! Identifiers and dates checked on their own: check digits (VIN, resident ID, unified social
//! credit code), formats (invoice and plate numbers) and dates, with a suggested correction
//! where exactly one common OCR confusion makes a check digit pass.

use crate::calendar::Date;
use crate::model::Check;

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
