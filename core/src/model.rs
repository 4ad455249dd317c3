//! Result types and the normalization of raw OCR text into typed values.
//!
//! Every result serializes to one documented JSON schema (see README), the one the C ABI and
//! the Python module hand out. Normalized values are exact strings: money as decimal text,
//! dates as ISO 8601. The provider's raw text stays available in `raw` / `fields`.

use serde::{Deserialize, Serialize};

use crate::check::Check;
use crate::decimal::Decimal;
use crate::error::Provider;

/// Trim; an empty string becomes `None`.
pub fn text(raw: &str) -> Option<String> {
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
pub fn parse_money(raw: &str) -> Option<Decimal> {
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

/// Money as an exact decimal string with at least two decimals ("12.5元" → "12.50").
pub fn money(raw: &str) -> Option<String> {
    parse_money(raw).map(|d| d.with_min_scale(2).to_string())
}

/// Parse a quantity: `"2"`, `"数量:1.5"`, `"x3"`, `"2个"`, `"0.350kg"`.
pub fn parse_quantity(raw: &str) -> Option<Decimal> {
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

/// A quantity as an exact decimal string, digits as printed ("1.50" stays "1.50").
pub fn quantity(raw: &str) -> Option<String> {
    parse_quantity(raw).map(|d| d.to_string())
}

pub fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parse a calendar date: `20250522`, `2025-05-22`, `2025/5/22`, `2025.05.22`, `2025年5月22日`.
/// `None` unless it is a real date.
pub fn parse_date(raw: &str) -> Option<(i32, u32, u32)> {
    let s = raw.trim();
    let (y, m, d) = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        (
            s[..4].parse().ok()?,
            s[4..6].parse().ok()?,
            s[6..].parse().ok()?,
        )
    } else {
        let s = s.strip_suffix('日').unwrap_or(s);
        let parts: Vec<&str> = s.split(['-', '/', '.', '年', '月']).collect();
        if parts.len() != 3
            || parts[0].len() != 4
            || !(1..=2).contains(&parts[1].len())
            || !(1..=2).contains(&parts[2].len())
            || !parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        (
            parts[0].parse().ok()?,
            parts[1].parse().ok()?,
            parts[2].parse().ok()?,
        )
    };
    let valid = (1900..=2999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=days_in_month(y, m)).contains(&d);
    valid.then_some((y, m, d))
}

/// A date as ISO 8601 (`"20250522"` → `"2025-05-22"`).
pub fn date(raw: &str) -> Option<String> {
    parse_date(raw).map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
}

/// Parse a time of day: `17:23`, `7:05`, `17:23:59`, `17：23`. `None` unless valid.
pub fn parse_time(raw: &str) -> Option<(u32, u32, Option<u32>)> {
    let parts: Vec<&str> = raw.trim().split([':', '：']).collect();
    if !(2..=3).contains(&parts.len())
        || !parts.iter().enumerate().all(|(i, p)| {
            (if i == 0 { 1..=2 } else { 2..=2 }).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
        })
    {
        return None;
    }
    let h: u32 = parts[0].parse().ok()?;
    let m: u32 = parts[1].parse().ok()?;
    let s: Option<u32> = parts.get(2).map(|p| p.parse()).transpose().ok()?;
    (h < 24 && m < 60 && s.is_none_or(|s| s < 60)).then_some((h, m, s))
}

/// A time as ISO 8601 `HH:MM` or `HH:MM:SS`.
pub fn time(raw: &str) -> Option<String> {
    parse_time(raw).map(|(h, m, s)| match s {
        Some(s) => format!("{h:02}:{m:02}:{s:02}"),
        None => format!("{h:02}:{m:02}"),
    })
}

/// One line of a shopping receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptItem {
    pub product: Option<String>,
    pub quantity: Option<String>,
    pub unit_price: Option<String>,
    pub subtotal_amount: Option<String>,
}

/// A recognized shopping receipt (Juhe 购物小票).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShoppingReceipt {
    /// Always `"shopping_receipt"`.
    pub document_type: &'static str,
    pub provider: Provider,
    pub order_id: Option<String>,
    pub shop_name: Option<String>,
    pub receipt_num: Option<String>,
    pub machine_num: Option<String>,
    pub employee_num: Option<String>,
    pub consumption_date: Option<String>,
    pub consumption_time: Option<String>,
    pub total_amount: Option<String>,
    pub change: Option<String>,
    pub currency: Option<String>,
    pub paid_amount: Option<String>,
    pub discount: Option<String>,
    pub print_date: Option<String>,
    pub print_time: Option<String>,
    pub table_row_num: Option<u64>,
    pub items: Vec<ReceiptItem>,
    pub checks: Vec<Check>,
    /// The provider's `result` object, verbatim.
    pub raw: serde_json::Value,
}

/// Position of a recognized region, in pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Position {
    pub top: f64,
    pub left: f64,
    pub width: f64,
    pub height: f64,
}

/// One `FieldList` entry of a ChinaUMS answer, as recognized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub key: String,
    pub chn_key: Option<String>,
    /// The raw recognized text.
    pub value: String,
    pub score: Option<f64>,
    pub position: Option<Position>,
    pub quad: Vec<f64>,
}

/// How a used-car invoice field's raw text is normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Money,
    Date,
}

