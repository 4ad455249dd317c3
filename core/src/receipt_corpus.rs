//! Receipts as Chinese shops print them (weighed goods, unit prices with their units, discount
//! lines and fields, 抹零, paid amounts and change), made by `scripts/make_receipt_corpus.py`,
//! an independent implementation that works out with exact fractions what each receipt holds.
//! Each is read from its Juhe answer exactly as the service would send it, and three rates are
//! measured and printed: false alarms on correct receipts, values read wrongly, and planted
//! single-digit misreads (in a subtotal or the total) caught by a failed check.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::wire::HttpAnswer;

/// The corpus, generated now (it is too large for git; its digest is in
/// tests/fixtures/receipt_corpus.sha256, checked by `make_receipt_corpus.py --check`).
fn corpus(args: &[&str]) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new("python3")
        .arg(format!("{root}/scripts/make_receipt_corpus.py"))
        .arg("--stdout")
        .args(args)
        .current_dir(root)
        .env("PYTHONIOENCODING", "utf-8")
        .output()
        .expect("python3 runs scripts/make_receipt_corpus.py (the test command installs it)");
    assert!(
        out.status.success(),
        "make_receipt_corpus.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the corpus is UTF-8")
}

fn parse(answer: &Value) -> crate::ShoppingReceipt {
    crate::juhe::parse_answer(&HttpAnswer {
        status: 200,
        body: answer.to_string().into_bytes(),
        retry_after: None,
    })
    .expect("a corpus answer is a receipt")
}

/// The fields whose read value differs from what the generator says the receipt holds.
fn wrong_values(got: &Value, want: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let null = Value::Null;
    for key in [
        "total_amount",
        "paid_amount",
        "change",
        "discount",
        "table_row_num",
    ] {
        if got.get(key).unwrap_or(&null) != &want[key] {
            wrong.push(format!("{key}: read {}, holds {}", got[key], want[key]));
        }
    }
    let (got_items, want_items) = (got["items"].as_array(), want["items"].as_array().unwrap());
    if got_items.map(Vec::len) != Some(want_items.len()) {
        wrong.push("items: a different number of lines".into());
        return wrong;
    }
    for (k, (g, w)) in got_items.unwrap().iter().zip(want_items).enumerate() {
        for (key, value) in w.as_object().unwrap() {
            if g.get(key).unwrap_or(&null) != value {
                wrong.push(format!(
                    "items[{k}].{key}: read {}, holds {value}",
                    g.get(key).unwrap_or(&null)
                ));
            }
        }
    }
    wrong
}

/// What one run over a corpus measured.
struct Measured {
    receipts: usize,
    false_alarms: usize,
    wrong: usize,
    planted: usize,
    caught: usize,
    forms: BTreeMap<String, usize>,
}

