use super::*;

const NOW: i64 = 1_763_992_987_000; // 2025-11-24T14:03:07Z
const TODAY: i64 = 1_763_942_400_000; // 2025-11-24T00:00:00Z

#[test]
fn ranges_are_whole_utc_days() {
    assert_eq!(
        Range::of("", NOW),
        Ok(Range {
            from: TODAY - 29 * DAY_MS,
            until: TODAY + DAY_MS
        })
    );
    assert_eq!(
        Range::of("from=2025-11-01&to=2025-11-02", NOW),
        Ok(Range {
            from: TODAY - 23 * DAY_MS,
            until: TODAY - 21 * DAY_MS
        })
    );
    // Empty fields (a form sent as it was) mean the default.
    assert_eq!(Range::of("from=&to=", NOW), Range::of("", NOW));
    assert_eq!(
        Range::of("from=2025-11-03&to=2025-11-02", NOW),
        Err("The first day comes after the last one.")
    );
    assert_eq!(
        Range::of("from=2024-11-23&to=2025-11-24", NOW),
        Err("Export at most 366 days at a time.")
    );
    assert!(Range::of("from=2024-11-24&to=2025-11-24", NOW).is_ok());
    for bad in ["from=yesterday", "to=2025-02-30", "from=2025-11-01%00"] {
        assert_eq!(
            Range::of(bad, NOW),
            Err("Give dates as YYYY-MM-DD."),
            "{bad}"
        );
    }
}

#[test]
fn cells_are_quoted_and_formulas_defused() {
    assert_eq!(cell_text("alice@example.com"), "\"alice@example.com\"");
    assert_eq!(cell_text("a,b"), "\"a,b\"");
    assert_eq!(cell_text("x;=cmd"), "\"x;=cmd\"");
    assert_eq!(cell_text("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(cell_text("two\nlines"), "\"two\nlines\"");
    assert_eq!(cell_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(cell_text("  =1+1"), "\"'  =1+1\"");
    assert_eq!(cell_text("+15555550101"), "\"'+15555550101\"");
    assert_eq!(cell_text("-1"), "\"'-1\"");
    assert_eq!(cell_text("@SUM(A1)"), "\"'@SUM(A1)\"");
    assert_eq!(cell_text("\tx"), "\"'\tx\"");
    assert_eq!(cell_text(""), "\"\"");
    let mut out = String::new();
    line(&mut out, ["a".to_owned(), String::new(), "c,d".to_owned()]);
    assert_eq!(out, "\"a\",\"\",\"c,d\"\r\n");
}
