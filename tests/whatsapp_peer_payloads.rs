//! The peer suite: pywa's 74 webhook payloads (`tests/fixtures/pywa/`), every change field
//! it knows, each fed signed to the webhook. Every payload must give typed events: none
//! dropped, none only `whatsapp.unsupported`, none kept as unreadable.

#![cfg(feature = "whatsapp")]

use std::collections::BTreeMap;

use hubflow::http::Method;
use hubflow::whatsapp::webhook::{
    parse, sign, MessageType, PreferenceValue, TemplateChange, TemplateStatus, WebhookEvent,
    WhatsAppWebhook,
};
use hubflow::{InboundRequest, WebhookSource, KIND_UNREADABLE};
use secrecy::SecretString;
use serde_json::{json, Value};

const APP_SECRET: &str = "peer-suite-app-secret";

/// Every payload of the suite: (file, case, body as sent).
fn payloads() -> Vec<(String, String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pywa");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the fixtures are in the repository")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let cases: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
        for (case, body) in cases {
            all.push((name.clone(), case, body.to_string()));
        }
    }
    all
}

/// The event variant's name, to compare with what each file is about.
fn variant(event: &WebhookEvent) -> &'static str {
    match event {
        WebhookEvent::Message(_) => "message",
        WebhookEvent::Status(_) => "status",
        WebhookEvent::Error(_) => "error",
        WebhookEvent::Echo(_) => "echo",
        WebhookEvent::Template(_) => "template",
        WebhookEvent::Account(_) => "account",
        WebhookEvent::PhoneNumber(_) => "phone_number",
        WebhookEvent::UserPreference(_) => "user_preference",
        WebhookEvent::Call(_) => "call",
        WebhookEvent::CallStatus(_) => "call_status",
        WebhookEvent::Group(_) => "group",
        WebhookEvent::History(_) => "history",
        WebhookEvent::ContactSync(_) => "contact_sync",
        WebhookEvent::Unsupported(_) => "unsupported",
        _ => "new variant",
    }
}

fn events_of(file: &str, case: &str) -> Vec<WebhookEvent> {
    let (_, _, body) = payloads()
        .into_iter()
        .find(|(f, c, _)| f == file && c == case)
        .unwrap_or_else(|| panic!("{file}/{case} is in the suite"));
    parse(body.as_bytes()).unwrap()
}

#[test]
fn all_74_payloads_give_typed_events_through_the_signed_webhook() {
    let secret = SecretString::from(APP_SECRET);
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), secret.clone());
    // What each file is about: the variants its payloads must give, and nothing else.
    let expected: BTreeMap<&str, &[&str]> = [
        ("account_update.json", &["account"][..]),
        ("call_connect.json", &["call"]),
        ("call_permission_update.json", &["message"]),
        ("call_status.json", &["call_status"]),
        ("call_terminate.json", &["call"]),
        ("callback_button.json", &["message"]),
        ("callback_selection.json", &["message"]),
        ("deleted_message.json", &["message"]),
        ("edited_message.json", &["message"]),
        ("flow_completion.json", &["message"]),
        ("message.json", &["message", "error"]),
        ("message_status.json", &["status"]),
        ("outgoing_message.json", &["echo"]),
        ("system.json", &["message"]),
        ("template_category_update.json", &["template"]),
        ("template_components_update.json", &["template"]),
        ("template_quality_update.json", &["template"]),
        ("template_status_update.json", &["template"]),
        ("user_marketing_preferences.json", &["user_preference"]),
    ]
    .into_iter()
    .collect();

    let mut count = 0;
    let mut per_field: BTreeMap<&'static str, usize> = BTreeMap::new();
    for (file, case, body) in payloads() {
        count += 1;
        let request = InboundRequest::new(Method::Post, "/hooks/wa", body.clone())
            .header("X-Hub-Signature-256", sign(&secret, body.as_bytes()));
        let reply = webhook.handle(&request);
        assert_eq!(reply.status, 200, "{file}/{case}");
        assert!(!reply.records.is_empty(), "{file}/{case}: dropped");
        for record in &reply.records {
            assert_ne!(
                record.kind, KIND_UNREADABLE,
                "{file}/{case}: {:?}",
                record.data
            );
            assert_ne!(record.kind, "whatsapp.unsupported", "{file}/{case}");
            assert!(!record.key.is_empty(), "{file}/{case}");
        }
        let events = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{file}/{case}: {e}"));
        assert_eq!(events.len(), reply.records.len(), "{file}/{case}");
        let allowed = expected
            .get(file.as_str())
            .unwrap_or_else(|| panic!("{file}: a new file; add it to this test"));
        for event in &events {
            let name = variant(event);
            assert!(allowed.contains(&name), "{file}/{case}: {name}");
            *per_field.entry(name).or_default() += 1;
        }
        // The same body again gives the same keys: Meta's resends are duplicates.
        let again = webhook.handle(&request);
        let keys =
            |r: &hubflow::WebhookReply| r.records.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&again), keys(&reply), "{file}/{case}");
    }
    assert_eq!(count, 74, "the whole suite was read");
    assert_eq!(per_field.get("account"), Some(&17));
    assert_eq!(per_field.get("template"), Some(&5));
    assert_eq!(per_field.get("echo"), Some(&3));
    assert_eq!(per_field.get("user_preference"), Some(&2));
    assert_eq!(
        per_field.get("call").copied().unwrap_or(0)
            + per_field.get("call_status").copied().unwrap_or(0),
        4
    );
}

