//! The result types: typed values (exact [`Decimal`]s, [`Date`]s, [`Time`]s), serialized to the
//! one documented JSON schema (docs/results.md) that the C ABI and the Python module hand out. The
//! provider's raw text stays available in `raw` / `fields` and through `raw_text`.

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::calendar::{Date, Time};
use crate::decimal::Decimal;
use crate::error::Provider;
use crate::fit::ImageReport;
use crate::normalize;
use crate::schema::{field, SchemaField, ValueKind};
use crate::spec::{self, with_invoice_fields};

/// The document types piaoju recognizes, by their names in results and one-shot requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DocumentType {
    /// 购物小票, recognized by Juhe.
    ShoppingReceipt,
    /// 二手车销售统一发票, recognized by ChinaUMS.
    UsedCarInvoice,
}

impl DocumentType {
    /// `"shopping_receipt"`, `"used_car_invoice"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::ShoppingReceipt => "shopping_receipt",
            DocumentType::UsedCarInvoice => "used_car_invoice",
        }
    }

    /// The provider that recognizes this document type.
    pub fn provider(self) -> Provider {
        match self {
            DocumentType::ShoppingReceipt => Provider::Juhe,
            DocumentType::UsedCarInvoice => Provider::Chinaums,
        }
    }

    /// The image formats its provider accepts.
    pub fn image_formats(self) -> &'static [crate::image::ImageFormat] {
        match self {
            DocumentType::ShoppingReceipt => crate::image::JUHE_FORMATS,
            DocumentType::UsedCarInvoice => crate::image::CHINAUMS_FORMATS,
        }
    }
}

/// The Rust type of a scalar field kind.
macro_rules! kind_type {
    (Text) => {
        String
    };
    (Money) => {
        Decimal
    };
    (Date) => {
        Date
    };
    (Time) => {
        Time
    };
}

/// Read raw OCR text as a field of the given kind.
macro_rules! read_kind {
    (Text, $raw:expr) => {
        normalize::text($raw)
    };
    (Money, $raw:expr) => {
        normalize::money($raw)
    };
    (Date, $raw:expr) => {
        Date::parse($raw)
    };
    (Time, $raw:expr) => {
        Time::parse($raw)
    };
}

/// The schema kind of a scalar field kind.
macro_rules! schema_kind {
    (Text) => {
        ValueKind::Text
    };
    (Money) => {
        ValueKind::Decimal
    };
    (Date) => {
        ValueKind::Date
    };
    (Time) => {
        ValueKind::Time
    };
}

/// The place of the `provider` key in a document's JSON; its value comes from the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProviderTag;

fn juhe_tag<S: Serializer>(_: &ProviderTag, s: S) -> Result<S::Ok, S::Error> {
    Provider::Juhe.serialize(s)
}

