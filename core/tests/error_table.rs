//! The error table of `docs/errors.md` is the catalogue: every code, name, band and retry flag, in order.

use piaoju::ErrorCode;

#[test]
fn the_documented_error_table_lists_the_whole_catalogue() {
    let doc = include_str!("../../docs/errors.md");
    let rows: Vec<Vec<String>> = doc
        .lines()
        .filter(|l| {
            l.starts_with("| ")
                && l.split('|')
                    .nth(1)
                    .is_some_and(|c| c.trim().parse::<u32>().is_ok())
        })
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect();
    let codes: Vec<&ErrorCode> = ErrorCode::ALL
        .iter()
        .filter(|c| **c != ErrorCode::Ok)
        .collect();
    assert_eq!(rows.len(), codes.len(), "docs/errors.md error table rows");
    for (row, code) in rows.iter().zip(codes) {
        assert_eq!(row[1], code.as_u32().to_string());
        assert_eq!(row[2], format!("`{}`", code.name()));
        assert_eq!(row[3], code.band().as_str());
        assert_eq!(
            row[4],
            if code.retryable() { "yes" } else { "no" },
            "{}",
            code.name()
        );
        assert!(row[5].len() > 10);
    }
}
