//! When a flow is due, computed from its [`Trigger`].
//!
//! The timed triggers (`every`, `daily`) also say what a scheduler owes after downtime, in
//! `catch_up` ([`CatchUp`]; optional in JSON, default `latest`):
//!
//! ```json
//! {"every": {"seconds": 300}}
//! {"every": {"seconds": 300, "catch_up": "skip"}}
//! {"daily": {"at": "08:00:00", "time_zone": "America/Sao_Paulo", "catch_up": "latest"}}
//! {"daily": {"at": "08:00:00", "time_zone": "America/Sao_Paulo", "catch_up": {"all": {"within_seconds": 86400}}}}
//! ```
//!
//! [`Trigger::next_due`] ignores it: it only matters to a scheduler that was not running
//! when instants came due, such as the cluster's (feature `graphile`).

use chrono::{DateTime, Days, LocalResult, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// When a host should run a flow. Pure data; see [`Trigger::next_due`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "When the host runs the flow: \"manual\", on an `event`, `every` so many seconds, `daily` at a local time, or once at a `date`."
    )
)]
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
        /// What a scheduler runs for instants it missed (default [`CatchUp::Latest`]).
        #[cfg_attr(
            feature = "schema",
            schemars(
                description = "What a scheduler runs for instants it missed (default \"latest\")."
            )
        )]
        #[serde(default, skip_serializing_if = "CatchUp::is_default")]
        catch_up: CatchUp,
    },
    /// Run every day at a local time.
    Daily {
        /// The local time of day, `HH:MM` or `HH:MM:SS`.
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        at: chrono::NaiveTime,
        /// The IANA time zone, e.g. `America/Sao_Paulo`.
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        time_zone: chrono_tz::Tz,
        /// What a scheduler runs for instants it missed (default [`CatchUp::Latest`]).
        #[cfg_attr(
            feature = "schema",
            schemars(
                description = "What a scheduler runs for instants it missed (default \"latest\")."
            )
        )]
        #[serde(default, skip_serializing_if = "CatchUp::is_default")]
        catch_up: CatchUp,
    },
    /// Run once, at an instant (Fracttal Hub's *Date* trigger). JSON:
    /// `{"date": {"at": "2026-12-24T08:00:00-03:00"}}`, an RFC 3339 instant with its offset.
    /// A scheduler that was down at the instant runs it late by [`CatchUp::Latest`] (the
    /// default), not at all by [`CatchUp::Skip`], and within a window by [`CatchUp::All`].
    Date {
        /// The instant, in RFC 3339 with its offset.
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        at: DateTime<Utc>,
        /// What a scheduler does if it missed the instant (default [`CatchUp::Latest`]).
        #[cfg_attr(
            feature = "schema",
            schemars(
                description = "What a scheduler does if it missed the instant (default \"latest\")."
            )
        )]
        #[serde(default, skip_serializing_if = "CatchUp::is_default")]
        catch_up: CatchUp,
    },
}

/// What a scheduler runs, once it is back, for the instants of a timed [`Trigger`] that came
/// due while nothing was running (a deployment, an outage).
///
/// Only instants that were missed are concerned: a scheduler that runs on time runs every
/// instant. JSON: `"skip"`, `"latest"`, `{"all": {"within_seconds": 3600}}`.
///
/// ```
/// use hubflow::{CatchUp, Trigger};
/// let every: Trigger = serde_json::from_str(r#"{"every": {"seconds": 300}}"#).unwrap();
/// assert_eq!(every.catch_up(), Some(CatchUp::Latest));
/// let daily: Trigger = serde_json::from_str(
///     r#"{"daily": {"at": "08:00:00", "time_zone": "UTC", "catch_up": {"all": {"within_seconds": 86400}}}}"#,
/// ).unwrap();
/// assert_eq!(daily.catch_up(), Some(CatchUp::All { within_seconds: 86400 }));
/// assert_eq!(Trigger::Manual.catch_up(), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "What a scheduler runs, once it is back, for the instants that came due while nothing was running: \"skip\", \"latest\" (the default) or {\"all\": {\"within_seconds\": 3600}}."
    )
)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum CatchUp {
    /// Run none of the missed instants: the next run is the next instant on time.
    Skip,
    /// Run the most recent missed instant once (a daily report is sent once, late, not
    /// once per day missed). The default.
    #[default]
    Latest,
    /// Run every missed instant of the last `within_seconds` seconds, oldest first; older
    /// ones are skipped.
    All {
        /// How far back missed instants are still run.
        within_seconds: u64,
    },
}

impl CatchUp {
    /// Whether this is the default ([`CatchUp::Latest`]), left out of the JSON form.
    pub fn is_default(&self) -> bool {
        *self == CatchUp::default()
    }
}

