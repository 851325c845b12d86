use super::*;

#[test]
fn a_manual_clock_moves_only_when_advanced() {
    let clock = Clock::manual(Timestamp(1_000));
    assert_eq!(clock.now(), Timestamp(1_000));
    clock.advance(Duration::from_millis(4_999));
    assert_eq!(clock.now(), Timestamp(5_999));
    assert_eq!(clock.now().unix_seconds(), 5);
    assert_eq!(
        clock.now().since(Timestamp(1_000)),
        Duration::from_millis(4_999)
    );
    assert_eq!(Timestamp(1_000).since(clock.now()), Duration::ZERO);
}

#[test]
fn the_system_clock_is_after_2024() {
    assert!(Clock::System.now().unix_seconds() > 1_700_000_000);
}
