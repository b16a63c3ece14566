//! Unit tests of `cluster::schedule`: the planner, with fixed instants.

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const LOOKAHEAD: Duration = Duration::from_secs(90);
const GRACE: Duration = Duration::from_secs(120);

fn planned(trigger: &Trigger, until: &str, now: &str) -> DuePlan {
    plan(
        trigger,
        utc(until),
        utc(now),
        LOOKAHEAD,
        GRACE,
        MAX_RUNS_PER_TICK,
    )
}

fn times(plan: &DuePlan) -> Vec<String> {
    plan.due
        .iter()
        .map(|t| t.format("%H:%M:%S").to_string())
        .collect()
}

#[test]
fn a_tick_on_time_enqueues_the_instants_up_to_its_lookahead() {
    let every = Trigger::every(60);
    let first = planned(&every, "2026-03-01T10:00:00Z", "2026-03-01T10:00:30Z");
    assert_eq!(times(&first), ["10:01:00", "10:02:00"]);
    assert_eq!(first.planned_until, utc("2026-03-01T10:02:00Z"));
    // The next minute's tick goes on where the last one stopped: nothing twice.
    let second = plan(
        &every,
        first.planned_until,
        utc("2026-03-01T10:01:30Z"),
        LOOKAHEAD,
        GRACE,
        MAX_RUNS_PER_TICK,
    );
    assert_eq!(times(&second), ["10:03:00"]);
    // A second tick in the same instant finds nothing left.
    let again = plan(
        &every,
        second.planned_until,
        utc("2026-03-01T10:01:30Z"),
        LOOKAHEAD,
        GRACE,
        MAX_RUNS_PER_TICK,
    );
    assert!(again.due.is_empty());
    assert_eq!(again.planned_until, second.planned_until);
}

#[test]
fn sub_minute_intervals_are_enqueued_ahead_between_minute_ticks() {
    let every = Trigger::every(10);
    let p = planned(&every, "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z");
    assert_eq!(p.due.len(), 9);
    assert_eq!(p.due[0], utc("2026-03-01T10:00:10Z"));
    assert_eq!(p.due[8], utc("2026-03-01T10:01:30Z"));
}

#[test]
fn a_slightly_late_tick_still_runs_its_instants() {
    // The tick came 100 s late: within the grace, so the skipped setting does not apply.
    let every = Trigger::every(60).with_catch_up(CatchUp::Skip);
    let p = planned(&every, "2026-03-01T10:00:00Z", "2026-03-01T10:01:40Z");
    assert_eq!(p.due[0], utc("2026-03-01T10:01:00Z"));
}

#[test]
fn after_downtime_latest_runs_the_last_missed_instant_once() {
    // Down from 10:02 to 11:00:30: instants up to 10:58:30 were missed.
    let every = Trigger::every(60);
    let p = planned(&every, "2026-03-01T10:02:00Z", "2026-03-01T11:00:30Z");
    assert_eq!(
        times(&p),
        ["10:58:00", "10:59:00", "11:00:00", "11:01:00", "11:02:00"]
    );
    assert_eq!(p.planned_until, utc("2026-03-01T11:02:00Z"));
}

#[test]
fn after_downtime_skip_runs_only_what_is_on_time() {
    let every = Trigger::every(60).with_catch_up(CatchUp::Skip);
    let p = planned(&every, "2026-03-01T10:02:00Z", "2026-03-01T11:00:30Z");
    assert_eq!(times(&p), ["10:59:00", "11:00:00", "11:01:00", "11:02:00"]);
    assert_eq!(p.planned_until, utc("2026-03-01T11:02:00Z"));
}

#[test]
fn after_downtime_all_runs_the_missed_instants_of_its_window() {
    let every = Trigger::every(60).with_catch_up(CatchUp::All {
        within_seconds: 600,
    });
    let p = planned(&every, "2026-03-01T10:02:00Z", "2026-03-01T11:00:30Z");
    assert_eq!(
        times(&p),
        [
            "10:51:00", "10:52:00", "10:53:00", "10:54:00", "10:55:00", "10:56:00", "10:57:00",
            "10:58:00", "10:59:00", "11:00:00", "11:01:00", "11:02:00"
        ]
    );
    // A window longer than the downtime runs everything missed, and nothing before
    // `planned_until` (enqueued already).
    let wide = Trigger::every(600).with_catch_up(CatchUp::All {
        within_seconds: 86_400,
    });
    let p = planned(&wide, "2026-03-01T10:00:00Z", "2026-03-01T11:00:30Z");
    assert_eq!(
        times(&p),
        ["10:10:00", "10:20:00", "10:30:00", "10:40:00", "10:50:00", "11:00:00"]
    );
}

#[test]
fn a_daily_trigger_after_three_days_down() {
    // 08:00 São Paulo is 11:00 UTC; last planned before the 1st's run, back on the 4th at
    // 12:00 UTC.
    let daily = Trigger::daily("08:00:00".parse().unwrap(), chrono_tz::America::Sao_Paulo);
    let (until, now) = ("2026-03-01T10:00:00Z", "2026-03-04T12:00:00Z");
    let latest = planned(&daily, until, now);
    assert_eq!(latest.due, [utc("2026-03-04T11:00:00Z")]);
    assert_eq!(latest.planned_until, utc("2026-03-04T12:01:30Z"));
    let skip = planned(&daily.clone().with_catch_up(CatchUp::Skip), until, now);
    assert!(skip.due.is_empty());
    assert_eq!(skip.planned_until, utc("2026-03-04T12:01:30Z"));
    let two_days = planned(
        &daily.clone().with_catch_up(CatchUp::All {
            within_seconds: 2 * 86_400,
        }),
        until,
        now,
    );
    assert_eq!(
        two_days.due,
        [utc("2026-03-03T11:00:00Z"), utc("2026-03-04T11:00:00Z")]
    );
    let all = planned(
        &daily.with_catch_up(CatchUp::All {
            within_seconds: 30 * 86_400,
        }),
        until,
        now,
    );
    assert_eq!(
        all.due,
        [
            utc("2026-03-01T11:00:00Z"),
            utc("2026-03-02T11:00:00Z"),
            utc("2026-03-03T11:00:00Z"),
            utc("2026-03-04T11:00:00Z")
        ]
    );
}

