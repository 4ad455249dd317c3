//! Validation checks: seeds pass, mutations fail, every detectable substitution is detected,
//! and the uppercase-money parser round-trips an independent formatter.

use std::sync::OnceLock;

use piaoju::check::{self, amount_in_words};
use piaoju::{CheckStatus, Client, Config, Date, Decimal, ErrorCode, Time};
use piaoju_sandbox::Sandbox;

const SEED_VIN: &str = "LFV3A28W6K3705006";
const SEED_BUYER_ID: &str = "430124199803279592";
const SEED_SELLER_ID: &str = "430124199103143715";
const SEED_MARKET_TAX_ID: &str = "914301243294121313";
const SEED_INVOICE_NUMBER: &str = "25432000000066482202";

#[test]
fn seed_values_pass() {
    assert_eq!(check::vin(SEED_VIN).status, CheckStatus::Pass);
    assert_eq!(check::resident_id(SEED_BUYER_ID).status, CheckStatus::Pass);
    assert_eq!(check::resident_id(SEED_SELLER_ID).status, CheckStatus::Pass);
    assert_eq!(
        check::social_credit_code(SEED_MARKET_TAX_ID).status,
        CheckStatus::Pass
    );
    assert_eq!(
        check::invoice_number(SEED_INVOICE_NUMBER, Some("20250522")).status,
        CheckStatus::Pass
    );
    assert_eq!(check::plate_number("湘ACC639").status, CheckStatus::Pass);
    assert_eq!(check::issue_date("20250522").status, CheckStatus::Pass);
    assert_eq!(
        amount_in_words("壹万圆整").unwrap(),
        Decimal::parse("10000.00").unwrap()
    );
}

#[test]
fn mutated_values_fail() {
    let table: Vec<(&str, piaoju::Check)> = vec![
        ("vin digit", check::vin("LFV3A28W6K3705007")),
        ("vin length", check::vin("LFV3A28W6K370500")),
        ("vin letter O", check::vin("LFV3A28W6K37O5006")),
        ("id digit", check::resident_id("430124199803279593")),
        ("id birth date", check::resident_id("430124199813279592")),
        ("id letter", check::resident_id("43012419980327959A")),
        ("uscc char", check::social_credit_code("914301243294121314")),
        (
            "uscc letter I",
            check::social_credit_code("9143012432941213I3"),
        ),
        (
            "invoice year",
            check::invoice_number(SEED_INVOICE_NUMBER, Some("20240522")),
        ),
        (
            "invoice length",
            check::invoice_number("2543200000006648220", None),
        ),
        (
            "invoice letters",
            check::invoice_number("2543200000006648220A", None),
        ),
        ("plate province", check::plate_number("X湘ACC63")),
        ("plate length", check::plate_number("湘ACC6391X")),
        ("plate letter I", check::plate_number("湘ICC639")),
        ("date invalid", check::issue_date("20250230")),
        ("date future", check::issue_date("20991231")),
    ];
    for (what, c) in table {
        assert_eq!(c.status, CheckStatus::Fail, "{what}: {c:?}");
        assert!(!c.message.is_empty());
    }
    let e = amount_in_words("壹万贰圆整").unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArgument);
}

#[test]
fn party_ids_are_checked_by_their_form() {
    assert_eq!(check::party_id(SEED_BUYER_ID).name, "resident_id");
    assert_eq!(
        check::party_id(SEED_MARKET_TAX_ID).name,
        "social_credit_code"
    );
    let short = check::party_id("1");
    assert_eq!(short.status, CheckStatus::Skipped);
    assert!(short.message.contains("1 characters"), "{}", short.message);
    assert_eq!(check::party_id("").status, CheckStatus::Skipped);
    // Failing values are judged as what they look like.
    let c = check::party_id("430124199803279593");
    assert_eq!(
        (c.name.as_str(), c.status),
        ("resident_id", CheckStatus::Fail)
    );
    let c = check::party_id("914301243294121314"); // all digits, no birth date at 7-14
    assert_eq!(
        (c.name.as_str(), c.status),
        ("social_credit_code", CheckStatus::Fail)
    );
    let c = check::party_id("91430124MA4L2XYZ10");
    assert_eq!(c.name, "social_credit_code");
}

