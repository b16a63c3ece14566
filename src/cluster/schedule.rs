//! The cluster's scheduler for timed triggers (`every`, `daily`, `date`).
//!
//! graphile_worker's own cron knows only UTC minutes, so the cluster uses it for one thing:
//! a `hubflow_tick` job once a minute for the whole cluster. The tick runs this scheduler,
//! which works from [`Trigger::next_due`] (time zones and daylight saving included,
//! intervals aligned to the Unix epoch) and one row per flow in `trigger_state`: the instant
//! up to which the flow's runs are enqueued (`planned_until`).
//!
//! Per flow, in one transaction: the row is created on first sight with `planned_until =
//! now` (nothing before a flow was first seen is owed), locked `FOR UPDATE` (two ticks,
//! say a late one and the next, take turns), the instants in `(planned_until, now +
//! lookahead]` are planned, the runs enqueued with `run_at` = their instant and a job key
//! per (flow, instant), and `planned_until` moved on. So each instant is enqueued once,
//! however many workers tick.
//!
//! Planning ([`plan`], pure): instants up to [`ClusterConfig::overdue_grace`] late are on
//! time (a tick a little late); older ones were missed while nothing ran and follow the
//! trigger's [`CatchUp`]: none, the latest, or all of a recent window. The lookahead
//! ([`ClusterConfig::tick_lookahead`], 90 s) enqueues the coming minute's instants ahead,
//! which is what runs an `every` of a few seconds on time between minute ticks. A changed
//! trigger (other than its catch-up) starts afresh from now. One tick plans at most
//! [`MAX_RUNS_PER_TICK`] runs per flow; the next tick goes on from there.
//!
//! [`ClusterConfig::overdue_grace`]: super::ClusterConfig::overdue_grace
//! [`ClusterConfig::tick_lookahead`]: super::ClusterConfig::tick_lookahead

use std::time::Duration;

use chrono::{DateTime, Utc};
use graphile_worker::JobSpec;

use super::tasks::FlowRun;
use super::{queue, ClusterError, Inner, ScheduledRun};
use crate::clock::add;
use crate::{CatchUp, Flow, Trigger};

/// The most runs one tick plans for one flow.
pub(crate) const MAX_RUNS_PER_TICK: usize = 1000;

/// What one tick owes a flow: the instants to enqueue, oldest first, and the new
/// `planned_until`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DuePlan {
    pub(crate) due: Vec<DateTime<Utc>>,
    pub(crate) planned_until: DateTime<Utc>,
}

/// The instants a tick at `now` enqueues for `trigger`, whose runs are enqueued up to
/// `planned_until`; at most `max`.
pub(crate) fn plan(
    trigger: &Trigger,
    planned_until: DateTime<Utc>,
    now: DateTime<Utc>,
    lookahead: Duration,
    grace: Duration,
    max: usize,
) -> DuePlan {
    let Some(catch_up) = trigger.catch_up() else {
        return DuePlan {
            due: Vec::new(),
            planned_until,
        };
    };
    let horizon = add(now, lookahead);
    let late = sub(now, grace);
    let mut due = Vec::new();
    if planned_until < late {
        // Instants in (planned_until, late] were missed.
        match catch_up {
            CatchUp::Skip => {}
            CatchUp::Latest => due.extend(latest(trigger, planned_until, late)),
            CatchUp::All { within_seconds } => {
                let from = planned_until.max(sub(now, Duration::from_secs(within_seconds)));
                if from < late {
                    instants(trigger, from, late, max, &mut due);
                }
            }
        }
    }
    let capped = due.len() >= max;
    if !capped {
        instants(trigger, planned_until.max(late), horizon, max, &mut due);
    }
    let planned_until = match due.last() {
        Some(last) if due.len() >= max => *last,
        _ => planned_until.max(horizon),
    };
    DuePlan { due, planned_until }
}

/// Appends the instants in `(from, to]` to `due`, until it holds `max`.
fn instants(
    trigger: &Trigger,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: usize,
    due: &mut Vec<DateTime<Utc>>,
) {
    let mut at = from;
    while due.len() < max {
        match trigger.next_due(at) {
            Some(next) if next <= to => {
                due.push(next);
                at = next;
            }
            _ => return,
        }
    }
}