#[test]
fn latest_after_a_long_outage_of_a_fast_trigger_is_found_directly() {
    // A week down with a one-second interval: the latest missed instant, not 600 000 steps.
    let every = Trigger::every(1);
    let p = plan(
        &every,
        utc("2026-03-01T00:00:00Z"),
        utc("2026-03-08T00:00:00Z"),
        Duration::ZERO,
        Duration::from_secs(2),
        MAX_RUNS_PER_TICK,
    );
    assert_eq!(
        p.due,
        [
            utc("2026-03-07T23:59:58Z"),
            utc("2026-03-07T23:59:59Z"),
            utc("2026-03-08T00:00:00Z")
        ]
    );
}

#[test]
fn a_tick_plans_at_most_its_cap_and_the_next_goes_on() {
    let every = Trigger::every(1).with_catch_up(CatchUp::All {
        within_seconds: 86_400,
    });
    let now = utc("2026-03-02T00:00:00Z");
    let first = plan(
        &every,
        utc("2026-03-01T00:00:00Z"),
        now,
        LOOKAHEAD,
        GRACE,
        100,
    );
    assert_eq!(first.due.len(), 100);
    assert_eq!(first.due[0], utc("2026-03-01T00:00:01Z"));
    assert_eq!(first.planned_until, first.due[99]);
    let next = plan(&every, first.planned_until, now, LOOKAHEAD, GRACE, 100);
    assert_eq!(next.due[0], utc("2026-03-01T00:01:41Z"));
}

#[test]
fn the_daylight_saving_change_runs_a_daily_trigger_once() {
    // 02:30 Berlin exists twice on 2026-10-25; one run, at the first.
    let daily = Trigger::daily("02:30:00".parse().unwrap(), chrono_tz::Europe::Berlin);
    let mut until = utc("2026-10-24T23:00:00Z");
    let mut due = Vec::new();
    let mut now = until;
    while now < utc("2026-10-25T04:00:00Z") {
        let p = plan(&daily, until, now, LOOKAHEAD, GRACE, MAX_RUNS_PER_TICK);
        due.extend(p.due);
        until = p.planned_until;
        now += chrono::Duration::minutes(1);
    }
    assert_eq!(due, [utc("2026-10-25T00:30:00Z")]);
}

#[test]
fn triggers_that_are_not_timed_plan_nothing() {
    let p = planned(
        &Trigger::Manual,
        "2026-03-01T10:00:00Z",
        "2026-03-01T11:00:00Z",
    );
    assert!(p.due.is_empty());
    assert_eq!(p.planned_until, utc("2026-03-01T10:00:00Z"));
}

#[test]
fn a_clock_behind_the_plan_enqueues_nothing_again() {
    let every = Trigger::every(60);
    let p = planned(&every, "2026-03-01T10:05:00Z", "2026-03-01T10:00:00Z");
    assert!(p.due.is_empty());
    assert_eq!(p.planned_until, utc("2026-03-01T10:05:00Z"));
}

#[test]
fn the_schedule_key_ignores_the_catch_up_only() {
    let every = Trigger::every(60);
    assert_eq!(
        schedule_key(&every),
        schedule_key(&every.clone().with_catch_up(CatchUp::Skip))
    );
    assert_ne!(schedule_key(&every), schedule_key(&Trigger::every(120)));
}

#[test]
fn a_date_runs_once_on_time_or_as_its_catch_up_says_when_missed() {
    let once = Trigger::date(utc("2026-03-01T10:01:00Z"));
    // On time: enqueued by the tick within the lookahead, and by no later tick.
    let first = planned(&once, "2026-03-01T10:00:00Z", "2026-03-01T10:00:30Z");
    assert_eq!(times(&first), ["10:01:00"]);
    let later = plan(
        &once,
        first.planned_until,
        utc("2026-03-01T10:01:30Z"),
        LOOKAHEAD,
        GRACE,
        MAX_RUNS_PER_TICK,
    );
    assert!(later.due.is_empty(), "{later:?}");
    // Missed while nothing ran (planned until 09:00, back at 12:00).
    let missed = planned(&once, "2026-03-01T09:00:00Z", "2026-03-01T12:00:00Z");
    assert_eq!(times(&missed), ["10:01:00"], "latest: once, late");
    let skip = once.clone().with_catch_up(CatchUp::Skip);
    assert!(
        planned(&skip, "2026-03-01T09:00:00Z", "2026-03-01T12:00:00Z")
            .due
            .is_empty()
    );
    let recent = once.with_catch_up(CatchUp::All {
        within_seconds: 3600,
    });
    assert!(
        planned(&recent, "2026-03-01T09:00:00Z", "2026-03-01T12:00:00Z")
            .due
            .is_empty(),
        "older than the window"
    );
    assert_eq!(
        times(&planned(
            &recent,
            "2026-03-01T09:00:00Z",
            "2026-03-01T10:30:00Z"
        )),
        ["10:01:00"]
    );
}