const ID_CHARS: &str = "0123456789X";
const USCC_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const ALL_UPPER: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn substitutions(value: &str, alphabet: &str) -> Vec<String> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    for i in 0..chars.len() {
        for c in alphabet.chars().filter(|&c| c != chars[i]) {
            let mut v = chars.clone();
            v[i] = c;
            out.push(v.into_iter().collect());
        }
    }
    out
}

#[test]
fn every_single_substitution_of_a_resident_id_is_detected() {
    for id in [SEED_BUYER_ID, SEED_SELLER_ID] {
        let subs = substitutions(id, ID_CHARS);
        assert_eq!(subs.len(), 18 * 10);
        for s in subs {
            assert_eq!(check::resident_id(&s).status, CheckStatus::Fail, "{s}");
        }
    }
}

#[test]
fn every_single_substitution_of_a_social_credit_code_is_detected() {
    let subs = substitutions(SEED_MARKET_TAX_ID, ALL_UPPER);
    assert_eq!(subs.len(), 18 * 35);
    for s in subs {
        assert_eq!(
            check::social_credit_code(&s).status,
            CheckStatus::Fail,
            "{s}"
        );
    }
    assert_eq!(USCC_CHARS.len(), 31);
}

/// ISO 3779 transliteration, written out again here independently of the library.
fn vin_value(c: char) -> Option<u32> {
    let table = [
        ("0", 0),
        ("1AJ", 1),
        ("2BKS", 2),
        ("3CLT", 3),
        ("4DMU", 4),
        ("5ENV", 5),
        ("6FW", 6),
        ("7GPX", 7),
        ("8HY", 8),
        ("9RZ", 9),
    ];
    table
        .iter()
        .find(|(chars, _)| chars.contains(c))
        .map(|&(_, v)| v)
}

#[test]
fn every_vin_substitution_its_check_digit_can_see_is_detected() {
    let original: Vec<char> = SEED_VIN.chars().collect();
    let mut detected = 0;
    for (i, s) in substitutions(SEED_VIN, ALL_UPPER).into_iter().enumerate() {
        let pos = i / 35;
        let new = s.chars().nth(pos).unwrap();
        let visible = matches!(new, 'I' | 'O' | 'Q') || vin_value(new) != vin_value(original[pos]);
        // The check digit itself (position 9): a different character is always seen, except
        // the same value under another letter, which is not a digit or X and so is invalid.
        if visible || pos == 8 {
            assert_eq!(check::vin(&s).status, CheckStatus::Fail, "{s}");
            detected += 1;
        }
        // Substitutions with the same transliterated value (A for J, …) are invisible to the
        // check digit by design (documented limit): not asserted either way.
    }
    assert!(detected > 500, "{detected}");
}

#[test]
fn ocr_confusions_get_a_suggestion() {
    // A letter where a digit belongs: the only single substitution that validates is the fix.
    // "8" of the birth year 1998 read as "B".
    let c = check::resident_id("430124199B03279592");
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(c.suggestion.as_deref(), Some(SEED_BUYER_ID));
    let c = check::vin("LFV3A28W6K37O5006");
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(c.suggestion.as_deref(), Some(SEED_VIN));
    let c = check::social_credit_code("9143O1243294121313");
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(c.suggestion.as_deref(), Some(SEED_MARKET_TAX_ID));
    // Any suggestion given is itself valid and one substitution away.
    for bad in substitutions(SEED_SELLER_ID, "0123456789") {
        let c = check::resident_id(&bad);
        if let Some(s) = &c.suggestion {
            assert_eq!(check::resident_id(s).status, CheckStatus::Pass);
            assert_eq!(
                s.chars().zip(bad.chars()).filter(|(a, b)| a != b).count(),
                1
            );
        }
    }
    // The value itself is never changed; passing values have no suggestion.
    assert_eq!(check::vin(SEED_VIN).suggestion, None);
}

// ----- Chinese uppercase money -----------------------------------------------------------------

const DIGITS: [&str; 10] = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"];

#[derive(Clone, Copy)]
struct Style {
    yuan: &'static str,
    end: &'static str,
    prefix: &'static str,
    /// Write the optional 零 (where the 万/亿 or 元 digit is zero).
    optional_zero: bool,
}

