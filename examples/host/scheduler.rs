//! The scheduler: runs each flow that has a source and a timed trigger (`every`, `daily`,
//! `date`) when `Trigger::next_due` says, on the host's clock.
//!
//! One process runs the schedule. A second process on the same store would run the same
//! flows at the same instants: the cursor lease makes one of the two runs `Busy` and the
//! claims send every record once, so it is safe, only wasteful. For many workers use the
//! cluster (feature `graphile`), which enqueues each instant once.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::join_all;
use hubflow::{CatchUp, Flow, RunError, RunReport, StateEntry, Trigger};
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// Where the instant each flow last ran is kept, in the store's keyed state: after a
/// restart, an instant missed while the host was down is run once.
const STATE_SCOPE: &str = "host.scheduler";

/// The longest sleep. The wall clock is read again at least this often, so a clock that was
/// set (an NTP step) or a machine that was suspended delays a run by this much at most.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How soon a run that failed (its source down, say) is tried again, rather than at the
/// next instant: a daily job would otherwise wait a day.
const RETRY_FAILED: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// The timed flows and when each is next due.
pub struct Schedule {
    entries: Vec<(Flow, Option<DateTime<Utc>>)>,
}

impl Schedule {
    /// The flows with a source and a timed trigger, each due at its next instant after `now`.
    pub fn new<'a>(flows: impl IntoIterator<Item = &'a Flow>, now: DateTime<Utc>) -> Schedule {
        let entries = flows
            .into_iter()
            .filter(|flow| flow.has_source() && flow.trigger().is_timed())
            .map(|flow| (flow.clone(), flow.trigger().next_due(now)))
            .collect();
        Schedule { entries }
    }

    /// The earliest instant a flow is due; `None` when nothing will ever be (a `date` that
    /// has passed).
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.entries.iter().filter_map(|(_, next)| *next).min()
    }

    /// The flows due at `now`, each with the instant it was due. Each moves on to its first
    /// instant after `now`: instants that passed during a long run are not run again.
    pub fn take_due(&mut self, now: DateTime<Utc>) -> Vec<(Flow, DateTime<Utc>)> {
        let mut due = Vec::new();
        for (flow, next) in &mut self.entries {
            if let Some(at) = next.filter(|at| *at <= now) {
                due.push((flow.clone(), at));
                *next = flow.trigger().next_due(now);
            }
        }
        due
    }

    /// Makes `flow` due at `at`, unless it is due earlier already.
    fn due_by(&mut self, flow: &str, at: DateTime<Utc>) {
        for (entry, next) in &mut self.entries {
            if entry.id() == flow && next.is_none_or(|n| n > at) {
                *next = Some(at);
            }
        }
    }
}

/// Whether a flow whose trigger last ran at `last` owes a run at `now`, by its catch-up
/// rule: `latest`, when an instant passed since; `all`, when one passed within its window
/// (older ones are skipped); `skip`, never.
///
/// However many instants were missed, the flow then runs once: a run polls the source as
/// it is now, so one run covers them all (the cluster, which runs a job per instant, runs
/// each instant of an `all` window).
pub fn missed(trigger: &Trigger, last: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let since = match trigger.catch_up() {
        None | Some(CatchUp::Skip) => return false,
        Some(CatchUp::All { within_seconds }) => {
            let window = i64::try_from(within_seconds)
                .ok()
                .and_then(TimeDelta::try_seconds)
                .and_then(|window| now.checked_sub_signed(window));
            // A window reaching before the epoch takes in everything since `last`.
            window.map_or(last, |start| start.max(last))
        }
        // `latest`, and any rule this host does not know yet: one run, late.
        Some(_) => last,
    };
    trigger
        .next_due(since)
        .is_some_and(|instant| instant <= now)
}

/// The schedule at start: each flow at its next instant, or at once when the store says it
/// [`missed`] an instant while the host was down.
pub async fn resume(app: &App, now: DateTime<Utc>) -> Schedule {
    let mut schedule = Schedule::new(app.flows.iter().map(|hosted| &hosted.flow), now);
    for (flow, next) in &mut schedule.entries {
        let last = match app.ctx.state().get_state(STATE_SCOPE, flow.id(), now).await {
            Ok(entry) => entry.and_then(|e| serde_json::from_value::<DateTime<Utc>>(e.value).ok()),
            Err(e) => {
                eprintln!("scheduler: the last run of {} is unknown: {e}", flow.id());
                None
            }
        };
        if last.is_some_and(|last| missed(flow.trigger(), last, now)) {
            *next = Some(now);
        }
    }
    schedule
}

/// Runs the schedule until `shutdown`. A run in progress is never cut short: shutdown is
/// looked at only between runs.
pub async fn run(app: Arc<App>, shutdown: CancellationToken) {
    let clock = app.ctx.clock();
    let mut schedule = resume(&app, clock.now()).await;
    while let Some(wake) = schedule.next_wake() {
        let wait = (wake - clock.now()).to_std().unwrap_or_default();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = clock.sleep(wait.min(MAX_SLEEP)) => {}
        }
        let now = clock.now();
        for (flow, result) in tick(&app, schedule.take_due(now)).await {
            // Busy: another process is running the flow, and its run is as good as ours.
            if matches!(&result, Err(e) if !matches!(e, RunError::Busy(_))) {
                schedule.due_by(&flow, now + RETRY_FAILED);
            }
        }
    }
    // Nothing timed is left to run.
    shutdown.cancelled().await;
}

/// Runs the flows that are due, together (each flow's runs never overlap: the next instant
/// waits for this tick), logs what each did, and remembers each instant that ran.
pub async fn tick(
    app: &App,
    due: Vec<(Flow, DateTime<Utc>)>,
) -> Vec<(String, Result<RunReport, RunError>)> {
    join_all(due.into_iter().map(|(flow, at)| async move {
        let result = flow.run(&app.ctx).await;
        match &result {
            Ok(report) => {
                println!("{report}");
                app.note_error(flow.id(), None);
                let entry = StateEntry::new(serde_json::json!(at));
                if let Err(e) = app
                    .ctx
                    .state()
                    .put_state(STATE_SCOPE, flow.id(), &entry)
                    .await
                {
                    eprintln!(
                        "scheduler: the run of {} at {at} was not remembered: {e}",
                        flow.id()
                    );
                }
            }
            Err(e) => {
                eprintln!("scheduler: {} did not run: {e}", flow.id());
                app.note_error(flow.id(), Some(e.to_string()));
            }
        }
        (flow.id().to_owned(), result)
    }))
    .await
}
