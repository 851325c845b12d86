//! Emails through an SMTP server, with lettre.
//!
//! One connection per message (no pool): the provider sends a few messages a minute at most,
//! and a fresh connection never fails on a socket the server closed in between.

use std::fmt;

use infra::secret::random_token;
use lettre::{
    Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::{
        self,
        authentication::Credentials,
        client::{Tls, TlsParameters},
    },
};

use super::{BoxFuture, Outgoing, SendError, Sender};
use crate::config::{SmtpConfig, SmtpTls};

/// Sends emails through the configured SMTP server; refuses every other channel.
///
/// Each email has the configured `From`, the recipient as `To`, the message's subject, a
/// `Message-ID` in the sender's domain, and the text as a `text/plain; charset=utf-8` body.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
    tls: SmtpTls,
}

impl fmt::Debug for Smtp {
    // The transport holds the password: only where it connects is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Smtp {
    /// A sender for the server `config` names. Nothing connects until the first message.
    pub fn new(config: &SmtpConfig) -> Result<Self, SendError> {
        let tls_parameters = || {
            TlsParameters::new(config.host.clone())
                .map_err(|error| SendError(format!("cannot set up TLS for SMTP: {error}")))
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            .port(config.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let Some(login) = &config.login {
            builder = builder.credentials(Credentials::new(
                login.username.clone(),
                login.password.expose().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from: config.from.clone(),
            host: config.host.clone(),
            port: config.port,
            tls: config.tls,
        })
    }

    /// The email for `message`.
    fn email(&self, message: &Outgoing) -> Result<Message, SendError> {
        // The address is personal data: it is not repeated in the error.
        let to: Address = message
            .to
            .parse()
            .map_err(|_| SendError("the recipient is not a valid email address".to_owned()))?;
        let message_id = format!("<{}@{}>", random_token().expose(), self.from.email.domain());
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(message.subject.as_deref().unwrap_or("Countersign"))
            .message_id(Some(message_id))
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|error| SendError(format!("cannot build the email: {error}")))
    }
}

impl Sender for Smtp {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            SendError::check_channel(message, "SMTP sender", "email", "COUNTERSIGN_SMS_SENDER")?;
            let email = self.email(message)?;
            self.transport
                .send(email)
                .await
                .map(|_| ())
                .map_err(|error| describe(&error))
        })
    }
}

/// What went wrong, without the server's reply text (it may repeat the recipient).
fn describe(error: &smtp::Error) -> SendError {
    let what = if error.is_timeout() {
        "the SMTP server did not answer in time".to_owned()
    } else if let Some(code) = error.status() {
        let kind = if error.is_permanent() {
            "refused"
        } else {
            "deferred"
        };
        format!("the SMTP server {kind} the message ({code})")
    } else if error.is_tls() {
        format!("TLS with the SMTP server failed: {error}")
    } else if error.is_response() || error.is_client() {
        "the SMTP exchange failed".to_owned()
    } else {
        // Connection and network errors: the operating system's words, no message content.
        format!("cannot talk to the SMTP server: {error}")
    };
    SendError(what)
}

#[cfg(test)]
mod tests;