fn section_words(g: u64) -> String {
    let units = ["仟", "佰", "拾", ""];
    let digits = [g / 1000, g / 100 % 10, g / 10 % 10, g % 10];
    let mut out = String::new();
    let mut zero_pending = false;
    for (d, u) in digits.iter().zip(units) {
        if *d == 0 {
            zero_pending = !out.is_empty();
        } else {
            if zero_pending {
                out.push('零');
                zero_pending = false;
            }
            out.push_str(DIGITS[*d as usize]);
            out.push_str(u);
        }
    }
    out
}

/// An independent formatter following the rules of PROTOCOLS.md §3.
fn words(fen: u64, st: Style) -> String {
    let (yuan, jiao, f) = (fen / 100, fen / 10 % 10, fen % 10);
    let mut out = st.prefix.to_string();
    let groups = [
        (yuan / 100_000_000, "亿", 100_000_000u64),
        (yuan / 10_000 % 10_000, "万", 10_000),
        (yuan % 10_000, "", 1),
    ];
    let mut higher: Option<(u64, u64)> = None;
    for (g, unit, scale) in groups {
        if g == 0 {
            continue;
        }
        if let Some((h, h_scale)) = higher {
            let gap = h % 10 == 0 || h_scale / scale > 10_000 || g < 1000;
            if gap && (h % 10 != 0 || st.optional_zero) {
                out.push('零');
            }
        }
        out.push_str(&section_words(g));
        out.push_str(unit);
        higher = Some((g, scale));
    }
    if jiao == 0 && f == 0 {
        if yuan == 0 {
            out.push('零');
        }
        out.push_str(st.yuan);
        out.push_str(st.end);
        return out;
    }
    if yuan > 0 {
        out.push_str(st.yuan);
    }
    if jiao > 0 {
        if yuan > 0 && yuan % 10 == 0 && st.optional_zero {
            out.push('零');
        }
        out.push_str(DIGITS[jiao as usize]);
        out.push('角');
        if f > 0 {
            out.push_str(DIGITS[f as usize]);
            out.push('分');
        } else {
            out.push_str(st.end);
        }
    } else {
        if yuan > 0 {
            out.push('零');
        }
        out.push_str(DIGITS[f as usize]);
        out.push('分');
    }
    out
}

fn fen_of(d: Decimal) -> u64 {
    d.to_fen().unwrap() as u64
}

const STYLES: [Style; 4] = [
    Style {
        yuan: "元",
        end: "整",
        prefix: "",
        optional_zero: true,
    },
    Style {
        yuan: "圆",
        end: "正",
        prefix: "人民币",
        optional_zero: false,
    },
    Style {
        yuan: "元",
        end: "正",
        prefix: "",
        optional_zero: false,
    },
    Style {
        yuan: "圆",
        end: "整",
        prefix: "人民币",
        optional_zero: true,
    },
];

#[test]
fn protocol_examples() {
    for (w, v) in [
        ("壹万圆整", "10000.00"),
        ("壹仟肆佰零玖元伍角", "1409.50"),
        ("陆仟零柒元壹角肆分", "6007.14"),
        ("壹万陆仟肆佰零玖元零贰分", "16409.02"),
        ("壹拾万柒仟元零伍角叁分", "107000.53"),
        ("人民币壹拾万零柒仟元零伍角叁分", "107000.53"),
        ("壹拾万柒仟元伍角叁分", "107000.53"),
        ("伍角", "0.50"),
        ("叁分", "0.03"),
        ("零元整", "0.00"),
        ("拾元整", "10.00"),
        ("壹亿零伍仟元整", "100005000.00"),
    ] {
        assert_eq!(
            amount_in_words(w).unwrap(),
            Decimal::parse(v).unwrap(),
            "{w}"
        );
    }
}

#[test]
fn not_amounts() {
    for w in [
        "",
        "整",
        "元整",
        "abc",
        "壹万贰圆整",
        "壹佰伍元",
        "壹仟伍拾元",
        "壹仟零佰元",
        "零零壹元",
        "壹万伍佰元",
        "壹万零陆仟元",
        "壹亿伍仟元",
        "壹元元",
        "壹元伍分角",
        "伍角零",
        "壹拾贰拾元",
        "壹佰拾元",
        "万元",
        "壹万万元",
        "壹元零角",
        "壹元伍",
        "壹佰零元",
        "10000元",
    ] {
        assert!(
            amount_in_words(w).is_err(),
            "{w:?} parsed as {:?}",
            amount_in_words(w)
        );
    }
}

