//! Rate limits: fixed windows counted in the store, so a restart forgets nothing.
//!
//! Each [`Rule`] allows `max` events per `window` for one subject (a client, a user, a phone
//! number, an IP address). Subjects are stored only as keyed hashes. A refusal is `429` with
//! `Retry-After` set to the seconds left in the window.
//!
//! Three ways to count: [`Limiter::hit`] counts an attempt and refuses past the limit (sending a
//! message, starting a request). Failure limits of people (wrong codes, passwords) also count
//! every attempt up front with [`Limiter::hit`], before the answer is known, and give the count
//! back with [`Limiter::refund`] when the attempt succeeds: parallel guesses all count, and
//! people who get it right are not slowed by those who do not. Client secrets, long random
//! values that no one guesses in a few attempts, are presented by servers that send hundreds of
//! requests at once from one address (a cluster of BFFs behind one gateway): there
//! [`Limiter::check`] refuses an address over the limit before the attempt, and only a failure
//! is counted, so parallel right answers never crowd the limit.
//!
//! IPv6 addresses are counted per /64, the block one host usually holds.

use std::net::IpAddr;

pub use infra::rate::Rule;
use infra::rate::{Window, counter_name, read_rules};

use crate::{
    clock::Timestamp,
    config::ConfigError,
    crypto::{HashKey, Purpose},
    error::OAuthError,
    store::SharedStore,
};

/// Every limit the provider applies. [`Limits::default`] is meant for production; tests set
/// their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Backchannel requests one client may start.
    pub backchannel_per_client: Rule,
    /// Backchannel requests aimed at one customer, from all clients: stops message bombing.
    pub backchannel_per_user: Rule,
    /// Text messages to one phone number, whatever their kind: SMS cost money.
    pub sms_per_number: Rule,
    /// One-time codes sent to one customer.
    pub codes_per_user: Rule,
    /// Wrong one-time codes for one customer across all their codes, so asking for a new code
    /// does not buy more guesses.
    pub wrong_codes_per_user: Rule,
    /// Failed client authentications from one IP address.
    pub client_failures_per_ip: Rule,
    /// Failed workforce sign-ins (wrong email or password) from one IP address.
    pub sign_in_failures_per_ip: Rule,
    /// Failed workforce sign-ins for one account (email) from one IP address: a guesser is
    /// stopped without locking the account's owner out from their own address.
    pub sign_in_failures_per_account: Rule,
    /// Failed workforce sign-ins for one account from anywhere: a high ceiling against guessing
    /// spread over many addresses. Browsers with a device cookie of the account are not held to
    /// it (nor to the per-account-per-address limit): they have their own allowance below.
    pub sign_in_failures_per_account_total: Rule,
    /// Failed workforce sign-ins from one browser carrying a valid device cookie for the
    /// account it tries (see `http::device`).
    pub sign_in_failures_per_device: Rule,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            backchannel_per_client: Rule::new("backchannel-client", 600, 60),
            backchannel_per_user: Rule::new("backchannel-user", 5, 600),
            sms_per_number: Rule::new("sms-number", 20, 86_400),
            codes_per_user: Rule::new("codes-user", 5, 900),
            wrong_codes_per_user: Rule::new("wrong-codes-user", 10, 3600),
            client_failures_per_ip: Rule::new("client-failures-ip", 20, 300),
            sign_in_failures_per_ip: Rule::new("sign-in-failures-ip", 30, 900),
            sign_in_failures_per_account: Rule::new("sign-in-failures-account-ip", 10, 900),
            sign_in_failures_per_account_total: Rule::new("sign-in-failures-account", 100, 900),
            sign_in_failures_per_device: Rule::new("sign-in-failures-device", 10, 900),
        }
    }
}

impl Limits {
    /// Every rule with the variable that sets it (`COUNTERSIGN_PROVIDER_LIMIT_…`; in a TOML
    /// file, the key of the same name under `[provider.limit]`).
    pub fn rules_mut(&mut self) -> [(&'static str, &mut Rule); 10] {
        [
            (
                "COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CLIENT",
                &mut self.backchannel_per_client,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CUSTOMER",
                &mut self.backchannel_per_user,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_SMS_PER_NUMBER",
                &mut self.sms_per_number,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_CODES_PER_CUSTOMER",
                &mut self.codes_per_user,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_WRONG_CODES_PER_CUSTOMER",
                &mut self.wrong_codes_per_user,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_CLIENT_FAILURES_PER_IP",
                &mut self.client_failures_per_ip,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_SIGN_IN_FAILURES_PER_IP",
                &mut self.sign_in_failures_per_ip,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_SIGN_IN_FAILURES_PER_ACCOUNT_AND_IP",
                &mut self.sign_in_failures_per_account,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_SIGN_IN_FAILURES_PER_ACCOUNT",
                &mut self.sign_in_failures_per_account_total,
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_SIGN_IN_FAILURES_PER_DEVICE",
                &mut self.sign_in_failures_per_device,
            ),
        ]
    }

    /// The defaults, with every rule that `lookup` sets replaced (see [`read_rules`]).
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut limits = Self::default();
        read_rules(lookup, limits.rules_mut())?;
        Ok(limits)
    }
}