#[test]
fn template_status_updates_carry_status_category_and_reasons() {
    let rejected = events_of("template_status_update.json", "rejected");
    let WebhookEvent::Template(t) = &rejected[0] else {
        panic!("{rejected:?}")
    };
    assert_eq!(
        (t.name.as_str(), t.language.as_str()),
        ("abandoned_cart", "en")
    );
    assert_eq!(
        t.template_id, "1689556908129835",
        "a numeric id is read as text"
    );
    let TemplateChange::Status {
        status,
        reason,
        category,
        rejection_reason,
        recommendation,
    } = &t.change
    else {
        panic!("{t:?}")
    };
    assert_eq!(*status, TemplateStatus::Rejected);
    assert_eq!(status.usable(), Some(false));
    assert_eq!(reason.as_deref(), Some("INVALID_FORMAT"));
    assert_eq!(category.as_deref(), Some("MARKETING"));
    assert!(rejection_reason.as_deref().unwrap().contains("{{1}}{{2}}"));
    assert!(recommendation.as_deref().unwrap().starts_with("Separate"));
    let record = rejected[0].to_record();
    assert_eq!(record.kind, "whatsapp.template_status");
    assert_eq!(
        record.key,
        "whatsapp:template:102290129340398:1689556908129835:status:REJECTED:1751247548"
    );
    assert_eq!(record.get("usable"), Some(&json!(false)));
    assert_eq!(
        record.occurred_at.map(|t| t.timestamp()),
        Some(1_751_247_548)
    );

    let quality = events_of("template_quality_update.json", "yellow");
    let record = quality[0].to_record();
    assert_eq!(record.kind, "whatsapp.template_quality");
    assert_eq!(record.get("previous"), Some(&json!("GREEN")));
    assert_eq!(record.get("new"), Some(&json!("YELLOW")));

    let category = events_of("template_category_update.json", "marketing")[0].to_record();
    assert_eq!(category.kind, "whatsapp.template_category");
    assert_eq!(category.get("new"), Some(&json!("MARKETING")));

    let components = events_of("template_components_update.json", "element")[0].to_record();
    assert_eq!(components.kind, "whatsapp.template_components");
    assert_eq!(
        components.get("body"),
        Some(&json!("Hi {{1}}! Welcome to our service."))
    );
}

