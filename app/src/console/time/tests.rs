use super::*;

#[test]
fn utc_times_are_right() {
    // 2025-11-24T14:03:07Z
    let ms = 1_763_992_987_000;
    assert_eq!(clock(ms, false), "14:03:07 UTC");
    assert_eq!(stamp(ms, false), "2025-11-24 14:03 UTC");
    assert_eq!(iso(ms), "2025-11-24T14:03:07Z");
    assert_eq!(date(ms), "2025-11-24");
    assert_eq!(day_start_ms("2025-11-24"), Some(1_763_942_400_000));
    assert_eq!(day_start_ms("1970-01-01"), Some(0));
    assert_eq!(day_start_ms("2024-02-29"), Some(1_709_164_800_000));
    for bad in [
        "",
        "2025-11",
        "2025-11-24-1",
        "2025-13-01",
        "2025-02-29",
        "2025-11-31",
        "25-11-24",
        "2025-1-24",
        "2025-11-2x",
        "+025-11-24",
        " 2025-11-24",
    ] {
        assert_eq!(day_start_ms(bad), None, "{bad:?}");
    }
    assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(iso(-1000), "1969-12-31T23:59:59Z");
}

#[test]
fn countdowns_read_naturally() {
    assert_eq!(countdown(581_000), "9:41");
    assert_eq!(countdown(59_999), "0:59");
    assert_eq!(countdown(3_723_000), "1:02:03");
    assert_eq!(countdown(-5), "0:00");
}