fn chinaums_tag<S: Serializer>(_: &ProviderTag, s: S) -> Result<S::Ok, S::Error> {
    Provider::Chinaums.serialize(s)
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckStatus {
    /// The fields agree.
    Pass,
    /// The fields contradict each other (or a check digit fails): its message says how.
    Fail,
    /// The check could not be made (a field is missing, or not a number).
    Skipped,
}

impl CheckStatus {
    /// `"pass"`, `"fail"`, `"skipped"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Fail => "fail",
            CheckStatus::Skipped => "skipped",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Check {
    /// The check's name (`"items_sum"`, `"vin"`, `"value_unreadable"`, …).
    pub name: String,
    /// The fields it looked at.
    pub fields: Vec<String>,
    /// Its outcome.
    pub status: CheckStatus,
    /// What it found, with the numbers.
    pub message: String,
    /// The corrected value, when exactly one common OCR confusion makes a failed check pass.
    pub suggestion: Option<String>,
}

impl Check {
    pub(crate) fn new(
        name: &str,
        fields: &[&str],
        status: CheckStatus,
        message: impl Into<String>,
    ) -> Check {
        Check {
            name: name.to_string(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            status,
            message: message.into(),
            suggestion: None,
        }
    }
    pub(crate) fn pass(name: &str, fields: &[&str], message: impl Into<String>) -> Check {
        Check::new(name, fields, CheckStatus::Pass, message)
    }
    pub(crate) fn fail(name: &str, fields: &[&str], message: impl Into<String>) -> Check {
        Check::new(name, fields, CheckStatus::Fail, message)
    }
    pub(crate) fn skipped(name: &str, fields: &[&str], message: impl Into<String>) -> Check {
        Check::new(name, fields, CheckStatus::Skipped, message)
    }
    pub(crate) fn renamed(mut self, name: &str, fields: &[&str]) -> Check {
        self.name = name.to_string();
        self.fields = fields.iter().map(|f| f.to_string()).collect();
        self
    }
    pub(crate) const SCHEMA: &'static [SchemaField] = &[
        field("name", ValueKind::Text, false),
        field("fields", ValueKind::Strings, false),
        field("status", ValueKind::Text, false),
        field("message", ValueKind::Text, false),
        field("suggestion", ValueKind::Text, true),
    ];

    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Pass
    }
    /// Whether the check failed (a contradiction).
    pub fn failed(&self) -> bool {
        self.status == CheckStatus::Fail
    }
}

/// One line of a shopping receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReceiptItem {
    /// The product's name as printed.
    pub product: Option<String>,
    /// Digits as printed (`"1.50"` stays 1.50), without their unit.
    pub quantity: Option<Decimal>,
    /// The quantity's unit: `kg`, `g`, `斤` or `两` for a weight (`"0.352kg"`, `"1.5斤"`), the
    /// counting word as printed (`"2个"` → `个`), `None` when none was printed (`"x2"`).
    pub quantity_unit: Option<String>,
    /// The price of one unit, without its unit.
    pub unit_price: Option<Decimal>,
    /// The unit the price is per (`"15.80/kg"` → `kg`, `"12.00元/斤"` → `斤`), normalized as
    /// `quantity_unit`; `None` when none was printed.
    pub price_unit: Option<String>,
    /// The line's amount (a discount line's is negative, or as printed).
    pub subtotal_amount: Option<Decimal>,
    /// The trimmed raw texts of quantity, unit price and subtotal (empty when there was none).
    #[serde(skip)]
    raw_texts: [String; 3],
}

impl ReceiptItem {
    /// An item from the raw texts of its product, quantity, unit price and subtotal.
    pub(crate) fn from_raw(
        product: &str,
        quantity: &str,
        unit_price: &str,
        subtotal: &str,
    ) -> Self {
        let (quantity_value, quantity_unit) = normalize::quantity_with_unit(quantity).unzip();
        let (price_value, price_unit) = normalize::unit_price(unit_price).unzip();
        ReceiptItem {
            product: normalize::text(product),
            quantity: quantity_value,
            quantity_unit: quantity_unit.flatten(),
            unit_price: price_value,
            price_unit: price_unit.flatten(),
            subtotal_amount: normalize::money(subtotal),
            raw_texts: [quantity, unit_price, subtotal].map(|t| t.trim().to_string()),
        }
    }

    /// The provider's raw text of `quantity`, `unit_price` or `subtotal_amount`, trimmed;
    /// `None` when it was absent or empty.
    pub fn raw_text(&self, field: &str) -> Option<&str> {
        let i = ["quantity", "unit_price", "subtotal_amount"]
            .iter()
            .position(|f| *f == field)?;
        Some(self.raw_texts[i].as_str()).filter(|t| !t.is_empty())
    }

    pub(crate) const SCHEMA: &'static [SchemaField] = &[
        field("product", ValueKind::Text, true),
        field("quantity", ValueKind::Decimal, true),
        field("quantity_unit", ValueKind::Text, true),
        field("unit_price", ValueKind::Decimal, true),
        field("price_unit", ValueKind::Text, true),
        field("subtotal_amount", ValueKind::Decimal, true),
    ];
}

