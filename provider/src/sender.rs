//! Delivery of links and codes. A [`Sender`] takes a finished message; which one runs is
//! configuration ([`crate::config::Delivery`]):
//!
//! - [`Outbox`], the development outbox (the default for both channels): messages are stored so
//!   people (`/dev/outbox`) and tests (`/dev/outbox.json`) can read them.
//! - [`Smtp`]: emails through an SMTP server.
//! - [`Webhook`]: SMS messages as a signed JSON POST to a gateway; [`webhook`] describes the
//!   request and how a receiver verifies its signature.
//! - [`Router`]: emails to one sender, SMS messages to another.
//!
//! A message holds a link or a one-time code: no sender logs it, and a [`SendError`] says what
//! failed without repeating the message, a receiver's answer body, or any secret.
//!
//! Every send made for a request is bounded by [`SEND_DEADLINE`] ([`send_within`]): the
//! provider answers within that time, and a message not handed over by then counts as not
//! delivered, exactly like a failed one. A client of the provider (the BFF) waits longer than
//! that for the calls that send, so it never gives up on a request that then goes on.

pub mod smtp;
pub mod webhook;

use std::{fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

pub use smtp::Smtp;
pub use webhook::{SIGNATURE_HEADER, Webhook, signature};

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

impl SendError {
    /// A sender that delivers `channel` only was handed `message`, of another channel; the
    /// operator configures the other channel's sender with `variable`.
    pub(crate) fn check_channel(
        message: &Outgoing,
        sender: &str,
        channel: &str,
        variable: &str,
    ) -> Result<(), Self> {
        if message.channel == channel {
            return Ok(());
        }
        let other = if channel == "sms" {
            "an email"
        } else {
            "an SMS"
        };
        Err(Self(format!(
            "the {sender} delivers {channel} only, not {}: configure {other} sender ({variable})",
            message.channel
        )))
    }
}

/// The longest a request waits for its message to be handed over (an SMTP server accepting it,
/// a webhook answering 2xx). Past it the message counts as not delivered and the request that
/// wanted it is undone. Sender timeouts are configured below it
/// ([`crate::config::MAX_SEND_TIMEOUT`]).
pub const SEND_DEADLINE: Duration = Duration::from_secs(8);

/// The longest a backchannel request may take before its message is sent (client
/// authentication, limits, the store). Past it nothing is sent, nothing is kept, and the client
/// hears `delivery_failed`: together with [`SEND_DEADLINE`], the provider answers within
/// [`ANSWER_BOUND`] of starting on a request, or sends nothing.
pub const START_BUDGET: Duration = Duration::from_secs(4);

/// The longest the provider takes to answer a request that sends a message:
/// [`START_BUDGET`] plus [`SEND_DEADLINE`]. Its clients must wait longer than this.
pub const ANSWER_BOUND: Duration =
    Duration::from_secs(START_BUDGET.as_secs() + SEND_DEADLINE.as_secs());

/// Delivers `message` with `sender`, or fails once `deadline` has passed: a sender that hangs
/// is a sender that failed.
pub async fn send_within(
    sender: &dyn Sender,
    message: &Outgoing,
    deadline: Duration,
) -> Result<(), SendError> {
    match tokio::time::timeout(deadline, sender.send(message)).await {
        Ok(result) => result,
        Err(_) => Err(SendError(format!(
            "the {} sender did not finish within {} s",
            message.channel,
            deadline.as_secs()
        ))),
    }
}

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

/// Sends emails with one sender and SMS messages with another.
#[derive(Debug)]
pub struct Router {
    email: Arc<dyn Sender>,
    sms: Arc<dyn Sender>,
}

impl Router {
    /// A router that hands emails to `email` and SMS messages to `sms`.
    pub fn new(email: Arc<dyn Sender>, sms: Arc<dyn Sender>) -> Self {
        Self { email, sms }
    }
}

impl Sender for Router {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        match message.channel {
            "email" => self.email.send(message),
            "sms" => self.sms.send(message),
            other => {
                let error = SendError(format!("no sender for the {other:?} channel"));
                Box::pin(async move { Err(error) })
            }
        }
    }
}

#[cfg(test)]
mod tests;
