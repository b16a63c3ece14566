//! When a flow is due, computed from its [`Trigger`].

use chrono::{DateTime, Days, LocalResult, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// When a host should run a flow. Pure data; see [`Trigger::next_due`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Trigger {
    /// Run when an event arrives (Fracttal Automator style: module / submodule / event).
    Event {
        /// e.g. `work_management`
        module: String,
        /// e.g. `work_orders`
        submodule: String,
        /// e.g. `new_wo`
        event: String,
    },
    /// Run when a person asks.
    #[default]
    Manual,
    /// Run at every multiple of this interval since the Unix epoch.
    Every {
        /// The interval in seconds.
        seconds: u64,
    },
    /// Run every day at a local time.
    Daily {
        /// The local time of day.
        at: chrono::NaiveTime,
        /// The IANA time zone, e.g. `America/Sao_Paulo`.
        time_zone: chrono_tz::Tz,
    },
}

impl Trigger {
    /// The next instant strictly after `now` at which the flow is due, or `None` for
    /// triggers the host fires itself (`Event`, `Manual`).
    ///
    /// `Every` is aligned to multiples of the interval since the Unix epoch, so every worker
    /// and every restart agree on the schedule. `Daily` follows the time zone's rules: on a
    /// day when `at` does not exist (clocks jump forward) it runs at the first instant after
    /// the gap; on a day when it exists twice, at the first of them.
    ///
    /// ```
    /// use hubflow::Trigger;
    /// let daily = Trigger::Daily { at: "08:00:00".parse().unwrap(), time_zone: chrono_tz::America::Sao_Paulo };
    /// let now = "2026-03-01T12:00:00Z".parse().unwrap();
    /// // 08:00 in São Paulo (UTC-3) is 11:00 UTC; today's has passed, so tomorrow's.
    /// assert_eq!(daily.next_due(now).unwrap().to_rfc3339(), "2026-03-02T11:00:00+00:00");
    /// ```
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Event { .. } | Trigger::Manual => None,
            Trigger::Every { seconds } => {
                let interval = i64::try_from(*seconds).ok().filter(|s| *s > 0)?;
                let next = (now.timestamp().div_euclid(interval) + 1).checked_mul(interval)?;
                DateTime::from_timestamp(next, 0)
            }
            Trigger::Daily { at, time_zone } => {
                let today = now.with_timezone(time_zone).date_naive();
                // Two days ahead covers any `at` once today's has passed, whatever the offset.
                (0..3)
                    .filter_map(|d| today.checked_add_days(Days::new(d)))
                    .filter_map(|day| local_instant(day, *at, time_zone))
                    .find(|due| *due > now)
            }
        }
    }
}

fn local_instant(
    day: NaiveDate,
    at: chrono::NaiveTime,
    zone: &chrono_tz::Tz,
) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&day.and_time(at)) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // A gap (clocks jump forward): the first minute that exists after it.
            (1..=180).find_map(|minutes| {
                let shifted = day.and_time(at) + chrono::Duration::minutes(minutes);
                zone.from_local_datetime(&shifted)
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
            })
        }
    }
}

#[cfg(test)]
mod tests;
