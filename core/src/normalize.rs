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

/// Parse a money amount out of OCR text: `"单价:4.50"`, `"¥12.50"`, `"12.5元"`, `"1,280.00"`.
pub(crate) fn parse_money(raw: &str) -> Option<Decimal> {
    let s = strip_label(raw.trim());
    let mut cleaned = String::with_capacity(s.len());
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
    for c in rest.chars() {
        match c {
            ',' | '，' | ' ' => {}
            c => cleaned.push(c),
        }
    }
    Decimal::parse(&cleaned)
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
    fn text_is_trimmed() {
        assert_eq!(text("  多又好超市 ").as_deref(), Some("多又好超市"));
        assert_eq!(text(" \t"), None);
    }
}
