use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;

const MEMORY: Duration = Duration::from_secs(5);

fn keep(outcome: &Result<u32, String>) -> Keep {
    match outcome {
        Ok(_) => Keep::Forever,
        Err(_) => Keep::For(MEMORY),
    }
}

fn lost() -> Result<u32, String> {
    Err("lost".to_owned())
}

/// A provider that takes 2 s to fail while down (a connect timeout) and counts attempts.
#[derive(Clone, Default)]
struct Fake {
    up: Arc<AtomicBool>,
    attempts: Arc<AtomicUsize>,
}

impl Fake {
    fn attempt(&self) -> impl Future<Output = Result<u32, String>> + Send + 'static {
        let this = self.clone();
        async move {
            this.attempts.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(2)).await;
            if this.up.load(Ordering::SeqCst) {
                Ok(7)
            } else {
                Err("cannot connect".to_owned())
            }
        }
    }
}

async fn twenty(memo: &Arc<Memo<Result<u32, String>>>, fake: &Fake) -> Vec<Result<u32, String>> {
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (memo, fake) = (Arc::clone(memo), fake.clone());
        callers.spawn(async move { memo.get(|| fake.attempt(), keep, lost).await });
    }
    callers.join_all().await
}

#[tokio::test(start_paused = true)]
async fn case_24_twenty_callers_in_an_outage_share_one_attempt_then_fail_fast() {
    let memo = Arc::new(Memo::new());
    let fake = Fake::default();

    // Twenty at once while the provider is down: one attempt, one wait, one error each.
    let started = Instant::now();
    let outcomes = twenty(&memo, &fake).await;
    assert_eq!(fake.attempts.load(Ordering::SeqCst), 1);
    assert!(
        outcomes
            .iter()
            .all(|o| *o == Err("cannot connect".to_owned()))
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2),
        "one attempt's time, not 20"
    );

    // Within the memory: the remembered error at once, no new attempt.
    tokio::time::advance(Duration::from_secs(1)).await;
    let started = Instant::now();
    let outcomes = twenty(&memo, &fake).await;
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(fake.attempts.load(Ordering::SeqCst), 1);
    assert!(
        outcomes
            .iter()
            .all(|o| *o == Err("cannot connect".to_owned()))
    );

    // The provider comes up; once the memory has expired, one attempt connects everyone.
    fake.up.store(true, Ordering::SeqCst);
    tokio::time::advance(MEMORY).await;
    let outcomes = twenty(&memo, &fake).await;
    assert_eq!(fake.attempts.load(Ordering::SeqCst), 2);
    assert!(outcomes.iter().all(|o| *o == Ok(7)));

    // And the connection is kept for good.
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(memo.get(|| fake.attempt(), keep, lost).await, Ok(7));
    assert_eq!(fake.attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_caller_that_gives_up_does_not_cancel_the_attempt() {
    let memo = Arc::new(Memo::new());
    let fake = Fake::default();
    fake.up.store(true, Ordering::SeqCst);
    let waiting = tokio::time::timeout(
        Duration::from_secs(1),
        memo.get(|| fake.attempt(), keep, lost),
    )
    .await;
    assert!(waiting.is_err(), "gave up before the attempt ended");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(memo.get(|| fake.attempt(), keep, lost).await, Ok(7));
    assert_eq!(fake.attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn timed_outcomes_are_refreshed_once_per_period() {
    let memo: Memo<u32> = Memo::new();
    let attempts = Arc::new(AtomicUsize::new(0));
    let get = || {
        let attempts = Arc::clone(&attempts);
        memo.get(
            move || async move {
                u32::try_from(attempts.fetch_add(1, Ordering::SeqCst)).unwrap_or(0)
            },
            |_| Keep::For(Duration::from_secs(3)),
            || u32::MAX,
        )
    };
    assert_eq!(get().await, 0);
    assert_eq!(get().await, 0);
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(get().await, 1);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}