#[test]
fn round_trip_every_amount_up_to_twenty_thousand_yuan_in_steps() {
    // Every fen value below 1000.00, in every style.
    for fen in 0..100_000u64 {
        for st in STYLES {
            let w = words(fen, st);
            assert_eq!(amount_in_words(&w).map(fen_of).ok(), Some(fen), "{w}");
        }
    }
}

#[test]
fn round_trip_large_amounts_across_every_zero_rule() {
    // Values built to hit the section boundaries: zero 万 digit, zero 仟 digit, skipped sections.
    let mut yuan_values = Vec::new();
    for hi in [0u64, 1, 10, 12, 100, 1000, 1001, 9999] {
        for mid in [0u64, 1, 10, 100, 1000, 1010, 9000, 9999] {
            for lo in [0u64, 1, 5, 10, 50, 100, 305, 1000, 1005, 4000, 9999] {
                yuan_values.push(hi * 100_000_000 + mid * 10_000 + lo);
            }
        }
    }
    // And a deterministic pseudo-random sample.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        yuan_values.push(x % 1_000_000_000_000);
    }
    for yuan in yuan_values {
        for cents in [0u64, 3, 40, 45] {
            let fen = yuan * 100 + cents;
            for st in STYLES {
                let w = words(fen, st);
                assert_eq!(amount_in_words(&w).map(fen_of).ok(), Some(fen), "{w}");
            }
        }
    }
}

// ----- Receipt and invoice checks on whole documents ------------------------------------------

const JUHE_SEED: &str = include_str!("../../tests/fixtures/juhe_receipt_answer.json");
const UMS_SEED: &str = include_str!("../../tests/fixtures/chinaums_invoice_answer.json");

/// Documents are made the way users get them: the provider's answer, edited, is registered in
/// a sandbox for one image, and the client recognizes that image.
fn sandbox_client() -> &'static (Sandbox, Client) {
    static SANDBOX: OnceLock<(Sandbox, Client)> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let sb = Sandbox::start().unwrap();
        let client = Client::new(Config::from_json(&sb.client_config_json()).unwrap()).unwrap();
        (sb, client)
    })
}

/// A distinct, valid PNG for each registered answer (tests run in parallel).
fn unique_png() -> Vec<u8> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mut v = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/receipt.png"
    ))
    .unwrap();
    v.extend_from_slice(&NEXT.fetch_add(1, Ordering::SeqCst).to_be_bytes());
    v
}

fn receipt_with(edit: impl FnOnce(&mut serde_json::Value)) -> piaoju::ShoppingReceipt {
    let mut v: serde_json::Value = serde_json::from_str(JUHE_SEED).unwrap();
    edit(&mut v["result"]["data"]);
    let (sb, client) = sandbox_client();
    let image = unique_png();
    sb.register_answer(&image, 200, v.to_string());
    client.recognize_shopping_receipt(&image).unwrap()
}

fn status_of(checks: &[piaoju::Check], name: &str) -> Vec<CheckStatus> {
    checks
        .iter()
        .filter(|c| c.name == name)
        .map(|c| c.status)
        .collect()
}

#[test]
fn seed_receipt_checks() {
    let r = receipt_with(|_| {});
    assert!(r.checks_passed());
    assert_eq!(
        status_of(&r.checks, "items_sum_to_total"),
        [CheckStatus::Pass]
    );
    assert_eq!(
        status_of(&r.checks, "item_amount"),
        [
            CheckStatus::Pass,
            CheckStatus::Skipped,
            CheckStatus::Skipped,
            CheckStatus::Skipped
        ]
    );
    assert_eq!(status_of(&r.checks, "change"), [CheckStatus::Skipped]);
    assert_eq!(status_of(&r.checks, "table_row_num"), [CheckStatus::Pass]);
    assert_eq!(status_of(&r.checks, "dates_valid"), [CheckStatus::Pass]);
}

