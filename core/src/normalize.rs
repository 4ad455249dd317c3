//! Reading raw OCR text into values: trimmed text, exact money and quantities. (Dates and times
//! are read by [`crate::calendar`].) A text that is not a value reads as `None`; the raw text
//! stays in the result's `raw` / `fields`.

use crate::decimal::Decimal;

/// Trim; an empty string becomes `None`.
pub(crate) fn text(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Drop a leading label such as `单价:` or `金额：`.
fn strip_label(s: &str) -> &str {
    match s.rfind([':', '：']) {
        Some(i) => &s[i + s[i..].chars().next().map_or(1, char::len_utf8)..],
        None => s,
    }
}

/// Drop thousands separators (`,`, `，` or a space) from a number, only where they stand in
/// valid groups: `1,234.50` → `1234.50`; `12,50` (a misread decimal point) or `1,23,456` is no
/// number at all, never a silently different one.
fn ungroup(s: &str) -> Option<String> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if frac.is_some_and(|f| f.contains([',', '，', ' '])) {
        return None;
    }
    let groups: Vec<&str> = int.split([',', '，', ' ']).collect();
    if groups.len() > 1 {
        let (first, rest) = groups.split_first()?;
        let digits = first.trim_start_matches(['-', '+']);
        let valid = (1..=3).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && rest
                .iter()
                .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
        if !valid {
            return None;
        }
    }
    let mut out = groups.concat();
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

/// Parse a money amount out of OCR text: `"单价:4.50"`, `"¥12.50"`, `"12.5元"`, `"1,280.00"`.
pub(crate) fn parse_money(raw: &str) -> Option<Decimal> {
    let s = strip_label(raw.trim());
    let mut rest = s.trim();
    for prefix in ["人民币", "RMB", "CNY", "¥", "￥"] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r.trim_start();
        }
    }
    for suffix in ["元", "圆", "RMB", "CNY"] {
        if let Some(r) = rest.strip_suffix(suffix) {
            rest = r.trim_end();
        }
    }
    Decimal::parse(&ungroup(rest)?)
}

/// Characters OCR commonly prints for a digit or a decimal point, and what they stand for.
const MONEY_CONFUSIONS: &[(char, char)] = &[
    ('O', '0'),
    ('o', '0'),
    ('D', '0'),
    ('l', '1'),
    ('I', '1'),
    ('|', '1'),
    ('S', '5'),
    ('B', '8'),
    ('Z', '2'),
    (',', '.'),
    ('，', '.'),
];

/// A reading of money text that is not a number: the amount it becomes when exactly one
/// character is taken for what OCR commonly confuses it with — only when exactly one such
/// substitution gives an amount. Returns the amount and the substitution made.
pub(crate) fn money_reading(raw: &str) -> Option<(Decimal, char, char)> {
    reading(raw, money)
}

/// [`money_reading`] for a quantity.
pub(crate) fn quantity_reading(raw: &str) -> Option<(Decimal, char, char)> {
    reading(raw, quantity)
}

fn reading(raw: &str, parse: fn(&str) -> Option<Decimal>) -> Option<(Decimal, char, char)> {
    if parse(raw).is_some() {
        return None;
    }
    let mut found: Option<(Decimal, char, char)> = None;
    for (i, c) in raw.char_indices() {
        for &(from, to) in MONEY_CONFUSIONS.iter().filter(|(f, _)| *f == c) {
            let candidate = format!("{}{to}{}", &raw[..i], &raw[i + c.len_utf8()..]);
            if let Some(amount) = parse(&candidate) {
                match found {
                    Some((other, ..)) if other != amount => return None,
                    Some(_) => {}
                    None => found = Some((amount, from, to)),
                }
            }
        }
    }
    found
}

/// Money as an exact decimal with at least two decimals ("12.5元" → 12.50).
pub(crate) fn money(raw: &str) -> Option<Decimal> {
    parse_money(raw).map(|d| d.with_min_scale(2))
}

/// A quantity, digits as printed: `"2"`, `"数量:1.5"`, `"x3"`, `"2个"`, `"0.350kg"`.
pub(crate) fn quantity(raw: &str) -> Option<Decimal> {
    let s = strip_label(raw.trim()).trim();
    let s = s.trim_start_matches(['x', 'X', '×', '*']).trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(end);
    // What follows the number may only be a unit word (letters or CJK), never more digits.
    if unit
        .chars()
        .any(|c| c.is_ascii_digit() || c.is_ascii_punctuation())
    {
        return None;
    }
    Decimal::parse(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_normalization() {
        for (raw, want) in [
            ("单价:4.50", Some("4.50")),
            ("单价：4.5", Some("4.50")),
            ("¥12.50", Some("12.50")),
            ("￥ 12.50", Some("12.50")),
            ("12.5元", Some("12.50")),
            ("1,280", Some("1280.00")),
            ("1,234.50", Some("1234.50")),
            ("¥1,234,567.5", Some("1234567.50")),
            ("1 280.00", Some("1280.00")),
            ("12,50", None),
            ("1,23,456.00", None),
            ("1,2345", None),
            (",123", None),
            ("1,234.5,0", None),
            ("12.5O", None),
            ("l2.50", None),
            ("10000.00", Some("10000.00")),
            ("-1.00", Some("-1.00")),
            ("0.125", Some("0.125")),
            ("", None),
            ("   ", None),
            ("abc", None),
            ("12.5.1", None),
            ("十二元", None),
        ] {
            assert_eq!(
                money(raw).map(|d| d.to_string()).as_deref(),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn quantity_normalization() {
        for (raw, want) in [
            ("2", Some("2")),
            ("数量:3", Some("3")),
            ("x2", Some("2")),
            ("1.50", Some("1.50")),
            ("2个", Some("2")),
            ("0.350kg", Some("0.350")),
            ("", None),
            ("2x3", None),
        ] {
            assert_eq!(
                quantity(raw).map(|d| d.to_string()).as_deref(),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn odd_input_is_no_amount() {
        for s in [
            "",
            " ",
            "湘",
            "４３０１２４",
            "LFV3A28W6K370500６",
            "\u{0}",
            "ÿÿÿ",
            "壹万圆整",
            "零",
            "\u{FEFF}1",
            "12345678901234567890123456789012345678901234567890",
        ] {
            assert_eq!(money(s), None, "{s:?}");
            assert_eq!(quantity(s), None, "{s:?}");
        }
    }

    #[test]
    fn readings_of_unreadable_money() {
        for (raw, want) in [
            ("12,50", Some(("12.50", ',', '.'))),
            ("12.5O", Some(("12.50", 'O', '0'))),
            ("l2.50", Some(("12.50", 'l', '1'))),
            ("单价:4.5o", Some(("4.50", 'o', '0'))),
            ("1,234.5O", Some(("1234.50", 'O', '0'))),
            ("S.00", Some(("5.00", 'S', '5'))),
            ("1B.00", Some(("18.00", 'B', '8'))),
            ("12.50", None), // already a number
            ("1O.O0", None), // two confusions: not one substitution
            ("abc", None),
            ("", None),
        ] {
            let got = money_reading(raw).map(|(d, f, t)| (d.to_string(), f, t));
            assert_eq!(
                got.as_ref().map(|(d, f, t)| (d.as_str(), *f, *t)),
                want,
                "{raw:?}"
            );
        }
    }

    #[test]
    fn text_is_trimmed() {
        assert_eq!(text("  多又好超市 ").as_deref(), Some("多又好超市"));
        assert_eq!(text(" \t"), None);
    }
}
