use super::*;

#[tokio::test]
async fn it_retries_lost_attempts_up_to_the_bound() {
    let mut tries = 0;
    let won = compare_and_set(5, || {
        tries += 1;
        let this = tries;
        async move { Ok::<_, ()>(Attempt::won(this >= 3, this)) }
    })
    .await;
    assert_eq!(won, Ok(Some(3)));

    let mut tries = 0;
    let lost = compare_and_set(4, || {
        tries += 1;
        async { Ok::<Attempt<()>, ()>(Attempt::Lost) }
    })
    .await;
    assert_eq!((lost, tries), (Ok(None), 4));

    let mut tries = 0;
    let failed = compare_and_set(4, || {
        tries += 1;
        async { Err::<Attempt<()>, _>("the store is down") }
    })
    .await;
    assert_eq!((failed, tries), (Err("the store is down"), 1));
}
