//! The bounded retry of an optimistic write: read, decide, write if nothing changed meanwhile
//! (a compare-and-set on a version or a status), and read again when something did.
//!
//! Every stored record that two tasks may change at once (a flow, a backchannel request) is
//! written this way. The bound keeps a record that changes without pause from holding a task
//! forever; the caller says what losing every attempt means.

/// What one attempt came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt<T> {
    /// The write won, or the attempt decided there is nothing to write: the loop ends with this.
    Done(T),
    /// Another writer changed the record between the read and the write: read again.
    Lost,
}

impl<T> Attempt<T> {
    /// `Done(value)` if the compare-and-set write `won`, else `Lost`.
    pub fn won(won: bool, value: T) -> Self {
        if won { Self::Done(value) } else { Self::Lost }
    }
}

/// Runs `attempt` until it is [`Attempt::Done`] or an error, at most `attempts` times.
/// `Ok(None)` means every attempt lost.
///
/// `attempt` returns a future rather than being an async closure so that the loop stays `Send`
/// inside spawned tasks.
pub async fn compare_and_set<T, E, Fut>(
    attempts: usize,
    mut attempt: impl FnMut() -> Fut,
) -> Result<Option<T>, E>
where
    Fut: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..attempts {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