/// The receipt's scalar fields: `name: Kind;`, each read from the provider's text of the same
/// name. The struct, its reader and its schema are generated from this one list.
macro_rules! receipt_fields {
    ($( $name:ident: $kind:ident, $doc:literal; )*) => {
        /// A recognized shopping receipt (Juhe 购物小票). `document_type` and `provider` in its
        /// JSON come from the type.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "document_type", rename = "shopping_receipt")]
        #[non_exhaustive]
        pub struct ShoppingReceipt {
            #[serde(rename = "provider", serialize_with = "juhe_tag")]
            provider_tag: ProviderTag,
            /// Juhe's id of the recognition (`orderid`).
            pub order_id: Option<String>,
            $( #[doc = $doc] pub $name: Option<kind_type!($kind)>, )*
            /// The number of item lines the provider counted.
            pub table_row_num: Option<u64>,
            /// The item lines, in the receipt's order.
            pub items: Vec<ReceiptItem>,
            /// What was done to the image before it was sent.
            pub image: Option<ImageReport>,
            /// Requests the call made (retries included); 0 when answered from the cache.
            pub attempts: u32,
            /// Whether the answer came from the result cache (no request was made).
            pub cached: bool,
            /// Why the answer could not be recorded in the result cache (a rerun would pay for
            /// it again), if it could not; `None` without a cache.
            pub cache_error: Option<String>,
            /// What the receipt's own arithmetic says (see [`crate::check`]).
            pub checks: Vec<Check>,
            /// The provider's `result` object, verbatim.
            pub raw: Value,
            /// The trimmed raw text of each scalar field that had one.
            #[serde(skip)]
            raw_texts: Vec<(&'static str, String)>,
        }

        impl ShoppingReceipt {
            /// The scalar fields read from the provider's text of the same name.
            pub(crate) const TEXT_FIELDS: &'static [&'static str] = &[$(stringify!($name)),*];

            /// Set the scalar field `name` from its raw text (unknown names are ignored).
            pub(crate) fn set_from_raw(&mut self, name: &str, raw: &str) {
                match name {
                    $( stringify!($name) => {
                        self.$name = read_kind!($kind, raw);
                        if let Some(t) = normalize::text(raw) {
                            self.raw_texts.push((stringify!($name), t));
                        }
                    } )*
                    _ => {}
                }
            }

            pub(crate) const SCHEMA: &'static [SchemaField] = &[
                field("document_type", ValueKind::Text, false),
                field("provider", ValueKind::Text, false),
                field("order_id", ValueKind::Text, true),
                $( field(stringify!($name), schema_kind!($kind), true), )*
                field("table_row_num", ValueKind::Integer, true),
                field("items", ValueKind::Records("ReceiptItem"), false),
                field("image", ValueKind::Json, true),
                field("attempts", ValueKind::Integer, false),
                field("cached", ValueKind::Boolean, false),
                field("cache_error", ValueKind::Text, true),
                field("checks", ValueKind::Records("Check"), false),
                field("raw", ValueKind::Json, false),
            ];

            pub(crate) fn new(order_id: Option<String>, raw: Value) -> ShoppingReceipt {
                ShoppingReceipt {
                    provider_tag: ProviderTag,
                    order_id,
                    $( $name: None, )*
                    table_row_num: None,
                    items: Vec::new(),
                    image: None,
                    attempts: 0,
                    cached: false,
                    cache_error: None,
                    checks: Vec::new(),
                    raw,
                    raw_texts: Vec::new(),
                }
            }
        }
    };
}

receipt_fields! {
    shop_name: Text, "The shop's name (店名).";
    receipt_num: Text, "The receipt's number (单号).";
    machine_num: Text, "The till's number (机号).";
    employee_num: Text, "The cashier's number (收银员).";
    consumption_date: Date, "The day of the purchase (消费日期).";
    consumption_time: Time, "The time of the purchase (消费时间).";
    total_amount: Money, "The total due (合计, 应收).";
    change: Money, "The change given (找零).";
    currency: Text, "The currency as printed (人民币).";
    paid_amount: Money, "What the customer paid (实收, 实付).";
    discount: Money, "The discount on the whole receipt (优惠), as printed.";
    print_date: Date, "The day the receipt was printed.";
    print_time: Time, "The time the receipt was printed.";
}

