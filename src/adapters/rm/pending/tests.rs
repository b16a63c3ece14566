//! Unit tests of `pending`.

use super::*;
use crate::http::RecordingClient;
use crate::{ManualClock, MemoryStore, StateStore};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn setup() -> (Context, ManualClock, MemoryStore) {
    let clock = ManualClock::new("2026-03-02T12:00:00Z".parse().unwrap());
    let store = MemoryStore::new();
    let ctx = Context::new(RecordingClient::new(), clock.clone(), store.clone());
    (ctx, clock, store)
}

fn sent(id: &str, date: &str, phone: &str, wamid: &str) -> PendingConfirmation {
    PendingConfirmation::new(
        id,
        day(date),
        phone,
        "2026-03-02T10:00:00Z".parse().unwrap(),
    )
    .message_id(Some(wamid.to_owned()))
}

#[tokio::test]
async fn a_confirmation_is_found_by_message_appointment_and_phone() {
    let (ctx, _, _) = setup();
    let pending = PendingConfirmations::default();
    let a = sent("A-1", "2026-03-03", "+55 11 99999-1234", "wamid.1");
    pending.remember(&ctx, &a).await.unwrap();
    assert_eq!(
        pending.by_message(&ctx, "wamid.1").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(pending.by_message(&ctx, "wamid.2").await.unwrap(), None);
    assert_eq!(
        pending
            .by_appointment(&ctx, "A-1", day("2026-03-03"))
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        pending
            .by_appointment(&ctx, "A-1", day("2026-03-04"))
            .await
            .unwrap(),
        None
    );
    // WhatsApp's form of the number, without the ninth digit, finds it too.
    let found = pending
        .by_phone(&ctx, "551199991234", day("2026-03-01"), day("2026-03-10"))
        .await
        .unwrap();
    assert_eq!(found, vec![a]);
    // Scopes are separate.
    let other = PendingConfirmations::new("clinic-2");
    assert_eq!(other.by_message(&ctx, "wamid.1").await.unwrap(), None);
}

#[tokio::test]
async fn a_resend_replaces_its_entry_and_each_day_keeps_at_most_the_maximum() {
    let (ctx, _, _) = setup();
    let pending = PendingConfirmations::default();
    let phone = "5511999991234";
    for n in 0..MAX_PER_PHONE_AND_DAY + 2 {
        let p = sent(
            &format!("A-{n}"),
            "2026-03-03",
            phone,
            &format!("wamid.{n}"),
        );
        pending.remember(&ctx, &p).await.unwrap();
    }
    let resent = sent("A-0", "2026-03-03", phone, "wamid.again");
    pending.remember(&ctx, &resent).await.unwrap();
    pending
        .remember(&ctx, &sent("B-1", "2026-03-04", phone, "wamid.b"))
        .await
        .unwrap();
    let found = pending
        .by_phone(&ctx, phone, day("2026-03-03"), day("2026-03-04"))
        .await
        .unwrap();
    let ids: Vec<_> = found.iter().map(|p| p.appointment_id.as_str()).collect();
    let mut expected: Vec<String> = (0..MAX_PER_PHONE_AND_DAY)
        .map(|n| format!("A-{n}"))
        .collect();
    expected.push("B-1".to_owned());
    assert_eq!(ids, expected, "oldest first, the resend in its old place");
    assert_eq!(found[0].message_id.as_deref(), Some("wamid.again"));
    // Beyond the maximum a confirmation is still found by its message and appointment.
    let late = format!("A-{}", MAX_PER_PHONE_AND_DAY + 1);
    assert!(pending
        .by_appointment(&ctx, &late, day("2026-03-03"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn confirmations_sent_at_once_to_one_number_are_all_kept() {
    let (ctx, _, store) = setup();
    let ctx = ctx.with_state(crate::store::YieldingState(store));
    let pending = PendingConfirmations::default();
    let all: Vec<_> = (0..4)
        .map(|n| {
            sent(
                &format!("A-{n}"),
                "2026-03-03",
                "5511999991234",
                &format!("w{n}"),
            )
        })
        .collect();
    let results =
        futures_util::future::join_all(all.iter().map(|p| pending.remember(&ctx, p))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let found = pending
        .by_phone(&ctx, "5511999991234", day("2026-03-03"), day("2026-03-03"))
        .await
        .unwrap();
    assert_eq!(found.len(), 4, "{found:?}");
}

#[tokio::test]
async fn entries_are_forgotten_nine_days_after_the_appointment() {
    let (ctx, clock, _) = setup();
    let pending = PendingConfirmations::default();
    pending
        .remember(&ctx, &sent("A-1", "2026-03-03", "5511", "wamid.1"))
        .await
        .unwrap();
    clock.set("2026-03-11T23:59:59Z".parse().unwrap());
    assert!(pending.by_message(&ctx, "wamid.1").await.unwrap().is_some());
    clock.set("2026-03-12T00:00:00Z".parse().unwrap());
    assert_eq!(pending.by_message(&ctx, "wamid.1").await.unwrap(), None);
    assert_eq!(
        pending
            .by_appointment(&ctx, "A-1", day("2026-03-03"))
            .await
            .unwrap(),
        None
    );
    let found = pending
        .by_phone(&ctx, "5511", day("2026-03-03"), day("2026-03-03"))
        .await
        .unwrap();
    assert!(found.is_empty());
}

#[tokio::test]
async fn an_entry_that_is_no_confirmation_is_reported() {
    let (ctx, _, store) = setup();
    store
        .put_state(
            "rm.pending:rm",
            "msg:wamid.x",
            &StateEntry::new(serde_json::json!(1)),
        )
        .await
        .unwrap();
    let error = PendingConfirmations::default()
        .by_message(&ctx, "wamid.x")
        .await
        .unwrap_err();
    assert_eq!(error.kind(), crate::StoreErrorKind::Corrupt);
}
