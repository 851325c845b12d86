use super::*;

const T0: i64 = 1_800_000_000_000;
const S: i64 = 1000;

fn started() -> PollState {
    PollState::started(T0, Duration::from_secs(120), Duration::from_secs(5))
}

fn at(next: Next) -> (i64, PollState) {
    match next {
        Next::PollAt { at, state } => (at, state),
        Next::Expire => panic!("expired"),
    }
}

#[test]
fn the_first_poll_waits_one_interval() {
    let (when, state) = at(started().first_poll(T0));
    assert_eq!(when, T0 + 5 * S);
    assert_eq!(state.last_poll_at, None);
}

#[test]
fn pending_waits_the_interval_from_the_poll() {
    let (when, state) = at(started().after(T0 + 5 * S, Answer::Pending, T0 + 5 * S + 200));
    // The wait counts from when the answer came, never less than a whole interval after
    // the poll went out.
    assert_eq!(when, T0 + 10 * S + 200);
    assert_eq!(state.last_poll_at, Some(T0 + 5 * S));
    assert_eq!(state.interval, Duration::from_secs(5));
}

#[test]
fn slow_down_adds_five_seconds_for_good() {
    let (when, state) = at(started().after(T0 + 5 * S, Answer::SlowDown, T0 + 5 * S));
    assert_eq!(state.interval, Duration::from_secs(10));
    assert_eq!(when, T0 + 15 * S);
    let (when, state) = at(state.after(when, Answer::Pending, when));
    assert_eq!(state.interval, Duration::from_secs(10));
    assert_eq!(when, T0 + 25 * S);
    let (_, state) = at(state.after(when, Answer::SlowDown, when));
    assert_eq!(state.interval, Duration::from_secs(15));
}

#[test]
fn failures_back_off_doubling_to_a_minute_and_reset_on_an_answer() {
    let mut state = started();
    state.expires_at = T0 + 3600 * S;
    let mut now = T0;
    let mut waits = Vec::new();
    for _ in 0..6 {
        let (when, next) = at(state.after(now, Answer::Unavailable, now));
        waits.push((when - now) / S);
        state = next;
        now = when;
    }
    assert_eq!(waits, [10, 20, 40, 60, 60, 60]);
    let (when, state) = at(state.after(now, Answer::Pending, now));
    assert_eq!(state.failures, 0);
    assert_eq!(when - now, 5 * S);
}

#[test]
fn rate_limits_are_honoured_but_bounded() {
    let (when, _) = at(started().after(T0, Answer::RateLimited(Some(Duration::from_secs(30))), T0));
    assert_eq!(when, T0 + 30 * S);
    let (when, _) = at(started().after(T0, Answer::RateLimited(Some(Duration::from_secs(1))), T0));
    assert_eq!(when, T0 + 5 * S, "never sooner than the interval");
    let (when, _) = at(started().after(T0, Answer::RateLimited(None), T0));
    assert_eq!(when, T0 + 5 * S);
    let long = started().after(
        T0,
        Answer::RateLimited(Some(Duration::from_secs(86_400))),
        T0,
    );
    assert_eq!(at(long).0, T0 + 60 * S, "a day-long Retry-After is capped");
}

#[test]
fn no_poll_is_planned_past_expiry() {
    let state = PollState::started(T0, Duration::from_secs(12), Duration::from_secs(5));
    let (when, state) = at(state.first_poll(T0));
    let (when, state) = at(state.after(when, Answer::Pending, when));
    assert_eq!(when, T0 + 10 * S);
    assert_eq!(state.after(when, Answer::Pending, when), Next::Expire);
    assert_eq!(state.first_poll(T0 + 12 * S), Next::Expire);
}

#[test]
fn a_nudge_polls_at_the_earliest_moment_the_interval_allows() {
    let (when, state) = at(started().first_poll(T0));
    let (_, state) = at(state.after(when, Answer::Pending, when));
    // Decided 1 s after the last poll: poll 4 s later, not 5 s after the decision.
    assert_eq!(at(state.nudged(when + S)).0, when + 5 * S);
    // Decided long after: poll at once.
    assert_eq!(at(state.nudged(when + 7 * S)).0, when + 7 * S);
    // Never polled yet: at once.
    assert_eq!(at(started().nudged(T0 + 2 * S)).0, T0 + 2 * S);
}

#[test]
fn a_nudge_close_to_expiry_polls_at_once() {
    let state = PollState {
        last_poll_at: Some(T0 + 117 * S),
        ..started()
    };
    // The interval would end after the request does: ask now.
    assert_eq!(at(state.nudged(T0 + 118 * S)).0, T0 + 118 * S);
    assert_eq!(state.nudged(T0 + 120 * S), Next::Expire);
}

#[test]
fn tiny_intervals_are_raised() {
    let state = PollState::started(T0, Duration::from_secs(60), Duration::ZERO);
    assert_eq!(state.interval, MIN_INTERVAL);
    assert_eq!(backoff(Duration::from_secs(90), 3), Duration::from_secs(90));
}

#[test]
fn ping_mode_polls_only_as_a_safety_net_and_once_before_expiry() {
    let state = started();
    // The first poll waits the safety net, not the interval.
    let (when, _) = at(state.safety_net(state.first_poll(T0), T0));
    assert_eq!(when, T0 + 30 * S);
    // A longer wait (a slow_down, a backoff) stays as it is.
    let slow = state.after(
        T0 + 30 * S,
        Answer::RateLimited(Some(Duration::from_secs(50))),
        T0 + 30 * S,
    );
    let (when, _) = at(state.safety_net(slow, T0 + 30 * S));
    assert_eq!(when, T0 + 80 * S);
    // Near the end, the last poll goes out a second before expiry instead of never.
    let late = state.after(T0 + 100 * S, Answer::Pending, T0 + 100 * S);
    let (when, _) = at(state.safety_net(late, T0 + 100 * S));
    assert_eq!(when, T0 + 119 * S);
    // An expiry stays an expiry.
    assert_eq!(state.safety_net(Next::Expire, T0 + 100 * S), Next::Expire);
}