/// Position of a recognized region, in pixels.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, Default)]
#[non_exhaustive]
pub struct Position {
    /// Distance from the image's top edge.
    pub top: f64,
    /// Distance from the image's left edge.
    pub left: f64,
    /// The region's width.
    pub width: f64,
    /// The region's height.
    pub height: f64,
}

/// One `FieldList` entry of a ChinaUMS answer, as recognized.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Field {
    /// The provider's key (`"CJHJ"`).
    pub key: String,
    /// The field's Chinese name (`"车价合计"`).
    pub chn_key: Option<String>,
    /// The raw recognized text.
    pub value: String,
    /// The provider's confidence in the text, if it gave one.
    pub score: Option<f64>,
    /// Where the text is in the image.
    pub position: Option<Position>,
    /// The region's four corners, `x1, y1, … x4, y4`, as the provider gave them.
    pub quad: Vec<f64>,
}

impl Field {
    pub(crate) fn new(
        key: String,
        chn_key: Option<String>,
        value: String,
        score: Option<f64>,
        position: Option<Position>,
        quad: Vec<f64>,
    ) -> Field {
        Field {
            key,
            chn_key,
            value,
            score,
            position,
            quad,
        }
    }

    pub(crate) const SCHEMA: &'static [SchemaField] = &[
        field("key", ValueKind::Text, false),
        field("chn_key", ValueKind::Text, true),
        field("value", ValueKind::Text, false),
        field("score", ValueKind::Float, true),
        field("position", ValueKind::Position, true),
        field("quad", ValueKind::Floats, false),
    ];
}

macro_rules! invoice_struct {
    ($( $key:ident => $name:ident, $chn:literal, $kind:ident; )*) => {
        /// A recognized used-car sales invoice (ChinaUMS 二手车销售统一发票). `document_type` and
        /// `provider` in its JSON come from the type.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "document_type", rename = "used_car_invoice")]
        #[non_exhaustive]
        pub struct UsedCarInvoice {
            #[serde(rename = "provider", serialize_with = "chinaums_tag")]
            provider_tag: ProviderTag,
            /// ChinaUMS's id of the recognition (`SerialId`).
            pub serial_id: Option<String>,
            $( #[doc = $chn] pub $name: Option<kind_type!($kind)>, )*
            /// 发票专用章: `true` when a seal was detected, `false` when not, `None` if unknown.
            pub has_seal: Option<bool>,
            /// Every `FieldList` entry, in the provider's order.
            pub fields: Vec<Field>,
            /// What was done to the image before it was sent.
            pub image: Option<ImageReport>,
            /// Requests the call made (retries included); 0 when answered from the cache.
            pub attempts: u32,
            /// Whether the answer came from the result cache (no request was made).
            pub cached: bool,
            /// Why the answer could not be recorded in the result cache (a rerun would pay for
            /// it again), if it could not; `None` without a cache.
            pub cache_error: Option<String>,
            /// What the invoice's own fields say of each other (see [`crate::check`]).
            pub checks: Vec<Check>,
            /// The provider's answer (the inner object with `PageInfo`), verbatim.
            pub raw: Value,
        }

        impl UsedCarInvoice {
            /// Set the field of provider key `key` from raw text. Unknown keys are ignored.
            pub(crate) fn set_from_key(&mut self, key: &str, raw: &str) {
                match key {
                    $( stringify!($key) => self.$name = read_kind!($kind, raw), )*
                    spec::INVOICE_SEAL_KEY => self.has_seal = match raw.trim() {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    },
                    _ => {}
                }
            }

            pub(crate) fn new(serial_id: Option<String>, raw: Value) -> UsedCarInvoice {
                UsedCarInvoice {
                    provider_tag: ProviderTag,
                    serial_id,
                    $( $name: None, )*
                    has_seal: None,
                    fields: Vec::new(),
                    image: None,
                    attempts: 0,
                    cached: false,
                    cache_error: None,
                    checks: Vec::new(),
                    raw,
                }
            }

            pub(crate) const SCHEMA: &'static [SchemaField] = &[
                field("document_type", ValueKind::Text, false),
                field("provider", ValueKind::Text, false),
                field("serial_id", ValueKind::Text, true),
                $( field(stringify!($name), schema_kind!($kind), true), )*
                field("has_seal", ValueKind::Boolean, true),
                field("fields", ValueKind::Records("Field"), false),
                field("image", ValueKind::Json, true),
                field("attempts", ValueKind::Integer, false),
                field("cached", ValueKind::Boolean, false),
                field("cache_error", ValueKind::Text, true),
                field("checks", ValueKind::Records("Check"), false),
                field("raw", ValueKind::Json, false),
            ];
        }
    };
}
with_invoice_fields!(invoice_struct);