macro_rules! invoice_fields {
    ($( $key:ident => $name:ident, $chn:literal, $kind:ident; )*) => {
        /// A recognized used-car sales invoice (ChinaUMS 二手车销售统一发票).
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub struct UsedCarInvoice {
            /// Always `"used_car_invoice"`.
            pub document_type: &'static str,
            pub provider: Provider,
            pub serial_id: Option<String>,
            $( #[doc = $chn] pub $name: Option<String>, )*
            /// 发票专用章: `true` when a seal was detected, `false` when not, `null` if unknown.
            pub has_seal: Option<bool>,
            /// Every `FieldList` entry, in the provider's order.
            pub fields: Vec<Field>,
            pub checks: Vec<Check>,
            /// The provider's answer (the inner object with `PageInfo`), verbatim.
            pub raw: serde_json::Value,
        }

        /// The documented keys: (provider key, result field name, Chinese name, kind).
        /// `FPZYZ` (发票专用章) → `has_seal` is the 36th, a boolean.
        pub const INVOICE_FIELDS: &[(&str, &str, &str, FieldKind)] = &[
            $( (stringify!($key), stringify!($name), $chn, FieldKind::$kind), )*
        ];

        impl UsedCarInvoice {
            /// Set the field named by provider key `key` from raw text. Unknown keys are ignored.
            pub(crate) fn set_from_key(&mut self, key: &str, raw: &str) {
                match key {
                    $( stringify!($key) => self.$name = normalize(FieldKind::$kind, raw), )*
                    "FPZYZ" => self.has_seal = match raw.trim() {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    },
                    _ => {}
                }
            }

            pub(crate) fn empty(serial_id: Option<String>, raw: serde_json::Value) -> UsedCarInvoice {
                UsedCarInvoice {
                    document_type: "used_car_invoice",
                    provider: Provider::Chinaums,
                    serial_id,
                    $( $name: None, )*
                    has_seal: None,
                    fields: Vec::new(),
                    checks: Vec::new(),
                    raw,
                }
            }
        }
    };
}

fn normalize(kind: FieldKind, raw: &str) -> Option<String> {
    match kind {
        FieldKind::Text => text(raw),
        FieldKind::Money => money(raw),
        FieldKind::Date => date(raw),
    }
}

invoice_fields! {
    FPDM => invoice_code, "发票代码", Text;
    FPHM => invoice_number, "发票号码", Text;
    KPRQ => issue_date, "开票日期", Date;
    GFDW => buyer_name, "购方单位", Text;
    GFHM => buyer_id, "购方号码", Text;
    GFDZ => buyer_address, "购方地址", Text;
    GFDH => buyer_phone, "购方电话", Text;
    XFMC => seller_name, "销方名称", Text;
    XFHM => seller_id, "销方号码", Text;
    XFDZ => seller_address, "销方地址", Text;
    XFDH => seller_phone, "销方电话", Text;
    CPZH => plate_number, "车牌照号", Text;
    DJZH => registration_number, "登记证号", Text;
    CLLX => vehicle_type, "车辆类型", Text;
    CJHM => vin, "车架号码", Text;
    CPXH => brand_model, "厂牌型号", Text;
    CGSMC => vehicle_office, "车管所名称", Text;
    CJHJ => total_price, "车价合计小写", Money;
    CJHJDX => total_price_in_words, "车价合计大写", Text;
    JDDM => machine_invoice_code, "机打代码", Text;
    JDHM => machine_invoice_number, "机打号码", Text;
    JQBH => machine_number, "机器编号", Text;
    SKM => tax_control_code, "税控码", Text;
    JYDW => dealer_name, "经营单位", Text;
    JYDZ => dealer_address, "经营地址", Text;
    JYSBH => dealer_tax_id, "经营识别号", Text;
    JYYHZH => dealer_bank_account, "经营银行账号", Text;
    JYDH => dealer_phone, "经营电话", Text;
    SCMC => market_name, "市场名称", Text;
    SCSBH => market_tax_id, "市场识别号", Text;
    SCDZ => market_address, "市场地址", Text;
    SCYHZH => market_bank_account, "市场银行账号", Text;
    SCDH => market_phone, "市场电话", Text;
    BZ => remarks, "备注", Text;
    KPR => issuer, "开票人", Text;
}

impl ShoppingReceipt {
    /// Serialize to the documented JSON schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a receipt always serializes")
    }

    /// `true` when no check failed.
    pub fn checks_passed(&self) -> bool {
        self.checks.iter().all(|c| !c.failed())
    }
}

impl UsedCarInvoice {
    /// Serialize to the documented JSON schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an invoice always serializes")
    }

    /// `true` when no check failed.
    pub fn checks_passed(&self) -> bool {
        self.checks.iter().all(|c| !c.failed())
    }
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
            assert_eq!(money(raw).as_deref(), want, "{raw:?}");
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
            assert_eq!(quantity(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn date_and_time_normalization() {
        for (raw, want) in [
            ("20250522", Some("2025-05-22")),
            ("2020-11-19", Some("2020-11-19")),
            ("2020/1/9", Some("2020-01-09")),
            ("2020.11.19", Some("2020-11-19")),
            ("2020年11月19日", Some("2020-11-19")),
            ("2024-02-29", Some("2024-02-29")),
            ("2023-02-29", None),
            ("20251322", None),
            ("2025-04-31", None),
            ("2025-5", None),
            ("", None),
        ] {
            assert_eq!(date(raw).as_deref(), want, "{raw:?}");
        }
        for (raw, want) in [
            ("17:23", Some("17:23")),
            ("7:05", Some("07:05")),
            ("17:23:59", Some("17:23:59")),
            ("17：23", Some("17:23")),
            ("24:00", None),
            ("12:60", None),
            ("1723", None),
            ("12:5", None),
        ] {
            assert_eq!(time(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn invoice_field_table_has_the_36_documented_keys() {
        assert_eq!(INVOICE_FIELDS.len() + 1, 36);
        let mut keys: Vec<&str> = INVOICE_FIELDS.iter().map(|f| f.0).collect();
        keys.push("FPZYZ");
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 36);
    }
}
