//! Delivery of links and codes. A [`Sender`] takes a finished message; which one runs is
//! configuration. The development outbox stores messages so people (`/dev/outbox`) and tests
//! (`/dev/outbox.json`) can read them.

use std::{fmt, future::Future, pin::Pin};

use crate::{
    clock::Clock,
    store::{NewMessage, SharedStore},
};

/// A boxed future that can cross threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message ready to deliver.
#[derive(Clone)]
pub struct Outgoing {
    /// `sms` or `email`.
    pub channel: &'static str,
    /// Phone number or email address.
    pub to: String,
    /// Email subject.
    pub subject: Option<String>,
    /// The text (it may hold a link or a one-time code: never log it).
    pub body: String,
    /// The link in the text, if any.
    pub link: Option<String>,
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
#[error("delivery failed: {0}")]
pub struct SendError(pub String);

/// Delivers messages.
pub trait Sender: Send + Sync + fmt::Debug + 'static {
    /// Delivers `message`, or says why not.
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>>;
}

/// The development outbox: messages are stored, not sent.
#[derive(Clone, Debug)]
pub struct Outbox {
    store: SharedStore,
    clock: Clock,
}

impl Outbox {
    /// An outbox in `store`, stamping messages with `clock`.
    pub fn new(store: SharedStore, clock: Clock) -> Self {
        Self { store, clock }
    }
}

impl Sender for Outbox {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let new = NewMessage {
                channel: message.channel,
                recipient: &message.to,
                subject: message.subject.as_deref(),
                body: &message.body,
                link: message.link.as_deref(),
            };
            self.store
                .insert_message(&new, self.clock.now())
                .await
                .map(|_| ())
                .map_err(|error| SendError(error.to_string()))
        })
    }
}
