use super::*;

const START: Timestamp = Timestamp(1_700_000_000_000);

fn pending() -> PollState {
    PollState {
        status: Status::Pending,
        expires_at: START.plus(Duration::from_secs(600)),
        interval: DEFAULT_INTERVAL,
        last_poll: None,
    }
}

fn at(seconds: u64) -> Timestamp {
    START.plus(Duration::from_secs(seconds))
}

#[test]
fn the_first_poll_is_never_too_early() {
    let (outcome, state) = decide(pending(), START);
    assert_eq!(outcome, Outcome::Refuse(ErrorCode::AuthorizationPending));
    assert_eq!(state.last_poll, Some(START));
    assert_eq!(state.interval, DEFAULT_INTERVAL);
}

#[test]
fn polling_faster_than_the_interval_slows_down_by_five_seconds() {
    let (_, state) = decide(pending(), at(0));
    let (outcome, state) = decide(state, START.plus(Duration::from_millis(4_999)));
    assert_eq!(outcome, Outcome::Refuse(ErrorCode::SlowDown));
    assert_eq!(state.interval, Duration::from_secs(10));
    // Measured from the poll that was too early: 9 s later is still too early for 10 s.
    let (outcome, state) = decide(state, START.plus(Duration::from_millis(13_999)));
    assert_eq!(outcome, Outcome::Refuse(ErrorCode::SlowDown));
    assert_eq!(state.interval, Duration::from_secs(15));
    // Waiting the whole interval is fine again.
    let (outcome, state) = decide(state, START.plus(Duration::from_millis(28_999)));
    assert_eq!(outcome, Outcome::Refuse(ErrorCode::AuthorizationPending));
    assert_eq!(state.interval, Duration::from_secs(15));
}

#[test]
fn approval_issues_once() {
    let approved = PollState {
        status: Status::Approved,
        ..pending()
    };
    let (outcome, state) = decide(approved, at(1));
    assert_eq!(outcome, Outcome::Issue);
    assert_eq!(state.status, Status::Redeemed);
    let (outcome, _) = decide(state, at(2));
    assert_eq!(outcome, Outcome::Refuse(ErrorCode::InvalidGrant));
}

#[test]
fn denial_and_expiry() {
    let denied = PollState {
        status: Status::Denied,
        ..pending()
    };
    assert_eq!(
        decide(denied, at(1)).0,
        Outcome::Refuse(ErrorCode::AccessDenied)
    );
    for status in [Status::Pending, Status::Approved, Status::Denied] {
        let state = PollState {
            status,
            ..pending()
        };
        assert_eq!(
            decide(state, at(600)).0,
            Outcome::Refuse(ErrorCode::ExpiredToken),
            "{status:?}"
        );
    }
    let redeemed = PollState {
        status: Status::Redeemed,
        ..pending()
    };
    assert_eq!(
        decide(redeemed, at(601)).0,
        Outcome::Refuse(ErrorCode::InvalidGrant)
    );
}

#[test]
fn stored_names_round_trip() {
    for status in [
        Status::Pending,
        Status::Approved,
        Status::Denied,
        Status::Redeemed,
    ] {
        assert_eq!(Status::parse(status.as_str()), Some(status));
    }
    assert_eq!(Status::parse("other"), None);
}
