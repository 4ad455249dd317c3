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
