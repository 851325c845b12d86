//! Rate-limit rules and their fixed windows: one windowing and one syntax for every limit, the
//! provider's and the BFF's.
//!
//! A [`Rule`] allows `max` events per `window` for one subject. Operators write rules as
//! `MAX/WINDOW` ([`parse_rule`]); the counters live in each service's store
//! ([`crate::sqlite`]), keyed by a hash of [`counter_name`].

use std::time::Duration;

use crate::{clock::Timestamp, config::ConfigError};

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

    /// What `rule` says of `count` events in this window at `now`: `Err(seconds)` to wait
    /// ([`Window::retry_after`]) once they are over what it allows.
    pub fn verdict(self, rule: Rule, count: i64, now: Timestamp) -> Result<(), u64> {
        if Self::over(rule, count) {
            Err(self.retry_after(now))
        } else {
            Ok(())
        }
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
mod tests;