#[test]
fn contradictory_receipts_fail_their_checks() {
    let r = receipt_with(|d| d["total_amount"] = "13.50".into());
    assert_eq!(
        status_of(&r.checks, "items_sum_to_total"),
        [CheckStatus::Fail]
    );
    assert!(!r.checks_passed());
    let r = receipt_with(|d| {
        d["total_amount"] = "11.50".into();
        d["discount"] = "1.00".into();
    });
    assert_eq!(
        status_of(&r.checks, "items_sum_to_total"),
        [CheckStatus::Pass]
    );
    let r = receipt_with(|d| d["table"][0]["unit_price"] = "单价:4.60".into());
    assert_eq!(status_of(&r.checks, "item_amount")[0], CheckStatus::Fail);
    let r = receipt_with(|d| {
        d["paid_amount"] = "20.00".into();
        d["change"] = "7.00".into();
    });
    assert_eq!(status_of(&r.checks, "change"), [CheckStatus::Fail]);
    let r = receipt_with(|d| {
        d["paid_amount"] = "20.00".into();
        d["change"] = "7.50".into();
    });
    assert_eq!(status_of(&r.checks, "change"), [CheckStatus::Pass]);
    let r = receipt_with(|d| d["table_row_num"] = 5.into());
    assert_eq!(status_of(&r.checks, "table_row_num"), [CheckStatus::Fail]);
    let r = receipt_with(|d| d["consumption_date"] = "2020-02-30".into());
    assert_eq!(status_of(&r.checks, "dates_valid"), [CheckStatus::Fail]);
    assert_eq!(
        r.consumption_date, None,
        "an invalid date is not normalized"
    );
    let r = receipt_with(|d| d["consumption_time"] = "25:61".into());
    assert_eq!(status_of(&r.checks, "dates_valid"), [CheckStatus::Fail]);
}

fn check<'a>(r: &'a piaoju::ShoppingReceipt, name: &str) -> Vec<&'a piaoju::Check> {
    r.checks.iter().filter(|c| c.name == name).collect()
}

/// A receipt answer from a fixture, through the sandbox.
fn fixture_receipt(name: &str) -> piaoju::ShoppingReceipt {
    let path = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let answer = std::fs::read_to_string(path).unwrap();
    let (sb, client) = sandbox_client();
    let image = unique_png();
    sb.register_answer(&image, 200, answer);
    client.recognize_shopping_receipt(&image).unwrap()
}

fn text(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

#[test]
fn weighed_goods_with_their_units_rounded_to_the_fen_and_moling_to_the_jiao() {
    let r = fixture_receipt("juhe_receipt_weighed.json");
    assert!(r.checks_passed(), "{:?}", r.checks);
    let units: Vec<_> = r
        .items
        .iter()
        .map(|i| {
            (
                text(i.quantity),
                i.quantity_unit.as_deref(),
                text(i.unit_price),
                i.price_unit.as_deref(),
            )
        })
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        units,
        [
            (s("1.5"), Some("斤"), s("2.21"), Some("斤")),
            (s("0.352"), Some("kg"), s("15.80"), Some("kg")),
            (s("352"), Some("g"), s("12.00"), Some("斤")),
            (s("5"), None, s("1.85"), None),
        ]
    );
    let items = check(&r, "item_amount");
    let messages: Vec<&str> = items.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "item 1: 1.5 斤 × 2.21/斤 = 3.315, rounded half up to the fen: 3.32",
            "item 2: 0.352 kg × 15.80/kg = 5.5616, to the fen 5.56 (rounded half up or cut alike)",
            "item 3: 352 g × 12.00/斤 = 8.448, rounded half up to the fen: 8.45",
            "item 4: 5 × 1.85 = 9.25",
        ]
    );
    let sum = check(&r, "items_sum_to_total")[0];
    assert_eq!(sum.status, CheckStatus::Pass);
    assert_eq!(
        sum.message,
        "items add up to 26.58, rounded down by 0.08 (抹零) to the jiao: total 26.50"
    );
    assert_eq!(
        check(&r, "change")[0].message,
        "paid 50.00 − total 26.50 = change 23.50"
    );
}

#[test]
fn discount_lines_a_discount_field_and_moling_to_the_yuan() {
    let r = fixture_receipt("juhe_receipt_moling.json");
    assert!(r.checks_passed(), "{:?}", r.checks);
    assert_eq!(text(r.items[2].subtotal_amount).as_deref(), Some("-5.00"));
    assert_eq!(r.items[0].quantity_unit.as_deref(), Some("袋"));
    assert_eq!(
        check(&r, "items_sum_to_total")[0].message,
        "items add up to 152.30, less discount 10.00 = 142.30, rounded down by 0.30 (抹零) to \
         the yuan: total 142.00"
    );
}

