use super::*;

#[test]
fn windows_are_aligned_and_cover_now() {
    let rule = Rule::new("r", 1, 60);
    let window = Window::of(rule, Timestamp(125_500));
    assert_eq!(
        window,
        Window {
            start: 120_000,
            end: 180_000
        }
    );
    let window = Window::of(rule, Timestamp(120_000));
    assert_eq!(window.start, 120_000);
}

#[test]
fn rules_read_as_operators_write_them() {
    assert_eq!(parse_rule("600/1m"), Ok((600, Duration::from_secs(60))));
    assert_eq!(parse_rule(" 5 / 10m "), Ok((5, Duration::from_secs(600))));
    assert_eq!(parse_rule("20/1d"), Ok((20, Duration::from_secs(86_400))));
    assert_eq!(parse_rule("30/90s"), Ok((30, Duration::from_secs(90))));
    for bad in [
        "",
        "5",
        "/10m",
        "5/",
        "0/1m",
        "-1/1m",
        "5/10",
        "5/m",
        "5/10w",
        "5/0s",
        "5/31d",
        "1000000001/1s",
        "5/1m/2",
        "x/1m",
        "5/99999999999999999999d",
    ] {
        assert!(parse_rule(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn a_verdict_refuses_only_past_the_limit_and_says_how_long_to_wait() {
    let rule = Rule::new("t", 2, 60);
    let now = Timestamp(90_500);
    let window = Window::of(rule, now);
    assert_eq!(window.verdict(rule, 1, now), Ok(()));
    assert_eq!(window.verdict(rule, 2, now), Ok(()));
    // The window is 60 s to 120 s: 29.5 s are left, rounded up.
    assert_eq!(window.verdict(rule, 3, now), Err(30));
}
