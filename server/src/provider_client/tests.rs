use super::*;

#[test]
fn only_plain_versions_are_shown() {
    assert_eq!(shown_version("0.1.0"), "0.1.0");
    assert_eq!(shown_version("1.2.3-rc.1+abc"), "1.2.3-rc.1+abc");
    for odd in ["", "http://10.0.0.5:3001", "<b>", &"1".repeat(41)] {
        assert_eq!(shown_version(odd), "unknown", "{odd:?}");
    }
}
