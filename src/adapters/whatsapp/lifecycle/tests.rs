use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::http::RecordingClient;
use crate::{ManualClock, MemoryStore};

const WABA: &str = "102290129340398";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn ctx() -> Context {
    Context::new(
        RecordingClient::new(),
        ManualClock::new(at("2026-03-02T12:00:00Z")),
        MemoryStore::new(),
    )
}

fn status(status: &str, when: &str) -> Record {
    Record::new(
        format!("t:{status}:{when}"),
        KIND_TEMPLATE_STATUS,
        json!({"waba_id": WABA, "name": "wo_assignment", "language": "pt_BR",
               "status": status, "reason": "LOW_QUALITY", "category": "UTILITY", "at": when}),
    )
}

fn preference(value: &str, accepts: bool, when: &str) -> Record {
    Record::new(
        format!("p:{value}:{when}"),
        KIND_USER_PREFERENCE,
        json!({"phone_number_id": "1065", "wa_id": "5511999991234", "category": MARKETING_MESSAGES,
               "value": value, "accepts": accepts, "timestamp": when}),
    )
    .occurred_at(at(when))
}

fn check(category: Option<&str>) -> TemplateCheck {
    TemplateCheck {
        waba_id: Some(WABA.to_owned()),
        name: "wo_assignment".to_owned(),
        language: "pt_BR".to_owned(),
        category: category.map(str::to_owned),
        phone_number_id: "1065".to_owned(),
        customer: "5511999991234".to_owned(),
    }
}

async fn state(ctx: &Context) -> Option<TemplateState> {
    template_state(ctx, WABA, "wo_assignment", "pt_BR")
        .await
        .unwrap()
}

#[tokio::test]
async fn a_paused_template_is_refused_naming_it_and_resumes_when_approved_again() {
    let ctx = ctx();
    assert!(
        check(None).verify(&ctx).await.is_ok(),
        "nothing known: sent"
    );
    remember(&ctx, &[status("PAUSED", "2026-03-02T10:00:00Z")])
        .await
        .unwrap();
    let Err(DeliveryError::Precondition(why)) = check(None).verify(&ctx).await else {
        panic!("a paused template is refused");
    };
    assert!(why.contains("`wo_assignment` (pt_BR) is PAUSED"), "{why}");
    assert!(why.contains("LOW_QUALITY"), "{why}");
    remember(&ctx, &[status("APPROVED", "2026-03-02T11:00:00Z")])
        .await
        .unwrap();
    assert!(check(None).verify(&ctx).await.is_ok());
    // FLAGGED is a warning, not a stop; an unknown status is not guessed either way.
    remember(&ctx, &[status("FLAGGED", "2026-03-02T11:10:00Z")])
        .await
        .unwrap();
    assert!(check(None).verify(&ctx).await.is_ok());
    remember(&ctx, &[status("SOMETHING_NEW", "2026-03-02T11:20:00Z")])
        .await
        .unwrap();
    assert!(check(None).verify(&ctx).await.is_ok());
    assert_eq!(state(&ctx).await.unwrap().usable(), None);
}

#[tokio::test]
async fn an_older_status_arriving_late_never_overwrites_a_newer_one() {
    let ctx = ctx();
    remember(
        &ctx,
        &[
            status("APPROVED", "2026-03-02T11:00:00Z"),
            status("DISABLED", "2026-03-01T09:00:00Z"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        state(&ctx).await.unwrap().status,
        Some(TemplateStatus::Approved)
    );
}

#[tokio::test]
async fn a_category_change_keeps_the_status_and_decides_the_opt_out_check() {
    let ctx = ctx();
    remember(
        &ctx,
        &[
            status("APPROVED", "2026-03-02T10:00:00Z"),
            preference("stop", false, "2026-03-02T10:30:00Z"),
        ],
    )
    .await
    .unwrap();
    // Meta says UTILITY: sent to the opted-out user, whatever the target was told.
    assert!(check(Some("marketing")).verify(&ctx).await.is_ok());
    let moved = Record::new(
        "c",
        KIND_TEMPLATE_CATEGORY,
        json!({"waba_id": WABA, "name": "wo_assignment", "language": "pt_BR",
               "new": "MARKETING", "at": "2026-03-02T11:00:00Z"}),
    );
    let remembered = remember(&ctx, &[moved]).await.unwrap();
    assert_eq!(remembered.templates, 1);
    let known = state(&ctx).await.unwrap();
    assert_eq!(known.status, Some(TemplateStatus::Approved));
    assert_eq!(known.is_marketing(), Some(true));
    let Err(DeliveryError::Precondition(why)) = check(None).verify(&ctx).await else {
        panic!("a marketing template to an opted-out user is refused");
    };
    assert!(
        why.contains("opted out of marketing messages (stop"),
        "{why}"
    );
    assert!(why.contains("`wo_assignment`"), "{why}");
}

#[tokio::test]
async fn a_stop_is_lifted_by_a_later_resume_but_not_by_an_earlier_one() {
    let ctx = ctx();
    let unknown_template = TemplateCheck {
        waba_id: None,
        ..check(Some("MARKETING"))
    };
    remember(
        &ctx,
        &[
            preference("stop", false, "2026-03-02T10:00:00Z"),
            preference("resume", true, "2026-03-01T10:00:00Z"),
        ],
    )
    .await
    .unwrap();
    assert!(unknown_template.verify(&ctx).await.is_err());
    assert!(
        check(Some("utility")).verify(&ctx).await.is_ok(),
        "utility still goes"
    );
    let remembered = remember(&ctx, &[preference("resume", true, "2026-03-02T11:00:00Z")])
        .await
        .unwrap();
    assert_eq!(remembered.preferences, 1);
    assert!(unknown_template.verify(&ctx).await.is_ok());
    let choice = marketing_choice(&ctx, "1065", "5511999991234")
        .await
        .unwrap()
        .unwrap();
    assert!(choice.accepts);
    assert_eq!(choice.value, "resume");
}

#[tokio::test]
async fn records_without_what_is_needed_or_about_something_else_are_ignored() {
    let ctx = ctx();
    let other_category = Record::new(
        "p",
        KIND_USER_PREFERENCE,
        json!({"phone_number_id": "1065", "wa_id": "5511", "category": "service_messages",
               "value": "stop", "accepts": false}),
    );
    let no_name = Record::new(
        "t",
        KIND_TEMPLATE_STATUS,
        json!({"waba_id": WABA, "status": "PAUSED"}),
    );
    let message = Record::new("m", "whatsapp.message", json!({"from": ""}));
    let remembered = remember(&ctx, &[other_category, no_name, message])
        .await
        .unwrap();
    assert_eq!(remembered, Remembered::default());
}
