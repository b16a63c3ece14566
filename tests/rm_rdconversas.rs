//! Confirmations through RD Conversas' template endpoint, and its documented errors.

mod common;

use std::time::Duration;

use common::{delivered, failed, fixture, harness, mount_catch_all, only_outcome, url};
use hubflow::rdconversas::RdConversasTarget;
use hubflow::rm::{ConfirmationTarget, PendingConfirmations};
use hubflow::{DeliveryPolicy, Flow, Record, RetryPolicy};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "rd-conversas-jwt-secret";

fn flow(server: &MockServer) -> Flow {
    let target = RdConversasTarget::new(SecretString::from(TOKEN))
        .base_url(url(server, "/"))
        .template_message_id("tpl-confirma-consulta");
    Flow::builder("rm-rd")
        .map(
            hubflow::FieldMap::new(json!({
                "to": "{{ mobile | phone('BR') }}",
                "variables": ["{{ patient_name }}", "{{ day }}", "{{ time }}"]
            }))
            .unwrap(),
        )
        .target(ConfirmationTarget::new(target))
        .delivery(DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(3)))
        .build()
        .unwrap()
}

fn appointment(id: &str, mobile: &str) -> Record {
    Record::new(
        format!("rm:appt:{id}:2026-03-03"),
        "rm.appointment",
        json!({"appointment_id": id, "patient_name": "Ana Souza", "mobile": mobile,
               "birth_date": "1980-05-01", "date": "2026-03-03", "day": "03/03/2026",
               "time": "08:30", "starts_at": "2026-03-03T08:30:00-03:00"}),
    )
}

async fn mount_send(server: &MockServer, to: &str, response: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/v3/messages/template/send"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "recipient_number": to, "country_code": "55",
            "template_message_id": "tpl-confirma-consulta", "sent_by": "bot",
            "variables": ["Ana Souza", "03/03/2026", "08:30"]
        })))
        .respond_with(response)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_confirmation_is_sent_and_remembered_as_pending() {
    let server = MockServer::start().await;
    mount_send(
        &server,
        "+5511999991001",
        ResponseTemplate::new(201).set_body_json(fixture("rm/rdconversas_sent.json")),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let h = harness();
    let report = flow(&server)
        .process(&h.ctx, vec![appointment("A-100", "(11) 99999-1001")])
        .await;
    let (receipt, _) = delivered(only_outcome(&report));
    assert_eq!(receipt.id.as_deref(), Some("65f1c0ffee0000000000abcd"));
    let pending = PendingConfirmations::default()
        .by_appointment(&h.ctx, "A-100", "2026-03-03".parse().unwrap())
        .await
        .unwrap()
        .expect("remembered");
    assert_eq!(pending.phone, "5511999991001");
    assert_eq!(
        pending.message_id.as_deref(),
        Some("65f1c0ffee0000000000abcd")
    );
    assert!(!serde_json::to_string(&report).unwrap().contains(TOKEN));
    server.verify().await;
}

#[tokio::test]
async fn rd_conversas_errors_are_explained_and_only_429_and_5xx_are_retried() {
    let server = MockServer::start().await;
    // 429 then 201: retried after the Retry-After.
    mount_send(
        &server,
        "+5511999990001",
        ResponseTemplate::new(429).insert_header("Retry-After", "3"),
        1,
    )
    .await;
    mount_send(
        &server,
        "+5511999990001",
        ResponseTemplate::new(201).set_body_json(fixture("rm/rdconversas_sent.json")),
        1,
    )
    .await;
    let cases: [(&str, u16, Value); 4] = [
        (
            "+5511999990002",
            404,
            fixture("rm/rdconversas_no_contact.json"),
        ),
        ("+5511999990003", 401, json!({"message": "Unauthorized"})),
        (
            "+5511999990004",
            404,
            fixture("rm/rdconversas_template_not_found.json"),
        ),
        (
            "+5511999990005",
            400,
            json!({"code": 312, "message": "No eligible contacts"}),
        ),
    ];
    for (to, status, body) in &cases {
        mount_send(
            &server,
            to,
            ResponseTemplate::new(*status).set_body_json(body),
            1,
        )
        .await;
    }
    mount_catch_all(&server).await;
    let h = harness();
    let records = (1..=5)
        .map(|n| appointment(&format!("A-{n}"), &format!("+55 11 99999-000{n}")))
        .collect();
    let report = flow(&server).process(&h.ctx, records).await;

    let (_, attempts) = delivered(&report.records[0].outcome);
    assert_eq!(attempts, 2);
    assert!(h.clock.sleeps().contains(&Duration::from_secs(3)));
    let expected = [
        "no contact exists",
        "blacklisted",
        "template was not found",
        "not eligible for official WhatsApp",
    ];
    for (line, words) in report.records[1..].iter().zip(expected) {
        let (failure, retryable, attempts) = failed(&line.outcome);
        assert!(
            failure.message.contains(words),
            "{}: {}",
            line.key,
            failure.message
        );
        assert_eq!((retryable, attempts), (false, 1), "{}", line.key);
        assert_eq!(failure.status.map(|s| s >= 400), Some(true));
    }
    // Nothing that failed is remembered as pending.
    let pending = PendingConfirmations::default()
        .by_appointment(&h.ctx, "A-2", "2026-03-03".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(pending, None);
    server.verify().await;
}

#[tokio::test]
async fn a_bad_number_fails_before_anything_is_sent() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let h = harness();
    let target = RdConversasTarget::new(SecretString::from(TOKEN)).base_url(url(&server, "/"));
    let flow = Flow::builder("rd").target(target).build().unwrap();
    let report = flow
        .process(
            &h.ctx,
            vec![Record::new(
                "k",
                "x",
                json!({"to": "123", "variables": ["a"]}),
            )],
        )
        .await;
    let (failure, _, _) = failed(only_outcome(&report));
    assert_eq!(failure.stage, hubflow::Stage::Prepare);
    assert!(failure.message.contains("`to`"), "{}", failure.message);
    server.verify().await;
}