/// What a rule limits.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A client id.
    Client(&'a str),
    /// A user id.
    User(&'a str),
    /// A phone number.
    Number(&'a str),
    /// An IP address.
    Ip(IpAddr),
    /// An account (as typed, lower-cased) tried from an IP address.
    AccountFrom(&'a str, IpAddr),
    /// A browser's device cookie (its nonce), for the account it is valid for.
    Device(&'a str),
}

/// The address block counted as one: the address for IPv4 (also IPv4-mapped, as a dual-stack
/// listener reports IPv4 peers), its /64 for IPv6 ([`crate::net::client_block`]).
fn block(ip: IpAddr) -> String {
    crate::net::client_block(ip)
}

/// Counts events against [`Limits`] in the store.
#[derive(Clone, Debug)]
pub struct Limiter {
    limits: Limits,
    store: SharedStore,
    key: HashKey,
    metrics: crate::metrics::Metrics,
}

impl Limiter {
    /// A limiter counting in `store`, with subjects hashed under `key`.
    pub fn new(limits: Limits, store: SharedStore, key: HashKey) -> Self {
        Self {
            limits,
            store,
            key,
            metrics: crate::metrics::Metrics::default(),
        }
    }

    /// The same limiter, counting its refusals in `metrics`.
    #[must_use]
    pub fn counting_refusals(self, metrics: crate::metrics::Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Counts one event; refuses with 429 once the window holds more than `max`.
    pub async fn hit(
        &self,
        rule: fn(&Limits) -> Rule,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<(), OAuthError> {
        self.judge(rule, subject, now, true, true).await
    }

    /// [`Limiter::hit`] for a caller that may still serve the request past the limit: its
    /// refusal is not counted in the metrics (the caller counts it with
    /// [`crate::metrics::Metrics::refused`] if it refuses).
    pub async fn hit_tentatively(
        &self,
        rule: fn(&Limits) -> Rule,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<(), OAuthError> {
        self.judge(rule, subject, now, true, false).await
    }

    /// Refuses with 429 once the window already holds `max` events, counting nothing: for a
    /// failure limit whose failures are counted only once known ([`Limiter::hit`] after the
    /// attempt failed), so the attempts that succeed, however many run at once, spend nothing.
    pub async fn check(
        &self,
        rule: fn(&Limits) -> Rule,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<(), OAuthError> {
        self.judge(rule, subject, now, false, true).await
    }

    /// The verdict on one more event: counted when `count` (a hit), or only foreseen (a check);
    /// a refusal goes into the metrics when `report`.
    async fn judge(
        &self,
        pick: fn(&Limits) -> Rule,
        subject: Subject<'_>,
        now: Timestamp,
        count: bool,
        report: bool,
    ) -> Result<(), OAuthError> {
        let (rule, key, window) = self.counter(pick, subject, now);
        let with_it = if count {
            self.store
                .count_event(&key, window.start, window.end)
                .await?
        } else {
            self.store
                .event_count(&key, window.start)
                .await?
                .saturating_add(1)
        };
        window.verdict(rule, with_it, now).map_err(|seconds| {
            if report {
                self.metrics.refused(rule.name);
            }
            tracing::warn!(
                rule = rule.name,
                retry_after = seconds,
                "rate limit reached"
            );
            OAuthError::rate_limited(seconds)
        })
    }

    /// Gives back one event counted by [`Limiter::hit`] in the same window (an attempt that
    /// turned out right). A window that has since ended is left alone.
    pub async fn refund(
        &self,
        rule: fn(&Limits) -> Rule,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<(), OAuthError> {
        let (_, key, window) = self.counter(rule, subject, now);
        self.store.uncount_event(&key, window.start).await?;
        Ok(())
    }

    /// The rule `pick` chooses, the stored key of its counter for `subject`, and the window
    /// `now` falls in.
    fn counter(
        &self,
        pick: fn(&Limits) -> Rule,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> (Rule, Vec<u8>, Window) {
        let rule = pick(&self.limits);
        (rule, self.key_of(rule, subject), Window::of(rule, now))
    }

    fn key_of(&self, rule: Rule, subject: Subject<'_>) -> Vec<u8> {
        let subject = match subject {
            Subject::Client(id) => format!("client:{id}"),
            Subject::User(id) => format!("user:{id}"),
            Subject::Number(number) => format!("number:{number}"),
            Subject::Ip(ip) => format!("ip:{}", block(ip)),
            Subject::AccountFrom(account, ip) => format!("account:{account}|{}", block(ip)),
            Subject::Device(nonce) => format!("device:{nonce}"),
        };
        self.key
            .hash(Purpose::RateLimit, &counter_name(rule, &subject))
            .to_vec()
    }
}

#[cfg(test)]
mod tests;
