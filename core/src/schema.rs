//! The result schema: every record's fields, their JSON names, kinds and whether they may be
//! null, in JSON order; what the bindings build their result classes, stubs and CSV columns
//! from (see `piaoju::bindings`).

use crate::model::{Check, Field, ReceiptItem, ShoppingReceipt, UsedCarInvoice};

/// The kind of a value in the result schema (what a binding converts it to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueKind {
    /// A string (or null).
    Text,
    /// An exact decimal, serialized as a string.
    Decimal,
    /// An ISO 8601 date string.
    Date,
    /// An `HH:MM[:SS]` string.
    Time,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A floating-point number (a confidence score, never money).
    Float,
    /// A list of strings.
    Strings,
    /// A list of numbers.
    Floats,
    /// A `{top, left, width, height}` object.
    Position,
    /// The provider's JSON, verbatim.
    Json,
    /// A list of records of the named schema (`"ReceiptItem"`).
    Records(&'static str),
}

impl ValueKind {
    /// The kind's name in [`schema`]: `"text"`, `"decimal"`, …, `"records:ReceiptItem"`.
    pub fn name(self) -> String {
        match self {
            ValueKind::Text => "text".into(),
            ValueKind::Decimal => "decimal".into(),
            ValueKind::Date => "date".into(),
            ValueKind::Time => "time".into(),
            ValueKind::Integer => "integer".into(),
            ValueKind::Boolean => "boolean".into(),
            ValueKind::Float => "float".into(),
            ValueKind::Strings => "strings".into(),
            ValueKind::Floats => "floats".into(),
            ValueKind::Position => "position".into(),
            ValueKind::Json => "json".into(),
            ValueKind::Records(r) => format!("records:{r}"),
        }
    }
}

/// One field of a result record: its JSON name, its kind, and whether it may be null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchemaField {
    /// The field's name in the JSON.
    pub name: &'static str,
    /// What kind of value it holds.
    pub kind: ValueKind,
    /// Whether it may be null.
    pub nullable: bool,
}

pub(crate) const fn field(name: &'static str, kind: ValueKind, nullable: bool) -> SchemaField {
    SchemaField {
        name,
        kind,
        nullable,
    }
}

/// The result schema, record by record, fields in JSON order: what the bindings build their
/// result classes from. Records: `ShoppingReceipt`, `ReceiptItem`, `UsedCarInvoice`, `Field`,
/// `Check`.
pub fn schema() -> Vec<(&'static str, &'static [SchemaField])> {
    vec![
        ("ShoppingReceipt", ShoppingReceipt::SCHEMA),
        ("ReceiptItem", ReceiptItem::SCHEMA),
        ("UsedCarInvoice", UsedCarInvoice::SCHEMA),
        ("Field", Field::SCHEMA),
        ("Check", Check::SCHEMA),
    ]
}

/// Chinese names of the fields that are not an invoice's (whose names are the provider's,
/// [`crate::spec`]), for columns a person reads (`piaoju batch --headers zh`).
const LABELS_ZH: &[(&str, &str)] = &[
    ("document_type", "票据类型"),
    ("provider", "服务商"),
    ("order_id", "订单号"),
    ("shop_name", "店铺名称"),
    ("receipt_num", "小票号"),
    ("machine_num", "机号"),
    ("employee_num", "收银员号"),
    ("consumption_date", "消费日期"),
    ("consumption_time", "消费时间"),
    ("total_amount", "合计金额"),
    ("change", "找零"),
    ("currency", "币种"),
    ("paid_amount", "实收金额"),
    ("discount", "优惠金额"),
    ("print_date", "打印日期"),
    ("print_time", "打印时间"),
    ("table_row_num", "商品行数"),
    ("items", "商品明细"),
    ("product", "商品名称"),
    ("quantity", "数量"),
    ("quantity_unit", "数量单位"),
    ("unit_price", "单价"),
    ("price_unit", "单价单位"),
    ("subtotal_amount", "小计"),
    ("serial_id", "流水号"),
    ("has_seal", "发票专用章"),
    ("fields", "识别字段"),
    ("image", "图片"),
    ("attempts", "请求次数"),
    ("cached", "来自缓存"),
    ("cache_error", "缓存错误"),
    ("checks", "校验"),
    ("raw", "原始结果"),
];

/// A result field's Chinese name, for columns a person reads: an invoice field's is the
/// provider's own (`车价合计小写`), the others' come from one table beside the schema.
pub fn label_zh(field: &str) -> Option<&'static str> {
    crate::spec::invoice_field_by_name(field)
        .map(|f| f.chinese_name)
        .or_else(|| LABELS_ZH.iter().find(|(n, _)| *n == field).map(|(_, l)| *l))
}