/// Read every receipt of the corpus made with `args`, print the three rates (and, to compare
/// with code that has no unit fields or raises false alarms, the receipts with a wrong value
/// other than a unit, and the misreads caught on receipts whose correct version raised no
/// alarm) and a few examples.
fn measure(args: &[&str]) -> Measured {
    let corpus = corpus(args);
    let (mut receipts, mut false_alarms, mut wrong) = (0usize, 0usize, 0usize);
    let (mut planted, mut caught) = (0usize, 0usize);
    // Figures that stay comparable with code that has no unit fields or raises false alarms:
    // receipts with a wrong value other than a unit, and misreads caught on receipts whose
    // correct version raised no alarm.
    let mut wrong_besides_units = 0usize;
    let mut clean: Vec<bool> = Vec::new();
    let (mut planted_on_clean, mut caught_on_clean) = (0usize, 0usize);
    let mut wrong_by_field: BTreeMap<String, usize> = BTreeMap::new();
    let mut alarms_by_check: BTreeMap<String, usize> = BTreeMap::new();
    let mut forms: BTreeMap<String, usize> = BTreeMap::new();
    let mut examples: Vec<String> = Vec::new();
    for line in corpus.lines() {
        let case: Value = serde_json::from_str(line).unwrap();
        let id = &case["id"];
        let r = parse(&case["answer"]);
        match case["kind"].as_str().unwrap() {
            "receipt" => {
                receipts += 1;
                for f in case["forms"].as_array().unwrap() {
                    *forms.entry(f.as_str().unwrap().to_string()).or_default() += 1;
                }
                let got = serde_json::to_value(&r).unwrap();
                let bad = wrong_values(&got, &case["expect"]);
                if bad.iter().any(|b| !b.contains("_unit:")) {
                    wrong_besides_units += 1;
                }
                if !bad.is_empty() {
                    wrong += 1;
                    for b in &bad {
                        let field = b.split(':').next().unwrap();
                        let field = field.split('.').next_back().unwrap_or(field);
                        *wrong_by_field.entry(field.to_string()).or_default() += 1;
                    }
                    if examples.len() < 6 {
                        examples.push(format!("receipt {id}: {}", bad.join("; ")));
                    }
                }
                let failed: Vec<&crate::Check> = r.checks.iter().filter(|c| c.failed()).collect();
                let id = usize::try_from(id.as_u64().unwrap()).unwrap();
                clean.resize(clean.len().max(id + 1), false);
                clean[id] = failed.is_empty();
                if !failed.is_empty() {
                    false_alarms += 1;
                    for c in &failed {
                        *alarms_by_check.entry(c.name.clone()).or_default() += 1;
                    }
                    if examples.len() < 12 {
                        examples.push(format!("receipt {id}: false alarm {}", failed[0].message));
                    }
                }
            }
            "misread" => {
                planted += 1;
                let on_clean = clean[usize::try_from(id.as_u64().unwrap()).unwrap()];
                planted_on_clean += usize::from(on_clean);
                caught_on_clean += usize::from(on_clean && !r.checks_passed());
                if r.checks_passed() {
                    if examples.len() < 18 {
                        examples.push(format!(
                            "receipt {id}: {} {} misread as {} passed every check",
                            case["field"], case["printed"], case["misread"]
                        ));
                    }
                } else {
                    caught += 1;
                }
            }
            other => panic!("unknown corpus kind {other}"),
        }
    }
    let rate = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
    println!(
        "receipt corpus {args:?}: {receipts} correct receipts, {planted} with a planted single-digit \
         misread\n  false alarms on correct receipts: {false_alarms} ({:.1} %) {alarms_by_check:?}\n  \
         receipts with a value read wrongly: {wrong} ({:.1} %) {wrong_by_field:?}, \
         {wrong_besides_units} besides the units\n  planted misreads caught: {caught} of \
         {planted} ({:.1} %); on receipts whose correct version raised no alarm: \
         {caught_on_clean} of {planted_on_clean} ({:.1} %)\n  forms: {forms:?}",
        rate(false_alarms, receipts),
        rate(wrong, receipts),
        rate(caught, planted),
        rate(caught_on_clean, planted_on_clean),
    );
    for e in &examples {
        println!("  {e}");
    }
    Measured {
        receipts,
        false_alarms,
        wrong,
        planted,
        caught,
        forms,
    }
}

#[test]
fn receipts_as_shops_print_them_no_false_alarm_no_wrong_value_misreads_caught() {
    let Measured {
        receipts,
        false_alarms,
        wrong,
        planted,
        caught,
        forms,
    } = measure(&[]);
    assert!(receipts >= 1000, "the corpus has {receipts} receipts");
    // Every form the generator prints is there, many times over.
    for form in [
        "weighed",
        "jin",
        "gram",
        "liang",
        "kg",
        "count_unit",
        "price_unit",
        "conversion",
        "half_up",
        "cut",
        "moling_jiao",
        "moling_yuan",
        "total_before_moling",
        "member",
        "manjian",
        "coupon",
        "discount_field",
        "discount_summary",
        "total_before_discount",
        "minus_after",
        "unsigned_discount",
        "change",
        "exact_paid",
    ] {
        let n = forms.get(form).copied().unwrap_or(0);
        assert!(n >= 20, "only {n} receipts show {form}");
    }
    assert_eq!(false_alarms, 0, "false alarms on correct receipts");
    assert_eq!(wrong, 0, "receipts with a value read wrongly");
    assert!(
        caught * 100 >= planted * 95,
        "planted misreads caught: {caught} of {planted}"
    );
}

/// On receipts of only what the exact checks read (counted goods, plain prices, paid and
/// change), the tolerance for rounding and 抹零 costs few detections: a misread that turns the
/// total into itself rounded down to the jiao or the yuan (12.58 → 12.50) looks like 抹零.
#[test]
fn misreads_are_still_caught_on_receipts_without_units_discounts_or_moling() {
    let m = measure(&["--plain", "--count", "600", "--seed", "7"]);
    assert_eq!(m.receipts, 600);
    assert_eq!(m.false_alarms, 0);
    assert_eq!(m.wrong, 0);
    assert!(
        m.caught * 100 >= m.planted * 97,
        "planted misreads caught: {} of {}",
        m.caught,
        m.planted
    );
}
