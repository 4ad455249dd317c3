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

/// Minus signs as receipts print them: ASCII, the minus sign, full-width.
const MINUS: [char; 3] = ['-', '\u{2212}', '\u{FF0D}'];

/// A leading minus sign, if any, and the rest.
fn strip_minus(s: &str) -> (bool, &str) {
    match s.strip_prefix(MINUS) {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s),
    }
}

/// Parse a money amount out of OCR text: `"单价:4.50"`, `"¥12.50"`, `"12.5元"`, `"1,280.00"`,
/// `"@4.50"`, and a discount's minus sign before or after the currency mark or after the
/// number (`"-5.00"`, `"-¥5.00"`, `"¥-5.00"`, `"5.00-"`).
pub(crate) fn parse_money(raw: &str) -> Option<Decimal> {
    let s = strip_label(raw.trim()).trim();
    let s = s.strip_prefix('@').map_or(s, str::trim_start);
    let (minus_before, mut rest) = strip_minus(s);
    for prefix in ["人民币", "RMB", "CNY", "¥", "￥"] {
        if let Some(r) = rest.strip_prefix(prefix) {
            rest = r.trim_start();
        }
    }
    let (minus_inside, r) = strip_minus(rest);
    rest = r;
    for suffix in ["元", "圆", "RMB", "CNY"] {
        if let Some(r) = rest.strip_suffix(suffix) {
            rest = r.trim_end();
        }
    }
    let (minus_after, r) = match rest.strip_suffix(MINUS) {
        Some(r) => (true, r.trim_end()),
        None => (false, rest),
    };
    rest = r;
    let minus = [minus_before, minus_inside, minus_after];
    if minus.iter().filter(|m| **m).count() > 1 {
        return None;
    }
    let value = Decimal::parse(&ungroup(rest)?)?;
    if minus.contains(&true) {
        value.checked_neg()
    } else {
        Some(value)
    }
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

/// [`money_reading`] for a unit price (`"15.8O/kg"`).
pub(crate) fn unit_price_reading(raw: &str) -> Option<(Decimal, char, char)> {
    reading(raw, |s| unit_price(s).map(|(value, _)| value))
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
    quantity_with_unit(raw).map(|(value, _)| value)
}

/// A quantity and its unit, as receipts print them: `"2"`, `"x2"`, `"×3"`, `"2个"`, `"3 件"`,
/// `"0.352kg"`, `"1.5斤"`, `"352g"`, `"数量:3"`. The unit is normalized by [`unit`]; what
/// follows the number may only be a unit word, never more digits or punctuation.
pub(crate) fn quantity_with_unit(raw: &str) -> Option<(Decimal, Option<String>)> {
    let s = strip_label(raw.trim()).trim();
    let s = s.trim_start_matches(['x', 'X', '×', '*']).trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (number, word) = s.split_at(end);
    let word = word.trim();
    let unit = if word.is_empty() {
        None
    } else {
        Some(unit(word)?)
    };
    Some((Decimal::parse(number)?, unit))
}

/// A unit price and the unit it is per, as receipts print them: `"单价:4.50"`, `"15.80/kg"`,
/// `"￥37.02/斤"`, `"12.00元/斤"`, `"3.50/个"`, `"15.80元/公斤"`: at least two decimals, the
/// unit normalized by [`unit`]. A slash followed by anything but a unit word is no price.
pub(crate) fn unit_price(raw: &str) -> Option<(Decimal, Option<String>)> {
    let s = strip_label(raw.trim()).trim();
    match s.rsplit_once(['/', '／']) {
        Some((price, per)) => Some((money(price)?, Some(unit(per.trim())?))),
        None => Some((money(s)?, None)),
    }
}

/// A unit word, normalized: weights as `kg` (kg, KG, 千克, 公斤), `g` (g, 克), `斤` (斤, 市斤) or
/// `两`; any other word of letters (a counting word: 个, 件, 瓶, 袋, PCS …) as printed. `None`
/// for an empty word or one holding digits, spaces or punctuation.
pub(crate) fn unit(word: &str) -> Option<String> {
    let word = word.trim();
    if word.is_empty() || word.chars().count() > 8 || !word.chars().all(char::is_alphabetic) {
        return None;
    }
    Some(
        match word.to_ascii_lowercase().as_str() {
            "kg" | "kgs" | "千克" | "公斤" => "kg",
            "g" | "克" => "g",
            "斤" | "市斤" => "斤",
            "两" => "两",
            _ => word,
        }
        .to_string(),
    )
}

/// How many grams one of a weight unit (as [`unit`] normalizes it) weighs: 1 kg = 1000 g,
/// 1 斤 = 500 g, 1 两 = 50 g. `None` for a unit that is not a weight.
pub(crate) fn grams(unit: &str) -> Option<Decimal> {
    Some(Decimal::new(
        match unit {
            "kg" => 1000,
            "斤" => 500,
            "两" => 50,
            "g" => 1,
            _ => return None,
        },
        0,
    ))
}

/// `1 / grams(unit)`, exactly (every weight unit's grams divide a power of ten).
pub(crate) fn per_gram(unit: &str) -> Option<Decimal> {
    Some(match unit {
        "kg" => Decimal::new(1, 3),
        "斤" => Decimal::new(2, 3),
        "两" => Decimal::new(2, 2),
        "g" => Decimal::new(1, 0),
        _ => return None,
    })
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
    fn quantities_and_unit_prices_with_their_units() {
        let show = |r: Option<(Decimal, Option<String>)>| r.map(|(d, u)| (d.to_string(), u));
        let want = |v: &str, u: Option<&str>| Some((v.to_string(), u.map(str::to_string)));
        for (raw, v, u) in [
            ("2", "2", None),
            ("x2", "2", None),
            ("×3", "3", None),
            ("2个", "2", Some("个")),
            ("3件", "3", Some("件")),
            ("3 瓶", "3", Some("瓶")),
            ("0.352kg", "0.352", Some("kg")),
            ("0.352KG", "0.352", Some("kg")),
            ("1.5斤", "1.5", Some("斤")),
            ("1.5市斤", "1.5", Some("斤")),
            ("352g", "352", Some("g")),
            ("352克", "352", Some("g")),
            ("2两", "2", Some("两")),
            ("0.5公斤", "0.5", Some("kg")),
            ("1.2千克", "1.2", Some("kg")),
            ("数量:2PCS", "2", Some("PCS")),
        ] {
            assert_eq!(show(quantity_with_unit(raw)), want(v, u), "{raw:?}");
        }
        for raw in ["", "2x3", "2个)", "kg", "1.5 斤斤斤斤斤斤斤斤斤", "2/个"] {
            assert_eq!(quantity_with_unit(raw), None, "{raw:?}");
        }
        for (raw, v, u) in [
            ("15.80/kg", "15.80", Some("kg")),
            ("￥37.02/斤", "37.02", Some("斤")),
            ("12.00元/斤", "12.00", Some("斤")),
            ("12元/500克", "", None),
            ("单价:4.50", "4.50", None),
            ("单价：15.8元/公斤", "15.80", Some("kg")),
            ("¥3.5 / 个", "3.50", Some("个")),
            ("0.05/g", "0.05", Some("g")),
            ("@4.50", "4.50", None),
            ("4.50／袋", "4.50", Some("袋")),
        ] {
            let got = show(unit_price(raw));
            if v.is_empty() {
                assert_eq!(got, None, "{raw:?}");
            } else {
                assert_eq!(got, want(v, u), "{raw:?}");
            }
        }
        for raw in ["15.80/", "15.80/1kg", "/kg", "15.8O/kg", "15.80/k-g"] {
            assert_eq!(unit_price(raw), None, "{raw:?}");
        }
        assert_eq!(
            unit_price_reading("15.8O/kg").map(|(d, ..)| d.to_string()),
            Some("15.80".to_string())
        );
        assert_eq!(
            quantity_reading("l.5斤").map(|(d, ..)| d.to_string()),
            Some("1.5".to_string())
        );
    }

    #[test]
    fn discounts_keep_their_minus_sign() {
        for (raw, want) in [
            ("-5.00", Some("-5.00")),
            ("-¥5.00", Some("-5.00")),
            ("¥-5.00", Some("-5.00")),
            ("￥ -5", Some("-5.00")),
            ("5.00-", Some("-5.00")),
            ("－3.20", Some("-3.20")),
            ("−3.20元", Some("-3.20")),
            ("优惠:-2.00", Some("-2.00")),
            ("--5.00", None),
            ("-¥-5.00", None),
            ("-5.00-", None),
            ("-", None),
        ] {
            assert_eq!(
                money(raw).map(|d| d.to_string()).as_deref(),
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
