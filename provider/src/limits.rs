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
    config::ConfigError,
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

/// The longest window a rule may have.
pub const MAX_WINDOW: Duration = Duration::from_secs(30 * 86_400);
/// The most events a rule may allow per window.
pub const MAX_EVENTS: u32 = 1_000_000_000;

/// Parses a limit as an operator writes it: `MAX/WINDOW`, the window a whole number of
/// seconds, minutes, hours or days (`600/1m`, `5/10m`, `20/1d`, `30/90s`). The sentence of the
/// error says what is wrong.
pub fn parse_rule(text: &str) -> Result<(u32, Duration), String> {
    let shape = "is not MAX/WINDOW, such as 30/10m (a window in s, m, h or d)";
    let (max, window) = text
        .trim()
        .split_once('/')
        .ok_or_else(|| shape.to_owned())?;
    let max: u32 = max.trim().parse().map_err(|_| shape.to_owned())?;
    if max == 0 || max > MAX_EVENTS {
        return Err(format!("allows {max} events: give 1 to {MAX_EVENTS}"));
    }
    let window = window.trim();
    let split = window
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| shape.to_owned())?;
    let (count, unit) = window.split_at(split);
    let count: u64 = count.parse().map_err(|_| shape.to_owned())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(shape.to_owned()),
    };
    let window = Duration::from_secs(count.saturating_mul(unit_secs));
    if window.is_zero() || window > MAX_WINDOW {
        return Err("has a window outside 1s to 30d".to_owned());
    }
    Ok((max, window))
}

/// How [`parse_rule`] would write `rule` back (the README's and the logs' form).
pub fn format_rule(rule: &Rule) -> String {
    let secs = rule.window.as_secs();
    let window = match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    };
    format!("{}/{window}", rule.max)
}

/// Replaces each rule whose variable `lookup` sets; a bad value stops with an error naming
/// the variable. The BFF's limits and the provider's are read by this one function.
pub fn read_rules<'a>(
    lookup: &impl Fn(&str) -> Option<String>,
    rules: impl IntoIterator<Item = (&'static str, &'a mut Rule)>,
) -> Result<(), ConfigError> {
    for (variable, rule) in rules {
        let Some(text) = lookup(variable).filter(|text| !text.trim().is_empty()) else {
            continue;
        };
        let (max, window) = parse_rule(&text).map_err(|why| ConfigError {
            variable,
            problem: format!("{text:?} {why}"),
        })?;
        rule.max = max;
        rule.window = window;
    }
    Ok(())
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
        self.verdict(rule, Window::over(rule, count), window, now)
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
        let seconds = window.retry_after(now);
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
            .hash(Purpose::RateLimit, &counter_name(rule, &subject))
            .to_vec()
    }
}

/// The text a counter's stored key is made from: the rule's name and the subject. Both sides
/// hash it (the provider with its keyed hash) so no subject is stored in the clear.
pub fn counter_name(rule: Rule, subject: &str) -> String {
    format!("{}|{subject}", rule.name)
}

/// A fixed window, in milliseconds since the epoch: the one windowing of every limit, the
/// provider's and the BFF's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The first millisecond of the window.
    pub start: i64,
    /// The first millisecond after it.
    pub end: i64,
}

impl Window {
    /// Whether `count` events (this one included) are more than `rule` allows.
    pub fn over(rule: Rule, count: i64) -> bool {
        count > i64::from(rule.max)
    }

    /// The seconds until the window ends, rounded up and at least one: a client that waits
    /// exactly this long finds the window over (the `Retry-After` of a refusal).
    pub fn retry_after(self, now: Timestamp) -> u64 {
        let wait_ms = (self.end - now.0).max(1000);
        u64::try_from((wait_ms + 999).div_euclid(1000)).unwrap_or(1)
    }

    /// The window of `rule` that `now` falls in.
    pub fn of(rule: Rule, now: Timestamp) -> Self {
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
    fn rules_read_as_operators_write_them() {
        assert_eq!(parse_rule("600/1m"), Ok((600, Duration::from_secs(60))));
        assert_eq!(parse_rule(" 5 / 10m "), Ok((5, Duration::from_secs(600))));
        assert_eq!(parse_rule("20/1d"), Ok((20, Duration::from_secs(86_400))));
        assert_eq!(parse_rule("30/90s"), Ok((30, Duration::from_secs(90))));
        for bad in [
            "",
            "5",
            "/10m",
            "5/",
            "0/1m",
            "-1/1m",
            "5/10",
            "5/m",
            "5/10w",
            "5/0s",
            "5/31d",
            "1000000001/1s",
            "5/1m/2",
            "x/1m",
            "5/99999999999999999999d",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad:?} was accepted");
        }
        for rule in Limits::default().rules_mut() {
            assert_eq!(
                parse_rule(&format_rule(rule.1)),
                Ok((rule.1.max, rule.1.window))
            );
        }
    }

    #[test]
    fn every_provider_limit_is_configurable_and_a_bad_one_is_named() {
        let limits = Limits::from_lookup(&|name: &str| {
            (name == "COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CLIENT")
                .then(|| "100000/1m".to_owned())
        })
        .unwrap();
        assert_eq!(limits.backchannel_per_client.max, 100_000);
        assert_eq!(
            limits.backchannel_per_user,
            Limits::default().backchannel_per_user
        );
        let mut defaults = Limits::default();
        let variables: Vec<&str> = defaults.rules_mut().iter().map(|(v, _)| *v).collect();
        for variable in &variables {
            let error =
                Limits::from_lookup(&|name: &str| (name == *variable).then(|| "lots".to_owned()))
                    .unwrap_err();
            assert_eq!(error.variable, *variable);
            let limits =
                Limits::from_lookup(&|name: &str| (name == *variable).then(|| "7/7h".to_owned()))
                    .unwrap();
            let mut limits = limits;
            let changed = limits
                .rules_mut()
                .into_iter()
                .filter(|(_, rule)| rule.max == 7 && rule.window == Duration::from_secs(7 * 3600))
                .count();
            assert_eq!(changed, 1, "{variable}");
        }
        let mut unique = variables.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), variables.len());
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