#[test]
fn shop_arithmetic_passes_and_says_how_and_everything_else_fails_with_the_numbers() {
    let status = |r: &piaoju::ShoppingReceipt, name: &str| {
        check(r, name).iter().map(|c| c.status).collect::<Vec<_>>()
    };
    let message = |r: &piaoju::ShoppingReceipt, name: &str| check(r, name)[0].message.clone();
    // A scale that cuts: 1.5 斤 × 2.21 = 3.315 printed 3.31.
    let weighed = |q: &str, p: &str, s: &str, total: &str| {
        let (q, p, s, total) = (
            q.to_string(),
            p.to_string(),
            s.to_string(),
            total.to_string(),
        );
        receipt_with(move |d| {
            d["table"] = serde_json::json!([
                {"product": "苹果", "quantity": q, "unit_price": p, "subtotal_amount": s}
            ]);
            d["table_row_num"] = 1.into();
            d["total_amount"] = total.into();
            d["paid_amount"] = "".into();
        })
    };
    let r = weighed("1.5斤", "2.21元/斤", "3.31", "3.31");
    assert_eq!(
        message(&r, "item_amount"),
        "item 1: 1.5 斤 × 2.21/斤 = 3.315, cut to the fen: 3.31"
    );
    assert!(r.checks_passed());
    // Neither rounding: fails, with the numbers.
    let r = weighed("1.5斤", "2.21元/斤", "3.33", "3.33");
    assert_eq!(status(&r, "item_amount"), [CheckStatus::Fail]);
    assert_eq!(
        message(&r, "item_amount"),
        "item 1: 1.5 斤 × 2.21/斤 = 3.315 (3.32 rounded half up, 3.31 cut to the fen), but its \
         subtotal is 3.33"
    );
    // 斤 with a price per kg, and 两 with a price per 斤: converted.
    let r = weighed("1.5斤", "15.80/kg", "11.85", "11.85");
    assert_eq!(
        message(&r, "item_amount"),
        "item 1: 1.5 斤 × 15.80/kg = 11.85"
    );
    let r = weighed("3两", "￥37.02/斤", "11.11", "11.11");
    assert_eq!(
        message(&r, "item_amount"),
        "item 1: 3 两 × 37.02/斤 = 11.106, rounded half up to the fen: 11.11"
    );
    // Without the conversion the product would be 5.5616 per gram: the unit matters.
    let r = weighed("352g", "15.80/kg", "5562.00", "5562.00");
    assert_eq!(status(&r, "item_amount"), [CheckStatus::Fail]);
    // Counted goods and a price per kg cannot be compared: skipped, never a false alarm.
    let r = weighed("2个", "15.80/kg", "31.60", "31.60");
    assert_eq!(status(&r, "item_amount"), [CheckStatus::Skipped]);
    assert!(message(&r, "item_amount").contains("个"));
    // 抹零: to the jiao by less than 0.10, to the yuan by less than 1.00, never more, never up.
    let r = weighed("1", "12.58", "12.58", "12.50");
    assert_eq!(
        message(&r, "items_sum_to_total"),
        "items add up to 12.58, rounded down by 0.08 (抹零) to the jiao: total 12.50"
    );
    let r = weighed("1", "12.58", "12.58", "12.00");
    assert!(message(&r, "items_sum_to_total").contains("rounded down by 0.58 (抹零) to the yuan"));
    for bad in ["12.40", "12.55", "12.60", "11.00", "13.00"] {
        let r = weighed("1", "12.58", "12.58", bad);
        assert_eq!(
            status(&r, "items_sum_to_total"),
            [CheckStatus::Fail],
            "{bad}"
        );
        assert_eq!(
            message(&r, "items_sum_to_total"),
            format!(
                "items add up to 12.58, but the total is {bad} (neither that amount nor it \
                 rounded down to the jiao, 12.50, or to the yuan, 12.00)"
            )
        );
    }
    // Discount lines (a minus sign before or after, or a name that says so) and the field,
    // taken off once when the field is their sum.
    let lines = |rows: serde_json::Value, discount: &str, total: &str| {
        let (discount, total) = (discount.to_string(), total.to_string());
        receipt_with(move |d| {
            d["table_row_num"] = rows.as_array().unwrap().len().into();
            d["table"] = rows;
            d["discount"] = discount.into();
            d["total_amount"] = total.into();
            d["paid_amount"] = "".into();
        })
    };
    let rows = serde_json::json!([
        {"product": "大米", "quantity": "2袋", "unit_price": "59.90", "subtotal_amount": "119.80"},
        {"product": "会员优惠", "quantity": "", "unit_price": "", "subtotal_amount": "5.00-"},
        {"product": "满100减10", "quantity": "", "unit_price": "", "subtotal_amount": "10.00"},
    ]);
    let r = lines(rows.clone(), "", "104.80");
    assert_eq!(status(&r, "items_sum_to_total"), [CheckStatus::Pass]);
    let r = lines(rows.clone(), "15.00", "104.80");
    assert_eq!(
        message(&r, "items_sum_to_total"),
        "items add up to 104.80 (the discount line without a minus sign taken off) (their \
         discount lines, 15.00, are the discount) = total"
    );
    let r = lines(rows.clone(), "-3.00", "101.80");
    assert_eq!(
        message(&r, "items_sum_to_total"),
        "items add up to 104.80 (the discount line without a minus sign taken off), less \
         discount 3.00 = 101.80 = total 101.80"
    );
    // A product whose name says 优惠, without a unit price, counts as printed.
    let r = lines(
        serde_json::json!([
            {"product": "优惠装薯片", "quantity": "1", "unit_price": "", "subtotal_amount": "9.90"},
            {"product": "会员优惠", "quantity": "", "unit_price": "", "subtotal_amount": "-1.00"},
        ]),
        "",
        "8.90",
    );
    assert_eq!(
        message(&r, "items_sum_to_total"),
        "items add up to 8.90 = total"
    );
    let r = lines(rows, "3.00", "104.80");
    assert_eq!(
        message(&r, "items_sum_to_total"),
        "items add up to 104.80 (the discount line without a minus sign taken off) = total, \
         before the discount 3.00"
    );
    // change: paid − change is the total, or the total rounded down (抹零), or the total less
    // the discount when the total is before it.
    let paid = |total: &str, paid: &str, change: &str, discount: &str| {
        let (t, p, c, d) = (
            total.to_string(),
            paid.to_string(),
            change.to_string(),
            discount.to_string(),
        );
        receipt_with(move |data| {
            data["total_amount"] = t.into();
            data["paid_amount"] = p.into();
            data["change"] = c.into();
            data["discount"] = d.into();
        })
    };
    let r = paid("12.58", "20.00", "7.50", "");
    assert_eq!(
        message(&r, "change"),
        "paid 20.00 − change 7.50 = 12.50: the total 12.58 rounded down by 0.08 (抹零)"
    );
    assert_eq!(status(&r, "items_sum_to_total"), [CheckStatus::Fail]);
    let r = paid("12.50", "20.00", "8.50", "1.00");
    assert_eq!(
        message(&r, "change"),
        "paid 20.00 − change 8.50 = 11.50: the total 12.50 less discount 1.00"
    );
    assert!(r.checks_passed(), "{:?}", r.checks);
    // A total that is the amount due leaves no room for the discount a second time.
    let r = paid("11.50", "20.00", "9.50", "1.00");
    assert_eq!(status(&r, "change"), [CheckStatus::Fail]);
    for (total, change) in [("12.50", "7.60"), ("12.58", "7.52"), ("12.50", "6.50")] {
        let r = paid(total, "20.00", change, "");
        assert_eq!(
            status(&r, "change"),
            [CheckStatus::Fail],
            "{total} {change}"
        );
        assert!(message(&r, "change").contains(change));
    }
}