#[test]
fn account_updates_type_bans_restrictions_and_violations() {
    let restriction = events_of("account_update.json", "account_restriction");
    let WebhookEvent::Account(a) = &restriction[0] else {
        panic!("{restriction:?}")
    };
    assert_eq!(a.event.as_deref(), Some("ACCOUNT_RESTRICTION"));
    let kinds: Vec<&str> = a.restrictions.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "RESTRICTED_BIZ_INITIATED_MESSAGING",
            "RESTRICTED_ADD_PHONE_NUMBER_ACTION"
        ]
    );
    assert_eq!(
        a.restrictions[0].expiration.map(|t| t.timestamp()),
        Some(1_641_330_498)
    );

    let disabled = events_of("account_update.json", "account_disabled");
    let WebhookEvent::Account(a) = &disabled[0] else {
        panic!("{disabled:?}")
    };
    let ban = a.ban.as_ref().unwrap();
    assert_eq!(
        (ban.state.as_str(), ban.date.as_deref()),
        ("REINSTATE", Some("April 17, 2025"))
    );

    let violation = events_of("account_update.json", "account_violation")[0].to_record();
    assert_eq!(violation.kind, "whatsapp.account");
    assert_eq!(violation.get("violation"), Some(&json!("ADULT")));
    assert_eq!(violation.get("field"), Some(&json!("account_update")));

    // Partner events keep what they carry in `raw`.
    let partner = events_of("account_update.json", "partner_added")[0].to_record();
    assert_eq!(partner.get("event"), Some(&json!("PARTNER_ADDED")));
    assert_eq!(
        partner.get("raw.waba_info.solution_id"),
        Some(&json!("1715120619246906"))
    );
}

#[test]
fn marketing_preferences_name_the_user_and_what_they_chose() {
    let signup = events_of("user_marketing_preferences.json", "signup");
    let WebhookEvent::UserPreference(p) = &signup[0] else {
        panic!("{signup:?}")
    };
    assert_eq!(p.wa_id, "16505551234");
    assert_eq!(p.category, "marketing_messages");
    assert_eq!(p.value, PreferenceValue::Signup);
    assert_eq!(p.value.accepts(), Some(true));
    let record = signup[0].to_record();
    assert_eq!(record.kind, "whatsapp.user_preference");
    assert!(record.key.starts_with("whatsapp:preference:"));
    assert!(record
        .key
        .ends_with(":16505551234:marketing_messages:signup:1731705721"));
    let resume = events_of("user_marketing_preferences.json", "resume")[0].to_record();
    assert_ne!(resume.key, record.key);
    assert_eq!(resume.get("accepts"), Some(&json!(true)));
}

#[test]
fn calls_connect_end_and_ring() {
    let ended = events_of("call_terminate.json", "call_terminate");
    let WebhookEvent::Call(call) = &ended[0] else {
        panic!("{ended:?}")
    };
    assert_eq!(call.event, "terminate");
    assert_eq!(call.status.as_deref(), Some("COMPLETED"));
    assert_eq!(call.duration_secs, Some(120));
    assert_eq!(
        call.errors[0].code, 12455,
        "the change's errors belong to the call"
    );
    assert_eq!(ended.len(), 1, "and are not reported twice");
    assert_eq!(
        ended[0].to_record().key,
        "wacid.ABGGFjFVU2AfAgo6V-Hc5eCgK5Gh:terminate"
    );

    let connect = events_of("call_connect.json", "user_initiated");
    let WebhookEvent::Call(call) = &connect[0] else {
        panic!("{connect:?}")
    };
    assert_eq!(call.direction.as_deref(), Some("USER_INITIATED"));
    assert_eq!(
        call.contact.as_ref().and_then(|c| c.name.as_deref()),
        Some("Test Name")
    );

    let ringing = events_of("call_status.json", "call_status")[0].to_record();
    assert_eq!(ringing.kind, "whatsapp.call_status");
    assert_eq!(ringing.key, "wacid.ABGGFjFVU2AfAgo6V:ringing");

    let permission = events_of("call_permission_update.json", "accept");
    let WebhookEvent::Message(m) = &permission[0] else {
        panic!("{permission:?}")
    };
    assert_eq!(m.reply_id(), Some("accept"));
}