impl ShoppingReceipt {
    /// [`DocumentType::ShoppingReceipt`].
    pub fn document_type(&self) -> DocumentType {
        DocumentType::ShoppingReceipt
    }

    /// [`Provider::Juhe`].
    pub fn provider(&self) -> Provider {
        Provider::Juhe
    }

    /// The provider's raw text of a scalar field (`"consumption_date"`), trimmed; `None` when it
    /// was absent or empty.
    pub fn raw_text(&self, field: &str) -> Option<&str> {
        self.raw_texts
            .iter()
            .find(|(n, _)| *n == field)
            .map(|(_, t)| t.as_str())
    }

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
    /// [`DocumentType::UsedCarInvoice`].
    pub fn document_type(&self) -> DocumentType {
        DocumentType::UsedCarInvoice
    }

    /// [`Provider::Chinaums`].
    pub fn provider(&self) -> Provider {
        Provider::Chinaums
    }

    /// The provider's raw text of a field (`"issue_date"`): the first non-empty recognized
    /// value of its key, trimmed.
    pub fn raw_text(&self, field: &str) -> Option<&str> {
        let key = spec::invoice_field_by_name(field)?.key;
        self.fields
            .iter()
            .filter(|f| f.key == key)
            .map(|f| f.value.trim())
            .find(|v| !v.is_empty())
    }

    /// Serialize to the documented JSON schema.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an invoice always serializes")
    }

    /// `true` when no check failed.
    pub fn checks_passed(&self) -> bool {
        self.checks.iter().all(|c| !c.failed())
    }
}

macro_rules! stamped {
    ($($record:ty),*) => {$(
        impl crate::call::Stamped for $record {
            fn stamp(
                &mut self,
                image: ImageReport,
                attempts: u32,
                cached: bool,
                cache_error: Option<String>,
            ) {
                self.image = Some(image);
                self.attempts = attempts;
                self.cached = cached;
                self.cache_error = cache_error;
            }
        }
    )*};
}
stamped!(ShoppingReceipt, UsedCarInvoice);

/// A recognized document of either type.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
// Returned once and matched at once; boxing would only add an allocation per call.
#[allow(clippy::large_enum_variant)]
pub enum Document {
    /// A shopping receipt.
    ShoppingReceipt(ShoppingReceipt),
    /// A used-car sales invoice.
    UsedCarInvoice(UsedCarInvoice),
}

impl Document {
    /// Which type of document it is.
    pub fn document_type(&self) -> DocumentType {
        match self {
            Document::ShoppingReceipt(_) => DocumentType::ShoppingReceipt,
            Document::UsedCarInvoice(_) => DocumentType::UsedCarInvoice,
        }
    }

    /// Count `n` more requests sent for it (a batch's refused turns).
    pub(crate) fn add_attempts(&mut self, n: u32) {
        match self {
            Document::ShoppingReceipt(r) => r.attempts += n,
            Document::UsedCarInvoice(i) => i.attempts += n,
        }
    }