fn invoice_with(key: &str, value: &str) -> piaoju::UsedCarInvoice {
    let mut v: serde_json::Value = serde_json::from_str(UMS_SEED).unwrap();
    for f in v["PageInfo"][0]["Result"][0]["ResultList"][0]["FieldList"]
        .as_array_mut()
        .unwrap()
    {
        if f["key"] == key {
            f["value"] = value.into();
        }
    }
    let (sb, client) = sandbox_client();
    let image = unique_png();
    sb.register_answer(&image, 200, v.to_string());
    client.recognize_used_car_invoice(&image).unwrap()
}

#[test]
fn contradictory_invoices_fail_their_checks() {
    let seed = invoice_with("BZ", "");
    assert!(seed.checks_passed(), "{:?}", seed.checks);
    assert_eq!(
        status_of(&seed.checks, "dealer_tax_id"),
        [CheckStatus::Skipped]
    );
    for (key, value, check, want) in [
        (
            "CJHJDX",
            "壹万贰仟圆整",
            "total_price_in_words",
            CheckStatus::Fail,
        ),
        (
            "CJHJDX",
            "一万元",
            "total_price_in_words",
            CheckStatus::Fail,
        ),
        (
            "CJHJ",
            "12000.00",
            "total_price_in_words",
            CheckStatus::Fail,
        ),
        ("CJHJDX", "", "total_price_in_words", CheckStatus::Skipped),
        ("CJHM", "LFV3A28W6K3705007", "vin", CheckStatus::Fail),
        ("GFHM", "430124199803279593", "buyer_id", CheckStatus::Fail),
        ("GFHM", "12345", "buyer_id", CheckStatus::Skipped),
        ("XFHM", "914301243294121313", "seller_id", CheckStatus::Pass),
        ("XFHM", "914301243294121314", "seller_id", CheckStatus::Fail),
        (
            "SCSBH",
            "914301243294121314",
            "market_tax_id",
            CheckStatus::Fail,
        ),
        ("SCSBH", "43012419", "market_tax_id", CheckStatus::Skipped),
        (
            "JYSBH",
            "914301243294121313",
            "dealer_tax_id",
            CheckStatus::Pass,
        ),
        (
            "FPHM",
            "24432000000066482202",
            "invoice_number",
            CheckStatus::Fail,
        ),
        ("KPRQ", "20250230", "issue_date", CheckStatus::Fail),
        ("KPRQ", "20990101", "issue_date", CheckStatus::Fail),
        ("CPZH", "湘A", "plate_number", CheckStatus::Fail),
        ("CPZH", "湘AD12345", "plate_number", CheckStatus::Pass),
    ] {
        let inv = invoice_with(key, value);
        assert_eq!(
            status_of(&inv.checks, check),
            [want],
            "{key}={value:?}: {:?}",
            inv.checks
        );
    }
    let inv = invoice_with("CJHM", "LFV3A28W6K37O5006");
    let vin = inv.checks.iter().find(|c| c.name == "vin").unwrap();
    assert_eq!(vin.suggestion.as_deref(), Some(SEED_VIN));
    assert_eq!(
        inv.vin.as_deref(),
        Some("LFV3A28W6K37O5006"),
        "the value itself is never changed"
    );
    let j: serde_json::Value = serde_json::from_str(&inv.to_json()).unwrap();
    let vin_json = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "vin")
        .unwrap();
    assert_eq!(vin_json["status"], "fail");
    assert_eq!(vin_json["suggestion"], SEED_VIN);
    assert_eq!(vin_json["fields"], serde_json::json!(["vin"]));
}

#[test]
fn odd_input_never_panics() {
    let odd = [
        "",
        " ",
        "湘",
        "湘湘湘湘湘湘湘湘湘湘湘湘湘湘湘湘湘湘",
        "４３０１２４１９９８０３２７９５９２",
        "43012419980327959２",
        "LFV3A28W6K370500６",
        "\u{0}",
        "ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ",
        "9143012432941213１3",
        "2543200000006648220２",
        "壹万圆整壹万圆整",
        "零",
        "元",
        "角分",
        "壹亿亿",
        "拾拾",
        "\u{FEFF}壹元",
        "12345678901234567890123456789012345678901234567890",
    ];
    for s in odd {
        let _ = (
            check::vin(s),
            check::resident_id(s),
            check::social_credit_code(s),
            check::party_id(s),
        );
        let _ = (
            check::invoice_number(s, Some(s)),
            check::plate_number(s),
            check::issue_date(s),
        );
        let _ = amount_in_words(s);
        let _ = (Date::parse(s), Time::parse(s), Decimal::parse(s));
    }
}
