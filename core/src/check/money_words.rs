//! Chinese uppercase money (大写金额): an amount in words read as an exact decimal.

use crate::decimal::Decimal;
use crate::error::{Error, ErrorCode, Result};

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