    /// Serialize to the documented JSON schema.
    pub fn to_json(&self) -> String {
        match self {
            Document::ShoppingReceipt(r) => r.to_json(),
            Document::UsedCarInvoice(i) => i.to_json(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{label_zh, schema};

    fn keys(v: &Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn names(s: &[SchemaField]) -> Vec<String> {
        s.iter().map(|f| f.name.to_string()).collect()
    }

    /// The schema lists exactly the keys each record serializes, in order (serde_json keeps
    /// insertion order with `preserve_order`; without it, compare sorted).
    #[test]
    fn every_scalar_field_has_a_chinese_label() {
        for (record, fields) in schema() {
            if record == "Field" || record == "Check" {
                continue;
            }
            for f in fields {
                assert!(label_zh(f.name).is_some(), "{record}.{}", f.name);
            }
        }
        assert_eq!(label_zh("total_price"), Some("车价合计小写"));
        assert_eq!(label_zh("total_amount"), Some("合计金额"));
    }

    #[test]
    fn schema_matches_what_records_serialize() {
        let mut receipt = ShoppingReceipt::new(None, Value::Null);
        receipt
            .items
            .push(ReceiptItem::from_raw("a", "1", "2", "2"));
        let invoice = UsedCarInvoice::new(None, Value::Null);
        let field = Field::new("K".into(), None, "v".into(), None, None, vec![]);
        let check = Check::skipped("vin", &["vin"], "no VIN");
        let cases: Vec<(&str, Value)> = vec![
            ("ShoppingReceipt", serde_json::to_value(&receipt).unwrap()),
            (
                "ReceiptItem",
                serde_json::to_value(&receipt.items[0]).unwrap(),
            ),
            ("UsedCarInvoice", serde_json::to_value(&invoice).unwrap()),
            ("Field", serde_json::to_value(&field).unwrap()),
            ("Check", serde_json::to_value(&check).unwrap()),
        ];
        let schema = schema();
        assert_eq!(schema.len(), cases.len());
        for ((name, value), (schema_name, fields)) in cases.iter().zip(&schema) {
            assert_eq!(name, schema_name);
            let mut got = keys(value);
            let mut want = names(fields);
            got.sort();
            want.sort();
            assert_eq!(got, want, "{name}");
        }
        // Serialized text keeps the declared order: document_type first, then provider.
        let text = receipt.to_json();
        assert!(
            text.starts_with(r#"{"document_type":"shopping_receipt","provider":"juhe","order_id":null,"shop_name":null"#),
            "{text}"
        );
        let text = invoice.to_json();
        assert!(
            text.starts_with(r#"{"document_type":"used_car_invoice","provider":"chinaums","serial_id":null,"invoice_code":null"#),
            "{text}"
        );
    }

    #[test]
    fn invoice_fields_read_by_kind() {
        let mut inv = UsedCarInvoice::new(None, Value::Null);
        inv.set_from_key("CJHJ", "¥10000.0");
        inv.set_from_key("KPRQ", "20250522");
        inv.set_from_key("CJHM", " LFV3A28W6K3705006 ");
        inv.set_from_key("FPZYZ", "1");
        assert_eq!(
            inv.total_price.map(|d| d.to_string()).as_deref(),
            Some("10000.00")
        );
        assert_eq!(inv.issue_date, Date::new(2025, 5, 22));
        assert_eq!(inv.vin.as_deref(), Some("LFV3A28W6K3705006"));
        assert_eq!(inv.has_seal, Some(true));
        inv.set_from_key("FPZYZ", "0");
        assert_eq!(inv.has_seal, Some(false));
        inv.set_from_key("FPZYZ", "?");
        assert_eq!(inv.has_seal, None);
    }

    #[test]
    fn receipt_keeps_raw_texts() {
        let mut r = ShoppingReceipt::new(None, Value::Null);
        r.set_from_raw("consumption_date", " 2020-13-45 ");
        r.set_from_raw("total_amount", "12.5元");
        r.set_from_raw("not_a_field", "x");
        assert_eq!(r.consumption_date, None);
        assert_eq!(r.raw_text("consumption_date"), Some("2020-13-45"));
        assert_eq!(
            r.total_amount.map(|d| d.to_string()).as_deref(),
            Some("12.50")
        );
        assert_eq!(r.raw_text("not_a_field"), None);
    }
}
