//! The services' published facts, each written once: endpoint hosts and paths, Juhe's image
//! limits and the used-car invoice's field table. The client, the sandbox, the bindings and the
//! tests read them from here. (The providers' error codes and texts are rows of the error
//! catalogue, [`crate::ErrorCode::provider_code`].)

/// Juhe's API host (the document shows `http://`; https works and is the default).
pub const JUHE_BASE_URL: &str = "https://apis.juhe.cn";
/// The shopping receipt OCR endpoint, below the base URL.
pub const JUHE_RECEIPT_PATH: &str = "/shoppingReceipt/query";

/// Juhe: the base64 text may be at most 6 MB (6 × 1024 × 1024 bytes).
pub const JUHE_MAX_BASE64_LEN: usize = 6 * 1024 * 1024;
/// Juhe: the shortest side must be at least 15 px.
pub const JUHE_MIN_SIDE: u32 = 15;
/// Juhe: the longest side may be at most 4096 px.
pub const JUHE_MAX_SIDE: u32 = 4096;

/// ChinaUMS test environment host (OCR and token).
pub const CHINAUMS_TEST_BASE_URL: &str = "https://test-api-open.chinaums.com";
/// ChinaUMS production OCR host.
pub const CHINAUMS_PRODUCTION_BASE_URL: &str = "https://api-lob.open.chinaums.com";
/// ChinaUMS production token host (seen in public clients).
pub const CHINAUMS_PRODUCTION_TOKEN_BASE_URL: &str = "https://api-mop.chinaums.com";
/// The access-token endpoint, below the base URL.
pub const CHINAUMS_TOKEN_PATH: &str = "/v1/token/access";
/// The used-car sales e-invoice OCR endpoint, below the base URL.
pub const CHINAUMS_USED_CAR_INVOICE_PATH: &str = "/v1/brain/ocr/elecusedcarinvoice";

/// How a used-car invoice field's raw text is normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldKind {
    /// Trimmed text; empty is `None`.
    Text,
    /// An exact amount with at least two decimals.
    Money,
    /// A calendar date.
    Date,
}

/// One documented field of the used-car invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceField {
    /// The provider's key in `FieldList` (`"CJHJ"`).
    pub key: &'static str,
    /// The result field's name (`"total_price"`).
    pub name: &'static str,
    /// The provider's Chinese name (`"车价合计小写"`).
    pub chinese_name: &'static str,
    /// What kind of value it holds.
    pub kind: FieldKind,
}

/// The table of the used-car invoice's fields: `KEY => result_name, "中文名", Kind;`, handed to
/// the macro named by the caller (the result struct and its parser are generated from it).
/// `FPZYZ` (发票专用章, "1"/"0") is the 36th key; it becomes the boolean `has_seal`.
macro_rules! with_invoice_fields {
    ($callback:ident) => {
        $callback! {
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
    };
}
pub(crate) use with_invoice_fields;

/// The seal key: "1" when a seal was detected, "0" when not.
pub const INVOICE_SEAL_KEY: &str = "FPZYZ";

macro_rules! invoice_field_consts {
    ($( $key:ident => $name:ident, $chn:literal, $kind:ident; )*) => {
        /// The used-car invoice's 35 value fields (plus [`INVOICE_SEAL_KEY`], the 36th key).
        pub const INVOICE_FIELDS: &[InvoiceField] = &[
            $( InvoiceField {
                key: stringify!($key),
                name: stringify!($name),
                chinese_name: $chn,
                kind: FieldKind::$kind,
            }, )*
        ];
    };
}
with_invoice_fields!(invoice_field_consts);

/// The result field a provider key fills (`"CJHJ"` → `"total_price"`).
pub fn invoice_field_by_key(key: &str) -> Option<&'static InvoiceField> {
    INVOICE_FIELDS.iter().find(|f| f.key == key)
}

/// The provider key of a result field (`"total_price"` → `"CJHJ"`).
pub fn invoice_field_by_name(name: &str) -> Option<&'static InvoiceField> {
    INVOICE_FIELDS.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoice_has_36_documented_keys() {
        let mut keys: Vec<&str> = INVOICE_FIELDS.iter().map(|f| f.key).collect();
        keys.push(INVOICE_SEAL_KEY);
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 36);
        let mut names: Vec<&str> = INVOICE_FIELDS.iter().map(|f| f.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 35);
        assert_eq!(invoice_field_by_key("CJHJ").unwrap().name, "total_price");
        assert_eq!(invoice_field_by_name("issue_date").unwrap().key, "KPRQ");
        assert_eq!(invoice_field_by_key("NOPE"), None);
    }
}
