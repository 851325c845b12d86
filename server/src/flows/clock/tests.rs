use std::time::Duration;

use super::*;

#[tokio::test(start_paused = true)]
async fn follows_the_paused_clock() {
    let clock = Clock::starting_at(1_000);
    assert_eq!(clock.now_ms(), 1_000);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(clock.now_ms(), 6_000);
    let at = clock.instant_at(8_000);
    assert_eq!(at - Instant::now(), Duration::from_secs(2));
}
