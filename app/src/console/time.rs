//! Clocks and countdowns. The server renders times in UTC (it does not know the agent's time
//! zone); once the page has hydrated, the browser shows them in local time.

use leptos::prelude::*;

/// Now, ms since the epoch.
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        // Whole milliseconds since the epoch fit an f64 exactly.
        #[allow(clippy::cast_possible_truncation)]
        let now = web_sys::js_sys::Date::now() as i64;
        now
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// Sets `now` to the current time every second, in the browser, while the owner lives.
pub fn tick(now: RwSignal<i64>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        now.set(now_ms());
        let handle = set_interval_with_handle(
            move || {
                now.try_set(now_ms());
            },
            std::time::Duration::from_secs(1),
        );
        if let Ok(handle) = handle {
            // Interval handles are plain numbers, safe to move into the cleanup.
            on_cleanup(move || handle.clear());
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = now;
}

/// The parts of a moment: year, month, day, hour, minute, second.
type Parts = (i64, u32, u32, u32, u32, u32);

/// `ms` in UTC.
fn utc_parts(ms: i64) -> Parts {
    let seconds = ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let hour = u32::try_from(of_day / 3600).unwrap_or(0);
    let minute = u32::try_from(of_day % 3600 / 60).unwrap_or(0);
    let second = u32::try_from(of_day % 60).unwrap_or(0);
    (year, month, day, hour, minute, second)
}

/// `ms` in the browser's time zone.
#[cfg(feature = "hydrate")]
fn local_parts(ms: i64) -> Parts {
    use web_sys::{js_sys::Date, wasm_bindgen::JsValue};
    #[allow(clippy::cast_precision_loss)]
    let date = Date::new(&JsValue::from_f64(ms as f64));
    (
        i64::from(date.get_full_year()),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
    )
}

/// The date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// The day count since 1970-01-01 of a date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The start (00:00 UTC, ms since the epoch) of a `YYYY-MM-DD` date, as a date input sends
/// it; `None` for anything else, including dates that do not exist (`2026-02-30`).
pub fn day_start_ms(date: &str) -> Option<i64> {
    let mut fields = date.split('-');
    let (year, month, day) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some()
        || year.len() != 4
        || month.len() != 2
        || day.len() != 2
        || !date.bytes().all(|b| b.is_ascii_digit() || b == b'-')
    {
        return None;
    }
    let (year, month, day): (i64, u32, u32) =
        (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    let days = days_from_civil(year, month, day);
    (civil_from_days(days) == (year, month, day)).then_some(days * 86_400_000)
}

/// The UTC date (`YYYY-MM-DD`) of an instant.
pub fn date(ms: i64) -> String {
    let (year, month, day, ..) = utc_parts(ms);
    format!("{year:04}-{month:02}-{day:02}")
}

fn parts(ms: i64, local: bool) -> (Parts, &'static str) {
    #[cfg(feature = "hydrate")]
    if local {
        return (local_parts(ms), "");
    }
    let _ = local;
    (utc_parts(ms), " UTC")
}

/// `14:03:07` (local), or `14:03:07 UTC`.
pub fn clock(ms: i64, local: bool) -> String {
    let ((_, _, _, hour, minute, second), zone) = parts(ms, local);
    format!("{hour:02}:{minute:02}:{second:02}{zone}")
}

/// `2025-11-24 14:03` (local), or with ` UTC`.
pub fn stamp(ms: i64, local: bool) -> String {
    let ((year, month, day, hour, minute, _), zone) = parts(ms, local);
    format!("{year}-{month:02}-{day:02} {hour:02}:{minute:02}{zone}")
}

/// Time left as `9:41` (or `1:02:03`); zero and below are `0:00`.
pub fn countdown(ms_left: i64) -> String {
    let seconds = ms_left.max(0).div_euclid(1000);
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// The ISO 8601 form of `ms` (for `<time datetime>`).
pub fn iso(ms: i64) -> String {
    let (year, month, day, hour, minute, second) = utc_parts(ms);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z")
}

#[cfg(test)]
mod tests;