impl Trigger {
    /// The trigger's form as in its JSON: `event`, `manual`, `every`, `daily` or `date`.
    ///
    /// ```
    /// use hubflow::Trigger;
    /// assert_eq!(Trigger::every(300).name(), "every");
    /// assert_eq!(Trigger::default().name(), "manual");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Event { .. } => "event",
            Trigger::Manual => "manual",
            Trigger::Every { .. } => "every",
            Trigger::Daily { .. } => "daily",
            Trigger::Date { .. } => "date",
        }
    }

    /// At every multiple of `seconds` since the Unix epoch, catching up with
    /// [`CatchUp::Latest`].
    pub fn every(seconds: u64) -> Self {
        Trigger::Every {
            seconds,
            catch_up: CatchUp::default(),
        }
    }

    /// Once at `at`, catching up with [`CatchUp::Latest`].
    ///
    /// ```
    /// use hubflow::Trigger;
    /// let once = Trigger::date("2026-12-24T11:00:00Z".parse().unwrap());
    /// let before = "2026-12-24T10:59:59Z".parse().unwrap();
    /// assert_eq!(once.next_due(before).unwrap().to_rfc3339(), "2026-12-24T11:00:00+00:00");
    /// assert_eq!(once.next_due("2026-12-24T11:00:00Z".parse().unwrap()), None, "once only");
    /// let spec: Trigger = serde_json::from_str(r#"{"date": {"at": "2026-12-24T08:00:00-03:00"}}"#).unwrap();
    /// assert_eq!(spec, once);
    /// ```
    pub fn date(at: DateTime<Utc>) -> Self {
        Trigger::Date {
            at,
            catch_up: CatchUp::default(),
        }
    }

    /// Every day at `at` in `time_zone`, catching up with [`CatchUp::Latest`].
    pub fn daily(at: chrono::NaiveTime, time_zone: chrono_tz::Tz) -> Self {
        Trigger::Daily {
            at,
            time_zone,
            catch_up: CatchUp::default(),
        }
    }

    /// The same trigger with another catch-up setting; triggers that are not timed are
    /// returned unchanged.
    ///
    /// ```
    /// use hubflow::{CatchUp, Trigger};
    /// let t = Trigger::every(60).with_catch_up(CatchUp::Skip);
    /// assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"every":{"seconds":60,"catch_up":"skip"}}"#);
    /// ```
    #[must_use]
    pub fn with_catch_up(mut self, value: CatchUp) -> Self {
        match &mut self {
            Trigger::Every { catch_up, .. }
            | Trigger::Daily { catch_up, .. }
            | Trigger::Date { catch_up, .. } => *catch_up = value,
            Trigger::Event { .. } | Trigger::Manual => {}
        }
        self
    }

    /// The catch-up setting of a timed trigger (`Every`, `Daily`, `Date`); `None` for
    /// `Event` and `Manual`.
    pub fn catch_up(&self) -> Option<CatchUp> {
        match self {
            Trigger::Every { catch_up, .. }
            | Trigger::Daily { catch_up, .. }
            | Trigger::Date { catch_up, .. } => Some(*catch_up),
            Trigger::Event { .. } | Trigger::Manual => None,
        }
    }

    /// Whether the trigger comes due by itself (`Every`, `Daily`, `Date`).
    pub fn is_timed(&self) -> bool {
        self.catch_up().is_some()
    }

    /// The next instant strictly after `now` at which the flow is due, or `None` for
    /// triggers the host fires itself (`Event`, `Manual`) and for a `Date` whose instant is
    /// not after `now`.
    ///
    /// `Every` is aligned to multiples of the interval since the Unix epoch, so every worker
    /// and every restart agree on the schedule. `Daily` follows the time zone's rules: on a
    /// day when `at` does not exist (clocks jump forward) it runs at the first instant after
    /// the gap; on a day when it exists twice, at the first of them.
    ///
    /// ```
    /// use hubflow::Trigger;
    /// let daily = Trigger::daily("08:00:00".parse().unwrap(), chrono_tz::America::Sao_Paulo);
    /// let now = "2026-03-01T12:00:00Z".parse().unwrap();
    /// // 08:00 in São Paulo (UTC-3) is 11:00 UTC; today's has passed, so tomorrow's.
    /// assert_eq!(daily.next_due(now).unwrap().to_rfc3339(), "2026-03-02T11:00:00+00:00");
    /// ```
    pub fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Trigger::Event { .. } | Trigger::Manual => None,
            Trigger::Every { seconds, .. } => {
                let interval = i64::try_from(*seconds).ok().filter(|s| *s > 0)?;
                let next = (now.timestamp().div_euclid(interval) + 1).checked_mul(interval)?;
                DateTime::from_timestamp(next, 0)
            }
            Trigger::Daily { at, time_zone, .. } => {
                let today = now.with_timezone(time_zone).date_naive();
                // Two days ahead covers any `at` once today's has passed, whatever the offset.
                (0..3)
                    .filter_map(|d| today.checked_add_days(Days::new(d)))
                    .filter_map(|day| local_instant(day, *at, time_zone))
                    .find(|due| *due > now)
            }
            Trigger::Date { at, .. } => (*at > now).then_some(*at),
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