/// The last instant in `(after, upto]`, found without walking every instant since
/// `after` (an `every` of a second after a week down would be 600 000 steps).
fn latest(trigger: &Trigger, after: DateTime<Utc>, upto: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let mut at = after.max(sub(upto, period_bound(trigger)));
    let mut last = None;
    while let Some(next) = trigger.next_due(at).filter(|next| *next <= upto) {
        last = Some(next);
        at = next;
    }
    last
}

/// A span that holds at least one instant of the trigger wherever it starts.
fn period_bound(trigger: &Trigger) -> Duration {
    match trigger {
        Trigger::Every { seconds, .. } => Duration::from_secs(*seconds),
        // A local day is 23 to 25 hours, and a time in a gap moves up to 3 hours.
        Trigger::Daily { .. } => Duration::from_secs(2 * 24 * 3600),
        // One instant, wherever it is: the walk starts at `after`.
        Trigger::Date { .. } => Duration::MAX,
        Trigger::Event { .. } | Trigger::Manual => Duration::ZERO,
    }
}

/// `at - by`, saturating at chrono's earliest instant.
fn sub(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(by)
        .ok()
        .and_then(|d| at.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// What identifies a trigger's schedule in `trigger_state`: its JSON without the
/// catch-up, so that changing only the catch-up keeps the flow's place.
pub(crate) fn schedule_key(trigger: &Trigger) -> String {
    let bare = trigger.clone().with_catch_up(CatchUp::default());
    serde_json::to_string(&bare).unwrap_or_else(|_| format!("{bare:?}"))
}

/// Plans and enqueues one flow's runs in one transaction; answers what it enqueued.
pub(crate) async fn schedule_flow(
    inner: &Inner,
    flow: &Flow,
    now: DateTime<Utc>,
) -> Result<Vec<ScheduledRun>, ClusterError> {
    let what = "scheduling a flow's runs";
    let db = |e| ClusterError::database(what, e);
    let tables = &inner.tables;
    let key = schedule_key(flow.trigger());
    let mut tx = inner.pool.begin().await.map_err(db)?;
    sqlx::query(tables.insert_trigger_state.sql())
        .bind(flow.id())
        .bind(&key)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let (schedule, planned_until): (String, DateTime<Utc>) =
        sqlx::query_as(tables.lock_trigger_state.sql())
            .bind(flow.id())
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    // A changed schedule owes nothing of the old one's instants.
    let from = if schedule == key { planned_until } else { now };
    let config = &inner.config;
    let due = plan(
        flow.trigger(),
        from,
        now,
        config.tick_lookahead,
        config.overdue_grace,
        MAX_RUNS_PER_TICK,
    );
    if !due.due.is_empty() {
        let queue = queue::flow_queue(flow.id());
        let jobs: Vec<(FlowRun, JobSpec)> = due
            .due
            .iter()
            .map(|at| {
                let spec = JobSpec::builder()
                    .queue_name(queue.clone())
                    .run_at(*at)
                    .max_attempts(1)
                    .job_key(queue::due_key(flow.id(), *at))
                    .build();
                (FlowRun::scheduled(flow.id(), *at), spec)
            })
            .collect();
        let refs: Vec<(FlowRun, &JobSpec)> =
            jobs.iter().map(|(run, spec)| (run.clone(), spec)).collect();
        inner
            .utils
            .clone()
            .with_executor(&mut *tx)
            .add_jobs(&refs)
            .await
            .map_err(|e| ClusterError::jobs(what, e))?;
    }
    if due.planned_until != planned_until || schedule != key {
        sqlx::query(tables.update_trigger_state.sql())
            .bind(flow.id())
            .bind(&key)
            .bind(due.planned_until)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    Ok(due
        .due
        .into_iter()
        .map(|at| ScheduledRun {
            flow: flow.id().to_owned(),
            due: at,
        })
        .collect())
}

#[cfg(test)]
mod tests;
