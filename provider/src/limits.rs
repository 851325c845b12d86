//! Rate limits: fixed windows counted in the store, so a restart forgets nothing.
//!
//! Each [`Rule`] allows `max` events per `window` for one subject (a client, a user, a phone
//! number, an IP address). Subjects are stored only as keyed hashes. A refusal is `429` with
//! `Retry-After` set to the seconds left in the window.
//!
//! Two ways to count: [`Limiter::hit`] counts an attempt and refuses past the limit (sending a
//! message, starting a request). Failure limits (wrong codes, passwords, client secrets) also
//! count every attempt up front with [`Limiter::hit`], before the answer is known, and give the
//! count back with [`Limiter::refund`] when the attempt succeeds: parallel guesses all count, and
//! people who get it right are not slowed by those who do not.
//!
//! IPv6 addresses are counted per /64, the block one host usually holds.

use std::{net::IpAddr, time::Duration};

use crate::{
    clock::Timestamp,
    crypto::{HashKey, Purpose},
    error::OAuthError,
    store::SharedStore,
};

/// A limit of `max` events per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Names the counter (part of the stored key) and appears in logs.
    pub name: &'static str,
    /// Events allowed per window.
    pub max: u32,
    /// The window length.
    pub window: Duration,
}

impl Rule {
    /// `max` events per `window_secs` seconds, counted under `name`.
    pub const fn new(name: &'static str, max: u32, window_secs: u64) -> Self {
        Self {
            name,
            max,
            window: Duration::from_secs(window_secs),
        }
    }
}

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
}

impl Limiter {
    /// A limiter counting in `store`, with subjects hashed under `key`.
    pub fn new(limits: Limits, store: SharedStore, key: HashKey) -> Self {
        Self { limits, store, key }
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
        let rule = rule(&self.limits);
        let window = Window::of(rule, now);
        let count = self
            .store
            .count_event(&self.key_of(rule, subject), window.start, window.end)
            .await?;
        self.verdict(rule, count > i64::from(rule.max), window, now)
    }

    /// Gives back one event counted by [`Limiter::hit`] in the same window (an attempt that
    /// turned out right). A window that has since ended is left alone.
    pub async fn refund(
        &self,
        rule: fn(&Limits) -> Rule,
        subject: Subject<'_>,
        now: Timestamp,
    ) -> Result<(), OAuthError> {
        let rule = rule(&self.limits);
        let window = Window::of(rule, now);
        self.store
            .uncount_event(&self.key_of(rule, subject), window.start)
            .await?;
        Ok(())
    }

    fn verdict(
        &self,
        rule: Rule,
        over: bool,
        window: Window,
        now: Timestamp,
    ) -> Result<(), OAuthError> {
        if !over {
            return Ok(());
        }
        // Rounded up: a client that waits exactly this long finds the window over.
        let wait_ms = (window.end - now.0).max(1000);
        let seconds = u64::try_from((wait_ms + 999).div_euclid(1000)).unwrap_or(1);
        tracing::warn!(
            rule = rule.name,
            retry_after = seconds,
            "rate limit reached"
        );
        Err(OAuthError::rate_limited(seconds))
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
            .hash(Purpose::RateLimit, &format!("{}|{subject}", rule.name))
            .to_vec()
    }
}

/// A fixed window, in milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    start: i64,
    end: i64,
}

impl Window {
    fn of(rule: Rule, now: Timestamp) -> Self {
        let length = i64::try_from(rule.window.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let start = now.0 - now.0.rem_euclid(length);
        Self {
            start,
            end: start.saturating_add(length),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_cover_now() {
        let rule = Rule::new("r", 1, 60);
        let window = Window::of(rule, Timestamp(125_500));
        assert_eq!(
            window,
            Window {
                start: 120_000,
                end: 180_000
            }
        );
        let window = Window::of(rule, Timestamp(120_000));
        assert_eq!(window.start, 120_000);
    }

    #[test]
    fn ipv6_addresses_count_per_64_block() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(block(a), block(b));
        assert_ne!(block(a), block(c));
        assert_eq!(block("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[test]
    fn case_31_ipv4_mapped_clients_are_counted_per_host() {
        let ip = |text: &str| -> IpAddr { text.parse().unwrap() };
        let limiter_key = |text: &str| format!("ip:{}", block(ip(text)));
        assert_eq!(limiter_key("::ffff:192.0.2.7"), "ip:192.0.2.7");
        assert_ne!(
            limiter_key("::ffff:192.0.2.7"),
            limiter_key("::ffff:192.0.2.8")
        );
        assert_ne!(
            limiter_key("::ffff:192.0.2.7"),
            limiter_key("::ffff:127.0.0.1")
        );
        assert_eq!(limiter_key("::ffff:192.0.2.7"), limiter_key("192.0.2.7"));
    }

    #[test]
    fn defaults_are_sane() {
        let limits = Limits::default();
        for rule in [
            limits.backchannel_per_client,
            limits.backchannel_per_user,
            limits.sms_per_number,
            limits.codes_per_user,
            limits.wrong_codes_per_user,
            limits.client_failures_per_ip,
            limits.sign_in_failures_per_ip,
            limits.sign_in_failures_per_account,
            limits.sign_in_failures_per_account_total,
            limits.sign_in_failures_per_device,
        ] {
            assert!(rule.max > 0 && !rule.window.is_zero(), "{rule:?}");
        }
        // More wrong guesses than one code allows would make the per-code cap pointless;
        // fewer would lock people out after a single re-send.
        assert!(i64::from(limits.wrong_codes_per_user.max) > crate::http::otp::MAX_ATTEMPTS);
    }
}