#[test]
fn echoes_edits_deletions_and_flow_answers() {
    let echo = events_of("outgoing_message.json", "text");
    let WebhookEvent::Echo(m) = &echo[0] else {
        panic!("{echo:?}")
    };
    assert_eq!(m.to.as_deref(), Some("<WHATSAPP_USER_PHONE_NUMBER>"));
    assert_eq!(m.text(), Some("Test message"));
    let record = echo[0].to_record();
    assert_eq!(record.kind, "whatsapp.echo");
    assert_eq!(record.get("to_user_id"), Some(&json!("<BSUID>")));

    let edited_echo = events_of("outgoing_message.json", "edit")[0].to_record();
    assert_eq!(edited_echo.get("type"), Some(&json!("edit")));
    assert_eq!(edited_echo.get("text"), Some(&json!("Text was edited")));
    assert_eq!(
        edited_echo.get("original_message_id"),
        Some(&json!("wamid.zzzzzz"))
    );

    let edited = events_of("edited_message.json", "image");
    let WebhookEvent::Message(m) = &edited[0] else {
        panic!("{edited:?}")
    };
    assert_eq!(m.kind, MessageType::Edit);
    assert_eq!(m.text(), Some("Updated image caption"));
    assert!(m
        .original_message_id()
        .unwrap()
        .starts_with("wamid.HBgLMTQxMjU1NTA4"));

    let revoked = events_of("deleted_message.json", "revoke");
    let WebhookEvent::Message(m) = &revoked[0] else {
        panic!("{revoked:?}")
    };
    assert_eq!(m.kind, MessageType::Revoke);
    assert_eq!(
        m.original_message_id(),
        Some("<ORIGINAL_WHATSAPP_MESSAGE_ID>")
    );

    let flow = events_of("flow_completion.json", "completion");
    let WebhookEvent::Message(m) = &flow[0] else {
        panic!("{flow:?}")
    };
    let answer = m.flow_response().unwrap();
    assert_eq!(answer["flow_token"], "AQAAAAACS5FpgQ_cAAAAAD0QI3s.");
    assert_eq!(answer["delivery_rating"], "4");
    assert_eq!(m.text(), Some("Sent"));
    let record = flow[0].to_record();
    assert_eq!(
        record.get("flow_response.comment_text"),
        Some(&json!("Comment Text"))
    );
}

#[test]
fn a_flow_answer_whose_json_is_broken_is_an_error_at_its_path() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "1065"},
            "messages": [{"from": "5511", "id": "wamid.F", "timestamp": "1702502473", "type": "interactive",
                "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{not json", "body": "Sent", "name": "flow"}}}]
        }}]}]
    });
    let error = parse(body.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        error.pointer(),
        Some("/entry/0/changes/0/value/messages/0/interactive/nfm_reply/response_json")
    );
}

#[test]
fn an_unknown_field_is_kept_whole_as_unsupported_and_history_and_contact_sync_are_typed() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "time": 1750000000, "changes": [
            {"field": "some_future_field", "value": {"metadata": {"phone_number_id": "1065"}, "thing": [1, 2]}},
            {"field": "history", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1065"},
                "history": [{
                    "metadata": {"phase": 0, "chunk_order": 1, "progress": 55},
                    "threads": [{"id": "16505551234", "messages": [
                        {"from": "16505551234", "id": "wamid.H1", "timestamp": "1749000000", "type": "text",
                         "text": {"body": "old"}, "history_context": {"status": "READ"}}
                    ]}]
                }]
            }},
            {"field": "smb_app_state_sync", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1065"},
                "state_sync": [{"type": "contact", "action": "add",
                    "contact": {"full_name": "Jonas Campos", "first_name": "Jonas", "phone_number": "5511999991234"},
                    "metadata": {"timestamp": "1749000100"}}]
            }}
        ]}]
    });
    let events = parse(body.to_string().as_bytes()).unwrap();
    let kinds: Vec<String> = events.iter().map(|e| e.to_record().kind).collect();
    assert_eq!(
        kinds,
        [
            "whatsapp.unsupported",
            "whatsapp.history",
            "whatsapp.contact_sync"
        ]
    );
    let unsupported = events[0].to_record();
    assert_eq!(unsupported.get("field"), Some(&json!("some_future_field")));
    assert_eq!(unsupported.get("value.thing"), Some(&json!([1, 2])));
    assert_eq!(events[0].phone_number_id(), Some("1065"));
    let WebhookEvent::History(chunk) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!((chunk.phase, chunk.progress), (Some(0), Some(55)));
    assert_eq!(chunk.threads[0].messages.len(), 1);
    let contact = events[2].to_record();
    assert_eq!(contact.get("full_name"), Some(&json!("Jonas Campos")));
    assert_eq!(contact.get("action"), Some(&json!("add")));
}
