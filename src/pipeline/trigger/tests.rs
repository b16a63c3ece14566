//! Unit tests of `trigger`.

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn event_and_manual_are_never_due() {
    let event = Trigger::Event {
        module: "m".into(),
        submodule: "s".into(),
        event: "e".into(),
    };
    assert_eq!(event.next_due(utc("2026-01-01T00:00:00Z")), None);
    assert_eq!(Trigger::Manual.next_due(utc("2026-01-01T00:00:00Z")), None);
}

#[test]
fn every_is_aligned_and_strictly_after_now() {
    let every = Trigger::every(900);
    assert_eq!(
        every.next_due(utc("2026-01-01T10:07:00Z")),
        Some(utc("2026-01-01T10:15:00Z"))
    );
    assert_eq!(
        every.next_due(utc("2026-01-01T10:15:00Z")),
        Some(utc("2026-01-01T10:30:00Z"))
    );
    assert_eq!(
        Trigger::every(0).next_due(utc("2026-01-01T10:15:00Z")),
        None
    );
    assert_eq!(
        Trigger::every(u64::MAX).next_due(utc("2026-01-01T10:15:00Z")),
        None
    );
}

#[test]
fn daily_uses_the_time_zone() {
    let daily = Trigger::daily("08:00:00".parse().unwrap(), chrono_tz::America::Sao_Paulo);
    assert_eq!(
        daily.next_due(utc("2026-03-01T10:59:59Z")),
        Some(utc("2026-03-01T11:00:00Z"))
    );
    assert_eq!(
        daily.next_due(utc("2026-03-01T11:00:00Z")),
        Some(utc("2026-03-02T11:00:00Z"))
    );
    // Late evening in São Paulo is already tomorrow in UTC.
    assert_eq!(
        daily.next_due(utc("2026-03-02T02:30:00Z")),
        Some(utc("2026-03-02T11:00:00Z"))
    );
}

#[test]
fn daily_handles_daylight_saving_gaps_and_overlaps() {
    let berlin = chrono_tz::Europe::Berlin;
    // 2026-03-29 02:30 does not exist in Berlin: clocks go 02:00 → 03:00 (01:00 UTC).
    let gap = Trigger::daily("02:30:00".parse().unwrap(), berlin);
    assert_eq!(
        gap.next_due(utc("2026-03-28T23:00:00Z")),
        Some(utc("2026-03-29T01:00:00Z"))
    );
    // 2026-10-25 02:30 exists twice; the first is 00:30 UTC.
    let overlap = Trigger::daily("02:30:00".parse().unwrap(), berlin);
    assert_eq!(
        overlap.next_due(utc("2026-10-24T23:00:00Z")),
        Some(utc("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn triggers_have_a_json_form() {
    let t: Trigger =
        serde_json::from_str(r#"{"daily": {"at": "07:30:00", "time_zone": "America/Sao_Paulo"}}"#)
            .unwrap();
    assert!(matches!(t, Trigger::Daily { .. }));
    let t: Trigger = serde_json::from_str(
        r#"{"event": {"module": "work_management", "submodule": "work_orders", "event": "new_wo"}}"#,
    )
    .unwrap();
    assert!(matches!(t, Trigger::Event { .. }));
    assert_eq!(
        serde_json::from_str::<Trigger>(r#""manual""#).unwrap(),
        Trigger::Manual
    );
    assert!(serde_json::from_str::<Trigger>(
        r#"{"daily": {"at": "07:30:00", "time_zone": "Mars/Base"}}"#
    )
    .is_err());
}

#[test]
fn catch_up_is_optional_in_json_and_left_out_when_default() {
    // JSON written before catch-up existed reads as before, with the default.
    let old: Trigger = serde_json::from_str(r#"{"every": {"seconds": 300}}"#).unwrap();
    assert_eq!(old, Trigger::every(300));
    assert_eq!(old.catch_up(), Some(CatchUp::Latest));
    // ... and writes back exactly as it was.
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"every":{"seconds":300}}"#
    );

    let skip: Trigger = serde_json::from_str(
        r#"{"daily": {"at": "07:30:00", "time_zone": "America/Sao_Paulo", "catch_up": "skip"}}"#,
    )
    .unwrap();
    assert_eq!(skip.catch_up(), Some(CatchUp::Skip));
    let all: Trigger = serde_json::from_str(
        r#"{"every": {"seconds": 60, "catch_up": {"all": {"within_seconds": 600}}}}"#,
    )
    .unwrap();
    assert_eq!(
        all,
        Trigger::every(60).with_catch_up(CatchUp::All {
            within_seconds: 600
        })
    );
    let round: Trigger = serde_json::from_str(&serde_json::to_string(&all).unwrap()).unwrap();
    assert_eq!(round, all);

    // Unknown settings are refused, as every other unknown field.
    assert!(serde_json::from_str::<Trigger>(
        r#"{"every": {"seconds": 60, "catch_up": "everything"}}"#
    )
    .is_err());
    assert!(serde_json::from_str::<Trigger>(
        r#"{"every": {"seconds": 60, "catch_up": {"all": {"within": 5}}}}"#
    )
    .is_err());
}

#[test]
fn catch_up_does_not_change_when_a_trigger_is_due() {
    let now = utc("2026-01-01T10:07:00Z");
    assert_eq!(
        Trigger::every(900)
            .with_catch_up(CatchUp::Skip)
            .next_due(now),
        Trigger::every(900).next_due(now)
    );
    assert!(Trigger::every(1).is_timed());
    assert!(!Trigger::Manual.is_timed());
    assert_eq!(
        Trigger::Manual.with_catch_up(CatchUp::Skip),
        Trigger::Manual
    );
}

#[test]
fn a_date_is_one_instant_with_its_offset_and_refuses_a_local_time_without_one() {
    let once: Trigger = serde_json::from_str(
        r#"{"date": {"at": "2026-12-24T08:00:00-03:00", "catch_up": "skip"}}"#,
    )
    .unwrap();
    let at: DateTime<Utc> = "2026-12-24T11:00:00Z".parse().unwrap();
    assert_eq!(
        once,
        Trigger::Date {
            at,
            catch_up: CatchUp::Skip
        }
    );
    assert!(once.is_timed());
    assert_eq!(once.next_due(at - chrono::Duration::seconds(1)), Some(at));
    assert_eq!(once.next_due(at), None);
    assert_eq!(
        serde_json::to_value(Trigger::date(at)).unwrap(),
        serde_json::json!({"date": {"at": "2026-12-24T11:00:00Z"}})
    );
    for bad in [
        r#"{"date": {"at": "2026-12-24T08:00:00"}}"#,
        r#"{"date": {"at": "tomorrow"}}"#,
        r#"{"date": {}}"#,
        r#"{"date": {"at": "2026-12-24T08:00:00Z", "every": 3}}"#,
    ] {
        assert!(serde_json::from_str::<Trigger>(bad).is_err(), "{bad}");
    }
}
